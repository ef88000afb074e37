"""pg.login: a real libpq session through psycopg, with the target's sslmode, and the server's
own view of it from pg_stat_ssl. psycopg's errors are translated here, at the one place they
can arise, and never carry the password out."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import psycopg

from tlsprobe.errors import Explained, explain
from tlsprobe.model import Check, Status
from tlsprobe.pgdsn import Settings
from tlsprobe.probes.base import ProbeState
from tlsprobe.targets import REDACTED

QUERY = "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
# libpq's connect_timeout is in whole seconds, and it treats 1 as 2.
MIN_CONNECT_TIMEOUT = 2
# The modes under which libpq tries TLS first; a session without it is then a failure.
EXPECTS_TLS = ("prefer", "require", "verify-ca", "verify-full")

# (pattern in libpq's message, kind, detail, hint): the first match explains the error.
_LIBPQ_ERRORS: tuple[tuple[str, str, str, str], ...] = (
    (
        "password authentication failed",
        "pg-auth",
        "the server refused the password for user {user} (28P01)",
        "check the password (in the target, PGPASSWORD or ~/.pgpass)",
    ),
    (
        "no password supplied",
        "pg-auth",
        "the server asks for a password and none was given",
        "add the password to the target, or set PGPASSWORD",
    ),
    (
        "no pg_hba.conf entry",
        "pg-hba",
        "pg_hba.conf has no line that lets this client in ({said})",
        "add a hostssl line for this user, database and client address",
    ),
    (
        "does not match host name",
        "tls-verify",
        "libpq refused the certificate: it does not match the host name ({said})",
        "use the host name in the certificate, or reissue it with this name in its SAN",
    ),
    (
        "certificate verify failed",
        "tls-verify",
        "libpq refused the certificate ({said})",
        "set sslrootcert (or --ca-file) to the root that issued it, or fix the server's chain",
    ),
    (
        "root certificate file",
        "pg-config",
        "libpq cannot read the root certificate ({said})",
        "point sslrootcert at a PEM file, or use sslrootcert=system",
    ),
    (
        "server does not support ssl",
        "pg-nossl",
        "the server does not do TLS, and sslmode={sslmode} requires it",
        "set ssl = on on the server",
    ),
    (
        "timeout expired",
        "timeout",
        "no session within the connect timeout",
        "the server accepts but does not answer",
    ),
    (
        "connection refused",
        "refused",
        "connection refused (nothing listens on that port)",
        "check the port, and that the service is running",
    ),
    (
        "could not translate host name",
        "dns",
        "cannot resolve the host name",
        "check the host name, or the resolver of the machine running tlsprobe",
    ),
    (
        "does not exist",
        "pg-missing",
        "{said}",
        "check the user and dbname in the target",
    ),
)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Hide every secret, and any `password=...` a connection string might carry."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", rf"\g<1>{REDACTED}", text)


def explain_psycopg(exc: BaseException, settings: Settings) -> Explained:
    """psycopg's (that is, libpq's) error in plain language, with no secret in it."""
    if not isinstance(exc, psycopg.Error):
        why = explain(exc)
        return Explained(why.kind, redact(why.detail, [settings.password]), why.hint)
    said = " ".join(redact(str(exc), [settings.password]).split())
    said = re.sub(
        r'^connection failed: connection to server at "[^"]*", port \d+ failed: ', "", said
    )
    lowered = said.lower()
    for pattern, kind, detail, hint in _LIBPQ_ERRORS:
        if pattern in lowered:
            words = {"user": repr(settings.user), "said": said, "sslmode": settings.sslmode}
            return Explained(kind, detail.format(**words), hint)
    sqlstate = getattr(exc, "sqlstate", None)
    prefix = f"{type(exc).__name__} {sqlstate}" if sqlstate else type(exc).__name__
    return Explained("pg", f"{prefix}: {said}" if said else prefix)


def conninfo(state: ProbeState, settings: Settings) -> dict[str, str]:
    """The keywords psycopg gets: everything explicit, so libpq's own reading of the
    environment cannot disagree with what the probe resolved."""
    target = state.target
    budget = state.remaining()
    if settings.connect_timeout is not None:
        budget = min(budget, settings.connect_timeout)
    info = {
        "host": target.host,
        "port": str(target.port),
        "user": settings.user or "",
        "dbname": settings.dbname,
        "sslmode": settings.sslmode,
        "sslnegotiation": settings.sslnegotiation,
        "connect_timeout": str(max(MIN_CONNECT_TIMEOUT, math.ceil(budget))),
        "application_name": "tlsprobe",
        "gssencmode": "disable",  # no Kerberos round trip before the TLS one
    }
    hostaddr = target.connect_host or target.param("hostaddr")
    optional = {
        "hostaddr": hostaddr,
        "password": settings.password,
        "sslrootcert": settings.sslrootcert,
        "sslcert": settings.sslcert,
        "sslkey": settings.sslkey,
    }
    info |= {k: v for k, v in optional.items() if v}
    return info | dict(settings.extra)


async def login(state: ProbeState, settings: Settings) -> Check:
    """pg.login: log in with psycopg, ask pg_stat_ssl, log out."""
    state.enter("pg.login")
    info = conninfo(state, settings)
    shown = " ".join(f"{k}={REDACTED if k == 'password' else v}" for k, v in info.items())
    state.log(f"psycopg connect {shown}")
    try:
        dsn = psycopg.conninfo.make_conninfo("", **info)
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            cursor = await conn.execute(QUERY)
            row = await cursor.fetchone()
            version = conn.info.parameter_status("server_version")
    except Exception as exc:
        why = explain_psycopg(exc, settings)
        state.log(f"error: {why.detail}")
        return Check("pg.login", Status.FAIL, why.detail, why.hint)
    if version:
        state.facts["server_version"] = version
    ssl_on, tls_version, cipher = row if row is not None else (False, None, None)
    state.log(f"S: pg_stat_ssl ssl={ssl_on} version={tls_version} cipher={cipher}")
    if ssl_on:
        state.facts["pg_stat_ssl"] = f"{tls_version} {cipher}"
    return judge_login(settings, bool(ssl_on), f"{tls_version} {cipher}")


def judge_login(settings: Settings, ssl_on: bool, seen: str) -> Check:
    """pass with TLS; without it, warn where the sslmode asked for no TLS and fail otherwise."""
    who = f"logged in as {settings.user!r} with sslmode={settings.sslmode}"
    if ssl_on:
        return Check("pg.login", Status.PASS, f"{who}; the server sees {seen}")
    if settings.sslmode in EXPECTS_TLS:
        return Check(
            "pg.login",
            Status.FAIL,
            f"{who}, but the session is not encrypted (pg_stat_ssl.ssl is false): "
            "libpq fell back to plaintext",
            "enable ssl on the server, and use sslmode=verify-full so the client never falls back",
        )
    return Check(
        "pg.login",
        Status.WARN,
        f"{who}: the session is not encrypted, as that sslmode allows",
        "use sslmode=verify-full",
    )
