"""The protocol-neutral half of the lab: a case is a listening socket plus one behaviour.

TLS is done here with `ssl.MemoryBIO`, not asyncio's `start_tls`: when a handshake fails, asyncio
(3.11 here) closes the socket without sending the alert OpenSSL queued, so a client would read
"unexpected EOF" where a real server says "protocol version" or "handshake failure".

Every connection runs as a task that this module tracks, because Python 3.11's asyncio servers
neither close their accepted connections nor wait for them: without the bookkeeping, stopping the
lab would leak sockets (ResourceWarning) and half-finished tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tlsprobe.lab.certs import Identity, Pki
from tlsprobe.records import record

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
READ_LIMIT = 16 * 1024
HANDSHAKE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0

# What a misbehaving peer can make a behaviour raise. SSLError, resets and timeouts are all
# OSErrors; IncompleteReadError is an EOFError. Anything else is a bug in the lab and gets logged.
PEER_ERRORS = (OSError, EOFError, asyncio.LimitOverrunError)

T = TypeVar("T")
# OpenSSL 3's default security level 2 refuses TLS 1.0 and 1.1, RSA-1024, SHA-1 and small DH
# groups: level 0 lets a lab server offer them, as an old nginx or Postfix does.
SECLEVEL_0 = "DEFAULT:@SECLEVEL=0"
HTTP1 = ("http/1.1",)


def tls_context(
    identity: Identity,
    *,
    ciphers: str = "",
    minimum: ssl.TLSVersion | None = None,
    maximum: ssl.TLSVersion | None = None,
    alpn: tuple[str, ...] = (),
) -> ssl.SSLContext:
    """Every lab server's TLS context: `identity`'s chain and key, with the cipher string,
    versions and ALPN protocols a case asks for (none: OpenSSL's defaults)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if ciphers:
        # Before load_cert_chain: OpenSSL checks each certificate against the security level
        # as it loads it, and level 2 refuses RSA-1024 and SHA-1 ("ca md too weak").
        ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        # Naming TLSv1 or TLSv1_1 warns; offering exactly those is some cases' point.
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    ctx.load_cert_chain(identity.chain, identity.key)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """`await awaitable`, or TimeoutError after `seconds`.

    Not asyncio.wait_for: on 3.11 it loses a cancellation that arrives just as the awaitable
    finishes, and a lost cancellation left Lab.stop() waiting on a connection task.
    """
    async with asyncio.timeout(seconds):
        return await awaitable


class Conn:
    """One accepted connection as a behaviour sees it: bytes in and out, TLS or not."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None
        self._buffer = bytearray()

    @property
    def port(self) -> int:
        """The server's own port."""
        port: int = self._writer.get_extra_info("sockname")[1]
        return port

    @property
    def tls(self) -> ssl.SSLObject | None:
        """The TLS session once `start_tls` has finished, else None."""
        return self._tls

    async def start_tls(self, context: ssl.SSLContext, hello: bytes = b"") -> None:
        """Run the server side of a TLS handshake; SSLError (after its alert is sent) on failure.
        `hello`: the start of the handshake, already read to look at it (a ClientHello).

        Plaintext read ahead but not yet consumed is dropped, as a STARTTLS server must
        (CVE-2011-0411): it arrived before encryption and must not be answered inside it.
        """
        self._buffer.clear()
        self._incoming.write(hello)
        tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)

        async def handshake() -> None:
            while True:
                try:
                    tls.do_handshake()
                except ssl.SSLWantReadError:
                    await self._flush()
                    await self._fill()
                except ssl.SSLError:
                    await self._flush()  # the alert that tells the client what went wrong
                    raise
                else:
                    await self._flush()
                    return

        await within(HANDSHAKE_TIMEOUT, handshake())
        self._tls = tls

    async def read(self, n: int = READ_LIMIT) -> bytes:
        """Up to `n` bytes, b"" at end of stream (a TLS close_notify or a bare TCP FIN alike)."""
        if self._buffer:
            data = bytes(self._buffer[:n])
            del self._buffer[:n]
            return data
        return await self._receive(n)

    async def readuntil(self, separator: bytes, limit: int = READ_LIMIT) -> bytes:
        """Bytes up to and including `separator`, like `StreamReader.readuntil`."""
        while (end := self._buffer.find(separator)) < 0:
            if len(self._buffer) > limit:
                raise asyncio.LimitOverrunError(
                    "separator not found within limit", len(self._buffer)
                )
            data = await self._receive(READ_LIMIT)
            if not data:
                raise asyncio.IncompleteReadError(bytes(self._buffer), None)
            self._buffer += data
        end += len(separator)
        line = bytes(self._buffer[:end])
        del self._buffer[:end]
        return line

    async def send(self, data: bytes) -> None:
        """Write `data` (encrypted if TLS is on) and wait until the socket has taken it."""
        if self._tls is not None:
            self._tls.write(data)
            data = self._outgoing.read()
        self._writer.write(data)
        await self._writer.drain()

    def reset(self) -> None:
        """End the connection with a TCP reset (SO_LINGER 0), as a crashed middlebox does."""
        sock = self._writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    def write_eof(self) -> None:
        """Half-close a plain connection (TCP FIN) while still reading."""
        self._writer.write_eof()

    async def close(self) -> None:
        """Send close_notify if TLS is on, then close and wait for the socket to go."""
        if self._tls is not None:
            with contextlib.suppress(
                ssl.SSLError
            ):  # WantRead: the peer's close_notify may never come
                self._tls.unwrap()
            self._writer.write(self._outgoing.read())
        self._writer.close()
        await within(CLOSE_TIMEOUT, self._writer.wait_closed())

    async def _receive(self, n: int) -> bytes:
        if self._tls is None:
            return await self._reader.read(n)
        while True:
            try:
                data = self._tls.read(n)
            except ssl.SSLWantReadError:
                await self._flush()
                await self._fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            else:
                return data

    async def _flush(self) -> None:
        if data := self._outgoing.read():
            self._writer.write(data)
            await self._writer.drain()

    async def _fill(self) -> None:
        if data := await self._reader.read(READ_LIMIT):
            self._incoming.write(data)
        else:
            self._incoming.write_eof()


