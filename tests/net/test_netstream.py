"""The asyncio-streams network backend for httpcore (probes/https/backend.py) against real
servers on ephemeral loopback ports: connecting (through net.connect, every address of a host)
and the TLS handshake. Every network test runs on asyncio's loop and on uvloop (the command
line's). Each failure is asserted as its exact httpcore exception and its `explain` kind."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import time
from collections.abc import Callable

import httpcore
import pytest
import trustme
from netservers import (
    BACKEND,
    LONG,
    SHORT,
    SLACK,
    TICK,
    addrinfo,
    blackhole,
    client_context,
    client_hello_then,
    closed_port,
    connecting_to,
    hang_up,
    idle,
    needs_ipv6,
    plaintext_http,
    reset,
    resolving,
    server_context,
    serving,
    silent,
    tls_stream,
    wait_until,
)

from conftest import Runner
from tlsprobe import net
from tlsprobe.failures import explain
from tlsprobe.probes.https.backend import _eof_as_openssl_says

# --- connect_tcp --------------------------------------------------------------------------------


def test_connect_to_a_listening_port(on_loop: Runner) -> None:
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

    on_loop(scenario())


def test_connect_refused_on_ipv4_literal(on_loop: Runner) -> None:
    """The bad twin: a closed 127.0.0.1 port raises ConnectError from ConnectionRefusedError,
    kind "refused"."""

    async def scenario() -> None:
        with pytest.raises(httpcore.ConnectError) as info:
            await BACKEND.connect_tcp("127.0.0.1", closed_port(), timeout=LONG)
        assert type(info.value) is httpcore.ConnectError
        assert type(info.value.__cause__) is ConnectionRefusedError
        assert explain(info.value).kind == "refused"

    on_loop(scenario())


@needs_ipv6
def test_every_address_refusing_keeps_each_error(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When ::1 and 127.0.0.1 both refuse, ConnectError comes from net.EveryAddressFailed holding
    both ConnectionRefusedErrors (with their errno), so the kind is "refused", not "os", and the
    detail names both addresses."""
    port = closed_port()
    resolving(monkeypatch, "dual.test", [addrinfo("::1", port), addrinfo("127.0.0.1", port)])

    async def scenario() -> None:
        with pytest.raises(httpcore.ConnectError) as info:
            await BACKEND.connect_tcp("dual.test", port, timeout=LONG)
        failed = info.value.__cause__
        assert isinstance(failed, net.EveryAddressFailed)
        assert [type(a.error) for a in failed.attempts] == [ConnectionRefusedError] * 2
        assert [getattr(a.error, "errno", None) for a in failed.attempts] == [
            errno.ECONNREFUSED
        ] * 2
        why = explain(info.value)
        assert why.kind == "refused"
        assert why.detail == (
            "every address failed: ::1: connection refused; 127.0.0.1: connection refused"
        )

    on_loop(scenario())


