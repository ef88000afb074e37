"""The data every probe produces and every report reads: frozen, free of I/O."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import re
from collections.abc import Callable
from dataclasses import field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from tlsprobe.records import record


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


@record
class Check:
    id: str
    status: Status
    detail: str = ""
    hint: str = ""
    # The kind of change the hint asks of the client's configuration (a Fix), when a source
    # can say it in its own terms (Target.terms); not a text for people, not compared.
    fix: str = field(default="", compare=False)


class Fix(enum.StrEnum):
    """Changes to a client's configuration that a source words in its own terms: the probe
    knows what is wrong; only the source knows which field, extra or key to change."""

    IMPLICIT_TLS = "implicit-tls"  # the port speaks TLS from the first byte
    PLAINTEXT_FIRST = "plaintext-first"  # the port speaks plaintext first (STARTTLS, or no TLS)
    TRUST = "trust"  # the client needs the issuing root
    ADDRESS = "address"  # nothing answers where the client connects: its host and port
    ENCRYPTION = "encryption"  # the client is set up not to encrypt, or not to verify
    CLIENT_CERT = "client-cert"  # the server wants a client certificate and none was sent


def in_terms(result: TargetResult, terms: tuple[tuple[str, str], ...]) -> TargetResult:
    """`result` with the hint of every check whose fix the source words (`terms`: fix, hint)
    replaced by the source's own words."""
    wording = dict(terms)
    checks = tuple(
        replace(c, hint=wording[c.fix]) if c.fix in wording and c.hint else c for c in result.checks
    )
    return replace(result, checks=checks)


@functools.lru_cache(maxsize=4096)
def utc_text(moment: dt.datetime) -> str:
    """A moment as reports write it: 2026-11-23T21:00:00Z. Cached: most are certificates'
    dates, the same for every target that sends the certificate, and strftime was a fifth of
    the JSON report's time."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@record
class CertInfo:
    """One certificate as the server sent it."""

    subject: str
    issuer: str
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime
    sha256: str
    key: str
    signature: str
    san: tuple[str, ...]
    # As blackbox_exporter writes it (probe_ssl_last_chain_info): the serial's big-endian
    # bytes in lower-case hex, leading zero bytes kept; and the DNS names of subjectAltName
    # alone (`san` holds IP addresses too).
    serial: str = field(default="", compare=False)
    dns_names: tuple[str, ...] = field(default=(), compare=False)


@record
class TlsInfo:
    """What the handshake negotiated, and the chain exactly as the server sent it."""

    version: str
    cipher: str
    alpn: str | None
    chain: tuple[CertInfo, ...]
    # The path verification built (SHA-256 fingerprints, leaf first, trust anchor last), and
    # for each certificate of `chain` whether that path uses it; both empty when unverified.
    verified_path: tuple[str, ...] = ()
    on_path: tuple[bool, ...] = ()
    # The earliest expiry among the certificates of the verified path, trust anchor included
    # (which the server need not send); None when unverified. blackbox_exporter's
    # probe_ssl_last_chain_expiry_timestamp_seconds.
    path_not_after: dt.datetime | None = field(default=None, compare=False)


@record
class TrustUsed:
    """Which trust a result's verdicts used: the client it judged for, the roots it trusted
    (the client's own, then --ca-file when it was added), the one that held the root of the
    verified path ("": not verified), and whether the chain verified only thanks to --ca-file."""

    client: str
    used: tuple[str, ...]
    anchor: str = ""
    ca_file_needed: bool = False


@record
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
    trust: TrustUsed | None = None  # None: no TLS session was judged

    @functools.cached_property
    def status(self) -> Status:
        """The worst check's status; found once (the report, the summary and the exit code
        each ask), which a frozen result allows."""
        return worst([c.status for c in self.checks])

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)


# tlsprobe's own words in a result, never a server's or a user's: map_texts leaves them alone
# (a password that reads "tls" must not rename a check, nor a fact's name).
_OWN_FIELDS = frozenset({"id", "protocol", "fix"})


def map_texts(result: TargetResult, change: Callable[[str], str]) -> TargetResult:
    """`result` with every text in it passed through `change`: names, target, source, every
    check's detail and hint, transcript lines, fact values, TLS and certificate texts. Any
    string field a result gains later is covered without a change here."""
    mapped: TargetResult = _mapped(result, change)
    return mapped


def _mapped(value: Any, change: Callable[[str], str]) -> Any:
    # Unchanged parts are kept as they are: most texts need no change, and a result is walked
    # on its way to every report (one pass, no second look, as this runs for every value).
    # A text is changed where it is met, without a call of its own, and numbers and dates are
    # passed over: the walk cost more than the changes themselves.
    kind: type = type(value)
    if kind is str:  # not a Status: a StrEnum is a str too
        return change(value)
    if isinstance(value, tuple):
        items = [change(item) if type(item) is str else _mapped(item, change) for item in value]
        for new, old in zip(items, value, strict=True):
            if new is not old:
                return tuple(items)
        return value
    changed: dict[str, Any] = {}
    for name in _text_fields(kind):
        old = getattr(value, name)
        if type(old) is str:
            new = change(old)
        elif old is None or type(old) in _NO_TEXT:
            continue
        else:
            new = _field(name, old, change)
        if new is not old:
            changed[name] = new
    return replace(value, **changed) if changed else value


_NO_TEXT = frozenset({int, float, bool, dt.datetime, Status})


@functools.cache
def _text_fields(kind: type) -> tuple[str, ...]:
    """The fields of a dataclass that map_texts walks (none for any other type), found once
    per class: looking them up for each value was a tenth of the cost of a result's scrub."""
    if not is_dataclass(kind):
        return ()
    return tuple(f.name for f in fields(kind) if f.name not in _OWN_FIELDS)


