"""httpcore's network layer on asyncio streams, so TLS runs in the event loop's own TLS transport.

Why by hand: httpcore's default backend goes through anyio, whose TLS stream pumps every TLS
record through `ssl.MemoryBIO` in Python code; asyncio's transport (uvloop's, when installed, in
C) does the same work natively. Measured with `make bench`: about a third of tlsprobe's CPU time
per HTTPS target. No library offers an asyncio-streams backend for httpcore; the interface is
small (connect, read, write, start TLS, close) and its errors are mapped here to httpcore's own,
the ones `failures.explain` already reads.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Awaitable
from types import ModuleType
from typing import Any, TypeVar

from tlsprobe import net

T = TypeVar("T")


def httpcore_module() -> ModuleType:
    """httpcore, imported when first needed: for an error, or for HTTP/2. A run of HTTP/1.1
    targets that all answer never needs it, and importing it (with h2, anyio and certifi)
    costs about 15 ms of every start. The classes here are httpcore's interfaces by shape."""
    import httpcore

    return httpcore


class AsyncioStream:
    """One connection, plain or TLS, as httpcore expects it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await _within(timeout, self._reader.read(max_bytes))
        except TimeoutError as exc:
            raise httpcore_module().ReadTimeout(exc) from exc
        except OSError as exc:
            raise httpcore_module().ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._writer.transport.is_closing():
            # uvloop raises a bare RuntimeError for a write to a closed transport.
            gone = self._reader.exception() or ConnectionResetError("Connection lost")
            raise httpcore_module().WriteError(gone) from gone
        try:
            self._writer.write(buffer)
            await _within(timeout, self._writer.drain())
        except TimeoutError as exc:
            raise httpcore_module().WriteTimeout(exc) from exc
        except OSError as exc:
            raise httpcore_module().WriteError(exc) from exc

    async def aclose(self) -> None:
        # No TLS close_notify exchange, as httpcore's default backend: a server that never
        # answers it would hold the socket open in the background for the loop's 30 s timeout.
        self._writer.transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncioStream:
        try:
            await _within(
                timeout, self._writer.start_tls(ssl_context, server_hostname=server_hostname)
            )
        except BaseException as exc:
            self._writer.transport.abort()
            if isinstance(exc, TimeoutError):
                raise httpcore_module().ConnectTimeout(exc) from exc
            if isinstance(exc, OSError):  # ssl.SSLError is an OSError
                cause = self._lost_with() or _eof_as_openssl_says(exc)
                raise httpcore_module().ConnectError(cause) from cause
            raise
        return self

    def _lost_with(self) -> OSError | None:
        """The socket error that ended the connection before this step began (a reset right
        after the accept): the step itself sees only asyncio's errno-less "Connection lost"."""
        lost = self._reader.exception()
        return lost if isinstance(lost, OSError) and lost.errno is not None else None

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            return self._is_readable()
        return None

    def _is_readable(self) -> bool:
        """Data or EOF waiting on an idle connection means the server has dropped it."""
        if self._reader.at_eof() or self._writer.transport.is_closing():
            return True
        # The transport reads ahead into the reader's buffer, where poll() cannot see it; the
        # buffer has no public accessor.
        if getattr(self._reader, "_buffer", None):
            return True
        sock = self._writer.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return True
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))


def _eof_as_openssl_says(exc: OSError) -> OSError:
    """asyncio reports a peer that closed mid-handshake as a ConnectionResetError without an
    errno (a real reset has ECONNRESET); OpenSSL on a socket calls the same event an EOF."""
    if isinstance(exc, ConnectionResetError) and exc.errno is None:
        return ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "EOF occurred in violation of protocol")
    return exc


class AsyncioBackend:
    """Opens `AsyncioStream`s; the deadline of each step is httpcore's `timeout`. Only the TCP
    connect of httpcore's network backend: tlsprobe drives each connection itself (h11, or
    httpcore's HTTP/2 connection on a stream it opened), never a pool that would ask for more."""

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None
    ) -> AsyncioStream:
        try:
            reader, writer = await _within(timeout, _open(host, port))
        except TimeoutError as exc:
            raise httpcore_module().ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore_module().ConnectError(exc) from exc
        return AsyncioStream(reader, writer)


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = await net.connect(host, port)
    with net.closed_on_error(sock):
        return await asyncio.open_connection(sock=sock)


async def _within(timeout: float | None, step: Awaitable[T]) -> T:
    """`step`, under a deadline of its own when httpcore gives one (HTTP/2 through httpcore).
    tlsprobe's own calls give none: the probe's deadline comes first (see httpget), and a
    timer set and cancelled around every read and write cost more than the read itself."""
    if timeout is None:
        return await step
    async with asyncio.timeout(timeout):
        return await step
