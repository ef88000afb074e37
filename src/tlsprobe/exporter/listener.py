"""Where the exporter listens: the socket (a backlog a burst of scrapers fits in), TLS set up
per connection with the web config of that moment, a deadline on each request's head, and a
shutdown that stops accepting and lets the scrapes in flight finish.

Why TLS per connection (each accepted socket given to connect_accepted_socket with the
SSLContext of that moment) rather than one
SSLContext given to create_server and swapped in its SNI callback: OpenSSL's SSL_set_SSL_CTX,
which the callback's swap is, takes the new context's certificate and trust store but keeps the
old one's verify mode and protocol versions, so a change of client_auth_type or min_version would
silently not apply. A context chosen before the handshake applies whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable

from tlsprobe.exporter.web import Face, Server
from tlsprobe.failures import UsageError

BACKLOG = 1024  # the kernel caps it at net.core.somaxconn (4096 on current Linux)
HEAD_TIMEOUT_S = 10.0  # from a request's first byte to its blank line
HANDSHAKE_TIMEOUT_S = 10.0


def bind(listen: tuple[str, int]) -> socket.socket:
    """The listening socket, bound and listening now, so that a port in use is a usage error at
    once and connections queue (up to BACKLOG) from the start."""
    host, port = listen
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        raise UsageError(f"--listen {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


class _HeadDeadline(asyncio.Protocol):
    """Between the transport and aiohttp's handler: a request's head (request line and
    headers) must arrive whole within HEAD_TIMEOUT_S of its first byte, or the connection is
    closed. aiohttp's keep-alive timeout only bounds an idle connection, and a client sending
    a byte a minute is not idle."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self.inner = inner
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        window = self._tail + data
        end = window.rfind(b"\r\n\r\n")
        if end >= 0 and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if (end < 0 or len(window) > end + 4) and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_S, self._expired)
        self._tail = window[-3:]
        self.inner.data_received(data)

    def _expired(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._transport.close()

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class Listener:
    """The running HTTP side: plain or TLS per the web config at start (TLS cannot be switched
    on or off while running), everything else of the config read per connection and request.

    It accepts connections itself (sock_accept) and hands each to connect_accepted_socket with
    the SSLContext of that moment, which makes the TLS handshake before anything is read; the
    handshake and the HTTP connection are then the event loop's and aiohttp's."""

    def __init__(self, sock: socket.socket, face: Face) -> None:
        self.sock = sock
        self.face = face
        host, port = sock.getsockname()[:2]
        self.address = (str(host), int(port))  # the real port when asked for port 0
        self._server: Server | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._opening: set[asyncio.Task[None]] = set()  # connections before their handshake

    @property
    def server(self) -> Server:
        if self._server is None:
            raise RuntimeError("the listener is not started")
        return self._server

    def protocol(self) -> asyncio.Protocol:
        return _HeadDeadline(self.server())

    async def start(self) -> None:
        self._server = Server(self.face)  # aiohttp's server binds itself to the running loop
        self._accepting = asyncio.get_running_loop().create_task(self._accept())

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self.sock)
            except OSError:  # EMFILE, ECONNABORTED...: the next one may work
                await asyncio.sleep(0.05)
                continue
            task = loop.create_task(self._open(conn))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket) -> None:
        tls = self.face.config().tls
        loop = asyncio.get_running_loop()
        make: Callable[[], asyncio.Protocol] = self.protocol
        try:
            await loop.connect_accepted_socket(
                make,
                conn,
                ssl=tls,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S if tls is not None else None,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError):
            conn.close()  # a failed handshake: nothing to answer
        except asyncio.CancelledError:
            conn.close()
            raise

    async def stop(self, grace: float) -> None:
        """Stop accepting, close idle connections, give each request in flight up to `grace`
        seconds to answer, then close what is left."""
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        self.sock.close()
        for opening in list(self._opening):
            opening.cancel()
        if self._server is not None:
            self._server.pre_shutdown()
            await self._server.shutdown(grace)
        self.face.auth.close()
