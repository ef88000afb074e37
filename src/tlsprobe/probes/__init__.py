"""One probe per protocol behind one function type, keyed by URL scheme."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tlsprobe.model import Policy, TargetResult
from tlsprobe.probes import https, postgres, smtp
from tlsprobe.targets import Target

ProbeFn = Callable[[Target, Policy], Awaitable[TargetResult]]

PROBES: dict[str, ProbeFn] = {
    "https": https.probe,
    "http": https.probe_plain,
    "smtp": smtp.probe,
    "smtps": smtp.probe,
    "postgresql": postgres.probe,
}
