"""`tlsprobe serve`: a Prometheus exporter.

- `/probe?target=URL` probes that one target per scrape, as blackbox_exporter does, under a
  deadline taken from Prometheus' X-Prometheus-Scrape-Timeout-Seconds header (minus a margin, and
  never above --timeout). The target must be one of the configured ones, named by its URL, its
  URL with the password as ***, or its name; any other is refused (403) unless
  --allow-any-target. A configured target is probed with its own credentials and options, so a
  scrape config never needs a password.
- `/metrics` serves the configured targets as of the last finished round; a background loop
  re-probes them every --interval seconds, one round at a time.

Design: one asyncio loop (uvloop when installed, as the CLI's) in one background thread runs
everything: aiohttp's server answering each request as a coroutine (exporter/web.py,
exporter/listener.py), each /probe's probe, and the rounds. No thread per request: an idle
connection costs a socket, not a thread, and a slow scrape blocks nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from prometheus_client import CollectorRegistry

from tlsprobe.exporter.listener import Listener, bind
from tlsprobe.exporter.metrics import Round, RoundCollector, module_policies
from tlsprobe.exporter.web import Face, Refused
from tlsprobe.exporter.webconfig import Watched, WebConfig
from tlsprobe.model import Policy, TargetResult
from tlsprobe.runner import SAFETY_GRACE_S, Run, probe_one, run_loop
from tlsprobe.sources import PolicyDefaults
from tlsprobe.targets import Target, in_url
from tlsprobe.targets.caller import for_caller

_START_TIMEOUT_S = 10.0


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
        web_config: Path | None = None,
        modules: Mapping[str, PolicyDefaults] | None = None,
    ) -> None:
        self.targets = list(targets)
        self.policy = policy
        self.modules = module_policies(policy, modules or {})
        self.interval = interval
        self.allow_any = allow_any
        self.listen = listen
        self._known = {key: t for t in reversed(self.targets) for key in _keys(t)}
        self._last: Round | None = None  # replaced whole, never mutated: safe to read anywhere
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._web_config = web_config
        self._watched: Watched | None = None
        self._listener: Listener | None = None
        self.metrics = CollectorRegistry(auto_describe=False)
        self.metrics.register(RoundCollector(lambda: self._last))

    @property
    def address(self) -> tuple[str, int]:
        """Where the server listens (the real port when asked for port 0)."""
        if self._listener is None:
            raise RuntimeError("the exporter is not started")
        return self._listener.address

    @property
    def scheme(self) -> str:
        return "https" if self.web_config().tls is not None else "http"

    @property
    def last_round(self) -> Round | None:
        return self._last

    def web_config(self) -> WebConfig:
        """The web config of this moment (read again when its file changed)."""
        return self._watched.current() if self._watched is not None else _NO_CONFIG

    @property
    def grace(self) -> float:
        """How long a scrape in flight may take at most: its probe's deadline (the longest of
        the exporter's and its modules') and grace."""
        longest = max(p.timeout for p in (self.policy, *self.modules.values()))
        return longest + SAFETY_GRACE_S + 1.0

    def start(self) -> Exporter:
        if self._web_config is not None:
            self._watched = Watched(self._web_config)
        sock = bind(self.listen)
        self._listener = Listener(sock, Face(self, self.web_config))
        self._spawn("tlsprobe-serve-loop", lambda: run_loop(self._main()))
        if not self._ready.wait(_START_TIMEOUT_S) or self._loop is None:
            self.stop()
            raise RuntimeError("the exporter's event loop did not start")
        return self

    def stop(self) -> None:
        """Stop accepting, let the scrapes in flight finish, end the loop."""
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        elif self._listener is not None:
            self._listener.sock.close()
        for thread in self._threads:
            thread.join(self.grace + _START_TIMEOUT_S)

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def resolve(self, text: str) -> Target:
        """The target a /probe request names: UsageError when malformed, Refused when outside."""
        if (known := self._known.get(text.strip())) is not None:
            return known
        target = for_caller(text)
        if not self.allow_any:
            raise Refused(
                "target is not one of the configured targets "
                "(start tlsprobe serve with --allow-any-target to probe any)"
            )
        return target

    def policy_for(self, module: str) -> Policy:
        """The policy a /probe?module= names; an unknown or empty module is the exporter's own
        (blackbox_exporter answers 400, but the Prometheus Operator's Probe always sends one)."""
        return self.modules.get(module, self.policy)

    async def probe(self, target: Target, deadline: float, module: str = "") -> TargetResult:
        """Probe one target under `deadline` (on the exporter's loop: a request's coroutine),
        with the options of `module`."""
        # scrape_deadline never gives more than the module's own timeout.
        return await probe_one(target, replace(self.policy_for(module), timeout=deadline))

    def _spawn(self, name: str, run: Callable[[], object]) -> None:
        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    async def _main(self) -> None:
        assert self._listener is not None
        self._stopping = asyncio.Event()
        await self._listener.start()
        self._loop = asyncio.get_running_loop()
        rounds = asyncio.create_task(self._rounds()) if self.targets else None
        self._ready.set()
        await self._stopping.wait()
        await self._listener.stop(self.grace)
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


_NO_CONFIG = WebConfig()


def _keys(target: Target) -> set[str]:
    return {target.url, target.display} | ({target.name} if target.name else set())


def run_until_stopped(exporter: Exporter, announce: Callable[[str], None]) -> int:
    """Serve until Ctrl-C or SIGTERM (a container's stop), then shut down gracefully: stop
    accepting, let each scrape in flight finish within its deadline, exit 0."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with exporter:
            host, port = exporter.address
            shown = in_url(host)
            scheme = exporter.scheme
            announce(f"listening on {scheme}://{shown}:{port}/ (/probe?target=URL, /metrics)")
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(1.0):
                    pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
