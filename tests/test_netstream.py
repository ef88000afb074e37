"""The asyncio-streams network backend for httpcore (probes/netstream.py) and the one-GET client on
top of it (probes/httpget.py), against real servers on ephemeral loopback ports: plain TCP servers
that refuse, hang up, reset, stall or speak plaintext, and TLS servers with trustme certificates
speaking HTTP/1.1 and HTTP/2. Every network test runs on asyncio's loop and on uvloop (the command
line's). Each failure is asserted as its exact httpcore exception and its `explain` kind."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Protocol, TypeVar

import h2.config
import h2.connection
import h2.events
import httpcore
import pytest
import trustme
import uvloop

from tlsprobe import __version__
from tlsprobe.errors import explain
from tlsprobe.probes import httpget
from tlsprobe.probes.httpget import HttpAnswer, answer, host_header, request_target
from tlsprobe.probes.netstream import AsyncioBackend, _eof_as_openssl_says
from tlsprobe.targets import parse_target

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Runner(Protocol):
    """Runs a coroutine to completion on a fresh event loop and returns its result."""

    def __call__(self, coro: Coroutine[Any, Any, T], /) -> T: ...


BACKEND = AsyncioBackend()
SHORT = 0.3  # the deadline of the timeout cases
LONG = 2.0  # a deadline the passing cases never come near
SLACK = 0.3  # scheduling, not a second deadline
TICK = 0.01  # uvloop rounds timers to the millisecond: a deadline may fire a hair early


# --- fixtures and servers ------------------------------------------------------------------------


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Runs a coroutine to completion on a fresh loop of the parametrized kind."""
    factory = asyncio.new_event_loop if request.param == "asyncio" else uvloop.new_event_loop

    def runner(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as loop_runner:
            return loop_runner.run(coro)

    return runner


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1", "::1", "example.test")


def server_context(cert: trustme.LeafCert, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def client_context(ca: trustme.CA | None, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    """A verifying client context that trusts `ca` only (None: trusts nothing)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is not None:
        ca.configure_trust(ctx)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


@contextlib.asynccontextmanager
async def serving(
    handler: Handler, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[int]:
    """Serve `handler` on an ephemeral port of `host` (TLS when `tls` is given); yields the port.
    On the way out every server-side connection is aborted, so nothing outlives the test."""
    writers: list[asyncio.StreamWriter] = []
    handlers: set[asyncio.Future[Any]] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await handler(reader, writer)

    server = await asyncio.start_server(tracked, host, 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()
        if handlers:  # each sees its connection end; one still waiting for something else ends
            _, pending = await asyncio.wait(handlers, timeout=SLACK)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await server.wait_closed()


async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts and then does nothing: the connection stays open until `serving` aborts it."""


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = has_ipv6_loopback()
needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="no ::1 on this machine")


def closed_port() -> int:
    """A port nothing listens on, on 127.0.0.1 and (where it exists) on ::1 alike."""
    with socket.socket() as v4:
        v4.bind(("127.0.0.1", 0))
        port: int = v4.getsockname()[1]
        if HAS_IPV6:
            with socket.socket(socket.AF_INET6) as v6:
                v6.bind(("::1", port))
    return port


def client_hello_then(action: Callable[[asyncio.StreamWriter], None]) -> Handler:
    """A plain TCP server that reads the ClientHello, then does `action` to the connection and
    waits for the client to go away."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        action(writer)
        await reader.read()

    return handler


def hang_up(writer: asyncio.StreamWriter) -> None:
    """A clean close (FIN) after the ClientHello was read: no unread data, so no reset."""
    writer.close()


def reset(writer: asyncio.StreamWriter) -> None:
    """SO_LINGER 0, then close: the kernel sends RST."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def silent(writer: asyncio.StreamWriter) -> None:
    """Nothing at all."""


def plaintext_http(writer: asyncio.StreamWriter) -> None:
    """What a plaintext web server says to bytes it cannot parse."""
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nBad Request")


async def tls_stream(
    port: int, ctx: ssl.SSLContext, host: str = "127.0.0.1", server_hostname: str = "localhost"
) -> httpcore.AsyncNetworkStream:
    stream = await BACKEND.connect_tcp(host, port, timeout=LONG)
    return await stream.start_tls(ctx, server_hostname=server_hostname, timeout=LONG)


async def wait_until(predicate: Callable[[], bool], within: float = 1.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


# --- connect_tcp --------------------------------------------------------------------------------


def test_connect_to_a_listening_port(run: Runner) -> None:
    """connect_tcp to a listening 127.0.0.1 port opens a stream whose server_addr is that port."""

    async def scenario() -> None:
        accepted = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set()

        async with serving(handler) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            try:
                await asyncio.wait_for(accepted.wait(), LONG)
                assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
                assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
                assert stream.get_extra_info("ssl_object") is None
                assert stream.get_extra_info("no such info") is None
            finally:
                await stream.aclose()

    run(scenario())


def test_connect_refused_on_ipv4_literal(run: Runner) -> None:
    """The bad twin: a closed 127.0.0.1 port raises ConnectError from ConnectionRefusedError,
    kind "refused"."""

    async def scenario() -> None:
        with pytest.raises(httpcore.ConnectError) as info:
            await BACKEND.connect_tcp("127.0.0.1", closed_port(), timeout=LONG)
        assert type(info.value) is httpcore.ConnectError
        assert type(info.value.__cause__) is ConnectionRefusedError
        assert explain(info.value).kind == "refused"

    run(scenario())


def test_connect_refused_on_localhost(run: Runner) -> None:
    """A closed port on "localhost" is "refused", whether the name has one address here (the
    error itself) or more (an ExceptionGroup of one ConnectionRefusedError per address)."""
    addresses = socket.getaddrinfo("localhost", 1, type=socket.SOCK_STREAM)

    async def scenario() -> None:
        with pytest.raises(httpcore.ConnectError) as info:
            await BACKEND.connect_tcp("localhost", closed_port(), timeout=LONG)
        assert type(info.value) is httpcore.ConnectError
        cause = info.value.__cause__
        if len(addresses) == 1:
            assert type(cause) is ConnectionRefusedError
        else:
            assert isinstance(cause, ExceptionGroup)
            assert [type(e) for e in cause.exceptions] == [ConnectionRefusedError] * len(addresses)
        assert explain(info.value).kind == "refused"

    run(scenario())


def two_address_resolver(
    monkeypatch: pytest.MonkeyPatch, name: str, port: int
) -> list[tuple[Any, ...]]:
    """Make `name` resolve to ::1 then 127.0.0.1, as localhost does on most machines (this one
    may list only 127.0.0.1). The only stand-in in this file: the connections stay real. It
    works on asyncio's loop, which resolves through socket.getaddrinfo in a thread."""
    real = socket.getaddrinfo
    answer = [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
    ]

    def fake(host: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        return answer if host == name else real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answer


@needs_ipv6
def test_every_address_refusing_keeps_each_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """When ::1 and 127.0.0.1 both refuse, ConnectError comes from an ExceptionGroup holding
    both ConnectionRefusedErrors (with their errno), so the kind is "refused", not "os"."""
    port = closed_port()
    two_address_resolver(monkeypatch, "dual.test", port)

    async def scenario() -> None:
        with pytest.raises(httpcore.ConnectError) as info:
            await BACKEND.connect_tcp("dual.test", port, timeout=LONG)
        group = info.value.__cause__
        assert isinstance(group, ExceptionGroup)
        assert str(group) == "all 2 addresses of dual.test failed (2 sub-exceptions)"
        assert [type(e) for e in group.exceptions] == [ConnectionRefusedError] * 2
        assert [getattr(e, "errno", None) for e in group.exceptions] == [errno.ECONNREFUSED] * 2
        assert explain(info.value).kind == "refused"

    asyncio.run(scenario())


@needs_ipv6
def test_a_refusing_first_address_falls_through_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The twin: when ::1 refuses and 127.0.0.1 listens, connect_tcp connects to 127.0.0.1."""

    async def scenario() -> None:
        async with serving(idle) as port:
            with socket.socket(socket.AF_INET6) as probe:  # make sure ::1 refuses that port
                probe.bind(("::1", port))
            two_address_resolver(monkeypatch, "dual.test", port)
            stream = await BACKEND.connect_tcp("dual.test", port, timeout=LONG)
            try:
                assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
            finally:
                await stream.aclose()

    asyncio.run(scenario())


def test_unresolvable_name_is_dns(run: Runner) -> None:
    """A name that cannot resolve raises ConnectError from socket.gaierror, kind "dns"."""

    async def scenario() -> None:
        with pytest.raises(httpcore.ConnectError) as info:
            await BACKEND.connect_tcp("nonexistent.invalid", 443, timeout=LONG)
        assert type(info.value) is httpcore.ConnectError
        assert isinstance(info.value.__cause__, socket.gaierror)
        assert explain(info.value).kind == "dns"

    run(scenario())


def test_connect_timeout_when_the_accept_queue_is_full(run: Runner) -> None:
    """A listener whose accept queue is full drops SYNs: ConnectTimeout after the deadline,
    kind "timeout"."""
    with socket.socket() as listener, contextlib.ExitStack() as stack:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler = stack.enter_context(socket.socket())
        filler.connect(("127.0.0.1", port))  # fills the queue of one; never accepted

        async def scenario() -> float:
            started = time.monotonic()
            with pytest.raises(httpcore.ConnectTimeout) as info:
                await BACKEND.connect_tcp("127.0.0.1", port, timeout=SHORT)
            assert type(info.value) is httpcore.ConnectTimeout
            assert explain(info.value).kind == "timeout"
            return time.monotonic() - started

        assert SHORT - TICK <= run(scenario()) < SHORT + SLACK


def test_socket_options_are_applied(run: Runner) -> None:
    """connect_tcp sets the socket options it is given (SO_KEEPALIVE on), and only those."""

    async def scenario() -> tuple[int, int]:
        async with serving(idle) as port:
            option = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            with_option = await BACKEND.connect_tcp("127.0.0.1", port, socket_options=[option])
            without = await BACKEND.connect_tcp("127.0.0.1", port)
            try:
                on = with_option.get_extra_info("socket").getsockopt(*option[:2])
                off = without.get_extra_info("socket").getsockopt(*option[:2])
            finally:
                await with_option.aclose()
                await without.aclose()
            return on, off

    assert run(scenario()) == (1, 0)


def test_unix_sockets_are_refused(run: Runner) -> None:
    """connect_unix_socket raises ConnectError naming the path: tlsprobe probes TCP only."""

    async def scenario() -> None:
        with pytest.raises(
            httpcore.ConnectError, match=r"^/run/x\.sock: Unix sockets are not probed$"
        ):
            await BACKEND.connect_unix_socket("/run/x.sock")

    run(scenario())


# --- start_tls ----------------------------------------------------------------------------------


def failed_handshake(
    run: Runner, action: Callable[[asyncio.StreamWriter], None], timeout: float = LONG
) -> tuple[BaseException, float, bool]:
    """Start TLS against a plain server that reads the ClientHello and then does `action`;
    return the error, how long start_tls took, and whether the client's socket was closed."""

    async def scenario() -> tuple[BaseException, float, bool]:
        async with serving(client_hello_then(action)) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            started = time.monotonic()
            try:
                await stream.start_tls(client_context(None), "localhost", timeout=timeout)
            except Exception as exc:
                elapsed = time.monotonic() - started
                sock = stream.get_extra_info("socket")
                await asyncio.sleep(0)  # the abort's close runs on the next loop turn
                closed = stream.get_extra_info("is_readable") and sock.fileno() == -1
                await stream.aclose()
                return exc, elapsed, closed
            await stream.aclose()
            raise AssertionError("start_tls succeeded")

    return run(scenario())


def test_handshake_hang_up_is_eof(run: Runner) -> None:
    """A server that reads the ClientHello and closes: ConnectError from ssl.SSLEOFError (not
    asyncio's errno-less ConnectionResetError), kind "eof"; the client's socket is closed."""
    exc, _, closed = failed_handshake(run, hang_up)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ssl.SSLEOFError
    assert explain(exc).kind == "eof"
    assert closed


def test_handshake_reset_is_reset(run: Runner) -> None:
    """A server that resets after the ClientHello: ConnectError from ConnectionResetError with
    errno ECONNRESET, kind "reset" (a real reset is not turned into an EOF)."""
    exc, _, closed = failed_handshake(run, reset)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ConnectionResetError
    assert exc.__cause__.errno == errno.ECONNRESET
    assert explain(exc).kind == "reset"
    assert closed


def test_handshake_silence_is_a_timeout(run: Runner) -> None:
    """A server that never answers the ClientHello: ConnectTimeout at the deadline, kind
    "timeout"; the client's socket is closed."""
    exc, elapsed, closed = failed_handshake(run, silent, timeout=SHORT)
    assert type(exc) is httpcore.ConnectTimeout
    assert explain(exc).kind == "timeout"
    assert SHORT - TICK <= elapsed < SHORT + SLACK
    assert closed


def test_handshake_with_a_plaintext_http_server(run: Runner) -> None:
    """A plaintext web server answering the ClientHello with "HTTP/1.1 400": ConnectError from
    an ssl.SSLError, kind "tls-plaintext" (OpenSSL reads "HTTP" as a bad record header)."""
    exc, elapsed, closed = failed_handshake(run, plaintext_http)
    assert type(exc) is httpcore.ConnectError
    assert isinstance(exc.__cause__, ssl.SSLError)
    assert explain(exc).kind == "tls-plaintext"
    assert elapsed < SLACK
    assert closed


def start_tls_after_drop(
    run: Runner, action: Callable[[asyncio.StreamWriter], None]
) -> tuple[BaseException, float]:
    """A server that does `action` to each connection as soon as it accepts it (without reading
    anything); start TLS only once the client's transport has seen the drop."""

    async def scenario() -> tuple[BaseException, float]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            action(writer)

        async with serving(handler) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            await wait_until(lambda: bool(stream.get_extra_info("is_readable")))
            started = time.monotonic()
            with pytest.raises(httpcore.ConnectError) as info:
                await stream.start_tls(client_context(None), "localhost", timeout=LONG)
            elapsed = time.monotonic() - started
            await stream.aclose()
        return info.value, elapsed

    return run(scenario())


def test_start_tls_after_the_server_closed_at_once_is_eof(run: Runner) -> None:
    """A server that closes right after accepting: start_tls fails at once (not at the
    deadline) with ConnectError from ssl.SSLEOFError, kind "eof"."""
    exc, elapsed = start_tls_after_drop(run, hang_up)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ssl.SSLEOFError
    assert explain(exc).kind == "eof"
    assert elapsed < SLACK


def test_start_tls_after_the_server_reset_at_once_is_reset(run: Runner) -> None:
    """A server that resets right after accepting: start_tls fails at once with ConnectError
    from ConnectionResetError (ECONNRESET), kind "reset"."""
    exc, elapsed = start_tls_after_drop(run, reset)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ConnectionResetError
    assert exc.__cause__.errno == errno.ECONNRESET
    assert explain(exc).kind == "reset"
    assert elapsed < SLACK


def test_handshake_with_a_good_tls_server(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The good twin: a trustme TLS server completes the handshake; ssl_object is the session's
    SSLObject (TLS 1.x), server_addr the server's address."""

    async def scenario() -> None:
        async with serving(idle, tls=server_context(server_cert)) as port:
            stream = await tls_stream(port, client_context(ca))
            try:
                ssl_object = stream.get_extra_info("ssl_object")
                assert isinstance(ssl_object, ssl.SSLObject)
                version = ssl_object.version()
                assert version is not None
                assert version.startswith("TLSv1.")
                assert ssl_object.server_hostname == "localhost"
                assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
            finally:
                await stream.aclose()

    run(scenario())


def test_handshake_with_an_untrusted_certificate(
    run: Runner, server_cert: trustme.LeafCert
) -> None:
    """The bad twin: the same server, a client that does not trust its CA: ConnectError from
    ssl.SSLCertVerificationError, kind "tls-verify"."""

    async def scenario() -> None:
        async with serving(idle, tls=server_context(server_cert)) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            with pytest.raises(httpcore.ConnectError) as info:
                await stream.start_tls(client_context(None), "localhost", timeout=LONG)
            await stream.aclose()
        assert type(info.value.__cause__) is ssl.SSLCertVerificationError
        assert explain(info.value).kind == "tls-verify"

    run(scenario())


def test_eof_mapping_is_only_for_errno_less_resets() -> None:
    """asyncio's errno-less ConnectionResetError becomes ssl.SSLEOFError; a real reset (with
    ECONNRESET) and other errors stay as they are."""
    eof = _eof_as_openssl_says(ConnectionResetError("Connection lost"))
    assert type(eof) is ssl.SSLEOFError
    assert explain(eof).kind == "eof"
    real = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    assert _eof_as_openssl_says(real) is real
    other = ssl.SSLError(1, "other")
    assert _eof_as_openssl_says(other) is other


# --- read, write, close -------------------------------------------------------------------------


def tls_session(
    run: Runner,
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

    return run(scenario())


def test_read_times_out_on_a_silent_tls_server(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
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

    elapsed = tls_session(run, ca, server_cert, idle, client)
    assert SHORT - TICK <= elapsed < SHORT + SLACK


def test_write_and_read_round_trip(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
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

    assert tls_session(run, ca, server_cert, echo, client) == b"echo:ping"


def test_read_after_the_server_closes_is_empty(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A TLS server that says "bye" and closes (close_notify): read returns b"bye", then b""."""

    async def bye(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        writer.close()

    async def client(stream: httpcore.AsyncNetworkStream) -> list[bytes]:
        return [await stream.read(1024, timeout=LONG), await stream.read(1024, timeout=LONG)]

    assert tls_session(run, ca, server_cert, bye, client) == [b"bye", b""]


def test_read_after_a_reset_is_a_read_error(run: Runner) -> None:
    """The bad twin of a clean close: a server that resets the connection makes read raise
    ReadError from ConnectionResetError, kind "reset"."""

    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)
            reset(writer)

        async with serving(handler) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            try:
                await stream.write(b"x", timeout=LONG)
                with pytest.raises(httpcore.ReadError) as info:
                    await stream.read(1024, timeout=LONG)
            finally:
                await stream.aclose()
        assert type(info.value) is httpcore.ReadError
        assert type(info.value.__cause__) is ConnectionResetError
        assert explain(info.value).kind == "reset"

    run(scenario())


# On uvloop a write to a transport that has seen the reset raised a bare RuntimeError (kind
# "internal") before write() checked for a closed transport: these tests pin the fix on both loops.


def test_write_after_a_reset_is_a_write_error(run: Runner) -> None:
    """A write on a connection the server has reset raises WriteError, kind "reset"."""

    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)
            reset(writer)

        async with serving(handler) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            try:
                await stream.write(b"x", timeout=LONG)
                await wait_until(lambda: bool(stream.get_extra_info("is_readable")))
                await asyncio.sleep(0.02)  # the reset reaches the transport
                with pytest.raises(httpcore.WriteError) as info:
                    await stream.write(b"more", timeout=LONG)
            finally:
                await stream.aclose()
        assert type(info.value) is httpcore.WriteError
        assert isinstance(info.value.__cause__, ConnectionResetError)
        assert explain(info.value).kind == "reset"

    run(scenario())


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
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
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
        closing, seen = run(scenario(port, outcome))
    assert outcome[0] == b""
    assert closing < 0.05
    assert seen < SLACK


# --- is_readable --------------------------------------------------------------------------------


def test_is_readable_on_plain_tcp(run: Runner) -> None:
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

    assert run(scenario()) == (False, True)


def test_is_readable_on_tls(run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert) -> None:
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

    assert tls_session(run, ca, server_cert, handler, client) == (False, True)


def test_is_readable_when_unsolicited_data_waits(run: Runner) -> None:
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

    assert run(scenario()) is True


# --- exchange over HTTP/1.1 ---------------------------------------------------------------------


def http11_server(response: bytes, received: list[list[str]]) -> Handler:
    """Reads one request head into `received` (its lines, the server's port in place of
    "PORT"), sends `response`, leaves the connection open."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("ascii")
        port = str(writer.get_extra_info("sockname")[1])
        received.append(head.replace(f":{port}\r\n", ":PORT\r\n").split("\r\n"))
        writer.write(response)

    return handler


def https_exchange(
    run: Runner,
    handler: Handler,
    url: str,
    server_tls: ssl.SSLContext | None,
    client_tls: ssl.SSLContext | None,
    *,
    timeout: float = LONG,
    host: str = "127.0.0.1",
    after_drop: bool = False,
) -> tuple[HttpAnswer | BaseException, float]:
    """Serve `handler`, probe `url` (its "PORT" replaced by the server's port) the way https.py
    does: connect, start TLS when `client_tls` is given, exchange (`after_drop`: only once the
    client's transport has seen the server drop the connection). Returns the answer or the
    error, and how long the exchange took."""

    async def scenario() -> tuple[HttpAnswer | BaseException, float]:
        async with serving(handler, tls=server_tls, host=host) as port:
            target = parse_target(url.replace("PORT", str(port)))
            stream = await httpget.connect(target, timeout)
            started = time.monotonic()
            try:
                if client_tls is not None:
                    stream = await stream.start_tls(client_tls, target.host, timeout=timeout)
                if after_drop:
                    await wait_until(lambda: bool(stream.get_extra_info("is_readable")))
                    await asyncio.sleep(0.02)  # the reset, too, reaches the transport
                started = time.monotonic()
                got: HttpAnswer | BaseException = await httpget.exchange(stream, target, timeout)
            except Exception as exc:
                got = exc
            finally:
                await stream.aclose()
            return got, time.monotonic() - started

    return run(scenario())


REDIRECT = (
    b"HTTP/1.1 301 Moved\r\nLocation: http://x/\r\nStrict-Transport-Security: max-age=5\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_exchange_http11_answer_and_request(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A GET over TLS to an HTTP/1.1 server: the answer's fields are exact, and the request
    carries the percent-encoded path and query, Host with the non-default port, tlsprobe's
    User-Agent."""
    received: list[list[str]] = []
    got, _ = https_exchange(
        run,
        http11_server(REDIRECT, received),
        "https://localhost:PORT/a b/%20c?q=1 2&r=%41",
        server_context(server_cert),
        client_context(ca),
    )
    assert got == HttpAnswer("HTTP/1.1", 301, "Moved", "http://x/", "max-age=5")
    assert received == [
        [
            "GET /a%20b/%20c?q=1%202&r=%41 HTTP/1.1",
            "Host: localhost:PORT",
            f"User-Agent: tlsprobe/{__version__}",
            "Accept: */*",
            "",
            "",
        ]
    ]


@needs_ipv6
def test_exchange_to_an_ipv6_literal_brackets_the_host(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A target at [::1] connects over IPv6 and sends "Host: [::1]:PORT"."""
    received: list[list[str]] = []
    got, _ = https_exchange(
        run,
        http11_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", received),
        "https://[::1]:PORT/",
        server_context(server_cert),
        client_context(ca),
        host="::1",
    )
    assert got == HttpAnswer("HTTP/1.1", 200, "OK", None, None)
    assert received[0][:2] == ["GET / HTTP/1.1", "Host: [::1]:PORT"]


def test_exchange_with_connect_override_sends_the_url_host(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """With #connect=127.0.0.1, the connection goes to 127.0.0.1 but Host names the URL's host."""
    received: list[list[str]] = []
    got, _ = https_exchange(
        run,
        http11_server(b"HTTP/1.1 204 No Content\r\n\r\n", received),
        "https://example.test:PORT/health#connect=127.0.0.1",
        server_context(server_cert),
        client_context(ca),
    )
    assert got == HttpAnswer("HTTP/1.1", 204, "No Content", None, None)
    assert received[0][:2] == ["GET /health HTTP/1.1", "Host: example.test:PORT"]


def test_exchange_over_plain_http(run: Runner) -> None:
    """Without TLS the same GET goes out in plaintext (an http:// target) and is answered."""
    received: list[list[str]] = []
    got, _ = https_exchange(
        run,
        http11_server(b"HTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n", received),
        "http://127.0.0.1:PORT/missing",
        None,
        None,
    )
    assert got == HttpAnswer("HTTP/1.1", 404, "Nope", None, None)
    assert received[0][:2] == ["GET /missing HTTP/1.1", "Host: 127.0.0.1:PORT"]


async def reset_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    reset(writer)


async def reset_after_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(0.05)  # the client has the session tickets
    reset(writer)


def test_exchange_over_plain_http_after_a_reset(run: Runner) -> None:
    """An http:// server that resets the connection as soon as it accepts it: exchange raises
    ReadError (httpcore tolerates the failed write and reads), kind "reset"."""
    got, _ = https_exchange(
        run, reset_at_once, "http://127.0.0.1:PORT/", None, None, after_drop=True
    )
    assert type(got) is httpcore.ReadError
    assert explain(got).kind == "reset"


def test_exchange_over_tls_after_a_reset(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The TLS twin: a server that resets after the handshake: exchange raises ReadError, kind
    "reset", on both loops (the TLS transport takes the write without a RuntimeError)."""
    got, _ = https_exchange(
        run,
        reset_after_handshake,
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca),
        after_drop=True,
    )
    assert type(got) is httpcore.ReadError
    assert explain(got).kind == "reset"


def test_exchange_garbage_status_line_is_protocol(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The bad twin: a server that answers garbage instead of a status line makes exchange raise
    RemoteProtocolError, kind "protocol"."""
    got, _ = https_exchange(
        run,
        http11_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", []),
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca),
    )
    assert type(got) is httpcore.RemoteProtocolError
    assert explain(got).kind == "protocol"


def test_exchange_server_closes_without_answering(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A server that reads the request and closes: RemoteProtocolError ("Server disconnected
    without sending a response."), kind "protocol"."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    got, _ = https_exchange(
        run, handler, "https://localhost:PORT/", server_context(server_cert), client_context(ca)
    )
    assert type(got) is httpcore.RemoteProtocolError
    assert str(got) == "Server disconnected without sending a response."
    assert explain(got).kind == "protocol"


def test_exchange_reads_headers_only(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A server that sends headers and then never ends its body: exchange returns the answer
    promptly, without waiting for the body."""
    endless = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nthe first bytes of the body"
    got, elapsed = https_exchange(
        run,
        http11_server(endless, []),
        "https://localhost:PORT/log",
        server_context(server_cert),
        client_context(ca),
    )
    assert got == HttpAnswer("HTTP/1.1", 200, "OK", None, None)
    assert elapsed < SLACK


def test_exchange_silent_server_times_out(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The twin: a server that reads the request and never answers makes exchange raise
    ReadTimeout at the deadline, kind "timeout"."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    got, elapsed = https_exchange(
        run,
        handler,
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca),
        timeout=SHORT,
    )
    assert type(got) is httpcore.ReadTimeout
    assert explain(got).kind == "timeout"
    assert SHORT - TICK <= elapsed < SHORT + SLACK


# --- exchange over HTTP/2 -----------------------------------------------------------------------


def h2_server(received: list[list[tuple[bytes, bytes]]]) -> Handler:
    """A minimal HTTP/2 server: records each request's header fields (the server's port in
    :authority as "PORT"), answers it with 200 and an HSTS header."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while data := await reader.read(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    port = f":{writer.get_extra_info('sockname')[1]}".encode()
                    received.append([(k, v.replace(port, b":PORT")) for k, v in event.headers])
                    headers = [(":status", "200"), ("strict-transport-security", "max-age=9")]
                    conn.send_headers(event.stream_id, headers, end_stream=True)
            writer.write(conn.data_to_send())

    return handler


def test_exchange_http2_when_alpn_agrees(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """When ALPN selects "h2", exchange speaks HTTP/2: version "HTTP/2", status 200, the
    standard reason "OK" in place of HTTP/2's missing one, the HSTS value; the request carries
    :authority with the port, the encoded :path and tlsprobe's User-Agent."""
    received: list[list[tuple[bytes, bytes]]] = []
    got, _ = https_exchange(
        run,
        h2_server(received),
        "https://localhost:PORT/x y?z=1",
        server_context(server_cert, ("h2", "http/1.1")),
        client_context(ca, ("h2", "http/1.1")),
    )
    assert got == HttpAnswer("HTTP/2", 200, "OK", None, "max-age=9")
    [headers] = received
    fields = dict(headers)
    assert fields[b":method"] == b"GET"
    assert fields[b":scheme"] == b"https"
    assert fields[b":path"] == b"/x%20y?z=1"
    assert fields[b":authority"] == b"localhost:PORT"
    assert fields[b"user-agent"] == f"tlsprobe/{__version__}".encode()
    assert b"host" not in fields


def test_exchange_http11_when_the_server_offers_no_alpn(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The twin: a client offering h2 to a server without ALPN gets HTTP/1.1."""
    received: list[list[str]] = []
    got, _ = https_exchange(
        run,
        http11_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", received),
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca, ("h2", "http/1.1")),
    )
    assert got == HttpAnswer("HTTP/1.1", 200, "OK", None, None)
    assert received[0][0] == "GET / HTTP/1.1"


async def read_h2_request(reader: asyncio.StreamReader) -> None:
    """Reads an HTTP/2 client's bytes until its request headers are in, answering nothing."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    while data := await reader.read(65536):
        if any(isinstance(e, h2.events.RequestReceived) for e in conn.receive_data(data)):
            return


def test_exchange_h2_agreed_but_server_answers_http11_and_closes(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A server that selects "h2" in ALPN but, once the request is in, answers in HTTP/1.1 and
    closes: the HTTP/2 client fails with RemoteProtocolError, kind "protocol"."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_h2_request(reader)
        writer.write(b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    got, elapsed = https_exchange(
        run,
        handler,
        "https://localhost:PORT/",
        server_context(server_cert, ("h2",)),
        client_context(ca, ("h2", "http/1.1")),
    )
    assert type(got) is httpcore.RemoteProtocolError
    assert explain(got).kind == "protocol"
    assert elapsed < SLACK


def test_exchange_h2_agreed_but_server_answers_http11_and_waits(
    run: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The same answer on a connection left open ends only at the deadline, as ReadTimeout
    (kind "timeout"): h2 reads "HTTP/1" as the header of a 4.7 MB frame and waits for the rest
    before checking its length (h2's FrameBuffer), so no protocol error is raised."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_h2_request(reader)
        writer.write(b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\n\r\n")

    got, elapsed = https_exchange(
        run,
        handler,
        "https://localhost:PORT/",
        server_context(server_cert, ("h2",)),
        client_context(ca, ("h2", "http/1.1")),
        timeout=SHORT,
    )
    assert type(got) is httpcore.ReadTimeout
    assert explain(got).kind == "timeout"
    assert SHORT - TICK <= elapsed < SHORT + SLACK


# --- pure functions -----------------------------------------------------------------------------


def test_answer_reason_phrases() -> None:
    """answer() keeps the server's reason, stands in the standard one when there is none, and
    leaves it empty for a status with no standard phrase (599)."""
    assert answer(599, [], {"http_version": b"HTTP/1.1"}).reason == ""
    assert answer(404, [], {"reason_phrase": b""}).reason == "Not Found"
    assert answer(200, [], {"reason_phrase": b"Fine"}).reason == "Fine"
    assert answer(200, [], {}) == HttpAnswer("HTTP/1.1", 200, "OK", None, None)


def test_answer_headers_any_case_and_latin1() -> None:
    """Location and HSTS are found whatever their case, and decoded as Latin-1."""
    got = answer(
        302,
        [
            (b"LOCATION", b"https://b\xfccher.example/"),
            (b"strict-transport-SECURITY", b"max-age=1"),
        ],
        {"http_version": b"HTTP/2"},
    )
    assert got == HttpAnswer("HTTP/2", 302, "Found", "https://bücher.example/", "max-age=1")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h", b"/"),
        ("https://h/", b"/"),
        ("https://h/a?q=1&r=two", b"/a?q=1&r=two"),
        ("https://h/a b", b"/a%20b"),
        ("https://h/a%20b", b"/a%20b"),
        ("https://h/?q=a b&u=x?y", b"/?q=a%20b&u=x?y"),
        ("https://h/p#expect_status=200", b"/p"),
    ],
)
def test_request_target(url: str, expected: bytes) -> None:
    """request_target: "/" by default, the query kept, raw spaces encoded, escapes kept as they
    are, the fragment never sent."""
    assert request_target(parse_target(url)) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h.example/", "h.example"),
        ("https://h.example:443/", "h.example"),
        ("https://h.example:8443/", "h.example:8443"),
        ("http://h.example/", "h.example"),
        ("http://h.example:443/", "h.example:443"),
        ("https://h.example:80/", "h.example:80"),
        ("https://[::1]/", "[::1]"),
        ("https://[2001:db8::1]:8443/", "[2001:db8::1]:8443"),
        ("https://h.example/#connect=10.0.0.7", "h.example"),
    ],
)
def test_host_header(url: str, expected: str) -> None:
    """host_header: the port only when it is not the scheme's default, IPv6 literals bracketed,
    the URL's host even when #connect names another address."""
    assert host_header(parse_target(url)) == expected
