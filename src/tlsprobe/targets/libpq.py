"""libpq connection settings: keyword strings (`host=db sslmode=verify-full`), and the settings a
libpq client would end up with once its environment (PGSSLMODE, PGSSLROOTCERT, ...) fills in
what the target leaves unsaid. Parsing does no I/O; the environment is passed in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tlsprobe.failures import UsageError
from tlsprobe.targets.urls import REDACTED, SECRET_KEYWORDS, Target, _ascii_host, is_ip_literal

# Every keyword libpq 17 accepts in a connection string; anything else is a typo that libpq
# itself would refuse ("invalid connection option").
_KEYWORDS = """host hostaddr port dbname user password passfile require_auth channel_binding
    connect_timeout client_encoding options application_name fallback_application_name
    keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout
    replication gssencmode sslmode requiressl sslnegotiation sslcompression sslcert sslkey
    sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer
    ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation service
    target_session_attrs load_balance_hosts"""
LIBPQ_KEYWORDS = frozenset(_KEYWORDS.split())
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq's environment variables for the settings the probe uses; the target's own value wins.
ENVIRONMENT = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "dbname": "PGDATABASE",
    "password": "PGPASSWORD",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "channel_binding": "PGCHANNELBINDING",
    "sslsni": "PGSSLSNI",
}
_KEYWORD_START = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=")
_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*")


def looks_like_keywords(text: str) -> bool:
    """`host=db port=5432 ...` rather than a URL."""
    return "://" not in text and bool(_KEYWORD_START.match(text))


def parse_keywords(text: str) -> list[tuple[str, str]]:
    """libpq's conninfo syntax: `key = value` pairs; a value is a run of non-blanks or a
    single-quoted string, and a backslash escapes the next character in either."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].isspace():
            break
        match = _KEY.match(text, pos)
        if match is None:
            raise ValueError(f'expected key=value at "{text[pos:].strip()[:20]}"')
        value, pos = _value(text, match.end())
        pairs.append((match.group(1), value))
    return pairs


def _value(text: str, pos: int) -> tuple[str, int]:
    quoted = pos < len(text) and text[pos] == "'"
    pos += quoted
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if (quoted and char == "'") or (not quoted and char.isspace()):
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    if quoted:
        raise ValueError("unterminated quoted string")
    return "".join(out), pos


def redact_keywords(text: str) -> str:
    """The keyword string with its password (and sslpassword, the client key's passphrase)
    shown as ***; unparseable text is hidden whole from the first "password" on, since where
    the secret ends is unknown."""
    try:
        pairs = parse_keywords(text)
    except ValueError:
        head, found, _ = text.partition("password")
        return f"{head}password={REDACTED}" if found else text
    return " ".join(f"{k}={REDACTED if k in SECRET_KEYWORDS else _quote(v)}" for k, v in pairs)


def _quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class KeywordTarget(Target):
    """A target written as a libpq keyword string; shown as that string, password hidden."""

    @property
    def display(self) -> str:
        return redact_keywords(self.url)


def keyword_target(text: str, *, name: str, source: str) -> Target:
    """Parse `host=db port=5432 user=u password=p sslmode=verify-full ...` into a Target."""
    shown = redact_keywords(text)
    try:
        pairs = parse_keywords(text)
    except ValueError as exc:
        raise UsageError(f"{shown!r}: not a libpq connection string ({exc})") from None
    for key, _ in pairs:
        if key not in LIBPQ_KEYWORDS:
            raise UsageError(f"{shown!r}: {key!r} is not a libpq connection keyword")
    given = dict(pairs)  # libpq: the last occurrence of a keyword wins
    host = given.get("host", "")
    if not host:
        raise UsageError(f"{shown!r}: no host= (tlsprobe connects over TCP)")
    if "," in host or host.startswith("/"):
        raise UsageError(f"{shown!r}: host={host!r}: give one TCP host name or address")
    port = given.get("port", "5432")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{shown!r}: the port must be a number from 1 to 65535")
    hostaddr = given.get("hostaddr") or None
    if hostaddr is not None and not is_ip_literal(hostaddr):
        raise UsageError(f"{shown!r}: hostaddr={hostaddr!r} is not an IP address")
    skip = {"host", "port", "user", "password"}
    return KeywordTarget(
        url=text.strip(),
        protocol="postgresql",
        host=_ascii_host(host, shown),
        port=int(port),
        path="/" + given.get("dbname", ""),
        user=given.get("user") or None,
        password=given.get("password"),
        params=tuple((k, v) for k, v in given.items() if k not in skip),
        connect_host=hostaddr,
        name=name,
        source=source,
    )


@dataclass(frozen=True)
class Settings:
    """What a libpq client would use for one target: its own settings, then libpq's
    environment, then tlsprobe's defaults. `origins` says where each value came from."""

    user: str | None
    password: str | None = field(repr=False)
    dbname: str
    sslmode: str
    sslrootcert: str | None
    sslcert: str | None
    sslkey: str | None
    sslnegotiation: str
    connect_timeout: float | None
    extra: tuple[tuple[str, str], ...] = ()  # other libpq keywords, passed on to psycopg
    origins: tuple[tuple[str, str], ...] = ()

    @property
    def direct(self) -> bool:
        return self.sslnegotiation == "direct"

    def origin(self, key: str) -> str:
        return dict(self.origins).get(key, "default")


def resolve(target: Target, env: Mapping[str, str], ca_file: Path | None = None) -> Settings:
    """The settings for `target` with libpq's environment `env` (a mapping: tests pass a dict).
    `ca_file` (--ca-file) is the root certificate when neither the target nor PGSSLROOTCERT
    names one."""
    own = dict(target.params)
    if target.path.strip("/"):
        own.setdefault("dbname", target.path.strip("/"))
    if target.password is not None:
        own["password"] = target.password
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    for key in ENVIRONMENT.keys() | own.keys():
        if key in own:
            values[key], origins[key] = own[key], "target"
        elif key in ENVIRONMENT and ENVIRONMENT[key] in env:
            values[key], origins[key] = env[ENVIRONMENT[key]], ENVIRONMENT[key]
    if "sslrootcert" not in values and ca_file is not None:
        values["sslrootcert"], origins["sslrootcert"] = str(ca_file), "--ca-file"
    user = target.user
    used = {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslnegotiation", "connect_timeout"}
    used |= {"dbname", "password", "hostaddr", "user", "host", "port"}
    return Settings(
        user=user,
        password=values.get("password"),
        dbname=values.get("dbname") or user or "postgres",
        sslmode=values.get("sslmode", "prefer").lower(),
        sslrootcert=values.get("sslrootcert") or None,
        # A client certificate from the target's source (an Airflow connection's extras, say)
        # stands in for sslcert/sslkey when libpq's own settings name none.
        sslcert=values.get("sslcert") or target.client_cert,
        sslkey=values.get("sslkey") or target.client_key,
        sslnegotiation=values.get("sslnegotiation", "postgres").lower(),
        connect_timeout=_seconds(values.get("connect_timeout")),
        extra=tuple(
            sorted((k, v) for k, v in values.items() if k in LIBPQ_KEYWORDS and k not in used)
        ),
        origins=tuple(sorted(origins.items())),
    )


def _seconds(value: str | None) -> float | None:
    """libpq's connect_timeout: whole seconds, 0 or less (or nonsense) meaning "wait forever"."""
    try:
        seconds = float(value) if value is not None else 0.0
    except ValueError:
        return None
    return seconds if seconds > 0 else None
