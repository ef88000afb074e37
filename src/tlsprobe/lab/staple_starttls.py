"""cert.revocation's lab after a protocol preamble: an SMTP server that staples after STARTTLS
and a PostgreSQL-speaking server that staples after its S (or on a direct ClientHello).

Python's ssl cannot staple, so the TLS here is pyOpenSSL's, over the lab's Conn (as
lab/revocation.py's HTTPS `stapling` servers); the protocol on either side of it is as small
as lab/smtp.py's and lab/postgres.py's servers, which use Python's ssl and so cannot serve here.
Both answer inside TLS, so the probe reaches full verdicts: SMTP answers EHLO and QUIT,
PostgreSQL answers the startup with a cleartext password request and lets the lab's superuser
in (a real libpq connects, as the conformance suite needs), and a plaintext startup gets the
no-encryption refusal of a hostssl-only pg_hba.conf.

`Gate(1)` makes the bad twins' servers: one TLS session per server, then STARTTLS is answered
454 (as Postfix's smtpd_client_new_tls_session_rate_limit does) or the SSLRequest N.
"""

from __future__ import annotations

import asyncio
import functools
import struct
from collections.abc import Awaitable, Callable
from typing import TypeVar

from OpenSSL import SSL

from tlsprobe.lab.certs import Identity, Pki
from tlsprobe.lab.postgres_cluster import PASSWORD, SUPERUSER
from tlsprobe.lab.revocation import Responder, flush, responder_leaf, stapling_context
from tlsprobe.lab.server import Case, Conn, within
from tlsprobe.lab.smtp import Lines
from tlsprobe.records import record

HOSTNAME = "staple.tlsprobe.test"
IDLE_TIMEOUT = 10.0
SPLIT_PAUSE = 0.01
SSL_REQUEST = bytes.fromhex("0000000804d2162f")
REFUSED_STARTTLS = "454 4.7.0 Error: too many new TLS sessions from this client"
ALPN = b"postgresql"
T = TypeVar("T")


class Gate:
    """How many TLS sessions a server grants (None: any number); past them, with `stall`, it
    never answers the STARTTLS or SSLRequest instead of refusing it."""

    def __init__(self, limit: int | None = None, *, stall: bool = False) -> None:
        self.limit = limit
        self.stall = stall
        self.granted = 0

    def grant(self) -> bool:
        if self.limit is not None and self.granted >= self.limit:
            return False
        self.granted += 1
        return True


class Tls:
    """The server side of a pyOpenSSL session on a Conn, stapling `staple` (None: nothing)."""

    def __init__(self, conn: Conn, identity: Identity, staple: bytes | None) -> None:
        ctx = stapling_context(identity, staple)
        ctx.set_alpn_select_callback(_alpn)
        self.conn = conn
        self.ssl = SSL.Connection(ctx, None)
        self.ssl.set_accept_state()

    async def handshake(self, first: bytes = b"") -> None:
        """The handshake; `first`: the start of the ClientHello, already read."""
        if first:
            self.ssl.bio_write(first)
        await self._pump(self.ssl.do_handshake)

    async def read(self) -> bytes:
        """Up to 16 KiB of plaintext, b"" when the client closes."""
        try:
            return await self._pump(lambda: self.ssl.recv(16384))
        except (SSL.ZeroReturnError, SSL.SysCallError):
            return b""

    async def send(self, data: bytes) -> None:
        self.ssl.sendall(data)
        await self._flush()

    async def _pump(self, step: Callable[[], T]) -> T:
        while True:
            try:
                result = step()
            except SSL.WantReadError:
                await self._flush()
                data = await within(IDLE_TIMEOUT, self.conn.read())
                if not data:
                    raise EOFError("the client went away") from None
                self.ssl.bio_write(data)
            else:
                await self._flush()
                return result

    async def _flush(self) -> None:
        await flush(self.conn, self.ssl)


def _alpn(_: SSL.Connection, offered: list[bytes]) -> bytes | SSL._NoOverlappingProtocols:
    """postgresql for a direct ClientHello that offers it (PostgreSQL 17 demands it)."""
    return ALPN if ALPN in offered else SSL.NO_OVERLAPPING_PROTOCOLS


