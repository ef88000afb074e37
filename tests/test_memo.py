"""The per-run memo: what a run computes once, and that nothing outlives the run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tlsprobe import memo


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
