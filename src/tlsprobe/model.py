"""The data every probe produces and every report reads: frozen, free of I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


# Ordering for "worst of": skip never counts, so it ranks below pass.
_SEVERITY = {Status.SKIP: 0, Status.PASS: 1, Status.WARN: 2, Status.FAIL: 3}


def worst(statuses: list[Status]) -> Status:
    """The worst status among checks; a target whose checks were all skipped counts as failed."""
    counted = [s for s in statuses if s is not Status.SKIP]
    if not counted:
        return Status.FAIL
    return max(counted, key=_SEVERITY.__getitem__)


@dataclass(frozen=True)
class Check:
    id: str
    status: Status
    detail: str = ""
    hint: str = ""


@dataclass(frozen=True)
class CertInfo:
    """One certificate as the server sent it."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    sha256: str
    key: str
    signature: str
    san: tuple[str, ...]


@dataclass(frozen=True)
class TlsInfo:
    """What the handshake negotiated, and the chain exactly as the server sent it."""

    version: str
    cipher: str
    alpn: str | None
    chain: tuple[CertInfo, ...]


@dataclass(frozen=True)
class TargetResult:
    name: str
    target: str
    protocol: str
    host: str
    port: int
    source: str
    checks: tuple[Check, ...]
    elapsed_ms: float
    tls: TlsInfo | None = None
    transcript: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> Status:
        return worst([c.status for c in self.checks])

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)


class MinTls(enum.StrEnum):
    TLS12 = "1.2"
    TLS13 = "1.3"


# The largest sensible settings, for flags and tlsprobe.toml alike: beyond them a value is a
# typo. A century of expiry warning overflows date arithmetic; "inf" seconds is no deadline.
MAX_TIMEOUT_S = 86400.0
MAX_WARN_DAYS = 36500


@dataclass(frozen=True)
class Policy:
    """How to judge: the settings shared by every target of a run."""

    timeout: float = 10.0
    min_tls: MinTls = MinTls.TLS12
    expiry_warn_days: int = 14
    ca_file: Path | None = None
    concurrency: int = 50
