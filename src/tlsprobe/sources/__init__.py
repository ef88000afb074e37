"""Where targets come from besides the command line: tlsprobe.toml, airflow.cfg, the Airflow
environment and connection exports. Sources read files and the environment, never the network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tlsprobe.targets import Target


@dataclass
class Collected:
    """What the sources found: targets to probe, and notes on what was seen but not probed."""

    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Collected) -> None:
        self.targets.extend(other.targets)
        self.notes.extend(other.notes)
        self.warnings.extend(other.warnings)
        self.defaults.update(other.defaults)