def _field(name: str, value: Any, change: Callable[[str], str]) -> Any:
    if name == "facts":  # (name, value) pairs: the names are tlsprobe's own
        pairs = tuple((key, _mapped(text, change)) for key, text in value)
        # The facts as they were when no value changed: a new tuple would make the result look
        # changed, and copying it (dataclasses.replace) cost more than the walk.
        return (
            value
            if all(new is old[1] for (_, new), old in zip(pairs, value, strict=True))
            else pairs
        )
    return _mapped(value, change)


@record
class CheckSpec:
    """A check id, defined once: its column title and, for a check a probe enters as a step,
    how a deadline that catches it is said ({t:g} is the deadline in seconds; "": the check is
    never a step, the judge decides it from what other steps found) with what to change then
    ("" takes the hint for timeouts)."""

    id: str
    title: str
    stall: str = ""
    stall_hint: str = ""


def _catalogue(*specs: CheckSpec) -> dict[str, CheckSpec]:
    return {spec.id: spec for spec in specs}


# Every check id, in report order: reports lay their columns out in this order.
CHECKS = _catalogue(
    CheckSpec("client.encryption", "encryption"),
    CheckSpec("connect", "connect", "no TCP connection within {t:g} s"),
    CheckSpec("pg.sslrequest", "sslrequest", "no answer to the SSLRequest within {t:g} s"),
    CheckSpec("smtp.starttls", "starttls", "no reply to STARTTLS within {t:g} s"),
    CheckSpec("tls.handshake", "handshake", "no TLS ServerHello within {t:g} s"),
    CheckSpec("tls.version", "version"),
    CheckSpec(
        "tls.legacy",
        "legacy",
        "no answer to a ClientHello offering only versions below the minimum within {t:g} s",
    ),
    CheckSpec("cert.chain", "chain", "no verdict on the certificate chain within {t:g} s"),
    CheckSpec("cert.hostname", "hostname"),
    CheckSpec("cert.expiry", "expiry"),
    CheckSpec(
        "cert.revocation",
        "revocation",
        "no verdict on revocation (staple or responder) within {t:g} s",
    ),
    CheckSpec(
        "http.status",
        "status",
        "no HTTP response within {t:g} s",
        "the request was sent but no response came: the application (or a proxy's upstream) "
        "is hung or slow; look at it, or raise --timeout",
    ),
    CheckSpec("http.hsts", "hsts"),
    CheckSpec("smtp.auth_before_tls", "auth before tls"),
    CheckSpec(
        "smtp.starttls_injection",
        "starttls injection",
        "no answer on the injection-test connection within {t:g} s",
    ),
    CheckSpec("smtp.login", "login", "no reply to AUTH within {t:g} s"),
    CheckSpec(
        "pg.plaintext", "plaintext", "no answer to a plaintext StartupMessage within {t:g} s"
    ),
    CheckSpec("pg.client_cert", "client cert"),  # read inside the handshake step, on a budget
    CheckSpec("pg.login", "login", "no psycopg session within {t:g} s"),
)


class MinTls(enum.StrEnum):
    TLS12 = "1.2"
    TLS13 = "1.3"


# The largest sensible settings, for flags and tlsprobe.toml alike: beyond them a value is a
# typo. A century of expiry warning overflows date arithmetic; "inf" seconds is no deadline.
MAX_TIMEOUT_S = 86400.0
MAX_WARN_DAYS = 36500
# A certificate warns when less than this share of its lifetime is left, or less than
# expiry_warn_days, whichever comes later (tls/expiry.py): short-lived ones warn on the share.
DEFAULT_WARN_FRACTION = 1 / 3
# A share written as a decimal or a ratio of whole numbers, in ASCII digits: Fraction() alone
# also takes signs, blanks, exponents and other scripts' digits.
_SHARE = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)|[0-9]+/[0-9]+", re.ASCII)
WARN_FRACTION_EXPECTED = "a share of the lifetime between 0 and 1, exclusive (e.g. 1/3 or 0.25)"


def warn_fraction(value: object) -> float | None:
    """expiry_warn_fraction from a flag or tlsprobe.toml: a number, or a text such as "1/3" or
    "0.25", strictly between 0 and 1 (0 would never warn, 1 always); None when it is none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        share = float(value)
    elif isinstance(value, str) and _SHARE.fullmatch(value):
        denominator = value.partition("/")[2]
        if denominator and int(denominator) == 0:
            return None
        from fractions import Fraction  # rare (a flag or a key), and costly to import

        share = float(Fraction(value))
    else:
        return None
    return share if 0 < share < 1 else None  # nan fails both


@record
class Policy:
    """How to judge: the settings shared by every target of a run."""

    timeout: float = 10.0
    min_tls: MinTls = MinTls.TLS12
    expiry_warn_days: int = 14
    ca_file: Path | None = None
    concurrency: int = 50
    tls_legacy: bool = True  # tls.legacy: ask whether versions below min_tls are accepted too
    expiry_warn_fraction: float = DEFAULT_WARN_FRACTION  # in (0, 1): see tls/expiry.py
    expiry_fail_days: int = 0  # fail with fewer days left (0: only when expired)
    # cert.revocation: also ask the CA's OCSP responders (else CRLs); the staple is always judged
    revocation: bool = False
