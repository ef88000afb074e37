"""Shared fixtures: one lab for the whole session, and probe runs against it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.runner import Run
from tlsprobe.targets import parse_target


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def probe_urls(urls: list[str], policy: Policy) -> list[TargetResult]:
    """Probe URLs through the real runner, as `tlsprobe check` does."""
    targets = [parse_target(url) for url in urls]
    return asyncio.run(Run(targets, policy).execute())


def statuses(result: TargetResult) -> dict[str, str]:
    return {check.id: check.status.value for check in result.checks}
