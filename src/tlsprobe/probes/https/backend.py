"""httpcore's network layer on asyncio streams, so TLS runs in the event loop's own TLS transport.

Why by hand: httpcore's default backend goes through anyio, whose TLS stream pumps every TLS
record through `ssl.MemoryBIO` in Python code; asyncio's transport (uvloop's, when installed, in
C) does the same work natively. Measured with `make bench`: about a third of tlsprobe's CPU time
per HTTPS target. No library offers an asyncio-streams backend for httpcore; the interface is
small (connect, read, write, start TLS, close) and its errors are mapped here to httpcore's own,
the ones `errors.explain` already reads.
"""

from __future__ import annotations

import asyncio
import itertools
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection, plain or TLS, as httpcore expects it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._writer.transport.is_closing():
            # uvloop raises a bare RuntimeError for a write to a closed transport.
            gone = self._reader.exception() or ConnectionResetError("Connection lost")
            raise httpcore.WriteError(gone) from gone
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.WriteError(exc) from exc

    async def aclose(self) -> None:
        # No TLS close_notify exchange, as httpcore's default backend: a server that never
        # answers it would hold the socket open in the background for the loop's 30 s timeout.
        self._writer.transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except BaseException as exc:
            self._writer.transport.abort()
            if isinstance(exc, TimeoutError):
                raise httpcore.ConnectTimeout(exc) from exc
            if isinstance(exc, OSError):  # ssl.SSLError is an OSError
                cause = self._lost_with() or _eof_as_openssl_says(exc)
                raise httpcore.ConnectError(cause) from cause
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


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
STAGGER_S = 0.25  # RFC 8305's connection attempt delay


async def _open(host: str, port: int, local_address: str | None) -> Streams:
    """Happy eyeballs (RFC 8305): the addresses of `host`, families interleaved, each attempt
    started when the one before fails or after STAGGER_S, the first connection wins; a
    blackholed address (a broken IPv6 route) costs a quarter second, not the deadline. When all
    fail, their errors stay whole in a group, where asyncio's own happy eyeballs joins them into
    one errno-less message (so "refused" would read as an unknown error); uvloop has none."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    waiting = [_literal(info[4]) for info in _interleaved(infos)]
    local = (local_address, 0) if local_address else None
    pending: set[asyncio.Task[Streams]] = set()
    errors: list[Exception] = []
    try:
        while waiting or pending:
            if waiting:
                attempt = asyncio.open_connection(waiting.pop(0), port, local_addr=local)
                pending.add(asyncio.ensure_future(attempt))
            delay = STAGGER_S if waiting else None
            done, pending = await asyncio.wait(
                pending, timeout=delay, return_when="FIRST_COMPLETED"
            )
            connected = [task.result() for task in done if task.exception() is None]
            errors.extend(exc for task in done if isinstance(exc := task.exception(), Exception))
            for _, extra in connected[1:]:
                extra.transport.abort()
            if connected:
                return connected[0]
    finally:
        await _abandon(pending)
    if not errors:
        raise OSError(f"the resolver gave no address for {host}")
    if len(errors) == 1:
        raise errors[0]
    raise ExceptionGroup(f"all {len(errors)} addresses of {host} failed", errors)


async def _abandon(attempts: set[asyncio.Task[Streams]]) -> None:
    """Cancel the attempts that lost the race, closing any that connected all the same."""
    for task in attempts:
        task.cancel()
    for outcome in await asyncio.gather(*attempts, return_exceptions=True):
        if isinstance(outcome, tuple):
            outcome[1].transport.abort()


def _interleaved(infos: list[Any]) -> list[Any]:
    """IPv6, IPv4, IPv6, ...: the resolver's order within each family (RFC 8305 section 4)."""
    families: dict[int, list[Any]] = {}
    for info in infos:
        families.setdefault(info[0], []).append(info)
    rounds = itertools.zip_longest(*families.values())
    return [info for row in rounds for info in row if info is not None]


def _literal(address: tuple[Any, ...]) -> str:
    """The address as a literal asyncio connects to without resolving again; an IPv6
    link-local address keeps its zone."""
    scope = address[3] if len(address) == 4 else 0
    return f"{address[0]}%{scope}" if scope else str(address[0])


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s; the deadline of each step is httpcore's `timeout`."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await _open(host, port, local_address)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except (OSError, ExceptionGroup) as exc:
            raise httpcore.ConnectError(exc) from exc
        sock: socket.socket = writer.get_extra_info("socket")
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
        except OSError as exc:
            writer.transport.abort()
            raise httpcore.ConnectError(exc) from exc
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"{path}: Unix sockets are not probed")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
