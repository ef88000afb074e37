"""The asyncio-streams network backend once connected: reading, writing, closing without waiting
for the peer, and telling a dropped idle connection, against real servers on loopback, on
asyncio's loop and on uvloop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpcore
import pytest
import trustme
from netservers import (
    BACKEND,
    LONG,
    SHORT,
    SLACK,
    TICK,
    Handler,
    client_context,
    idle,
    reset,
    server_context,
    serving,
    tls_stream,
    wait_until,
)

from conftest import Runner, T
from tlsprobe.failures import explain

# --- read, write, close -------------------------------------------------------------------------


def tls_session(
    on_loop: Runner,
    ca: trustme.CA,
    cert: trustme.LeafCert,
    server: Handler,
    client: Callable[[httpcore.AsyncNetworkStream], Awaitable[T]],
) -> T:
    """Serve `server` over TLS, complete a handshake, run `client` on the stream, close it."""

    async def scenario() -> T:
        async with serving(server, tls=server_context(cert)) as port:
            stream = await tls_stream(port, client_context(ca))
            try:
                return await client(stream)
            finally:
                await stream.aclose()

    return on_loop(scenario())


def test_read_times_out_on_a_silent_tls_server(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """After the handshake, a server that sends nothing: read raises ReadTimeout at the
    deadline, kind "timeout"."""

    async def client(stream: httpcore.AsyncNetworkStream) -> float:
        started = time.monotonic()
        with pytest.raises(httpcore.ReadTimeout) as info:
            await stream.read(1024, timeout=SHORT)
        assert type(info.value) is httpcore.ReadTimeout
        assert explain(info.value).kind == "timeout"
        return time.monotonic() - started

    elapsed = tls_session(on_loop, ca, server_cert, idle, client)
    assert SHORT - TICK <= elapsed < SHORT + SLACK


def test_write_and_read_round_trip(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The good twin: bytes written reach an echo server and its answer is read back; writing
    nothing sends nothing."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(b"echo:" + data)

    async def client(stream: httpcore.AsyncNetworkStream) -> bytes:
        await stream.write(b"", timeout=SHORT)
        await stream.write(b"ping", timeout=SHORT)
        return await stream.read(1024, timeout=LONG)

    assert tls_session(on_loop, ca, server_cert, echo, client) == b"echo:ping"


def test_read_after_the_server_closes_is_empty(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A TLS server that says "bye" and closes (close_notify): read returns b"bye", then b""."""

    async def bye(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        writer.close()

    async def client(stream: httpcore.AsyncNetworkStream) -> list[bytes]:
        return [await stream.read(1024, timeout=LONG), await stream.read(1024, timeout=LONG)]

    assert tls_session(on_loop, ca, server_cert, bye, client) == [b"bye", b""]


@contextlib.asynccontextmanager
async def reset_after_one_byte() -> AsyncIterator[httpcore.AsyncNetworkStream]:
    """A TCP stream to a server that resets the connection once it has read a byte, that byte
    already written; closed on exit."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        reset(writer)

    async with serving(handler) as port:
        stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
        try:
            await stream.write(b"x", timeout=LONG)
            yield stream
        finally:
            await stream.aclose()


def test_read_after_a_reset_is_a_read_error(on_loop: Runner) -> None:
    """The bad twin of a clean close: a server that resets the connection makes read raise
    ReadError from ConnectionResetError, kind "reset"."""

    async def scenario() -> None:
        async with reset_after_one_byte() as stream:
            with pytest.raises(httpcore.ReadError) as info:
                await stream.read(1024, timeout=LONG)
        assert type(info.value) is httpcore.ReadError
        assert type(info.value.__cause__) is ConnectionResetError
        assert explain(info.value).kind == "reset"

    on_loop(scenario())


# On uvloop a write to a transport that has seen the reset raised a bare RuntimeError (kind
# "internal") before write() checked for a closed transport: these tests pin the fix on both loops.


def test_write_after_a_reset_is_a_write_error(on_loop: Runner) -> None:
    """A write on a connection the server has reset raises WriteError, kind "reset"."""

    async def scenario() -> None:
        async with reset_after_one_byte() as stream:
            await wait_until(lambda: bool(stream.get_extra_info("is_readable")))
            await asyncio.sleep(0.02)  # the reset reaches the transport
            with pytest.raises(httpcore.WriteError) as info:
                await stream.write(b"more", timeout=LONG)
        assert type(info.value) is httpcore.WriteError
        assert isinstance(info.value.__cause__, ConnectionResetError)
        assert explain(info.value).kind == "reset"

    on_loop(scenario())


@contextlib.contextmanager
def mute_tls_server(cert: trustme.LeafCert) -> Iterator[tuple[int, list[object]]]:
    """A TLS server in a thread that completes the handshake and then only waits in recv(): it
    never calls unwrap() and keeps its socket open until the test ends, so it never answers a
    close_notify. Yields its port and, once the connection ends, what recv() returned (b"" or
    the exception's class) and when."""
    ctx = server_context(cert)
    outcome: list[object] = []
    release = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(LONG)
            try:
                outcome.append(tls.recv(1024))
            except OSError as exc:
                outcome.append(type(exc))
            outcome.append(time.monotonic())
            release.wait(LONG)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], outcome
    finally:
        release.set()
        thread.join(LONG + SLACK)
        listener.close()


def test_aclose_does_not_wait_for_close_notify(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """Against a TLS server that never answers close_notify, aclose returns at once and the
    server's recv() ends promptly with EOF; before aclose the server has seen nothing."""

    async def scenario(port: int, outcome: list[object]) -> tuple[float, float]:
        stream = await tls_stream(port, client_context(ca))
        await asyncio.sleep(0.05)  # the server's session tickets arrive
        assert outcome == []
        started = time.monotonic()
        await stream.aclose()
        closing = time.monotonic() - started
        await wait_until(lambda: len(outcome) == 2)
        await stream.aclose()  # a second close is harmless
        ended = outcome[1]
        assert isinstance(ended, float)
        return closing, ended - started

    with mute_tls_server(server_cert) as (port, outcome):
        closing, seen = on_loop(scenario(port, outcome))
    assert outcome[0] == b""
    assert closing < 0.05
    assert seen < SLACK


# --- is_readable --------------------------------------------------------------------------------


def test_is_readable_on_plain_tcp(on_loop: Runner) -> None:
    """On plain TCP, is_readable is False while the connection is idle and open, True once the
    server has closed it."""

    async def scenario() -> tuple[bool, bool]:
        close_now = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await close_now.wait()
            writer.close()

        async with serving(handler) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            try:
                await asyncio.sleep(0.05)
                when_idle = stream.get_extra_info("is_readable")
                close_now.set()
                await wait_until(lambda: bool(stream.get_extra_info("is_readable")))
                dropped = stream.get_extra_info("is_readable")
            finally:
                await stream.aclose()
        return when_idle, dropped

    assert on_loop(scenario()) == (False, True)


def test_is_readable_on_tls(on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert) -> None:
    """On TLS, is_readable is False on an idle open connection (session tickets consumed), True
    once the server has closed it."""
    close_now = asyncio.Event()  # bound to the loop that first waits on it

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await close_now.wait()
        writer.close()

    async def client(stream: httpcore.AsyncNetworkStream) -> tuple[bool, bool]:
        await asyncio.sleep(0.05)
        when_idle = stream.get_extra_info("is_readable")
        close_now.set()
        await wait_until(lambda: bool(stream.get_extra_info("is_readable")))
        return when_idle, stream.get_extra_info("is_readable")

    assert tls_session(on_loop, ca, server_cert, handler, client) == (False, True)


def test_is_readable_when_unsolicited_data_waits(on_loop: Runner) -> None:
    """Bytes the server sent on an idle connection, not yet read, make is_readable True."""

    async def scenario() -> bool:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")

        async with serving(handler) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            try:
                await asyncio.sleep(0.05)
                readable = stream.get_extra_info("is_readable")
                assert await stream.read(1024, timeout=LONG)  # the bytes were there all along
            finally:
                await stream.aclose()
        return bool(readable)

    assert on_loop(scenario()) is True
