"""One SMTP connection on aiosmtplib's protocol layer, with every line in and out on record.

aiosmtplib's `SMTPProtocol` parses replies (multi-line, split across segments) and does STARTTLS
the safe way (plaintext buffered after the 220 is dropped). Its `SMTP` client is not used: it
hides the protocol, so it could neither name the step under way, nor keep a transcript, nor
capture the handshake of an implicit-TLS connection apart from the TCP connect. This module is
also the one boundary where aiosmtplib's exceptions become plain-language facts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from typing import cast

from aiosmtplib import errors as smtp_errors
from aiosmtplib.auth import auth_crammd5_verify, auth_login_encode, auth_plain_encode
from aiosmtplib.esmtp import parse_esmtp_extensions
from aiosmtplib.protocol import SMTPProtocol
from aiosmtplib.response import SMTPResponse

from tlsprobe import net, tls
from tlsprobe.failures import Explained, Kind, explain
from tlsprobe.probes.base import Step, step_for
from tlsprobe.probes.smtp import steps

MAX_LOGGED_LINES = 200  # per connection: a tarpit or a chatty server must not flood the report
QUIT_BUDGET = 0.5


class StepFailed(Exception):
    """The server answered, and the answer is the verdict: the step under way fails with it."""

    def __init__(self, detail: str, hint: str = "", fix: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint
        self.fix = fix  # model.Fix: the client change the hint asks for, if any


Log = Callable[[str], None]


class Tap(SMTPProtocol):
    """aiosmtplib's protocol, reporting each line both ways; AUTH payloads never reach the log."""

    def __init__(self, loop: asyncio.AbstractEventLoop, log: Log) -> None:
        super().__init__(loop=loop)
        self._log = log
        self._partial = bytearray()
        self._logged = 0
        self.received = 0
        self.reply_lines: list[str] = []  # the server's lines since our last command
        self.redact = False
        self.inject = b""  # written in the same segment as STARTTLS (the CVE-2011-0411 test)
        self.on_reply: Callable[[SMTPResponse], None] | None = None
        self.on_line: Callable[[str], None] | None = None
        self.after_ready: bytearray | None = None  # set: collects bytes that arrive inside TLS
        self.arrived = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.after_ready is not None:
            self.after_ready += data
            self.arrived.set()
        self._partial += data
        *lines, rest = self._partial.split(b"\n")
        self._partial = bytearray(rest)
        for line in lines:
            text = line.rstrip(b"\r").decode("utf-8", "replace")
            self.reply_lines.append(text)
            self._note(f"S: {text}")
            if self.on_line is not None:
                self.on_line(text)
        super().data_received(data)

    def write(self, data: bytes) -> None:
        if data == b"STARTTLS\r\n":
            data += self.inject
        self.reply_lines = []
        for line in data.split(b"\r\n")[:-1]:
            self._note(f"C: {self._shown(line.decode('utf-8', 'replace'))}")
        super().write(data)

    async def read_response(self, timeout: float | None = None) -> SMTPResponse:
        response = await super().read_response(timeout)
        if self.on_reply is not None:
            self.on_reply(response)
        return response

    @property
    def unfinished(self) -> bytes:
        """What came after the last line end."""
        return bytes(self._partial)

    def flush(self) -> None:
        """Log an unfinished last line: a tarpit's banner is the evidence."""
        if self._partial:
            text = self._partial.decode("utf-8", "replace")
            self._note(f"S: {text} (no line end)")
            self._partial.clear()

    def _shown(self, line: str) -> str:
        # Policy, not redaction (the runner's scrub is that): AUTH payloads are never logged,
        # whatever they hold, so a transcript never carries a credential or a challenge answer.
        verb, _, rest = line.partition(" ")
        if verb.upper() == "AUTH":
            mechanism = rest.split(" ", 1)[0]
            return f"AUTH {mechanism} ***" if " " in rest else f"AUTH {mechanism}"
        return "***" if self.redact else line

    def _note(self, line: str) -> None:
        self._logged += 1
        if self._logged <= MAX_LOGGED_LINES:
            self._log(line)
        elif self._logged == MAX_LOGGED_LINES + 1:
            self._log(f"(more than {MAX_LOGGED_LINES} lines: the rest is not shown)")


