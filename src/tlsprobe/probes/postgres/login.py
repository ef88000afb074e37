"""pg.login: a real libpq session through psycopg, with the target's sslmode, and the server's
own view of it from pg_stat_ssl. psycopg's errors are translated here, at the one place they
can arise, and never carry the password out."""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import psycopg

from tlsprobe.failures import KIND_HINTS, ClientKeyError, Explained, KeyProblem, Kind, explain
from tlsprobe.model import Check, Status
from tlsprobe.probes.base import ProbeState
from tlsprobe.targets import caller
from tlsprobe.targets.pgsettings import Settings

QUERY = "SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
# libpq's connect_timeout is in whole seconds, and it treats 1 as 2.
MIN_CONNECT_TIMEOUT = 2
# How long a dropped session may take to notice that its connection is gone.
CLEANUP_S = 0.5
STALL_MARGIN_S = 0.1
# The modes under which libpq tries TLS first; a session without it is then a failure.
EXPECTS_TLS = ("prefer", "require", "verify-ca", "verify-full")

# (pattern in libpq's message, kind, detail, hint): the first match explains the error.
_LIBPQ_ERRORS: tuple[tuple[str, Kind, str, str], ...] = (
    (
        "password authentication failed",
        Kind.PG_AUTH,
        "the server refused the password for user {user} (28P01)",
        "check the password (in the target, PGPASSWORD or ~/.pgpass)",
    ),
    (
        "no password supplied",
        Kind.PG_AUTH,
        "the server asks for a password and none was given",
        "add the password to the target, or set PGPASSWORD",
    ),
    (
        "no pg_hba.conf entry",
        Kind.PG_HBA,
        "pg_hba.conf has no line that lets this client in ({said})",
        "add a hostssl line for this user, database and client address",
    ),
    (
        "does not match host name",
        Kind.TLS_VERIFY,
        "libpq refused the certificate: it does not match the host name ({said})",
        "use the host name in the certificate, or reissue it with this name in its SAN",
    ),
    (
        "certificate verify failed",
        Kind.TLS_VERIFY,
        "libpq refused the certificate ({said})",
        "set sslrootcert (or --ca-file) to the root that issued it, or fix the server's chain",
    ),
    (
        "root certificate file",
        Kind.PG_CONFIG,
        "libpq cannot read the root certificate ({said})",
        "point sslrootcert at a PEM file, or use sslrootcert=system",
    ),
    (
        "server authenticated client without channel binding",
        Kind.PG_AUTH,
        "channel_binding=require, but the server let {user} in without SCRAM (pg_hba.conf "
        "trust, cert, or another method with no password exchange), so nothing bound the "
        "login to this TLS session",
        "use scram-sha-256 on the server's pg_hba.conf line for this user and address; or, if "
        "that method is intended, drop channel_binding=require from the target",
    ),
    (
        "channel binding required but not supported by server's authentication request",
        Kind.PG_AUTH,
        "channel_binding=require, but the server asks for the password without SCRAM "
        "(pg_hba.conf md5 or password, or a password stored as MD5)",
        "use scram-sha-256 in pg_hba.conf and store the password as SCRAM "
        "(password_encryption = scram-sha-256, then set the password again)",
    ),
    (
        "channel binding required, but ssl not in use",
        Kind.PG_CONFIG,
        "channel_binding=require needs TLS (it binds SCRAM to the TLS session), and "
        "sslmode={sslmode} did not use it",
        "set sslmode=verify-full (and ssl = on on the server)",
    ),
    (
        "requires a valid client certificate",
        Kind.PG_AUTH,
        "the server requires a client certificate, and none was given",
        "give the target a client certificate and key (sslcert, sslkey)",
    ),
    (
        "certificate authentication failed",
        Kind.PG_AUTH,
        "the server refused the client certificate for user {user}: its CN is not that user "
        "(pg_hba.conf clientcert=verify-full or cert)",
        "use a client certificate whose CN is the user name (sslcert, sslkey), or map it in "
        "the server's pg_ident.conf",
    ),
    (
        "server does not support ssl",
        Kind.PG_NOSSL,
        "the server does not do TLS, and sslmode={sslmode} requires it",
        "set ssl = on on the server",
    ),
    (
        "timeout expired",
        Kind.TIMEOUT,
        "no session within the connect timeout",
        KIND_HINTS[Kind.TIMEOUT],
    ),
    (
        "connection refused",
        Kind.REFUSED,
        "connection refused (nothing listens on that port)",
        "check the port, and that the service is running",
    ),
    (
        "could not translate host name",
        Kind.DNS,
        "cannot resolve the host name",
        "check the host name, or the resolver of the machine running tlsprobe",
    ),
    (
        "does not exist",
        Kind.PG_MISSING,
        "{said}",
        "check the user and dbname in the target",
    ),
)


