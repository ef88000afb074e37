"""tls.legacy alongside a probe: its hellos run in a task of their own while the probe's body
runs, within the target's one deadline, and are judged once the body has negotiated.

The hellos work on a copy of the probe's state: a protocol's preamble (STARTTLS, the SSLRequest)
enters steps, logs and records checks as it goes, and none of that may touch the real result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Awaitable, Callable

from tlsprobe import net
from tlsprobe.model import Check, Status
from tlsprobe.probes.base import Body, ProbeState, stalled, step_for
from tlsprobe.tls import legacy

LegacyHello = Callable[[ProbeState, ssl.SSLContext], Awaitable[str]]
RESERVE_S = 0.25  # of the deadline, kept so that a verdict is never left to the outer deadline
OFF = "not run: turned off (--no-tls-legacy, or tls_legacy = false in tlsprobe.toml)"


def alongside(body: Body, hello: LegacyHello, setting: str, *, at_once: bool = True) -> Body:
    """`body`, with tls.legacy asked by `hello`; `setting` is the hint (legacy.verdict) naming
    the server setting that turns old versions off. With `at_once` the hellos start with the
    body (TLS from the first byte: a hello costs one connection, and the probe's wall time
    hides it); else after it, and only when it negotiated (a preamble repeated at the same time
    would double every plaintext session, even with a server that refuses TLS)."""

    async def both(state: ProbeState) -> None:
        if not state.policy.tls_legacy:
            await body(state)
            state.put(Check("tls.legacy", Status.SKIP, OFF))
            return
        pending = asyncio.create_task(_find(state, hello)) if at_once else None
        try:
            await body(state)
            if pending is None and _not_applicable(state) is None:
                pending = asyncio.create_task(_find(state, hello))
            await _judge(state, pending, setting)
        finally:
            if pending is not None:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)

    return both


async def _find(state: ProbeState, hello: LegacyHello) -> legacy.Found:
    shadow = dataclasses.replace(
        state, phase=step_for("connect"), checks={}, decided=set(), transcript=[], facts={}
    )

    async def send(ctx: ssl.SSLContext) -> str:
        """A failure once the ClientHello is out (an alert, a close, a reset: servers refuse
        in all these ways) is a refusal; one before it (no connection, a STARTTLS refused)
        leaves the question open."""
        try:
            return await hello(shadow, ctx)
        except legacy.NotAccepted:
            raise
        except Exception as exc:
            if shadow.check_id != "tls.handshake":
                raise
            raise legacy.NotAccepted(legacy.refusal(exc)) from exc

    return await legacy.find(send, state.policy.min_tls)


async def _judge(
    state: ProbeState, pending: asyncio.Task[legacy.Found] | None, setting: str
) -> None:
    why_not = _not_applicable(state)
    if why_not is not None:
        if "tls.legacy" not in state.checks:  # else the step that failed skipped it, saying so
            state.put(Check("tls.legacy", Status.SKIP, why_not))
        return
    # Judged even when a later step failed (an HTTP stall, a refused login): the session was.
    assert pending is not None  # started, at once or after the body, whenever applicable
    budget = state.remaining() - min(RESERVE_S, state.policy.timeout / 10)
    try:
        async with asyncio.timeout(max(0.0, budget)):
            found = await pending
    except TimeoutError:
        stall, _ = stalled(step_for("tls.legacy"), state.policy.timeout)
        state.log(f"tls.legacy: {stall}")
        state.put(Check("tls.legacy", Status.SKIP, f"not judged: {stall}"))
        return
    for note in found.notes:
        state.log(f"tls.legacy: {note}")
    state.put(legacy.verdict(found, state.policy.min_tls, setting))


def _not_applicable(state: ProbeState) -> str | None:
    """Why tls.legacy has nothing to add: no session, or only a legacy version got through
    (tls.version fails then, naming it)."""
    handshake = state.checks.get("tls.handshake")
    if handshake is None or handshake.status is not Status.PASS or state.tls is None:
        if handshake is not None and handshake.status is Status.SKIP:
            return handshake.detail
        return "not run: no TLS session was negotiated"
    version = state.tls.version
    if legacy.is_below(version, state.policy.min_tls):
        return f"not run: only {legacy.spoken((version,))} got through (see tls.version)"
    return None


async def first_byte_hello(state: ProbeState, ctx: ssl.SSLContext) -> str:
    """The hello of a protocol that speaks TLS from the first byte (HTTPS, SMTPS)."""
    target = state.target
    sock = await net.connect(target.address, target.port)
    try:
        return await legacy.server_hello(sock, ctx, None if target.is_ip else target.host)
    finally:
        sock.close()
