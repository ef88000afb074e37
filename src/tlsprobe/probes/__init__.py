"""One probe per protocol behind one function type, keyed by URL scheme.

Probe modules are imported when a run first needs them: psycopg alone costs 150 ms to import,
and a run that probes only HTTPS should not pay for it (nor should `tlsprobe --help`)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from tlsprobe.model import Policy, TargetResult
from tlsprobe.targets import Target

ProbeFn = Callable[[Target, Policy], Awaitable[TargetResult]]

# scheme: (module under tlsprobe.probes, function)
PROBES: dict[str, tuple[str, str]] = {
    "https": ("https", "probe"),
    "http": ("https", "probe_plain"),
    "smtp": ("smtp", "probe"),
    "smtps": ("smtp", "probe"),
    "postgresql": ("postgres", "probe"),
}


def probe_for(scheme: str) -> ProbeFn:
    module, function = PROBES[scheme]
    probe: ProbeFn = getattr(importlib.import_module(f"tlsprobe.probes.{module}"), function)
    return probe
