"""Reports are pure functions of results: they never probe, and they never see a password."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Sequence

from tlsprobe.model import Status, TargetResult
from tlsprobe.records import record


@record
class RunInfo:
    started_at: dt.datetime
    elapsed_s: float
    interrupted: bool = False
    verbosity: int = 0


def summary(results: Sequence[TargetResult]) -> dict[str, int]:
    counts = {"targets": len(results), "pass": 0, "warn": 0, "fail": 0}
    for result in results:
        counts[result.status.value] += 1
    return counts


def trust_line(result: TargetResult) -> str | None:
    """Which trust the verdicts used, for a target whose cert.chain is a problem (the line
    that says whose roots said no, or that only --ca-file said yes)."""
    chain = result.check("cert.chain")
    if result.trust is None or chain is None or chain.status not in (Status.FAIL, Status.WARN):
        return None
    used = ", ".join(result.trust.used) or "no roots at all"
    return f"trust: {result.trust.client}: {used}"


# format: module under tlsprobe.report, imported only when that format is asked for
# (prometheus_client and rich are not free to import).
_MODULES = {
    "table": "table",
    "json": "json_report",
    "junit": "junit",
    "markdown": "markdown",
    "prometheus": "prometheus",
}


def render(fmt: str, results: Sequence[TargetResult], info: RunInfo, *, color: bool) -> str:
    module = importlib.import_module(f"tlsprobe.report.{_MODULES[fmt]}")
    renderer: Callable[[Sequence[TargetResult], RunInfo, bool], str] = module.render
    return renderer(results, info, color)


FORMATS = tuple(_MODULES)
__all__ = ["FORMATS", "RunInfo", "Status", "render", "summary", "trust_line"]
