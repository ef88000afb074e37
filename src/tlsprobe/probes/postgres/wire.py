"""PostgreSQL's wire protocol, as much as the probe needs: the SSLRequest and its one-byte
answer, a plaintext StartupMessage, and judging the replies. Judging is pure."""

from __future__ import annotations

import asyncio
import struct

from tlsprobe.model import Check, Status

# Int32 length 8, Int32 code 80877103 (1234 << 16 | 5679): exactly these 8 bytes.
SSL_REQUEST = bytes.fromhex("0000000804d2162f")
PROTOCOL_3_0 = 196608
MAX_MESSAGE = 1 << 16  # startup replies are small; anything bigger is not PostgreSQL
_AUTH_NAMES = {0: "none: trust", 2: "Kerberos", 3: "cleartext password", 5: "MD5", 7: "GSS"}
_AUTH_NAMES |= {9: "SSPI", 10: "SASL"}
ACCEPTS_HINT = (
    "use hostssl instead of host lines in pg_hba.conf (and `hostnossl all all 0.0.0.0/0 reject`)"
)
# pg.plaintext when the plaintext startup got no verdict-worthy answer.
UNTOLD_HINT = (
    "run with -v to see what the server answered; check pg_hba.conf for host lines by hand"
)


class Wire(asyncio.Protocol):
    """A plain connection whose receive buffer the probe can see: after the SSLRequest's one-byte
    answer, whatever else already arrived must be judged, never handed to TLS."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool | None:
        self.closed = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def readexactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if self.closed:
                raise asyncio.IncompleteReadError(bytes(self.buffer), n)
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    async def message(self) -> tuple[bytes, bytes]:
        """One backend message: (type byte, body)."""
        head = await self.readexactly(5)
        (length,) = struct.unpack("!I", head[1:])
        if not 4 <= length <= MAX_MESSAGE:
            raise ValueError(f"not a PostgreSQL message: {head!r}")
        return head[:1], await self.readexactly(length - 4)


def judge_answer(answer: bytes, extra: bytes) -> Check:
    """pg.sslrequest from the one byte answered and what arrived with it."""
    if answer == b"S" and extra:
        return Check(
            "pg.sslrequest",
            Status.FAIL,
            f"the server answered S followed by {len(extra)} more bytes before TLS began "
            f"({extra[:16]!r}): CVE-2021-23222, a man in the middle can inject them; "
            "they were not passed to TLS",
            "a genuine PostgreSQL server never does this: look for something between client "
            "and server that injects data, and run libpq 14.1/13.5/12.9/11.14/10.19 or later, "
            "which refuses it",
        )
    if answer == b"S":
        return Check("pg.sslrequest", Status.PASS, "the server answered S (TLS)")
    if answer == b"N":
        return Check(
            "pg.sslrequest",
            Status.FAIL,
            "the server answered N: server has ssl = off",
            "set ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf, then reload",
        )
    what = "E (an error)" if answer == b"E" else repr(answer + extra[:15])
    return Check(
        "pg.sslrequest",
        Status.FAIL,
        f"the server answered {what} to the SSLRequest: not a PostgreSQL server, or too old",
        "check the port: PostgreSQL answers S or N (and a pre-7.2 server cannot do TLS at all)",
    )


def no_answer() -> Check:
    return Check(
        "pg.sslrequest",
        Status.FAIL,
        "the server closed the connection without answering the SSLRequest",
        "check the port: PostgreSQL answers S or N",
    )


def auth_name(code: int) -> str:
    """An AuthenticationRequest's method, by its code."""
    return _AUTH_NAMES.get(code, f"method {code}")


def startup_message(user: str, database: str) -> bytes:
    """A protocol 3.0 StartupMessage for `user` and `database`."""
    pairs = {"user": user, "database": database, "application_name": "tlsprobe"}
    body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in pairs.items()) + b"\0"
    return struct.pack("!II", 8 + len(body), PROTOCOL_3_0) + body


def error_fields(body: bytes) -> dict[str, str]:
    """An ErrorResponse's fields by their one-letter code (S severity, C SQLSTATE, M message)."""
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def judge_plaintext(kind: bytes, body: bytes, who: str) -> Check | None:
    """pg.plaintext from the first reply to a plaintext StartupMessage; None: read another."""
    if kind == b"N":
        return None  # a NoticeResponse may come first
    if kind == b"R" and len(body) >= 4:
        (code,) = struct.unpack("!I", body[:4])
        method = auth_name(code)
        return Check(
            "pg.plaintext",
            Status.WARN,
            f"accepts unencrypted sessions (pg_hba.conf has host/hostnossl lines): a plaintext "
            f"startup as {who} got an authentication request ({method})",
            ACCEPTS_HINT,
        )
    if kind == b"v":
        return Check(
            "pg.plaintext",
            Status.WARN,
            f"accepts unencrypted sessions (pg_hba.conf has host/hostnossl lines): a plaintext "
            f"startup as {who} got a protocol negotiation",
            ACCEPTS_HINT,
        )
    if kind == b"E":
        fields = error_fields(body)
        said = f"{fields.get('V', fields.get('S', 'ERROR'))} {fields.get('C', '?')}: "
        said += fields.get("M", "")
        if fields.get("C") == "28000" and "no encryption" in fields.get("M", ""):
            return Check("pg.plaintext", Status.PASS, f"refuses unencrypted sessions ({said})")
        return Check(
            "pg.plaintext",
            Status.WARN,
            f"could not tell whether it accepts unencrypted sessions: a plaintext startup as "
            f"{who} got {said}",
            UNTOLD_HINT,
        )
    return Check(
        "pg.plaintext",
        Status.WARN,
        f"could not tell: a plaintext startup got an unexpected {kind!r} message",
        UNTOLD_HINT,
    )