# libpq's words for a client certificate or key it cannot use, in the order to test them.
_LIBPQ_KEY_ERRORS: tuple[tuple[str, KeyProblem, str], ...] = (
    ("bad decrypt", KeyProblem.WRONG_PASSWORD, "key"),
    ("key values mismatch", KeyProblem.MISMATCH, "key"),
    ("certificate present, but not private key", KeyProblem.MISSING, "key"),
    ("has group or world access", KeyProblem.OPEN_TO_OTHERS, "key"),
    ("is not a regular file", KeyProblem.UNREADABLE, "key"),
    ("could not open certificate file", KeyProblem.UNREADABLE, "certificate"),
    ("could not read certificate file", KeyProblem.NOT_PEM, "certificate"),
    ("could not load private key file", KeyProblem.NOT_PEM, "key"),
)
# Given to libpq as sslpassword when the target has none. libpq installs its password callback
# only for a non-empty sslpassword; otherwise OpenSSL prompts "Enter PEM pass phrase:" on the
# terminal for an encrypted key (~/.postgresql/postgresql.key, say) and blocks the event loop.
# With this, an encrypted key fails at once ("bad decrypt"); a plain key never asks for it.
NO_SSLPASSWORD = "tlsprobe: no sslpassword given"


def _libpq_key_error(said: str, settings: Settings) -> Explained | None:
    """libpq's client key errors, as the handshake step says them (failures.ClientKeyError)."""
    lowered = said.lower()
    found = next((entry for entry in _LIBPQ_KEY_ERRORS if entry[0] in lowered), None)
    if found is None:
        return None
    pattern, problem, role = found
    if problem is KeyProblem.WRONG_PASSWORD and not dict(settings.extra).get("sslpassword"):
        problem = KeyProblem.ENCRYPTED
    quoted = re.search(r'file "([^"]*)"', said)
    path = quoted.group(1) if quoted else (settings.sslkey or settings.sslcert or "")
    # libpq ends "could not open certificate file "F": Permission denied" with strerror.
    reason = (
        "not a regular file" if pattern == "is not a regular file" else said.rpartition(": ")[2]
    )
    key_error = ClientKeyError(
        problem, path, role=role, setting="sslpassword", cert=settings.sslcert or "", reason=reason
    )
    return key_error.explained()


def _never_prompt(info: dict[str, str]) -> dict[str, str]:
    """The keywords with NO_SSLPASSWORD when they carry no (non-empty) sslpassword."""
    if info.get("sslpassword"):
        return info
    return info | {"sslpassword": NO_SSLPASSWORD}


def explain_psycopg(exc: BaseException, settings: Settings) -> Explained:
    """psycopg's (that is, libpq's) error in plain language. libpq may quote the connection
    string: the runner's scrub (tlsprobe.secrets) hides the password, as in any result."""
    if not isinstance(exc, psycopg.Error):
        return explain(exc)
    said = " ".join(str(exc).split())
    said = re.sub(
        r'^connection failed: connection to server at "[^"]*", port \d+ failed: ', "", said
    )
    if (key_error := _libpq_key_error(said, settings)) is not None:
        return key_error
    lowered = said.lower()
    for pattern, kind, detail, hint in _LIBPQ_ERRORS:
        if pattern in lowered:
            words = {"user": repr(settings.user), "said": said, "sslmode": settings.sslmode}
            return Explained(kind, detail.format(**words), hint)
    sqlstate = getattr(exc, "sqlstate", None)
    prefix = f"{type(exc).__name__} {sqlstate}" if sqlstate else type(exc).__name__
    return Explained(Kind.PG, f"{prefix}: {said}" if said else prefix)


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
    optional = {
        "hostaddr": target.connect_host,
        "password": settings.password,
        "sslrootcert": settings.sslrootcert,
        "sslcert": settings.sslcert,
        "sslkey": settings.sslkey,
    }
    info |= {k: v for k, v in optional.items() if v}
    info |= dict(settings.extra)
    return sealed(info) if settings.lends_nothing else info


