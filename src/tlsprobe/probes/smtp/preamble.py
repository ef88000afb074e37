"""cert.revocation's preamble for smtp://: greeting, EHLO and STARTTLS on a raw socket, which
then carries the side hello that asks for the staple (probes.revocation, tls.staple).

Not the probe's own session (session.py): aiosmtplib's protocol owns its asyncio transport and
has no way to hand back the bare socket that pyOpenSSL's side hello reads and writes with
loop.sock_recv and sock_sendall, and detaching a socket from a transport could lose what the
protocol had already read. Three commands need only a reply reader: multi-line replies, split
across reads, bounded in size.
"""

from __future__ import annotations

import asyncio
import socket

from tlsprobe import net
from tlsprobe.probes.base import ProbeState
from tlsprobe.probes.revocation import NotAsked

MAX_REPLY = 64 * 1024  # a greeting or EHLO reply beyond this is not a mail server's
_READ = 4096


class _Replies:
    """SMTP replies from a raw socket, through a buffer of what came after the last line."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    async def line(self, after: str) -> str:
        loop = asyncio.get_running_loop()
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_REPLY:
                raise NotAsked(f"the server's reply {after} has no end")
            data = await loop.sock_recv(self.sock, _READ)
            if not data:
                raise NotAsked(f"the server closed the connection without a reply {after}")
            self.buffer += data
        line, _, rest = bytes(self.buffer).partition(b"\n")
        self.buffer = bytearray(rest)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    async def reply(self, after: str) -> tuple[int, str]:
        """The code and the lines (as one) of the next reply, however many lines it has."""
        lines: list[str] = []
        while True:
            text = await self.line(after)
            lines.append(text)
            if sum(map(len, lines)) > MAX_REPLY:
                raise NotAsked(f"the server's reply {after} has no end")
            if len(text) < 3 or not text[:3].isdigit():
                raise NotAsked(f"the server's reply {after} is not SMTP: {text[:80]!r}")
            if text[3:4] != "-":
                return int(text[:3]), " / ".join(lines)

    async def expect(self, code: int, command: bytes | None, to: str) -> None:
        """Send `command` (None: nothing, the greeting comes by itself); its reply must be
        `code`. `to` names the reply: "to EHLO"."""
        if command is not None:
            await asyncio.get_running_loop().sock_sendall(self.sock, command + b"\r\n")
        got, text = await self.reply(to)
        if got != code:
            raise NotAsked(f"the server answered {text} {to}")


async def starttls(state: ProbeState) -> socket.socket:
    """A new connection taken through greeting, EHLO and STARTTLS: the ClientHello goes next."""
    target = state.target
    sock = await net.connect(target.address, target.port)
    with net.closed_on_error(sock):
        replies = _Replies(sock)
        await replies.expect(220, None, "on connecting")
        await replies.expect(250, b"EHLO " + _literal(sock), "to EHLO")
        await replies.expect(220, b"STARTTLS", "to STARTTLS")
        if replies.buffer:
            # Plaintext after the 220 would be read as TLS: no honest side hello follows.
            raise NotAsked("the server sent more after its 220 to STARTTLS")
    return sock


def _literal(sock: socket.socket) -> bytes:
    """Our address as an RFC 5321 address literal, as the probe's own EHLO says it."""
    address = str(sock.getsockname()[0])
    return (f"[IPv6:{address}]" if ":" in address else f"[{address}]").encode("ascii")
