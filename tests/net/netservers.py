"""Servers and helpers shared by the network-layer tests: plain TCP servers that refuse, hang up,
reset, stall or speak plaintext, and TLS servers with trustme certificates."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import httpcore
import pytest
import trustme

from tlsprobe import net
from tlsprobe.probes.https.backend import AsyncioBackend

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


BACKEND = AsyncioBackend()
SHORT = 0.3  # the deadline of the timeout cases
LONG = 2.0  # a deadline the passing cases never come near
SLACK = 0.3  # scheduling, not a second deadline
TICK = 0.01  # uvloop rounds timers to the millisecond: a deadline may fire a hair early


# --- fixtures and servers ------------------------------------------------------------------------


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


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """CI=true (as GitHub Actions and most CI systems set it), as the lab reads it too."""
    return (os.environ if env is None else env).get("CI", "").lower() in ("true", "1", "yes")


TestFn = TypeVar("TestFn", bound=Callable[..., Any])


def needs(
    available: bool, missing: str, env: Mapping[str, str] | None = None
) -> Callable[[TestFn], TestFn]:
    """For a test that needs what this machine may lack: skipped, saying `missing`, when it is
    not `available`; under CI=true it fails instead, saying the same, for a skip there would
    read as green while the test never ran."""

    def decorate(test: TestFn) -> TestFn:
        if available:
            return test
        if not in_ci(env):
            return pytest.mark.skip(reason=missing)(test)

        @functools.wraps(test)  # keeps the signature: pytest still sees the test's fixtures
        def missing_in_ci(*args: Any, **kwargs: Any) -> None:
            pytest.fail(f"CI=true and this test cannot run: {missing}", pytrace=False)

        return cast(TestFn, missing_in_ci)

    return decorate


HAS_IPV6 = has_ipv6_loopback()
needs_ipv6 = needs(HAS_IPV6, "no ::1 on this machine")


def closed_port() -> int:
    """A port nothing listens on, on 127.0.0.1 and (where it exists) on ::1 alike."""
    with socket.socket() as v4:
        v4.bind(("127.0.0.1", 0))
        port: int = v4.getsockname()[1]
        if HAS_IPV6:
            with socket.socket(socket.AF_INET6) as v6:
                v6.bind(("::1", port))
    return port


def addrinfo(address: str, port: int, proto: int = socket.IPPROTO_TCP) -> net.AddrInfo:
    """One getaddrinfo() answer for `address` (an IP literal) and `port`."""
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, proto, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, proto, "", (address, port))


def resolving(monkeypatch: pytest.MonkeyPatch, name: str, answer: list[net.AddrInfo]) -> None:
    """Make `name` resolve to `answer`, in that order, for every connection tlsprobe opens (as
    "localhost" lists ::1 then 127.0.0.1 on most machines, or a broken address first). The one
    stand-in of these tests, at net.resolve: uvloop resolves in C, where patching
    socket.getaddrinfo cannot reach. The connections themselves stay real."""
    real = net.resolve

    async def fake(host: str, port: int) -> list[net.AddrInfo]:
        return list(answer) if host == name else await real(host, port)

    monkeypatch.setattr(net, "resolve", fake)


@contextlib.contextmanager
def blackhole(port: int = 0) -> Iterator[int]:
    """A 127.0.0.2 port that drops SYNs, as a broken IPv6 route does: its accept queue of one is
    full and never accepted. Yields the port."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.2", port))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.2", port))
        yield port


def connecting_to(address: str, port: int) -> int:
    """How many of this machine's TCP sockets are still trying to connect (SYN_SENT) to the
    IPv4 `address` and `port`: an abandoned happy-eyeballs attempt left open shows here."""
    packed = socket.inet_aton(address)[::-1].hex().upper()
    remote = f"{packed}:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[2:4] == [remote, "02"])


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
