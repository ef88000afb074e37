"""cert.revocation's preamble for postgresql://: the SSLRequest on a raw socket, which then
carries the side hello that asks for the staple (probes.revocation, tls.staple).

A raw socket, not the probe's asyncio protocol (wire.Wire): pyOpenSSL's side hello reads and
writes the bare socket, and the SSLRequest needs nothing but 8 bytes out and exactly 1 back
(reading just 1 leaves whatever follows an S to the TLS layer, which fails the side hello on
it, CVE-2021-23222's bytes included).
"""

from __future__ import annotations

import asyncio
import socket

from tlsprobe import net
from tlsprobe.probes.base import ProbeState
from tlsprobe.probes.postgres import wire
from tlsprobe.probes.revocation import NotAsked


async def sslrequest(state: ProbeState) -> socket.socket:
    """A new connection whose SSLRequest the server answered S: the ClientHello goes next."""
    target = state.target
    loop = asyncio.get_running_loop()
    sock = await net.connect(target.address, target.port)
    with net.closed_on_error(sock):
        await loop.sock_sendall(sock, wire.SSL_REQUEST)
        answer = await loop.sock_recv(sock, 1)
        if answer != b"S":
            raise NotAsked(refused(answer))
    return sock


def refused(answer: bytes) -> str:
    """Why an answer other than S means no staple can be asked."""
    if not answer:
        return "the server closed the connection instead of answering the SSLRequest"
    if answer == b"N":
        return "the server answered N to the SSLRequest (no TLS on this connection)"
    return f"the server answered {answer!r} to the SSLRequest"