def quoted(lines: list[str]) -> str:
    """The server's own words, as one line."""
    return " / ".join(lines) if lines else "(nothing)"


class Session:
    """An open SMTP connection: commands, STARTTLS, and the TLS facts once encrypted."""

    def __init__(self, tap: Tap, transport: asyncio.Transport, log: Log) -> None:
        self.tap = tap
        self.transport = transport
        self.log = log
        self.extensions: dict[str, str] = {}
        self.auth_methods: list[str] = []

    @property
    def local_literal(self) -> str:
        """Our address as an RFC 5321 address literal, the one EHLO name no server can doubt."""
        address = str(self.transport.get_extra_info("sockname")[0])
        return f"[IPv6:{address}]" if ":" in address else f"[{address}]"

    async def reply(self) -> SMTPResponse:
        return await self.tap.read_response()

    async def command(self, *args: bytes) -> SMTPResponse:
        return await self.tap.execute_command(*args)

    async def ehlo(self) -> SMTPResponse:
        """EHLO; on 250 the advertised extensions (lower-case) replace what was known."""
        response = await self.command(b"EHLO", self.local_literal.encode("ascii"))
        if response.code == 250:
            self.extensions, self.auth_methods = parse_esmtp_extensions(response.message)
        return response

    async def starttls(self, ctx: ssl.SSLContext, sni: str, on_ready: Callable[[], None]) -> None:
        """STARTTLS and the handshake; `on_ready` runs when the 220 arrives.
        A reply other than 220 raises aiosmtplib's SMTPResponseException."""

        def ready(response: SMTPResponse) -> None:
            if response.code == 220:
                on_ready()

        self.tap.on_reply = ready
        try:
            await self.tap.start_tls(ctx, server_hostname=sni)
        finally:
            self.tap.on_reply = None
        if self.tap.transport is not None:
            self.transport = cast(asyncio.Transport, self.tap.transport)

    async def authenticate(self, mechanism: str, user: str, password: str) -> SMTPResponse:
        """AUTH with aiosmtplib's encoders; the tap logs the payloads as ***."""
        self.tap.redact = True
        try:
            if mechanism == "plain":
                return await self.command(b"AUTH", b"PLAIN", auth_plain_encode(user, password))
            if mechanism == "login":
                name, secret = auth_login_encode(user, password)
                reply = await self.command(b"AUTH", b"LOGIN", name)
                return await self.command(secret) if reply.code == 334 else reply
            reply = await self.command(b"AUTH", b"CRAM-MD5")
            if reply.code != 334:
                return reply
            return await self.command(auth_crammd5_verify(user, password, reply.message))
        finally:
            self.tap.redact = False

    def handshake(self) -> tls.Handshake:
        return tls.capture(self._ssl_object())

    def tls_context(self) -> ssl.SSLContext:
        """The context this connection's TLS session was made with."""
        return self._ssl_object().context

    def _ssl_object(self) -> ssl.SSLObject:
        ssl_object: ssl.SSLObject | None = self.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            raise RuntimeError("no TLS session on this connection")
        return ssl_object

    async def quit(self) -> None:
        """QUIT politely, but never wait long for the 221."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(QUIT_BUDGET):
                await self.command(b"QUIT")

    def abort(self) -> None:
        """Drop the connection at once: a stalled peer must not hold the socket open."""
        self.tap.flush()
        self.transport.abort()


async def open_session(
    host: str, port: int, log: Log, ctx: ssl.SSLContext | None = None, sni: str = ""
) -> Session:
    """TCP connect, then (with `ctx`) a TLS handshake from the first byte: implicit TLS.
    `log` receives "connected" between the two, so the step under way can change there."""
    loop = asyncio.get_running_loop()
    sock = await net.connect(host, port)
    with net.closed_on_error(sock):
        log(f"TCP connected to {sock.getpeername()[0]} port {port}")
        tap = Tap(loop, log)
        transport, _ = await loop.create_connection(
            lambda: tap, sock=sock, ssl=ctx, server_hostname=sni if ctx else None
        )
    return Session(tap, transport, log)


async def speaks_tls(host: str, port: int, sni: str, budget: float) -> str | None:
    """The TLS version a fresh connection negotiates within `budget` s, or None: tells an
    implicit-TLS port (which waits for a ClientHello) from a silent plaintext one."""
    ctx = tls.context(tls.Mode.LEGACY_CAPTURE, None)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(budget):
            sock = await net.connect(host, port)
            with net.closed_on_error(sock):
                transport, _ = await loop.create_connection(
                    asyncio.Protocol, sock=sock, ssl=ctx, server_hostname=sni
                )
    except (OSError, TimeoutError):
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    version = ssl_object.version() if ssl_object is not None else None
    transport.abort()
    return str(version) if version else None


def elapsed_ms(since: float) -> str:
    return f"{(time.monotonic() - since) * 1000:.1f} ms"


# --- the aiosmtplib boundary ----------------------------------------------------------------


def explain_smtp(exc: BaseException, step: Step) -> Explained:
    """aiosmtplib's exceptions in plain language, for the step under way; others via `explain`."""
    if isinstance(exc, smtp_errors.SMTPServerDisconnected | smtp_errors.SMTPConnectError):
        return _closed(exc, step)
    if isinstance(exc, smtp_errors.SMTPTimeoutError):
        return Explained(Kind.TIMEOUT, "timed out")
    if isinstance(exc, smtp_errors.SMTPResponseException):
        if exc.code < 0:  # aiosmtplib's own code for a reply it could not parse
            return Explained(
                Kind.PROTOCOL,
                f"the server's reply is not SMTP: {exc.message}",
                "check the port: it may serve another protocol",
            )
        return Explained(Kind.SMTP, f"the server answered {exc.code} {exc.message}")
    if isinstance(exc, smtp_errors.SMTPException):
        return Explained(Kind.SMTP, f"SMTP error: {exc}")
    return explain(exc)


