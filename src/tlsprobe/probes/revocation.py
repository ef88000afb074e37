"""cert.revocation alongside a probe: once the body has negotiated, a side hello asks for the
OCSP staple, and with --revocation the CA's responders are asked, all within the target's one
deadline.

The side hello is sent only when the leaf names an OCSP responder or must be stapled (the
probe's own handshake says so): a server staples only what its CA's responder signed, so for
any other certificate there is nothing to ask, and nothing to pay. A certificate that names no
responder, no CRL and is not must-staple gets no cert.revocation check without --revocation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tlsprobe import net
from tlsprobe.failures import explain
from tlsprobe.model import Check, Status
from tlsprobe.probes.base import Body, ProbeState, stalled, step_for
from tlsprobe.tls import certs, responders

if TYPE_CHECKING:
    from cryptography import x509  # loaded through tlsprobe.tls (see tls/x509_load)

    from tlsprobe.tls.revocation import Outcome, Staple

# Connects and takes the protocol's preamble, then returns the socket the ClientHello goes on.
Preamble = Callable[[ProbeState], Awaitable[socket.socket]]
RESERVE_S = 0.25  # of the deadline, kept so that a verdict is never left to the outer deadline


class NotAsked(Exception):
    """A preamble the server would not complete (STARTTLS refused, an SSLRequest answered N):
    its words say why no staple was asked."""


def alongside(
    body: Body, preamble: Preamble | None, why_not: str = "", *, staple_hint: str = ""
) -> Body:
    """`body`, then cert.revocation. `preamble` None: this protocol's staple cannot be asked
    (`why_not` says why), so only --revocation's fetches can tell. `staple_hint` replaces the
    web server's advice on stapling for a server that staples otherwise, or never."""

    async def both(state: ProbeState) -> None:
        await body(state)
        if state.handshake is None or not state.handshake.chain_der:
            return
        check = await _judge(state, preamble, why_not)
        if check is not None and staple_hint and check.hint == _staple_hint():
            check = dataclasses.replace(check, hint=staple_hint)
        if check is not None:
            state.put(check)

    return both


async def _judge(state: ProbeState, preamble: Preamble | None, why_not: str) -> Check | None:
    assert state.handshake is not None
    chain = certs.load_chain(state.handshake.chain_der)
    path = certs.load_chain(state.handshake.verified_der) or chain
    leaf = chain[0]
    asks = responders.worth_asking(leaf)
    if not asks and not state.policy.revocation:
        return None
    # Loaded at the first leaf whose revocation is asked about: with it cryptography's OCSP
    # module, about a millisecond of every start otherwise.
    from tlsprobe.tls import revocation

    issuer = path[1] if len(path) > 1 else None
    budget = max(0.0, state.remaining() - min(RESERVE_S, state.policy.timeout / 10))
    now = dt.datetime.now(dt.UTC)
    outcomes: list[tuple[str, Outcome]] = []
    try:
        async with asyncio.timeout(budget):
            got = await _asked(state, preamble, why_not) if asks else None
    except TimeoutError:
        stall, _ = stalled(step_for("cert.revocation"), state.policy.timeout)
        got = revocation.Staple(not_asked=f"the side hello had {stall}")
    if got is not None:
        outcome, fact = revocation.staple_outcome(got, leaf, issuer, now)
        state.facts["ocsp_staple"] = fact
        state.log(f"cert.revocation: {outcome.text}")
        outcomes.append(("", outcome))
    if state.policy.revocation:
        outcomes += await _fetched(state, path, now)
    return revocation.verdict(outcomes)


async def _staple(state: ProbeState, preamble: Preamble | None, why_not: str) -> Staple:
    from tlsprobe.tls.revocation import Staple

    if preamble is None:
        return Staple(not_asked=why_not)
    from tlsprobe.tls import staple  # pyOpenSSL: only for a leaf that names a responder

    try:
        sock = await _preamble(state, preamble)
    except NotAsked as exc:
        return Staple(not_asked=str(exc))
    try:
        target = state.target
        return Staple(await staple.ask(sock, None if target.is_ip else target.host))
    except staple.NoStaple as exc:
        return Staple(not_asked=str(exc))
    finally:
        sock.close()


async def _preamble(state: ProbeState, preamble: Preamble) -> socket.socket:
    """The preamble on a copy of the state, in a task of its own (so a copy of the context):
    its steps, logs and checks, and the step it names for a crash, stay off the real result."""

    async def shadowed() -> socket.socket:
        # Made inside the task: a new ProbeState names its step in the context it is made in.
        shadow = dataclasses.replace(
            state, phase=step_for("connect"), checks={}, decided=set(), transcript=[], facts={}
        )
        return await preamble(shadow)

    task = asyncio.create_task(shadowed())
    try:
        return await task
    except asyncio.CancelledError:
        # The deadline came just as the preamble finished: its socket is ours to close.
        if task.done() and not task.cancelled() and task.exception() is None:
            task.result().close()
        raise


async def _asked(state: ProbeState, preamble: Preamble | None, why_not: str) -> Staple:
    """_staple, with any failure of the side hello said as why no staple was seen."""
    try:
        return await _staple(state, preamble, why_not)
    except Exception as exc:
        from tlsprobe.tls.revocation import Staple

        return Staple(not_asked=f"the side hello failed: {explain(exc).detail}")


async def _fetched(
    state: ProbeState, path: tuple[x509.Certificate, ...] | list[x509.Certificate], now: dt.datetime
) -> list[tuple[str, Outcome]]:
    from tlsprobe.tls import revocation_fetch  # only runs with --revocation load aiohttp's client

    if len(path) < 2:
        from tlsprobe.tls.revocation import Outcome

        skip = Outcome(Status.SKIP, "no issuer known to ask about the certificate")
        return [("", skip)]
    budget = max(0.0, state.remaining() - min(RESERVE_S, state.policy.timeout / 10))
    found = await revocation_fetch.ask_path(path, now, budget)
    for who, outcome in found:
        state.log(f"cert.revocation: {who}: {outcome.text}")
    return found


async def first_byte(state: ProbeState) -> socket.socket:
    """The preamble of a protocol that speaks TLS from the first byte: none."""
    return await net.connect(state.target.address, state.target.port)


def _staple_hint() -> str:
    from tlsprobe.tls.revocation import STAPLE_HINT  # loaded by now: a check was made

    return STAPLE_HINT
