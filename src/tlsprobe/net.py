"""The one way to open a connection, and the plaintext sniff that names what a port speaks when
it does not speak TLS.

Every probe connects through `connect`: aio-libs' aiohappyeyeballs (RFC 8305: the addresses of a
name, families interleaved, each attempt started when the one before fails or after STAGGER_S;
the first to connect wins and the losers are closed), so a blackholed address (a broken IPv6
route) costs a quarter second, not the deadline. It returns a connected non-blocking socket that
the caller hands to the loop (`create_connection(..., sock=sock)`, `open_connection(sock=sock)`)
inside `closed_on_error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import socket
import time
from collections.abc import Iterator
from typing import Any, cast

import aiohappyeyeballs

from tlsprobe.records import record

STAGGER_S = 0.25  # RFC 8305's connection attempt delay

AddrInfo = aiohappyeyeballs.AddrInfoType
AttemptError = OSError | RuntimeError  # uvloop may raise RuntimeError where asyncio has OSError


@record
class Attempt:
    """One address of a host that could not be connected to, and its own error."""

    address: str
    port: int
    error: AttemptError

    @property
    def reason(self) -> str:
        """The error in the operating system's words ("connection refused"): asyncio's own
        message for a failed connect is "Connect call failed (address)", with no reason."""
        code = getattr(self.error, "errno", None)
        return os.strerror(code).lower() if code else str(self.error) or type(self.error).__name__

    def __str__(self) -> str:
        return f"{self.address} port {self.port}: {self.reason}"


class EveryAddressFailed(OSError):
    """No address of a host took the connection; `attempts` says what each one did, in the order
    tried. aiohappyeyeballs joins such errors into one message, errno-less when they differ, so
    "refused" on both ::1 and 127.0.0.1 would read as an unknown error and the reasons as text.
    The errno is the attempts' own when they all share one."""

    def __init__(self, attempts: tuple[Attempt, ...]) -> None:
        self.attempts = attempts
        text = "; ".join(str(a) for a in attempts)
        codes = {getattr(a.error, "errno", None) for a in attempts}
        shared = codes.pop() if len(codes) == 1 else None
        super().__init__(*(() if shared is None else (shared,)), text)

    def __str__(self) -> str:  # without OSError's "[Errno N]": each reason says it in words
        return "; ".join(str(a) for a in self.attempts)


# The name lookups of the run under way (runner.Run opens one block for its whole run; a lone
# probe, as the exporter's, opens its own). Every connection of the block to one name asks the
# resolver once: a probe's tls.legacy hello and its own connection at the same moment, and every
# port of one host. A resolver call costs tens of microseconds of CPU in a thread (44 us with
# uvloop for "localhost"), which was 2.5 % of a 1,000-target run on one name. As aiohttp's
# resolver cache does: an answer is kept LOOKUP_KEEP_S at most from when it came (a name may
# resolve otherwise later), and a failure only for the connections already waiting for it (the
# next one asks again: a resolver's failure may be a moment's).
LOOKUP_KEEP_S = 10.0


class _Lookups:
    """The block's lookups: by name, the answer (or the lookup under way) and when it came;
    every lookup asked, for the end of the block."""

    def __init__(self) -> None:
        self.by_name: dict[str, tuple[float, asyncio.Future[list[AddrInfo]]]] = {}
        self.every: list[asyncio.Future[list[AddrInfo]]] = []

    def answer(self, host: str) -> asyncio.Future[list[AddrInfo]]:
        kept = self.by_name.get(host)
        if kept is not None and time.monotonic() - kept[0] <= LOOKUP_KEEP_S:
            return kept[1]
        pending = asyncio.ensure_future(_resolve(host, 0))
        self.by_name[host] = (time.monotonic(), pending)
        self.every.append(pending)
        pending.add_done_callback(lambda done: self._came(host, done))
        return pending

    def _came(self, host: str, done: asyncio.Future[list[AddrInfo]]) -> None:
        if self.by_name.get(host, (0.0, None))[1] is not done:
            return  # asked again meanwhile
        if done.cancelled() or done.exception() is not None:
            del self.by_name[host]
        else:
            self.by_name[host] = (time.monotonic(), done)


_LOOKUPS: contextvars.ContextVar[_Lookups | None] = contextvars.ContextVar(
    "tlsprobe_lookups", default=None
)


@contextlib.contextmanager
def shared_lookups() -> Iterator[None]:
    """One resolver call per name within this block (an inner block is the outer one's); any
    still under way at its end is cancelled, and a failure no connection waited for is marked
    seen (asyncio would log it)."""
    if _LOOKUPS.get() is not None:
        yield
        return
    lookups = _Lookups()
    token = _LOOKUPS.set(lookups)
    try:
        yield
    finally:
        _LOOKUPS.reset(token)
        for pending in lookups.every:
            if not pending.done():
                pending.cancel()
            elif not pending.cancelled():
                pending.exception()


async def resolve(host: str, port: int) -> list[AddrInfo]:
    """The TCP addresses of `host` (a name or an IP literal), in the resolver's order."""
    lookups = _LOOKUPS.get()
    if lookups is None:
        return await _resolve(host, port)
    # Shielded: a connection given up (its deadline, a lost race) leaves the lookup to the others.
    answer = await asyncio.shield(lookups.answer(host))
    return [
        (family, kind, proto, name, (address[0], port, *address[2:]))
        for family, kind, proto, name, address in answer
    ]


