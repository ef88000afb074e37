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
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from prometheus_client import CollectorRegistry

from tlsprobe.exporter.metrics import Round, RoundCollector, module_policies
from tlsprobe.exporter.web import Refused, Server, bind
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
        modules: Mapping[str, PolicyDefaults] | None = None,
    ) -> None:
        self.targets = list(targets)
        self.policy = policy
        self.interval = interval
        self.allow_any = allow_any
        self.listen = listen
        self.modules = module_policies(policy, modules or {})
        self._known = {key: t for t in reversed(self.targets) for key in _keys(t)}
        self._last: Round | None = None  # replaced whole, never mutated: safe to read anywhere
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: Server | None = None
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
        self._http = bind(self.listen, self)
        self._spawn("tlsprobe-serve-loop", lambda: run_loop(self._main()))
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

    def probe(self, target: Target, deadline: float, module: str = "") -> TargetResult:
        """Probe one target on the exporter's loop, from a request thread."""
        if self._loop is None:
            raise RuntimeError("the exporter is not started")
        chosen = self.policy_for(module)
        policy = replace(chosen, timeout=min(deadline, chosen.timeout))
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


def run_until_stopped(exporter: Exporter, announce: Callable[[str], None]) -> int:
    """Serve until Ctrl-C or SIGTERM (a container's stop), then shut down cleanly."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with exporter:
            host, port = exporter.address
            shown = in_url(host)
            announce(f"listening on http://{shown}:{port}/ (/probe?target=URL, /metrics)")
            with contextlib.suppress(KeyboardInterrupt):
                while not stop.wait(1.0):
                    pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
