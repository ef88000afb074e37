"""The SMTP cases: STARTTLS and implicit-TLS servers with the defects CASES.md lists.

One small SMTP server on the lab's `Conn` plays every part. aiosmtpd is not used here: it runs
its own asyncio server, outside the lab's connection bookkeeping, and it cannot be made to do
the wrong things these cases need (keep plaintext across STARTTLS, hang up after 220, split its
EHLO reply). The tests also probe a real aiosmtpd server, as a check on this one.
The server keeps its own line buffer, as real MTAs do: that is what lets the injection case be
vulnerable (CVE-2011-0411) by simply not emptying it at STARTTLS.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import functools
import ssl
from typing import Any

from tlsprobe.lab.certs import DAY, Pki
from tlsprobe.lab.server import Case, Conn, Handler, tls_context, within
from tlsprobe.records import record

HOSTNAME = "lab.tlsprobe.test"
USER, PASSWORD = "probe", "s3cret-pw"
IDLE_TIMEOUT = 10.0
TARPIT_INTERVAL = 0.25
TARPIT_LINES = 120  # 30 s of banner, then give up
SPLIT_BYTES = 9  # the split-EHLO case's segment size: every line is cut mid-way
SPLIT_PAUSE = 0.01


@record
class Mta:
    """How one lab mail server behaves; the defaults make a good STARTTLS server."""

    starttls: ssl.SSLContext | None = None  # None: no STARTTLS (or implicit TLS via the Case)
    advertise_starttls: bool = True
    starttls_reply: str = "220 2.0.0 Ready to start TLS"
    after_ready: str = "handshake"  # or "hang-up", "stall"
    auth_in_clear: bool = False
    keep_buffer: bool = False  # CVE-2011-0411: answer plaintext read before the handshake
    split_ehlo: bool = False


class Lines:
    """CRLF lines from a Conn, through a buffer the server owns."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.buffer = bytearray()

    async def _read(self) -> bytes:
        return await within(IDLE_TIMEOUT, self.conn.read())

    async def next(self) -> str | None:
        while b"\n" not in self.buffer:
            data = await self._read()
            if not data:
                return None
            self.buffer += data
        line, _, rest = bytes(self.buffer).partition(b"\n")
        self.buffer = bytearray(rest)
        return line.rstrip(b"\r").decode("utf-8", "replace")


def reply(code: int, *lines: str) -> bytes:
    """A (multi-line) reply: `250-a`, `250-b`, `250 c`."""
    last = len(lines) - 1
    return "".join(f"{code}{'-' if i < last else ' '}{t}\r\n" for i, t in enumerate(lines)).encode()


async def serve(mta: Mta, conn: Conn) -> None:
    """One SMTP session: greeting, then commands until QUIT or the client leaves."""
    lines = Lines(conn)
    await conn.send(reply(220, f"{HOSTNAME} ESMTP tlsprobe lab"))
    while (line := await lines.next()) is not None:
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "QUIT":
            await conn.send(reply(221, "2.0.0 Bye"))
            return
        if verb == "STARTTLS" and _offers_starttls(mta, conn):
            if not await _starttls(mta, conn, lines):
                return
        elif verb == "EHLO":
            await _ehlo(mta, conn)
        elif verb == "AUTH":
            await conn.send(await _auth(mta, conn, arg, lines))
        elif verb in ("HELO", "NOOP", "RSET"):
            await conn.send(reply(250, "2.0.0 OK"))
        else:
            await conn.send(reply(502, "5.5.2 Error: command not recognized"))


def _offers_starttls(mta: Mta, conn: Conn) -> bool:
    return mta.starttls is not None and mta.advertise_starttls and conn.tls is None


def _offers_auth(mta: Mta, conn: Conn) -> bool:
    return conn.tls is not None or mta.auth_in_clear


async def _ehlo(mta: Mta, conn: Conn) -> None:
    extensions = [f"{HOSTNAME} greets you", "PIPELINING", "SIZE 10240000", "8BITMIME"]
    if _offers_auth(mta, conn):
        extensions.append("AUTH PLAIN LOGIN")
    if _offers_starttls(mta, conn):
        extensions.append("STARTTLS")  # last: the split case ends on "250 STARTTLS"
    data = reply(250, *extensions)
    if not mta.split_ehlo:
        await conn.send(data)
        return
    for start in range(0, len(data), SPLIT_BYTES):
        await conn.send(data[start : start + SPLIT_BYTES])
        await asyncio.sleep(SPLIT_PAUSE)  # each piece its own TCP segment


async def _starttls(mta: Mta, conn: Conn, lines: Lines) -> bool:
    """Answer STARTTLS as the case says; False when the session is over."""
    await conn.send(f"{mta.starttls_reply}\r\n".encode())
    if not mta.starttls_reply.startswith("220"):
        return True
    if mta.after_ready == "hang-up":
        return False
    if mta.after_ready == "stall":
        await silent(conn)
        return False
    if not mta.keep_buffer:
        lines.buffer.clear()  # RFC 3207 4.2: plaintext sent before TLS must not be answered
    assert mta.starttls is not None  # STARTTLS reaches here only when offered (_offers_starttls)
    await conn.start_tls(mta.starttls)
    return True