@record
class Stapler:
    """What one server presents and staples, and how many TLS sessions it grants."""

    identity: Identity
    staple: bytes | None
    gate: Gate


async def _silent(conn: Conn) -> None:
    """Read and never answer, until the client leaves (or the lab stops)."""
    while await conn.read():
        pass


# --- SMTP ------------------------------------------------------------------------------------


class _Lines(Lines):
    """CRLF lines from the plaintext connection, then (after STARTTLS) from inside TLS."""

    def __init__(self, conn: Conn) -> None:
        super().__init__(conn)
        self.tls: Tls | None = None

    async def _read(self) -> bytes:
        return await self.tls.read() if self.tls is not None else await super()._read()

    async def send(self, text: str) -> None:
        data = text.encode()
        await (self.tls.send(data) if self.tls is not None else self.conn.send(data))


async def smtp(stapler: Stapler, conn: Conn) -> None:
    """An SMTP session: a greeting in two lines, split mid-line, EHLO, STARTTLS (stapling), EHLO
    inside TLS and QUIT."""
    lines = _Lines(conn)
    # A greeting of two lines whose last is cut mid-way, in TCP segments of their own.
    await conn.send(f"220-{HOSTNAME} ESMTP tlsprobe lab\r\n220 staples af".encode())
    await asyncio.sleep(SPLIT_PAUSE)
    await conn.send(b"ter STARTTLS\r\n")
    try:
        while (line := await lines.next()) is not None:
            verb = line.partition(" ")[0].upper()
            if verb == "QUIT":
                await lines.send("221 2.0.0 Bye\r\n")
                return
            if verb == "EHLO":
                last = "250-PIPELINING\r\n250 STARTTLS" if lines.tls is None else "250 PIPELINING"
                await lines.send(f"250-{HOSTNAME} greets you\r\n{last}\r\n")
            elif verb == "STARTTLS" and lines.tls is None:
                await _starttls(stapler, conn, lines)
            else:
                await lines.send("502 5.5.2 Error: command not recognized\r\n")
    except SSL.Error:
        return  # a side hello that stops once it has the staple, a refused legacy hello


async def _starttls(stapler: Stapler, conn: Conn, lines: _Lines) -> None:
    if not stapler.gate.grant():
        if stapler.gate.stall:
            await _silent(conn)
        else:
            await lines.send(f"{REFUSED_STARTTLS}\r\n")
        return
    await lines.send("220 2.0.0 Ready to start TLS\r\n")
    lines.buffer.clear()  # RFC 3207 4.2: plaintext sent before TLS must not be answered
    tls = Tls(conn, stapler.identity, stapler.staple)
    await tls.handshake()
    lines.tls = tls


# --- PostgreSQL ------------------------------------------------------------------------------


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", 4 + len(body)) + body


def _no_encryption() -> bytes:
    message = (
        'no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "postgres", '
        "no encryption"
    )
    fields = b"SFATAL\0VFATAL\0C28000\0M" + message.encode() + b"\0\0"
    return _message(b"E", fields)


PASSWORD_REQUEST = _message(b"R", struct.pack("!I", 3))  # AuthenticationCleartextPassword
# What libpq needs to call a session up: AuthenticationOk, the parameters it reads, its key, idle.
WELCOME = b"".join(
    [
        _message(b"R", struct.pack("!I", 0)),
        *(
            _message(b"S", name + b"\0" + value + b"\0")
            for name, value in (
                (b"server_version", b"15.0"),
                (b"client_encoding", b"UTF8"),
                (b"DateStyle", b"ISO, MDY"),
                (b"integer_datetimes", b"on"),
                (b"standard_conforming_strings", b"on"),
            )
        ),
        _message(b"K", struct.pack("!II", 4242, 4242)),
        _message(b"Z", b"I"),
    ]
)


def _wrong_password() -> bytes:
    message = f'password authentication failed for user "{SUPERUSER}"'
    return _message(b"E", b"SFATAL\0VFATAL\0C28P01\0M" + message.encode() + b"\0\0")