# For a caller's target, values where libpq refuses an empty one, and require_auth: with
# gssencmode=disable GSSAPI may still log in inside TLS, with the exporter's Kerberos ticket.
_SEALED = {
    "sslcertmode": "disable",
    "min_protocol_version": "3.0",
    "max_protocol_version": "3.0",
    "require_auth": "!gss,!sspi",
}


def sealed(info: dict[str, str]) -> dict[str, str]:
    """`info` with every keyword libpq would otherwise read from the exporter's environment
    set: files to caller.NOWHERE (an empty value would send libpq to ~/.pgpass and
    ~/.postgresql), the rest to libpq's compiled default. Not service: no value of it means
    "none" (PGSERVICE, if set, is still read, but every keyword it could fill is set here).
    PGDATESTYLE, PGTZ and PGGEQO are read by libpq apart from its keywords and still go out."""
    out = dict(info)
    for option in psycopg.pq.Conninfo.get_defaults():
        key = option.keyword.decode()
        if option.envvar is None or key in out or key == "service":
            continue
        if key in caller.FILE_KEYWORDS:
            out[key] = caller.NOWHERE
        else:
            out[key] = _SEALED.get(key) or (option.compiled or b"").decode()
    return out | {"require_auth": _SEALED["require_auth"]}


async def login(state: ProbeState, settings: Settings) -> Check:
    """pg.login: log in with psycopg, ask pg_stat_ssl, log out."""
    state.enter("pg.login")
    info = conninfo(state, settings)
    # Logged whole: the runner's scrub hides password and sslpassword here, as everywhere.
    state.log("psycopg connect " + " ".join(f"{k}={v}" for k, v in info.items()))
    try:
        dsn = psycopg.conninfo.make_conninfo("", **_never_prompt(info))
        # A little under the deadline, so that the verdict can say which phase stalled.
        row, version = await _session(dsn, max(0.0, state.remaining() - STALL_MARGIN_S))
    except _Stalled as stalled:
        state.log(f"deadline: {stalled}")
        return Check("pg.login", Status.FAIL, str(stalled), KIND_HINTS[Kind.TIMEOUT])
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


class _Stalled(Exception):
    """The session did not finish within the probe's deadline; the message says where."""


Row = tuple[Any, ...] | None
_Conn = psycopg.AsyncConnection[Any]


async def _session(dsn: str, seconds: float) -> tuple[Row, str | None]:
    """Connect, ask pg_stat_ssl and close, within `seconds`. Past them the connection is
    dropped *before* the work is cancelled: psycopg answers the cancellation of a running query
    with a cancel request and up to 10 s more of waiting for the server (and log warnings on
    stderr), far past the deadline. The probe's own deadline gets the same treatment."""
    opened: list[_Conn] = []
    work = asyncio.ensure_future(_ask(dsn, opened))
    work.add_done_callback(_retrieve)
    try:
        done, _ = await asyncio.wait({work}, timeout=seconds)
    finally:
        if not work.done():
            for conn in opened:
                conn.pgconn.finish()  # nothing left for psycopg to wait for or cancel
            work.cancel()
            await asyncio.wait({work}, timeout=CLEANUP_S)
    if not done:
        where = "the pg_stat_ssl query got no answer" if opened else "no psycopg session"
        raise _Stalled(f"{where} within the deadline ({seconds:.1f} s left for the login)")
    return work.result()


async def _ask(dsn: str, opened: list[_Conn]) -> tuple[Row, str | None]:
    # autocommit: one statement needs no BEGIN, which would be one more round trip.
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    opened.append(conn)
    try:
        cursor = await conn.execute(QUERY)
        row = await cursor.fetchone()
        return row, conn.info.parameter_status("server_version")
    finally:
        # close(), not `async with`: its rollback or commit would wait on the server again.
        await conn.close()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Read a dropped session's outcome, so asyncio never logs it as unretrieved."""
    if not task.cancelled():
        task.exception()


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
