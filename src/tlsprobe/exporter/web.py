"""The exporter's HTTP face: a stdlib ThreadingHTTPServer whose request threads hand probes to
the exporter's event loop. Every answer is one of: metrics, or a one-line text."""

from __future__ import annotations

import concurrent.futures
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from tlsprobe import __version__
from tlsprobe.exporter.metrics import SCRAPE_TIMEOUT_HEADER, scrape_deadline
from tlsprobe.failures import UsageError
from tlsprobe.model import Policy, TargetResult
from tlsprobe.report.prometheus import ResultsCollector
from tlsprobe.targets import Target


class Backend(Protocol):
    """What the HTTP face needs of the exporter behind it."""

    policy: Policy
    metrics: CollectorRegistry

    def resolve(self, text: str) -> Target:
        """The target a /probe request names: UsageError when malformed, Refused when outside."""

    def probe(self, target: Target, deadline: float) -> TargetResult:
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
    server: Server
    server_version = f"tlsprobe/{__version__}"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path == "/probe":
            self._probe(query.get("target", []))
        elif url.path == "/metrics":
            self._send_metrics(self.server.exporter.metrics)
        elif url.path == "/":
            self._text(200, "tlsprobe exporter: /probe?target=URL and /metrics\n")
        else:
            self._text(404, "not found: try /probe?target=URL or /metrics\n")

    def _probe(self, given: list[str]) -> None:
        exporter = self.server.exporter
        if len(given) != 1 or not given[0].strip():
            self._text(400, "give exactly one target: /probe?target=URL\n")
            return
        try:
            target = exporter.resolve(given[0])
        except UsageError as exc:  # its message shows the URL with the password as ***
            self._text(400, f"bad target: {exc}\n")
            return
        except Refused as exc:
            self._text(403, f"{exc}\n")
            return
        deadline = scrape_deadline(self.headers.get(SCRAPE_TIMEOUT_HEADER), exporter.policy.timeout)
        try:
            result = exporter.probe(target, deadline)
        except (TimeoutError, RuntimeError, concurrent.futures.CancelledError):
            self._text(503, "the probe did not finish (the exporter is stopping or overloaded)\n")
            return
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ResultsCollector([result]))
        self._send_metrics(registry)

    def _send_metrics(self, registry: Collector) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        self._send(200, encoder(registry), content_type)

    def _text(self, code: int, text: str) -> None:
        self._send(code, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry target URLs, and a URL can carry a password."""
