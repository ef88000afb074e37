"""tls.legacy: whether a server that negotiates an acceptable version also accepts older ones.

One ClientHello capped at the newest version below --min-tls offers every version below it, so
the server answers with the best of them it accepts, or refuses them all: one connection decides
a server that refuses. Only when one was accepted is a further hello sent, capped below it, to
name every version it accepts. The protocol hands in `hello`, which sends the ClientHello after
its own preamble (STARTTLS, the SSLRequest) and returns the version the server chose.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from collections.abc import Awaitable, Callable

from tlsprobe.failures import Kind, explain
from tlsprobe.model import Check, MinTls, Status
from tlsprobe.records import record
from tlsprobe.tls import trust

Hello = Callable[[ssl.SSLContext], Awaitable[str]]

# ssl's names of versions (SSLObject.version()), as reports write them.
SPOKEN = {"SSLv3": "SSLv3", "TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2"}
# The version field of a ServerHello, by ssl's name (TLS 1.3 servers put 1.2 there).
_WIRE = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2"}
_RANK = {"SSLv3": 0, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}
_ALERTS = {40: "handshake failure", 70: "protocol version", 71: "insufficient security"}
HELLO_HEAD = 11  # record header (5) + handshake header (4) + server_version (2)


class NotAccepted(Exception):
    """The server answered a legacy ClientHello with something other than a ServerHello for
    one of the versions offered: an alert, a close, or a newer version."""


@record
class Found:
    """What the hellos found: the versions accepted (newest first), every version below the
    minimum that was offered, and why no verdict could be reached (None: one was)."""

    accepted: tuple[str, ...]
    offered: tuple[str, ...]
    undecided: str | None = None
    notes: tuple[str, ...] = ()


@functools.cache
def versions_below(min_tls: MinTls) -> tuple[str, ...]:
    """ssl's names of the versions below `min_tls` this OpenSSL can offer, newest first."""
    oldest = "SSLv3" if trust.oldest_version() != ssl.TLSVersion.TLSv1 else "TLSv1"
    minimum = _RANK[f"TLSv{min_tls.value}"]
    names = sorted(_RANK, key=_RANK.__getitem__, reverse=True)
    return tuple(n for n in names if _RANK[oldest] <= _RANK[n] < minimum)


def is_below(version: str, min_tls: MinTls) -> bool:
    """Whether a negotiated version (ssl's name) is below `min_tls`."""
    return _RANK.get(version, -1) < _RANK[f"TLSv{min_tls.value}"]


def spoken(versions: tuple[str, ...]) -> str:
    """("TLSv1.1", "TLSv1") as "TLS 1.1 and TLS 1.0"."""
    names = [SPOKEN.get(v, v) for v in versions]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names)


def _cap(version: str) -> ssl.TLSVersion:
    return {
        "TLSv1.2": ssl.TLSVersion.TLSv1_2,
        "TLSv1.1": ssl.TLSVersion.TLSv1_1,
        "TLSv1": ssl.TLSVersion.TLSv1,
    }.get(version, trust.oldest_version())


async def find(hello: Hello, min_tls: MinTls) -> Found:
    """The versions below `min_tls` the server accepts, newest first."""
    versions = versions_below(min_tls)
    accepted: list[str] = []
    notes: list[str] = []
    left = versions
    while left:
        offering = f"offering {spoken(left)}"
        try:
            got = await hello(trust.below_minimum(_cap(left[0])))
            if got not in left:
                raise NotAccepted(f"it answered with {SPOKEN.get(got, got)}")
        except NotAccepted as refused:
            notes.append(f"a ClientHello {offering}: refused ({refused})")
            break
        except Exception as exc:
            why = explain(exc).detail
            notes.append(f"a ClientHello {offering}: no verdict: {why}")
            return Found(tuple(accepted), versions, why, tuple(notes))
        notes.append(f"a ClientHello {offering}: accepted {SPOKEN.get(got, got)}")
        accepted.append(got)
        left = left[left.index(got) + 1 :]
    return Found(tuple(accepted), versions, None, tuple(notes))


def refusal(exc: BaseException) -> str:
    """How a handshake the server ended reads. explain's words for a version refusal speak of
    a server that offers only old versions: here it is the other way round."""
    why = explain(exc)
    return "no version in common" if why.kind is Kind.TLS_VERSION else why.detail


def verdict(found: Found, min_tls: MinTls, setting: str) -> Check:
    """tls.legacy from what the hellos found; `setting` is the protocol's hint, with
    {minimum} ("TLSv1.2") and {allowed} ("TLSv1.2 TLSv1.3") to fill in."""
    if found.undecided is not None:
        return Check("tls.legacy", Status.SKIP, f"not judged: {found.undecided}")
    minimum = f"TLS {min_tls.value}"
    if found.accepted:
        detail = f"also accepts {spoken(found.accepted)}, below the minimum {minimum}"
        allowed = " ".join(f"TLSv{v}" for v in ("1.2", "1.3") if v >= min_tls.value)
        hint = setting.format(minimum=f"TLSv{min_tls.value}", allowed=allowed)
        return Check("tls.legacy", Status.WARN, detail, hint)
    return Check(
        "tls.legacy",
        Status.PASS,
        f"refuses {spoken(found.offered)} (offered in a ClientHello of their own)",
    )


async def server_hello(
    sock: socket.socket, ctx: ssl.SSLContext, server_hostname: str | None
) -> str:
    """Send `ctx`'s ClientHello on the connected socket and read the version of the server's
    ServerHello, without finishing the handshake: the ServerHello already says the server took
    the version, and the key exchange after it would cost more than the rest of the check.
    Python's ssl cannot stop there, so the first record is read here (11 bytes of it)."""
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, client_hello(ctx, server_hostname))
    head = b""
    while len(head) < HELLO_HEAD and head[:1] in (b"", b"\x16"):
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            break
        head += chunk
    return hello_version(head)


@functools.lru_cache(maxsize=1024)
def client_hello(ctx: ssl.SSLContext, server_hostname: str | None) -> bytes:
    """`ctx`'s ClientHello for `server_hostname`, made once and sent to every server of that
    name: the handshake never goes past the ServerHello, so nothing in the hello (its random
    included) needs to be new, and making it was a third of what the check cost a target."""
    outgoing = ssl.MemoryBIO()
    tls = ctx.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=server_hostname)
    with contextlib.suppress(ssl.SSLWantReadError):  # the ClientHello is written
        tls.do_handshake()
    return outgoing.read()


def hello_version(head: bytes) -> str:
    """ssl's name of the version a ServerHello chose, from the first bytes the server sent;
    NotAccepted when they are anything else."""
    if not head:
        raise NotAccepted("the server closed the connection")
    if head[0] == 0x15 and len(head) >= 7:
        name = _ALERTS.get(head[6], f"number {head[6]}")
        raise NotAccepted(f"alert: {name}")
    if head[0] == 0x16 and len(head) >= HELLO_HEAD and head[5] == 2:
        version = _WIRE.get(int.from_bytes(head[9:11], "big"))
        if version is not None:
            return version
    raise NotAccepted(f"an answer that is not a ServerHello: {head[:HELLO_HEAD].hex()}")
