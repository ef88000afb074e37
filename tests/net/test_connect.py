"""net.connect, the one way tlsprobe opens a TCP connection (aiohappyeyeballs), against real
sockets on loopback, on asyncio's loop and on uvloop: what each address did when all fail, the
kind `explain` gives that, the stagger a blackholed address costs, and no socket left behind."""

from __future__ import annotations

import asyncio
import errno
import gc
import ipaddress
import socket
import time
from pathlib import Path

import pytest
from netservers import (
    LONG,
    SHORT,
    SLACK,
    TICK,
    Handler,
    addrinfo,
    blackhole,
    closed_port,
    connecting_to,
    needs,
    needs_ipv6,
    resolving,
    serving,
)

from conftest import Runner
from tlsprobe import net
from tlsprobe.failures import Kind, explain

REFUSED_HINT = "check the port, and that the service is running"
# TCP cannot connect to a multicast group: the kernel answers ENETUNREACH at once, with no packet
# sent, so it stands for an address without a route on any machine.
NO_ROUTE = "224.0.0.1"


def noting() -> tuple[Handler, asyncio.Event]:
    """A handler that notes the accept, and its event: a test leaves only once the server holds
    its connection (which `serving` then closes), so no transport is left to the collector."""
    seen = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.set()

    return handler, seen


async def failure(host: str, port: int) -> BaseException:
    """The exception net.connect raises (it must raise one)."""
    try:
        sock = await net.connect(host, port)
    except OSError as exc:
        return exc
    sock.close()
    raise AssertionError(f"connected to {host} port {port}")


def test_connect_returns_a_connected_non_blocking_socket(on_loop: Runner) -> None:
    """To a listening port, connect returns a non-blocking socket connected to that port."""

    async def scenario() -> tuple[tuple[str, int], int, bool]:
        handler, seen = noting()
        async with serving(handler) as port:
            with await net.connect("127.0.0.1", port) as sock:
                await asyncio.wait_for(seen.wait(), LONG)
                return sock.getpeername(), port, sock.getblocking()

    peer, port, blocking = on_loop(scenario())
    assert peer == ("127.0.0.1", port)
    assert blocking is False


def test_one_refusing_address_keeps_its_own_error(on_loop: Runner) -> None:
    """The bad twin: one address that refuses raises its own ConnectionRefusedError (errno
    ECONNREFUSED), kind "refused", not the every-address error."""
    exc = on_loop(failure("127.0.0.1", closed_port()))
    assert type(exc) is ConnectionRefusedError
    assert exc.errno == errno.ECONNREFUSED
    assert explain(exc).kind is Kind.REFUSED