@needs_ipv6
def test_a_refusing_first_address_falls_through_to_the_next(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin: when ::1 refuses and 127.0.0.1 listens, connect_tcp connects to 127.0.0.1."""

    async def scenario() -> None:
        async with serving(idle) as port:
            with socket.socket(socket.AF_INET6) as probe:  # make sure ::1 refuses that port
                probe.bind(("::1", port))
            resolving(
                monkeypatch, "dual.test", [addrinfo("::1", port), addrinfo("127.0.0.1", port)]
            )
            stream = await BACKEND.connect_tcp("dual.test", port, timeout=LONG)
            try:
                assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
            finally:
                await stream.aclose()

    on_loop(scenario())


def test_unresolvable_name_is_dns(on_loop: Runner) -> None:
    """A name that cannot resolve raises ConnectError from socket.gaierror, kind "dns"."""

    async def scenario() -> None:
        with pytest.raises(httpcore.ConnectError) as info:
            await BACKEND.connect_tcp("nonexistent.invalid", 443, timeout=LONG)
        assert type(info.value) is httpcore.ConnectError
        assert isinstance(info.value.__cause__, socket.gaierror)
        assert explain(info.value).kind == "dns"

    on_loop(scenario())


def test_connect_timeout_when_the_accept_queue_is_full(on_loop: Runner) -> None:
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

        assert SHORT - TICK <= on_loop(scenario()) < SHORT + SLACK


def test_a_blackholed_first_address_costs_only_the_stagger(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Happy eyeballs: when the first address drops SYNs (a full accept queue on 127.0.0.2, as a
    broken IPv6 route would) and the second listens, connect_tcp connects to the second after
    the stagger delay, long before the deadline; the abandoned attempt leaves no socket."""

    async def scenario(port: int) -> float:
        async def hang_up_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(hang_up_at_once, sock=listening)
        try:
            answer = [addrinfo("127.0.0.2", port), addrinfo("127.0.0.1", port)]
            resolving(monkeypatch, "slow.test", answer)
            started = time.monotonic()
            stream = await BACKEND.connect_tcp("slow.test", port, timeout=LONG)
            elapsed = time.monotonic() - started
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
            await stream.aclose()
        finally:
            server.close()
            await server.wait_closed()
        return elapsed

    # 127.0.0.1's port is taken first: another process may hold the blackhole's number there.
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    with blackhole(port):
        elapsed = on_loop(scenario(port))
        assert connecting_to("127.0.0.2", port) == 0
    assert net.STAGGER_S - TICK <= elapsed < net.STAGGER_S + SLACK


# --- start_tls ----------------------------------------------------------------------------------


def failed_handshake(
    on_loop: Runner, action: Callable[[asyncio.StreamWriter], None], timeout: float = LONG
) -> tuple[BaseException, float, bool]:
    """Start TLS against a plain server that reads the ClientHello and then does `action`;
    return the error, how long start_tls took, and whether the client's socket was closed."""

    async def scenario() -> tuple[BaseException, float, bool]:
        async with serving(client_hello_then(action)) as port:
            stream = await BACKEND.connect_tcp("127.0.0.1", port, timeout=LONG)
            # Taken before the handshake: uvloop gives none for a transport already closed.
            sock = stream.get_extra_info("socket")
            started = time.monotonic()
            try:
                await stream.start_tls(client_context(None), "localhost", timeout=timeout)
            except Exception as exc:
                elapsed = time.monotonic() - started
                await asyncio.sleep(0)  # the abort's close runs on the next loop turn
                closed = stream.get_extra_info("is_readable") and sock.fileno() == -1
                await stream.aclose()
                return exc, elapsed, closed
            await stream.aclose()
            raise AssertionError("start_tls succeeded")

    return on_loop(scenario())


def test_handshake_hang_up_is_eof(on_loop: Runner) -> None:
    """A server that reads the ClientHello and closes: ConnectError from ssl.SSLEOFError (not
    asyncio's errno-less ConnectionResetError), kind "eof"; the client's socket is closed."""
    exc, _, closed = failed_handshake(on_loop, hang_up)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ssl.SSLEOFError
    assert explain(exc).kind == "eof"
    assert closed


def test_handshake_reset_is_reset(on_loop: Runner) -> None:
    """A server that resets after the ClientHello: ConnectError from ConnectionResetError with
    errno ECONNRESET, kind "reset" (a real reset is not turned into an EOF)."""
    exc, _, closed = failed_handshake(on_loop, reset)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ConnectionResetError
    assert exc.__cause__.errno == errno.ECONNRESET
    assert explain(exc).kind == "reset"
    assert closed


def test_handshake_silence_is_a_timeout(on_loop: Runner) -> None:
    """A server that never answers the ClientHello: ConnectTimeout at the deadline, kind
    "timeout"; the client's socket is closed."""
    exc, elapsed, closed = failed_handshake(on_loop, silent, timeout=SHORT)
    assert type(exc) is httpcore.ConnectTimeout
    assert explain(exc).kind == "timeout"
    assert SHORT - TICK <= elapsed < SHORT + SLACK
    assert closed


def test_handshake_with_a_plaintext_http_server(on_loop: Runner) -> None:
    """A plaintext web server answering the ClientHello with "HTTP/1.1 400": ConnectError from
    an ssl.SSLError, kind "tls-plaintext" (OpenSSL reads "HTTP" as a bad record header)."""
    exc, elapsed, closed = failed_handshake(on_loop, plaintext_http)
    assert type(exc) is httpcore.ConnectError
    assert isinstance(exc.__cause__, ssl.SSLError)
    assert explain(exc).kind == "tls-plaintext"
    assert elapsed < SLACK
    assert closed


def start_tls_after_drop(
    on_loop: Runner, action: Callable[[asyncio.StreamWriter], None]
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

    return on_loop(scenario())


def test_start_tls_after_the_server_closed_at_once_is_eof(on_loop: Runner) -> None:
    """A server that closes right after accepting: start_tls fails at once (not at the
    deadline) with ConnectError from ssl.SSLEOFError, kind "eof"."""
    exc, elapsed = start_tls_after_drop(on_loop, hang_up)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ssl.SSLEOFError
    assert explain(exc).kind == "eof"
    assert elapsed < SLACK


def test_start_tls_after_the_server_reset_at_once_is_reset(on_loop: Runner) -> None:
    """A server that resets right after accepting: start_tls fails at once with ConnectError
    from ConnectionResetError (ECONNRESET), kind "reset"."""
    exc, elapsed = start_tls_after_drop(on_loop, reset)
    assert type(exc) is httpcore.ConnectError
    assert type(exc.__cause__) is ConnectionResetError
    assert exc.__cause__.errno == errno.ECONNRESET
    assert explain(exc).kind == "reset"
    assert elapsed < SLACK


def test_handshake_with_a_good_tls_server(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
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

    on_loop(scenario())


def test_handshake_with_an_untrusted_certificate(
    on_loop: Runner, server_cert: trustme.LeafCert
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

    on_loop(scenario())


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
