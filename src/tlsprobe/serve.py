"""`tlsprobe serve`: a Prometheus exporter.

- `/probe?target=URL` probes that one target per scrape, as blackbox_exporter does, under a
  deadline taken from Prometheus' X-Prometheus-Scrape-Timeout-Seconds header (minus a margin, and
  never above --timeout). The target must be one of the configured ones, named by its URL, its
  URL with the password as ***, or its name; any other is refused (403) unless
  --allow-any-target. A configured target is probed with its own credentials and options, so a
  scrape config never needs a password.
- `/metrics` serves the configured targets as of the last finished round; a background loop
  re-probes them every --interval seconds, one round at a time.

Design: a stdlib ThreadingHTTPServer in front of one asyncio loop in a background thread. The
probes are coroutines and the rounds are a task on that loop; each request thread hands its probe
to the loop with run_coroutine_threadsafe and blocks on the answer. That keeps HTTP parsing in
the standard library (no web framework to add), keeps one slow scrape from blocking another,
and keeps every probe on the loop the probes were written for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from tlsprobe import __version__, loop
from tlsprobe.errors import UsageError
from tlsprobe.model import Policy, TargetResult
from tlsprobe.report.prometheus import ResultsCollector
from tlsprobe.runner import SAFETY_GRACE_S, Run, probe_one
from tlsprobe.targets import Target, parse_target

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_MARGIN_S = 0.5  # blackbox_exporter's default timeout_offset: time to send the answer
MIN_DEADLINE_S = 0.1
_START_TIMEOUT_S = 10.0


class Refused(Exception):
    """A /probe target outside the configuration (HTTP 403)."""


@dataclass(frozen=True)
class Round:
    """One finished pass over every configured target."""

    number: int
    results: tuple[TargetResult, ...]
    finished_at: float  # Unix time
    elapsed_s: float


def scrape_deadline(header: str | None, timeout: float) -> float:
    """The probe's deadline: the scrape timeout minus a margin, never above `timeout`."""
    try:
        scrape = float(header) if header else math.nan
    except ValueError:
        scrape = math.nan
    if not math.isfinite(scrape) or scrape <= 0:
        return timeout
    return min(timeout, max(MIN_DEADLINE_S, scrape - SCRAPE_MARGIN_S))


class RoundCollector:
    """/metrics: the last finished round's results, and when that round ended."""

    def __init__(self, last: Callable[[], Round | None]) -> None:
        self.last = last

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        done = self.last()
        yield CounterMetricFamily(
            "tlsprobe_rounds", "rounds finished since start", value=done.number if done else 0
        )
        if done is None:
            return
        yield GaugeMetricFamily(
            "tlsprobe_round_end_timestamp_seconds",
            "when the round served here finished, Unix time",
            value=done.finished_at,
        )
        yield GaugeMetricFamily(
            "tlsprobe_round_duration_seconds",
            "how long the round served here took",
            value=done.elapsed_s,
        )
        yield from ResultsCollector(done.results).collect()


class Exporter:
    """The exporter's state and threads; `start()` returns once it listens, `stop()` ends it."""

    def __init__(
        self,
        targets: Sequence[Target],
        policy: Policy,
        *,
        interval: float = 60.0,
        allow_any: bool = False,
        listen: tuple[str, int] = ("127.0.0.1", 9468),
    ) -> None:
        self.targets = list(targets)
        self.policy = policy
        self.interval = interval
        self.allow_any = allow_any
        self.listen = listen
        self._known = {key: t for t in reversed(self.targets) for key in _keys(t)}
        self._last: Round | None = None  # replaced whole, never mutated: safe to read anywhere
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: _Server | None = None
        self.metrics = CollectorRegistry(auto_describe=False)
        self.metrics.register(RoundCollector(lambda: self._last))

    @property
    def address(self) -> tuple[str, int]:
        """Where the server listens (the real port when asked for port 0)."""
        if self._http is None:
            raise RuntimeError("the exporter is not started")
        host, port = self._http.server_address[:2]
        return str(host), int(port)

    @property
    def last_round(self) -> Round | None:
        return self._last

    def start(self) -> Exporter:
        self._http = _bind(self.listen, self)
        self._spawn("tlsprobe-serve-loop", lambda: loop.run(self._main()))
        if not self._ready.wait(_START_TIMEOUT_S):
            self.stop()
            raise RuntimeError("the exporter's event loop did not start")
        self._spawn("tlsprobe-serve-http", self._http.serve_forever)
        return self

    def stop(self) -> None:
        if self._http is not None:
            if any(t.name == "tlsprobe-serve-http" for t in self._threads):
                self._http.shutdown()
            self._http.server_close()
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        for thread in self._threads:
            thread.join(_START_TIMEOUT_S)

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def resolve(self, text: str) -> Target:
        """The target a /probe request names: UsageError when malformed, Refused when outside."""
        if (known := self._known.get(text.strip())) is not None:
            return known
        target = parse_target(text)
        if not self.allow_any:
            raise Refused(
                "target is not one of the configured targets "
                "(start tlsprobe serve with --allow-any-target to probe any)"
            )
        return target

    def probe(self, target: Target, deadline: float) -> TargetResult:
        """Probe one target on the exporter's loop, from a request thread."""
        if self._loop is None:
            raise RuntimeError("the exporter is not started")
        policy = replace(self.policy, timeout=deadline)
        future = asyncio.run_coroutine_threadsafe(probe_one(target, policy), self._loop)
        try:
            return future.result(timeout=deadline + SAFETY_GRACE_S + 1.0)
        finally:
            future.cancel()  # no-op when done; frees the loop when the client gave up

    def _spawn(self, name: str, run: Callable[[], object]) -> None:
        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        rounds = asyncio.create_task(self._rounds()) if self.targets else None
        self._ready.set()
        await self._stopping.wait()
        if rounds is not None:
            rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rounds

    async def _rounds(self) -> None:
        """Probe every configured target, publish the round, wait out the interval, repeat."""
        number = 0
        while True:
            started = time.monotonic()
            try:
                results = await Run(self.targets, self.policy).execute()
            except Exception as exc:  # a broken round must not end the exporter
                print(f"tlsprobe serve: round failed: {type(exc).__name__}", file=sys.stderr)
            else:
                number += 1
                elapsed = time.monotonic() - started
                self._last = Round(number, tuple(results), time.time(), elapsed)
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))


def _keys(target: Target) -> set[str]:
    return {target.url, target.display} | ({target.name} if target.name else set())


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client must not hold up Ctrl-C

    def __init__(self, address: tuple[str, int], exporter: Exporter) -> None:
        self.exporter = exporter
        super().__init__(address, _Handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _bind(listen: tuple[str, int], exporter: Exporter) -> _Server:
    server_class = _Server6 if ":" in listen[0] else _Server
    try:
        return server_class(listen, exporter)
    except OSError as exc:
        host, port = listen
        raise UsageError(f"--listen {host}:{port}: {exc.strerror or exc}") from None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
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


def run_until_stopped(exporter: Exporter, announce: Callable[[str], None]) -> int:
    """Serve until Ctrl-C or SIGTERM (a container's stop), then shut down cleanly."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with exporter:
            host, port = exporter.address
            shown = f"[{host}]" if ":" in host else host
            announce(f"listening on http://{shown}:{port}/ (/probe?target=URL, /metrics)")
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(1.0):
                    pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
