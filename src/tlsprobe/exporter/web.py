"""The exporter's HTTP face: a stdlib ThreadingHTTPServer whose request threads hand probes to
the exporter's event loop. Every answer is one of: metrics, or a one-line text."""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from tlsprobe import __version__
from tlsprobe.escaping import visible
from tlsprobe.exporter.metrics import SCRAPE_TIMEOUT_HEADER, ProbeCollector, scrape_deadline
from tlsprobe.failures import UsageError
from tlsprobe.model import Policy, TargetResult
from tlsprobe.secrets import scrub_structure
from tlsprobe.targets import Target


class Backend(Protocol):
    """What the HTTP face needs of the exporter behind it."""

    policy: Policy
    metrics: CollectorRegistry

    def resolve(self, text: str) -> Target:
        """The target a /probe request names: UsageError when malformed, Refused when outside."""

    def policy_for(self, module: str) -> Policy:
        """The policy a /probe?module= names (the exporter's own when unknown)."""

    def probe(self, target: Target, deadline: float, module: str = "") -> TargetResult:
        """Probe one target from a request thread."""


class Refused(Exception):
    """A /probe target outside the configuration (HTTP 403)."""


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client must not hold up Ctrl-C

    def __init__(self, address: tuple[str, int], exporter: Backend) -> None:
        self.exporter = exporter
        super().__init__(address, _Handler)


class _Server6(Server):
    address_family = socket.AF_INET6


def bind(listen: tuple[str, int], exporter: Backend) -> Server:
    server_class = _Server6 if ":" in listen[0] else Server
    try:
        return server_class(listen, exporter)
    except OSError as exc:
        host, port = listen
        raise UsageError(f"--listen {host}:{port}: {exc.strerror or exc}") from None


class _Handler(BaseHTTPRequestHandler):
    """Every answer is metrics or one line of text; no answer echoes a secret, and nothing that
    goes wrong while answering drops the connection without one."""

    server: Server
    server_version = f"tlsprobe/{__version__}"
    protocol_version = "HTTP/1.1"
    _started = False  # an answer has begun: too late for another

    def do_GET(self) -> None:
        self._started = False
        try:
            self._route()
        except Exception as exc:
            self._fail(exc)

    def _route(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path == "/probe":
            self._probe(query.get("target", []), query.get("module", [""])[-1])
        elif url.path == "/metrics":
            self._send_metrics(self.server.exporter.metrics)
        elif url.path == "/":
            self._text(200, "tlsprobe exporter: /probe?target=URL and /metrics\n")
        else:
            self._text(404, "not found: try /probe?target=URL or /metrics\n")

    def _probe(self, given: list[str], module: str) -> None:
        exporter = self.server.exporter
        if len(given) != 1 or not given[0].strip():
            self._text(400, "give exactly one target: /probe?target=URL\n")
            return
        try:
            target = exporter.resolve(given[0])
        except UsageError as exc:
            self._text(400, f"bad target: {one_line(str(exc))}\n")
            return
        except Refused as exc:
            self._text(403, f"{exc}\n")
            return
        timeout = exporter.policy_for(module).timeout
        deadline = scrape_deadline(self.headers.get(SCRAPE_TIMEOUT_HEADER), timeout)
        try:
            result = exporter.probe(target, deadline, module)
        except (TimeoutError, RuntimeError, concurrent.futures.CancelledError):
            self._text(503, "the probe did not finish (the exporter is stopping or overloaded)\n")
            return
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ProbeCollector(result))
        self._send_metrics(registry)

    def _fail(self, exc: Exception) -> None:
        """A 500 of one line naming the error's type only: its message may quote the request,
        and the request may hold a password. Once an answer has begun, the connection ends."""
        self.close_connection = True
        print(f"tlsprobe serve: error answering a request: {type(exc).__name__}", file=sys.stderr)
        if not self._started:
            with contextlib.suppress(OSError):  # the client may have gone: nothing to answer
                self._text(500, f"internal error ({type(exc).__name__}); see the exporter's log\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's answer to a request it cannot parse, as one line: its own
        page would quote the request line (and a password in it) in the status and the body."""
        del message, explain
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            # Set before a request line is understood; an HTTP/0.9 answer has no status line,
            # so an HTTP/1.1 client would never see the 400 it is owed.
            self.request_version = "HTTP/1.0"
        phrase = self.responses.get(code, ("error",))[0]
        self._text(code, f"{code} {phrase}\n")

    def _send_metrics(self, registry: Collector) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        self._send(200, encoder(registry), content_type)

    def _text(self, code: int, text: str) -> None:
        self._send(code, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self._started = True
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry target URLs, and a URL can carry a password."""


def one_line(text: str) -> str:
    """A message for an error page: one line, any password in it as ***, nothing raw. The
    message names the request's target, whose secrets are unknown when it cannot be parsed."""
    return visible(scrub_structure(" ".join(text.split())))