@needs_ipv6
def test_every_address_refusing_names_each(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When localhost's ::1 and 127.0.0.1 both refuse, EveryAddressFailed keeps both errors in
    the order tried, with their shared errno; the detail names each address with its reason and
    the kind is "refused" with its hint."""
    port = closed_port()
    resolving(monkeypatch, "localhost", [addrinfo("::1", port), addrinfo("127.0.0.1", port)])
    exc = on_loop(failure("localhost", port))
    assert isinstance(exc, net.EveryAddressFailed)
    assert [(a.address, a.port, type(a.error)) for a in exc.attempts] == [
        ("::1", port, ConnectionRefusedError),
        ("127.0.0.1", port, ConnectionRefusedError),
    ]
    assert exc.errno == errno.ECONNREFUSED
    expected = f"::1 port {port}: connection refused; 127.0.0.1 port {port}: connection refused"
    assert str(exc) == expected
    why = explain(exc)
    said = "every address failed: ::1: connection refused; 127.0.0.1: connection refused"
    assert (why.kind, why.detail, why.hint) == (Kind.REFUSED, said, REFUSED_HINT)


@needs_ipv6
def test_mixed_errors_name_each_address(on_loop: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """::1 refusing and an address with no route: each is named with its own reason, there is
    no shared errno, and the kind is "refused" (the address that reached a host says what to
    mend)."""
    port = closed_port()
    resolving(monkeypatch, "dual.test", [addrinfo("::1", port), addrinfo(NO_ROUTE, port)])
    exc = on_loop(failure("dual.test", port))
    assert isinstance(exc, net.EveryAddressFailed)
    assert exc.errno is None
    why = explain(exc)
    assert why.detail == (
        f"every address failed: ::1: connection refused; {NO_ROUTE}: network is unreachable"
    )
    assert (why.kind, why.hint) == (Kind.REFUSED, REFUSED_HINT)


def test_every_address_unreachable_is_unreachable(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin: two addresses with no route are "unreachable", each named, ENETUNREACH kept."""
    answer = [addrinfo(NO_ROUTE, 443), addrinfo("255.255.255.255", 443)]
    resolving(monkeypatch, "nowhere.test", answer)
    exc = on_loop(failure("nowhere.test", 443))
    assert isinstance(exc, net.EveryAddressFailed)
    assert exc.errno == errno.ENETUNREACH
    why = explain(exc)
    assert why.kind is Kind.UNREACHABLE
    assert why.detail == (
        f"every address failed: {NO_ROUTE}: network is unreachable;"
        " 255.255.255.255: network is unreachable"
    )


def test_a_socket_that_cannot_be_made_is_an_attempt_too(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An address whose socket the system cannot create (here: TCP over the UDP protocol number)
    is named with that reason beside the others."""
    port = closed_port()
    answer = [addrinfo("127.0.0.1", port, proto=socket.IPPROTO_UDP), addrinfo("127.0.0.1", port)]
    resolving(monkeypatch, "odd.test", answer)
    exc = on_loop(failure("odd.test", port))
    assert isinstance(exc, net.EveryAddressFailed)
    assert str(exc) == (
        f"127.0.0.1 port {port}: protocol not supported; 127.0.0.1 port {port}: connection refused"
    )
    assert explain(exc).kind is Kind.REFUSED


@needs_ipv6
def test_a_refusing_first_address_falls_through(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The good twin: ::1 refuses, 127.0.0.1 listens: connect returns a socket to 127.0.0.1."""

    async def scenario() -> tuple[tuple[str, int], int]:
        handler, seen = noting()
        async with serving(handler) as port:
            with socket.socket(socket.AF_INET6) as taken:  # make sure ::1 refuses that port
                taken.bind(("::1", port))
            answer = [addrinfo("::1", port), addrinfo("127.0.0.1", port)]
            resolving(monkeypatch, "dual.test", answer)
            with await net.connect("dual.test", port) as sock:
                await asyncio.wait_for(seen.wait(), LONG)
                return sock.getpeername(), port

    peer, port = on_loop(scenario())
    assert peer == ("127.0.0.1", port)


def test_unresolvable_name_is_dns(on_loop: Runner) -> None:
    """A name that does not resolve raises socket.gaierror, kind "dns"."""
    exc = on_loop(failure("nonexistent.invalid", 443))
    assert isinstance(exc, socket.gaierror)
    assert explain(exc).kind is Kind.DNS


def test_a_blackholed_first_address_costs_the_stagger(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Happy eyeballs: the first address drops SYNs, the second listens: connect returns a
    socket to the second after STAGGER_S, long before the deadline, and the abandoned attempt
    is closed (no socket still connecting to the blackhole, none left to the collector)."""

    async def scenario(port: int) -> float:
        handler, seen = noting()
        async with serving(handler) as listening:
            answer = [addrinfo("127.0.0.2", port), addrinfo("127.0.0.1", listening)]
            resolving(monkeypatch, "slow.test", answer)
            started = time.monotonic()
            async with asyncio.timeout(LONG):
                sock = await net.connect("slow.test", port)
            elapsed = time.monotonic() - started
            with sock:
                await asyncio.wait_for(seen.wait(), LONG)
                assert sock.getpeername() == ("127.0.0.1", listening)
            return elapsed

    with blackhole() as port:
        elapsed = on_loop(scenario(port))
        assert connecting_to("127.0.0.2", port) == 0
    gc.collect()  # an unclosed socket would warn here, and warnings are errors
    assert net.STAGGER_S - TICK <= elapsed < net.STAGGER_S + SLACK


def test_a_blackholed_only_address_waits_for_the_deadline(on_loop: Runner) -> None:
    """The bad twin: with no second address there is nothing to fall back to: the caller's
    deadline ends the attempt (TimeoutError) and its socket is closed."""

    async def scenario(port: int) -> float:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(SHORT):
                (await net.connect("127.0.0.2", port)).close()
        return time.monotonic() - started

    with blackhole() as port:
        elapsed = on_loop(scenario(port))
        assert connecting_to("127.0.0.2", port) == 0
    gc.collect()
    assert SHORT - TICK <= elapsed < SHORT + SLACK


def test_a_cancelled_race_leaves_no_socket(
    on_loop: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two blackholed addresses, both attempts under way when the deadline comes: both sockets
    are closed."""

    async def scenario(port: int) -> None:
        answer = [addrinfo("127.0.0.2", port), addrinfo("127.0.0.2", port)]
        resolving(monkeypatch, "slow.test", answer)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(net.STAGGER_S + SHORT):
                (await net.connect("slow.test", port)).close()

    with blackhole() as port:
        on_loop(scenario(port))
        assert connecting_to("127.0.0.2", port) == 0
    gc.collect()


def link_local_address() -> str | None:
    """A link-local IPv6 address of this machine with its zone ("fe80::1%eth0"), if it has one."""
    table = Path("/proc/net/if_inet6")
    for line in table.read_text().splitlines() if table.exists() else ():
        packed, _, _, scope, _, interface = line.split()
        if scope == "20":  # IPV6_ADDR_LINKLOCAL
            return f"{ipaddress.IPv6Address(bytes.fromhex(packed))}%{interface}"
    return None


LINK_LOCAL = link_local_address()


@needs(LINK_LOCAL is not None, "no link-local IPv6 address on this machine")
def test_a_link_local_address_keeps_its_zone(on_loop: Runner) -> None:
    """A server on a link-local address is reached through its zone ("%eth0"), which uvloop
    would drop twice (resolving a typed query, connecting): the peer is that address."""
    assert LINK_LOCAL is not None

    async def scenario() -> tuple[tuple[str, int, int, int], int]:
        handler, seen = noting()
        async with serving(handler, host=LINK_LOCAL) as port:
            with await net.connect(LINK_LOCAL, port) as sock:
                await asyncio.wait_for(seen.wait(), LONG)
                return sock.getpeername(), port

    peer, port = on_loop(scenario())
    address, _, interface = LINK_LOCAL.partition("%")
    assert peer == (address, port, 0, socket.if_nametoindex(interface))


def test_closed_on_error_closes_the_socket_only_on_failure() -> None:
    """closed_on_error closes the socket when the block raises, and leaves it open when not."""
    with socket.socket() as kept, socket.socket() as dropped:
        with net.closed_on_error(kept):
            pass
        with pytest.raises(ValueError, match="handing failed"), net.closed_on_error(dropped):
            raise ValueError("handing failed")
        assert kept.fileno() >= 0
        assert dropped.fileno() == -1


def test_attempt_reasons() -> None:
    """An attempt's reason is the OS's words for its errno (asyncio's own message names only the
    address), else the error's text, else its type."""
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('::1', 1, 0, 0)")
    assert str(net.Attempt("::1", 1, refused)) == "::1 port 1: connection refused"
    plain = RuntimeError("uvloop says no")
    assert net.Attempt("::1", 1, plain).reason == "uvloop says no"
    assert net.Attempt("::1", 1, OSError()).reason == "OSError"
