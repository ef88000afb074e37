"""The per-run memo: what a run computes once, that nothing outlives the run, and that a run's
results read exactly as lone probes' do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tlsprobe import memo
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.runner import Run, probe_one
from tlsprobe.targets import parse_target


def _counting() -> tuple[list[int], Callable[[], int]]:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return calls, compute


def test_inside_a_run_a_key_is_computed_once() -> None:
    """Within one scope the second call for a key returns the first call's value."""
    calls, compute = _counting()
    with memo.run_scope():
        assert memo.once("k", compute) == 1
        assert memo.once("k", compute) == 1
        assert memo.once("other", compute) == 2
    assert len(calls) == 2


def test_outside_a_run_every_call_computes() -> None:
    """Without a scope (a lone probe, the exporter's /probe) nothing is kept."""
    calls, compute = _counting()
    assert memo.once("k", compute) == 1
    assert memo.once("k", compute) == 2
    assert len(calls) == 2


def test_a_new_run_starts_empty() -> None:
    """What one run kept is gone when the next run starts, and after the run ends."""
    _, compute = _counting()
    with memo.run_scope():
        memo.once("k", compute)
    with memo.run_scope():
        assert memo.once("k", compute) == 2
    assert memo.once("k", compute) == 3


def test_tasks_started_in_a_run_share_its_memo() -> None:
    """Every target's task sees the memo of the run that started it (asyncio copies the
    context into each task), so targets that sent the same certificate share its facts."""
    calls, compute = _counting()

    async def run() -> list[int]:
        with memo.run_scope():
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(_once_later(compute)) for _ in range(3)]
        return [t.result() for t in tasks]

    assert asyncio.run(run()) == [1, 1, 1]
    assert len(calls) == 1


async def _once_later(compute: Callable[[], int]) -> int:
    await asyncio.sleep(0)
    return memo.once("k", compute)


def _seen(result: TargetResult) -> tuple[object, ...]:
    """Everything of a result but its timings (transcript lines and elapsed_ms)."""
    checks = tuple((c.id, c.status, c.detail, c.hint) for c in result.checks)
    return (result.name, checks, result.tls, result.facts)


def test_a_run_gives_every_https_lab_endpoint_what_a_lone_probe_gives(lab: Lab) -> None:
    """The memo changes no verdict, detail, hint or certificate fact: every HTTPS and SMTPS
    lab endpoint probed twice in one run (so the second finds the first's facts) reads exactly
    as when probed alone, outside any run; and the two probes of one endpoint share the
    certificate facts themselves, not copies."""
    endpoints = [e for e in lab.endpoints if e.url.startswith(("https://", "smtps://"))]
    targets = [parse_target(e.url, name=e.name) for e in endpoints]
    policy = Policy(timeout=2.0, ca_file=lab.ca_file)
    in_a_run = asyncio.run(Run(targets + targets, policy).execute())
    alone = [asyncio.run(probe_one(t, policy)) for t in targets]
    count = len(targets)
    assert [_seen(r) for r in in_a_run[:count]] == [_seen(r) for r in alone]
    assert [_seen(r) for r in in_a_run[count:]] == [_seen(r) for r in alone]
    shared = [
        first.tls.chain is second.tls.chain
        for first, second in zip(in_a_run[:count], in_a_run[count:], strict=True)
        if first.tls is not None and second.tls is not None and first.tls.chain
    ]
    assert shared
    assert all(shared)
