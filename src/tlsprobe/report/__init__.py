"""Reports are pure functions of results: they never probe, and they never see a password."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tlsprobe.model import Status, TargetResult


@dataclass(frozen=True)
class RunInfo:
    started_at: str
    elapsed_s: float
    interrupted: bool = False
    verbosity: int = 0


def summary(results: Sequence[TargetResult]) -> dict[str, int]:
    counts = {"targets": len(results), "pass": 0, "warn": 0, "fail": 0}
    for result in results:
        counts[result.status.value] += 1
    return counts


def render(fmt: str, results: Sequence[TargetResult], info: RunInfo, *, color: bool) -> str:
    from tlsprobe.report import json_report, junit, markdown, prometheus, table

    renderers: dict[str, Callable[[Sequence[TargetResult], RunInfo, bool], str]] = {
        "table": table.render,
        "json": json_report.render,
        "junit": junit.render,
        "markdown": markdown.render,
        "prometheus": prometheus.render,
    }
    return renderers[fmt](results, info, color)


FORMATS = ("table", "json", "junit", "markdown", "prometheus")
__all__ = ["FORMATS", "RunInfo", "Status", "render", "summary"]
