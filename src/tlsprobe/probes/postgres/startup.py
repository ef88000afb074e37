"""pg.client_cert: does the server let a client in with the target's certificate settings?

A server whose pg_hba.conf says clientcert=verify-ca/verify-full (or `cert`) completes the TLS
handshake without a client certificate (it only asks for one) and refuses at the startup
message, before any password: libpq then fails at every sslmode. Without a user to log in
with, the probe sends a StartupMessage inside the TLS session it already has and reads the
first answer, never a password: so a target without a user still reads as libpq will.
"""

from __future__ import annotations

import asyncio
import struct

from tlsprobe.model import Check, Status
from tlsprobe.probes.postgres import wire

Answer = tuple[bytes, bytes]  # the first message's type and body

# The phrases of PostgreSQL's auth.c for a refused client certificate (FATAL, SQLSTATE 28000).
_REQUIRED = "requires a valid client certificate"
_REFUSED = "certificate authentication failed"
_REQUIRED_HINT = (
    "give the target a client certificate and key issued under the server's ssl_ca_file "
    "(libpq: sslcert and sslkey; PGSSLCERT, PGSSLKEY), or drop clientcert from the "
    "pg_hba.conf line"
)


async def first_answer(
    protocol: wire.Wire, write: asyncio.WriteTransport, who: str, database: str, budget: float
) -> Answer | None:
    """The first answer (a notice skipped) to a StartupMessage written with `write`; None
    when none came within `budget` seconds or the server closed the connection."""
    write.write(wire.startup_message(who, database))
    try:
        async with asyncio.timeout(budget):
            for _ in range(8):
                kind, body = await protocol.message()
                if kind != b"N":
                    return kind, body
    except (TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
        return None
    return None


def judge_client_cert(answer: Answer | None, who: str, has_cert: bool) -> Check:
    """pg.client_cert from the first answer to a startup inside TLS as `who`."""
    sent = "the target's client certificate" if has_cert else "no client certificate"
    if answer is None:
        return Check("pg.client_cert", Status.SKIP, "not judged: no answer to a startup inside TLS")
    kind, body = answer
    if kind == b"R" and len(body) >= 4:
        (code,) = struct.unpack("!I", body[:4])
        method = wire.auth_name(code)
        return Check(
            "pg.client_cert",
            Status.PASS,
            f"with {sent}, a startup as {who} inside TLS got an authentication request ({method})",
        )
    if kind != b"E":
        return Check(
            "pg.client_cert",
            Status.SKIP,
            f"not judged: a startup as {who} inside TLS got a {kind!r} message",
        )
    fields = wire.error_fields(body)
    said = f"{fields.get('V', fields.get('S', 'ERROR'))} {fields.get('C', '?')}: "
    said += fields.get("M", "")
    if _REQUIRED in said:
        detail = f"pg_hba.conf requires a client certificate, and the target has none ({said})"
        return Check("pg.client_cert", Status.FAIL, detail, _REQUIRED_HINT)
    if _REFUSED in said:
        detail = f"the server refused the target's client certificate for user {who} ({said})"
        hint = (
            f"use a client certificate whose CN is {who} (sslcert, sslkey), or map it in the "
            "server's pg_ident.conf"
        )
        return Check("pg.client_cert", Status.FAIL, detail, hint)
    return Check(
        "pg.client_cert",
        Status.SKIP,
        f"not judged: a startup as {who} inside TLS got {said} (give the target its user to "
        "judge the login)",
    )
