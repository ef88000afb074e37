"""The event loop does not change a verdict: uvloop (the command line's) and asyncio agree."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest

from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.runner import Run, run_loop
from tlsprobe.targets import parse_target


def verdicts(results: list[TargetResult]) -> dict[str, dict[str, str]]:
    return {r.name: {c.id: c.status.value for c in r.checks} for r in results}


def test_uvloop_and_asyncio_give_the_same_verdicts(lab: Lab) -> None:
    """Every lab endpoint, all three protocols, gets the same checks on either loop."""
    targets = [parse_target(e.url, name=e.name) for e in lab.endpoints]
    policy = Policy(timeout=2.0, ca_file=lab.ca_file)
    on_uvloop = run_loop(Run(targets, policy).execute())
    on_asyncio = asyncio.run(Run(targets, policy).execute())
    assert verdicts(on_uvloop) == verdicts(on_asyncio)
    assert len(on_uvloop) == len(lab.endpoints)


def test_uvloop_is_used_when_installed() -> None:
    """run_loop runs the coroutine on uvloop when it can be imported."""

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_loop(loop_module()).startswith("uvloop")


def test_without_uvloop_asyncio_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: where uvloop cannot be imported, asyncio's own loop runs the coroutine."""
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_loop(loop_module()).startswith("asyncio")