async def _auth(mta: Mta, conn: Conn, arg: str, lines: Lines) -> bytes:
    if not _offers_auth(mta, conn):
        return reply(530, "5.7.0 Must issue a STARTTLS command first")
    mechanism, _, initial = arg.partition(" ")
    try:
        if mechanism.upper() == "PLAIN":
            _, user, password = _decode(initial or await _ask(conn, lines, "")).split("\0", 2)
        elif mechanism.upper() == "LOGIN":
            user = _decode(initial or await _ask(conn, lines, "VXNlcm5hbWU6"))
            password = _decode(await _ask(conn, lines, "UGFzc3dvcmQ6"))
        else:
            return reply(504, "5.5.4 Unrecognized authentication type")
    except (ValueError, binascii.Error):
        return reply(501, "5.5.2 Cannot decode the response")
    if (user, password) == (USER, PASSWORD):
        return reply(235, "2.7.0 Authentication successful")
    return reply(535, "5.7.8 Authentication credentials invalid")


async def _ask(conn: Conn, lines: Lines, challenge: str) -> str:
    await conn.send(f"334 {challenge}\r\n".encode())
    return await lines.next() or ""


def _decode(text: str) -> str:
    return base64.b64decode(text, validate=True).decode()


async def silent(conn: Conn) -> None:
    """Say nothing, and read whatever comes until the client leaves or the lab stops."""
    while await conn.read():
        pass


async def tarpit(conn: Conn) -> None:
    """A banner that never completes: 220- continuation lines, slowly, never the last line."""
    for _ in range(TARPIT_LINES):
        await conn.send(f"220-{HOSTNAME} please wait\r\n".encode())
        await asyncio.sleep(TARPIT_INTERVAL)


def cases(pki: Pki) -> list[Case]:
    """Every SMTP case, in demo order."""
    good = tls_context(pki.issue("smtp-good"))
    expired = pki.issue("smtp-expired", not_before=pki.now - 30 * DAY, not_after=pki.now - 3 * DAY)
    starttls, implicit = "smtp://localhost:{port}", "smtps://localhost:{port}"
    login = f"{USER}:{PASSWORD}@localhost:{{port}}"

    def mta(**changes: Any) -> Handler:
        return functools.partial(serve, dataclasses.replace(Mta(starttls=good), **changes))

    return [
        Case(
            "smtp-good", "STARTTLS, good chain, AUTH only inside TLS", mta(), url=f"smtp://{login}"
        ),
        Case(
            "smtp-wrong-password",
            "the good STARTTLS server, given a wrong password",
            mta(),
            url="smtp://probe:wrong-pw@localhost:{port}",
        ),
        Case(
            "smtps-good",
            "implicit TLS, good chain, AUTH inside TLS",
            functools.partial(serve, Mta()),
            tls=good,
            url=f"smtps://{login}",
        ),
        Case(
            "smtp-no-starttls",
            "EHLO does not advertise STARTTLS",
            mta(advertise_starttls=False),
            url=starttls,
        ),
        Case(
            "smtp-starttls-454",
            "STARTTLS answered 454 4.7.0",
            mta(starttls_reply="454 4.7.0 TLS not available due to local problem"),
            url=starttls,
        ),
        Case(
            "smtp-starttls-hang-up",
            "STARTTLS answered 220, then the server hangs up",
            mta(after_ready="hang-up"),
            url=starttls,
        ),
        Case(
            "smtp-starttls-stall",
            "STARTTLS answered 220, then nothing",
            mta(after_ready="stall"),
            url=starttls,
        ),
        Case(
            "smtp-auth-before-tls",
            "AUTH advertised and accepted before STARTTLS",
            mta(auth_in_clear=True),
            url=starttls,
        ),
        Case(
            "smtp-injection",
            "answers plaintext pipelined after STARTTLS inside TLS (CVE-2011-0411)",
            mta(keep_buffer=True),
            url=starttls,
        ),
        Case(
            "smtp-split-ehlo",
            f"EHLO reply in {SPLIT_BYTES}-byte TCP segments, 250 STARTTLS last",
            mta(split_ehlo=True),
            url=starttls,
        ),
        Case(
            "smtp-expired",
            "STARTTLS with a leaf that expired 3 days ago",
            functools.partial(serve, Mta(starttls=tls_context(expired))),
            url=starttls,
        ),
        Case(
            "smtp-on-implicit-port",
            "an implicit-TLS (465-style) port probed as smtp://",
            functools.partial(serve, Mta()),
            tls=good,
            url=starttls,
        ),
        Case(
            "smtps-on-starttls-port",
            "a STARTTLS (587-style) port probed as smtps://",
            mta(),
            url=implicit,
        ),
        Case("smtp-tarpit", "sends 220- lines slowly, never the final 220", tarpit, url=starttls),
        Case("smtp-silent", "accepts TCP, never sends a greeting", silent, url=starttls),
    ]
