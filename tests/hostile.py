"""Servers that turn on their client, for the secrets and escaping tests: they echo the
credentials they were given (in SMTP replies, an HTTP status line and Location), or answer with
ESC, NUL, C1 controls and bidi overrides. Built on the lab's connection layer and PKI (real TLS,
ephemeral loopback ports) and run on an event loop of their own in a background thread.

Each echo server remembers the (user, password) pairs it received, so a test can prove that a
password it placed was really sent, and so really had the chance to come back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from tlsprobe.lab.certs import Pki
from tlsprobe.lab.server import Case, Conn, Servers, tls_context, within
from tlsprobe.lab.smtp import Lines, reply

READ_TIMEOUT = 10.0
START_TIMEOUT = 10.0
# What the escaping servers send: ESC (a terminal title and a screen clear), BEL, NUL, and a
# right-to-left override that would make the rest of the line read backwards.
NASTY = "\x1b]0;pwned\x07 \x1b[2J\x00 \u202edesrever"
# C1 controls are the HTTP header's way in (h11 refuses C0 there): CSI (0x9b), and the bidi
# override's UTF-8 bytes, whose 0x80 is C1 once a header is read as Latin-1.
NASTY_HEADER = b"http://evil.test/\x9b2J\xe2\x80\xae"

Handler = Callable[[Conn], Awaitable[None]]


class Hostile:
    """The hostile servers, started together; `url(name)` says where each listens."""

    def __init__(self, workdir: Path) -> None:
        self.pki = Pki(workdir)
        self.received: list[tuple[str, str]] = []  # (user, password), in the order they came
        self._ports: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="hostile", daemon=True)
        tls = tls_context(self.pki.issue("hostile"))
        self._cases = {
            "smtp-echo": (
                Case("smtp-echo", "", functools.partial(self._smtp, tls, "PLAIN", "")),
                "smtp",
            ),
            "smtps-echo": (
                Case("smtps-echo", "", functools.partial(self._smtp, None, "LOGIN", ""), tls=tls),
                "smtps",
            ),
            "https-echo": (Case("https-echo", "", self._https_echo, tls=tls), "https"),
            "smtp-nasty": (
                Case("smtp-nasty", "", functools.partial(self._smtp, tls, "PLAIN", NASTY)),
                "smtp",
            ),
            "https-nasty": (Case("https-nasty", "", self._https_nasty, tls=tls), "https"),
        }

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_file

    def url(self, name: str, userinfo: str = "") -> str:
        scheme = self._cases[name][1]
        return f"{scheme}://{userinfo}localhost:{self._ports[name]}/"

    def passwords(self) -> set[str]:
        return {password for _, password in self.received}

    def __enter__(self) -> Hostile:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("the hostile servers did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        servers = Servers()
        try:
            for name, (case, _) in self._cases.items():
                self._ports[name] = await servers.listen(case)
            self._ready.set()
            await self._stop.wait()
        finally:
            await servers.close()

    # --- SMTP: STARTTLS (or implicit TLS), then AUTH, answered with the credentials -------------

    async def _smtp(
        self, starttls: ssl.SSLContext | None, mechanism: str, nasty: str, conn: Conn
    ) -> None:
        """A mail server offering one AUTH mechanism inside TLS. With `nasty`, its greeting and
        EHLO carry it and STARTTLS is refused with it."""
        lines = Lines(conn)
        await conn.send(reply(220, f"hostile.test ESMTP {nasty}".rstrip()))
        while (line := await within(READ_TIMEOUT, lines.next())) is not None:
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                offers = ["hostile.test", *([f"X-{nasty}"] if nasty else [])]
                offers += [f"AUTH {mechanism}"] if conn.tls else ["STARTTLS"]
                await conn.send(reply(250, *offers))
            elif verb == "STARTTLS" and starttls is not None and conn.tls is None:
                if nasty:
                    await conn.send(reply(454, f"4.7.0 no TLS today {nasty}"))
                    continue
                await conn.send(reply(220, "2.0.0 go ahead"))
                lines.buffer.clear()  # plaintext sent before TLS is never answered
                await conn.start_tls(starttls)
            elif verb == "AUTH":
                await conn.send(await self._auth(arg, lines, conn))
            elif verb == "QUIT":
                await conn.send(reply(221, "2.0.0 bye"))
                return
            else:
                await conn.send(reply(250, "2.0.0 OK"))

    async def _auth(self, arg: str, lines: Lines, conn: Conn) -> bytes:
        """Take PLAIN or LOGIN, remember the credentials, and refuse them quoting every form."""
        mechanism, _, initial = arg.partition(" ")
        try:
            if mechanism.upper() == "PLAIN":
                payload = initial or await self._ask(conn, lines, "")
                _, user, password = _decode(payload).split("\0", 2)
                said = payload
            else:
                name = initial or await self._ask(conn, lines, "VXNlcm5hbWU6")
                secret = await self._ask(conn, lines, name)  # the challenge echoes it, too
                user, password, said = _decode(name), _decode(secret), f"{name} {secret}"
        except (ValueError, binascii.Error):
            return reply(501, "5.5.2 cannot decode")
        self.received.append((user, password))
        return reply(535, f"5.7.8 {said} is {user}:{password}, and it is wrong")

    @staticmethod
    async def _ask(conn: Conn, lines: Lines, challenge: str) -> str:
        await conn.send(f"334 {challenge}\r\n".encode())
        return await within(READ_TIMEOUT, lines.next()) or ""

    # --- HTTPS: a redirect that repeats the Basic credentials ----------------------------------

    async def _https_echo(self, conn: Conn) -> None:
        """302 with the Authorization header and the decoded credentials in the reason phrase,
        and a Location that holds them in its userinfo and in base64."""
        head = (await within(READ_TIMEOUT, conn.readuntil(b"\r\n\r\n"))).decode("latin-1")
        fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        auth = fields.get("Authorization", "")
        encoded = auth.removeprefix("Basic ")
        try:
            user, _, password = _decode(encoded).partition(":")
        except (ValueError, binascii.Error):
            user, password = "", ""
        if auth:
            self.received.append((user, password))
        location = f"http://{user}:{password}@elsewhere.test/?auth={encoded}"
        status = f"302 Found {auth} {user}:{password}"
        await _http1(conn, status.encode(), location.encode())

    async def _https_nasty(self, conn: Conn) -> None:
        """A redirect to plaintext whose Location holds C1 controls and a bidi override."""
        await within(READ_TIMEOUT, conn.readuntil(b"\r\n\r\n"))
        await _http1(conn, b"302 Found", NASTY_HEADER)


def _decode(text: str) -> str:
    return base64.b64decode(text, validate=True).decode()


async def _http1(conn: Conn, status: bytes, location: bytes) -> None:
    """One HTTP/1.1 answer, bytes as given (a UTF-8 password stays UTF-8 on the wire)."""
    await conn.send(
        b"HTTP/1.1 "
        + status
        + b"\r\nLocation: "
        + location
        + b"\r\nStrict-Transport-Security: max-age=31536000\r\n"
        + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
