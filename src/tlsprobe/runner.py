"""Run every target concurrently, each under its own deadline, and keep the given order; every
result leaves through one boundary (`shown`): the secrets scrub, then the escaping of its text.

Which event loop runs the probes: uvloop where it is installed, asyncio's own otherwise. Why:
profiles of a thousand HTTPS targets show the client is CPU-bound in event-loop and transport
code; uvloop (libuv, a well-kept library) cut that run's CPU time by about a fifth. Nothing in
tlsprobe depends on which loop runs: both give the same verdicts (the tests run the command line
on uvloop and the probes directly on asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from tlsprobe import memo, net
from tlsprobe.escaping import visible
from tlsprobe.failures import KIND_HINTS, Kind, explain
from tlsprobe.model import Check, Policy, Status, TargetResult, in_terms, map_texts
from tlsprobe.probes import probe_for
from tlsprobe.probes.base import check_of, current_step, forget_step, result_for
from tlsprobe.secrets import Secrets
from tlsprobe.targets import Target

# A probe enforces its own deadline; this grace is the runner's safety net around it.
SAFETY_GRACE_S = 2.0
# Allocations between two runs of the cyclic garbage collector's youngest generation, during a
# command-line run (collect_less); Python's default is 700.
RUN_GC_THRESHOLD = 10_000


class Run:
    """One run over many targets; `finished()` is usable after an interrupt, too."""

    def __init__(
        self,
        targets: Sequence[Target],
        policy: Policy,
        on_result: Callable[[TargetResult], None] | None = None,
    ) -> None:
        self.targets = list(targets)
        self.policy = policy
        self.on_result = on_result
        self._results: list[TargetResult | None] = [None] * len(self.targets)
        self.elapsed_s = 0.0

    async def execute(self) -> list[TargetResult]:
        started = time.monotonic()
        limit = asyncio.Semaphore(max(1, self.policy.concurrency))
        try:
            with memo.run_scope(), net.shared_lookups():
                async with asyncio.TaskGroup() as group:
                    for index, target in enumerate(self.targets):
                        group.create_task(self._one(index, target, limit))
        finally:
            self.elapsed_s = time.monotonic() - started
        return self.finished()

    def finished(self) -> list[TargetResult]:
        """The results completed so far, in the order the targets were given."""
        return [r for r in self._results if r is not None]

    async def _one(self, index: int, target: Target, limit: asyncio.Semaphore) -> None:
        async with limit:
            result = await probe_one(target, self.policy)
        self._results[index] = result
        if self.on_result is not None:
            self.on_result(result)


async def probe_one(target: Target, policy: Policy) -> TargetResult:
    """Probe one target; whatever goes wrong inside a probe still comes back as a result, and
    every result leaves here through `shown`: reports and the exporter get nothing else."""
    hidden = Secrets.of(target, os.environ)  # PGPASSWORD: the probe's libpq reads it there
    result = await _probe(target, policy)
    if target.terms:
        result = in_terms(result, target.terms)
    return shown(result, hidden)


def shown(result: TargetResult, hidden: Secrets) -> TargetResult:
    """The one boundary between probes and reports: every text of the result with the
    target's secrets replaced by ***, then with control and invisible characters written out
    (after the scrub, so that a secret holding such a character is still found as given)."""
    scrub = hidden.scrubber()

    def change(text: str) -> str:
        text = scrub(text)
        # visible's own first test, here: nearly every text passes it, and a call per text
        # was a tenth of the boundary's cost.
        return text if text.isascii() and text.isprintable() else visible(text)

    return map_texts(result, change)


async def _probe(target: Target, policy: Policy) -> TargetResult:
    started = time.monotonic()
    forget_step()
    try:
        with net.shared_lookups():  # the run's, in a Run; the probe's own, alone (exporter)
            async with asyncio.timeout(policy.timeout + SAFETY_GRACE_S):
                return await probe_for(target.protocol)(target, policy)
    except TimeoutError:
        what = (
            f"the probe itself overran: it did not end within its deadline of {policy.timeout:g} s"
            f" (nor {SAFETY_GRACE_S:g} s of grace after it)"
        )
    except Exception as exc:
        what = f"the probe itself crashed: {explain(exc).detail}"
    step = current_step()
    # The check that was under way, when the probe said which; "connect" when it never did.
    check_id = check_of(step) if step else "connect"
    where = f"; it was in step {step}" if step else "; it recorded no step"
    check = Check(check_id, Status.FAIL, what + where, KIND_HINTS[Kind.INTERNAL])
    return result_for(target, (check,), (time.monotonic() - started) * 1000)


T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, on uvloop when it can be imported; Ctrl-C behaves the same on both."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


@contextlib.contextmanager
def collect_less() -> Iterator[None]:
    """The cyclic garbage collector run less often for the block (a command-line run and its
    report), as it was before afterwards. Why: a probe allocates hundreds of objects, nearly all
    freed by reference counting, and with the default threshold the collector ran about 200
    times over a 1,000-target run, walking them: 50 to 60 ms of CPU (3 % of the run), where
    every 10,000 allocations it takes 8 to 12 ms; peak memory is the same (60 MB)."""
    before = gc.get_threshold()
    gc.set_threshold(RUN_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