async def _exactly(read: Callable[[int], Awaitable[bytes]], n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = await within(IDLE_TIMEOUT, read(n - len(data)))
        if not chunk:
            raise EOFError("the client left")
        data += chunk
    return data


async def postgres(stapler: Stapler, conn: Conn) -> None:
    """The SSLRequest answered S (N once the gate is shut) and a stapling handshake, or a
    direct ClientHello; inside TLS the startup gets a password request, in plaintext a refusal."""
    first = await _exactly(conn.read, 8)
    try:
        if first == SSL_REQUEST and stapler.gate.grant():
            await conn.send(b"S")
            await _in_tls(stapler, conn, b"")
        elif first == SSL_REQUEST and stapler.gate.stall:
            await _silent(conn)
        elif first == SSL_REQUEST:
            await conn.send(b"N")
            await _exactly(conn.read, 8)  # the plaintext startup a client may send next
            await conn.send(_no_encryption())
        elif first[0] == 0x16 and stapler.gate.grant():  # a TLS record: direct TLS
            await _in_tls(stapler, conn, first)
        else:
            await conn.send(_no_encryption())
    except SSL.Error:
        return  # a side hello that stops once it has the staple, a refused legacy hello


async def _in_tls(stapler: Stapler, conn: Conn, first: bytes) -> None:
    tls = Tls(conn, stapler.identity, stapler.staple)
    await tls.handshake(first)
    buffered = bytearray()

    async def read(n: int) -> bytes:
        while not buffered:
            data = await tls.read()
            if not data:
                return b""
            buffered.extend(data)
        out = bytes(buffered[:n])
        del buffered[:n]
        return out

    (length,) = struct.unpack("!I", await _exactly(read, 4))
    await _exactly(read, length - 4)  # the startup: any user, any database
    await tls.send(PASSWORD_REQUEST)
    kind, length = struct.unpack("!cI", await _exactly(read, 5))
    password = (await _exactly(read, length - 4)).rstrip(b"\0")
    if kind != b"p" or password != PASSWORD.encode():
        await tls.send(_wrong_password())
        return
    await tls.send(WELCOME)  # a real client is in: libpq, in the conformance suite
    while await read(16384):
        pass


# --- the cases -------------------------------------------------------------------------------


def staplers(pki: Pki, responder: Responder, name: str, gate: Gate) -> tuple[Stapler, Stapler]:
    """A good and a revoked staple, each on a leaf of its own naming `responder`."""
    good = responder_leaf(pki, f"{name}-good", ocsp_port=responder.port, crl_port=None)
    revoked = responder_leaf(pki, f"{name}-revoked", ocsp_port=responder.port, crl_port=None)
    for made in (good, revoked):
        responder.known[made.cert.serial_number] = made.cert
    responder.revoked.add(revoked.cert.serial_number)
    return (
        Stapler(good.identity, responder.response(good.cert), gate),
        Stapler(revoked.identity, responder.response(revoked.cert, revoked=True), gate),
    )


def cases(pki: Pki) -> list[Case]:
    """The stapling SMTP and PostgreSQL servers, and their leaves' OCSP responder."""
    responder = Responder(pki)
    smtp_good, smtp_revoked = staplers(pki, responder, "staple-smtp", Gate())
    pg_good, pg_revoked = staplers(pki, responder, "staple-pg", Gate())
    pg_url = "postgresql://localhost:{port}/postgres?sslmode=verify-full"

    return [
        Case(
            "staple-smtp-good",
            "STARTTLS, then staples a fresh good OCSP response",
            functools.partial(smtp, smtp_good),
            url="smtp://localhost:{port}",
        ),
        Case(
            "staple-smtp-revoked",
            "STARTTLS, then staples a response saying the leaf is revoked",
            functools.partial(smtp, smtp_revoked),
            url="smtp://localhost:{port}",
        ),
        Case(
            "staple-pg-good",
            "PostgreSQL wire: S to the SSLRequest, then staples a fresh good response",
            functools.partial(postgres, pg_good),
            url=pg_url,
        ),
        Case(
            "staple-pg-revoked",
            "PostgreSQL wire: S to the SSLRequest, then staples a revoked response",
            functools.partial(postgres, pg_revoked),
            url=pg_url,
        ),
        Case(
            "staple-responder",
            "the OCSP responder the staple-* leaves name",
            responder.serve,
            url="http://127.0.0.1:{port}/ocsp",
            sock=responder.sock,
        ),
    ]