# How a connection the server closed is said, by the step it closed in: (where, hint). A phase
# without words of its own takes those of its check, each part apart.
_CLOSED: dict[Step, tuple[str, str]] = {
    steps.CONNECT: (
        "before its greeting was complete",
        "the server refuses this client (address rules, rate limits) or is overloaded",
    ),
    steps.EHLO_IMPLICIT: ("instead of answering EHLO", ""),
    steps.EHLO_PLAIN: ("instead of answering EHLO", ""),
    steps.EHLO_TLS: ("instead of answering EHLO inside TLS", ""),
    steps.STARTTLS: ("instead of answering STARTTLS", ""),
    steps.HANDSHAKE: (
        "during the TLS handshake",
        "the server may not speak TLS on this port, or refuses this client",
    ),
    steps.HANDSHAKE_AFTER_STARTTLS: (
        "after answering 220 to STARTTLS, instead of starting TLS",
        "the server cannot start TLS although it offers it: its certificate or key is missing"
        " or unreadable; look at the mail server's log",
    ),
    steps.LOGIN: ("during AUTH", ""),
}


def _closed(exc: BaseException, step: Step) -> Explained:
    inner = explain(exc.__cause__) if exc.__cause__ is not None else None
    if inner is not None and inner.kind.is_tls:
        return inner
    own = _CLOSED.get(step, ("", ""))
    whole = _CLOSED.get(step_for(step.check_id), (f"during {step.name}", ""))
    where, hint = own[0] or whole[0], own[1] or whole[1]
    return Explained(Kind.EOF, f"the server closed the connection {where}", hint)