Handler = Callable[[Conn], Awaitable[None]]


@record
class Case:
    """One lab endpoint: its name, its defect, and how it treats a connection."""

    name: str
    description: str
    handler: Handler
    tls: ssl.SSLContext | None = None  # implicit TLS, handshaken before `handler` runs
    url: str = "https://localhost:{port}/"  # `{port}` becomes the bound port
    # A socket bound already, for a server whose port must be known before the lab starts
    # (an OCSP responder named in the certificates); None: an ephemeral port at start.
    sock: socket.socket | None = None


Factory = Callable[[Pki], list[Case]]


class Servers:
    """The listening sockets and live connections of a lab, all on one event loop."""

    def __init__(self) -> None:
        self._servers: list[asyncio.Server] = []
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def listen(self, case: Case) -> int:
        """Start serving `case` on an ephemeral loopback port, and return the port."""

        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # A plain callback, not a coroutine, so the connection is on the books before its task
            # first runs: a task cancelled before it starts never reaches its own cleanup.
            task = asyncio.get_running_loop().create_task(_serve(case, reader, writer))
            self._connections[task] = writer
            task.add_done_callback(self._forget)

        if case.sock is not None:
            server = await asyncio.start_server(accept, sock=case.sock, limit=READ_LIMIT)
        else:
            server = await asyncio.start_server(accept, HOST, 0, limit=READ_LIMIT)
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._connections.pop(task, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("lab connection handler crashed", exc_info=exc)

    async def close(self) -> None:
        """Stop listening, end every connection, and let the loop release the sockets."""
        for server in self._servers:
            server.close()
        live = dict(self._connections)
        # Abort before cancelling: a task cancelled before its first step never runs its own
        # cleanup, and a dead socket ends any read that a cancellation might miss.
        for writer in live.values():
            writer.transport.abort()
        for task in live:
            task.cancel()
        await asyncio.gather(*live, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()  # from 3.12 on, this waits for the connections too
        # abort() closes the socket in a call_soon callback: give those callbacks their turn
        # before the loop goes away.
        for _ in range(3):
            await asyncio.sleep(0)


async def _serve(case: Case, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    conn = Conn(reader, writer)
    try:
        if case.tls is not None:
            await conn.start_tls(case.tls)
        await case.handler(conn)
        await conn.close()
    except PEER_ERRORS:
        pass  # tolerating broken peers is the lab's job, not an error
    finally:
        writer.transport.abort()