async def _resolve(host: str, port: int) -> list[AddrInfo]:
    loop = asyncio.get_running_loop()
    # uvloop answers a typed query for an IP literal itself (no resolver thread) but drops an
    # IPv6 zone ("fe80::1%eth0") doing so: a zoned literal is asked for untyped.
    answer = await loop.getaddrinfo(host, port, type=0 if "%" in host else socket.SOCK_STREAM)
    infos = [info for info in answer if info[1] == socket.SOCK_STREAM]
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, f"the resolver gave no address for {host}")
    return cast(list[AddrInfo], infos)


async def connect(host: str, port: int) -> socket.socket:
    """A connected non-blocking socket to `host` port `port`, by happy eyeballs over every address
    the name resolves to. A name that does not resolve raises socket.gaierror; one address that
    fails raises its own error; several raise EveryAddressFailed with each one's error."""
    infos = await resolve(host, port)
    attempts = _Attempts(asyncio.get_running_loop())
    try:
        return await aiohappyeyeballs.start_connection(
            infos,
            happy_eyeballs_delay=STAGGER_S,
            loop=cast(asyncio.AbstractEventLoop, attempts),
            socket_factory=attempts.new_socket,
        )
    except (OSError, RuntimeError) as exc:
        failed = attempts.failed(port)
        if failed is None:
            raise
        raise failed from exc


class _Attempts:
    """The event loop as aiohappyeyeballs sees it, recording each address's own error.

    Why: the library reports a race that every address lost as one joined message (see
    EveryAddressFailed). It makes each attempt with the `loop` it is given, calling only its
    `sock_connect`, and creates each socket through `socket_factory`; both are seen here, and
    every other attribute is the real loop's. tests/net pins this down on both loops.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._addresses: list[Any] = []  # each attempt's socket address, in the order started
        self._errors: dict[int, AttemptError] = {}  # by attempt: a name may list one address twice
        self._attempt_of: dict[socket.socket, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    def new_socket(self, info: AddrInfo) -> socket.socket:
        family, kind, proto, _, address = info
        attempt = len(self._addresses)
        self._addresses.append(address)
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:  # an address family or protocol this machine lacks
            self._errors[attempt] = exc
            raise
        self._attempt_of[sock] = attempt
        return sock

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        try:
            await self._loop.sock_connect(sock, _zoned(address))
        except (OSError, RuntimeError) as exc:
            if (attempt := self._attempt_of.get(sock)) is not None:
                self._errors[attempt] = exc
            raise

    def failed(self, port: int) -> EveryAddressFailed | None:
        """Every attempt's error, when more than one address was tried (one keeps its own)."""
        attempts = tuple(
            Attempt(str(self._addresses[attempt][0]), port, error)
            for attempt, error in sorted(self._errors.items())
        )
        return EveryAddressFailed(attempts) if len(attempts) > 1 else None


def _zoned(address: Any) -> Any:
    """An IPv6 link-local socket address with its zone in the host too ("fe80::1%4"): uvloop
    resolves the address it is given again from host and port alone, which loses the zone."""
    if len(address) == 4 and address[3]:
        return (f"{address[0]}%{address[3]}", *address[1:])
    return address


@contextlib.contextmanager
def closed_on_error(sock: socket.socket) -> Iterator[socket.socket]:
    """Hand `sock` to the loop inside this block: if the handing fails or is cancelled, the socket
    is closed at once (a transport that took it closes it too; closing twice is harmless)."""
    try:
        yield sock
    except BaseException:
        sock.close()
        raise


async def open_streams(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`connect`, as asyncio streams."""
    sock = await connect(host, port)
    with closed_on_error(sock):
        return await asyncio.open_connection(sock=sock)


# --- the plaintext sniff --------------------------------------------------------------------------

# Server-first protocols announce themselves; (prefix, what it is, what to change).
_BANNERS: tuple[tuple[bytes, str, str], ...] = (
    (b"220", "an SMTP greeting", "use smtp:// (STARTTLS) for this port, or smtps:// on port 465"),
    (b"HTTP/", "a plaintext HTTP response", "enable TLS on this port, or probe the HTTPS port"),
    (b"SSH-", "an SSH banner", "this is an SSH port: check the port number"),
    (b"+OK", "a POP3 greeting", "this is a POP3 port: check the port number"),
    (b"* OK", "an IMAP greeting", "this is an IMAP port: check the port number"),
)
SNIFF_BYTES = 256


def describe_plaintext(data: bytes) -> tuple[str, str]:
    """(detail, hint) for the first bytes a non-TLS server sent."""
    if not data:
        return (
            "on a plain connection it closes without sending anything",
            "the service may not speak TLS on this port, or refuses this client's address",
        )
    first_line = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0][:80]
    for prefix, what, hint in _BANNERS:
        if data.startswith(prefix):
            text = first_line.decode("ascii", "replace")
            return f"on a plain connection the port answers with {what}: {text!r}", hint
    return (
        f"on a plain connection the server sends non-TLS bytes: {data[:24]!r}",
        "the port does not speak TLS: check the port and the scheme",
    )


async def sniff(host: str, port: int, budget: float) -> bytes | None:
    """First bytes a plain TCP connection yields within `budget` seconds (None: nothing came).

    Server-first protocols speak at once; others get a line that HTTP and most text protocols
    answer, so the reply names the service.
    """
    try:
        async with asyncio.timeout(budget):
            reader, writer = await open_streams(host, port)
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(budget / 2):
                        return await reader.read(SNIFF_BYTES)
                writer.write(b"GET / HTTP/1.0\r\n\r\n")
                await writer.drain()
                return await reader.read(SNIFF_BYTES)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return None
