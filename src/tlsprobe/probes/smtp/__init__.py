"""The SMTP probe: smtp:// (STARTTLS, 587) and smtps:// (implicit TLS, 465).

One session does greeting, EHLO, STARTTLS, the handshake (judged by the shared TLS judge), EHLO
inside TLS and, with credentials, AUTH; QUIT, no mail. A second connection tests STARTTLS
command injection (CVE-2011-0411). Credentials are sent only inside a TLS session a default
client would trust with them (tls.credentials_withheld, as for HTTPS), and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable

from aiosmtplib.errors import SMTPResponseException
from aiosmtplib.response import SMTPResponse

from tlsprobe import tls
from tlsprobe.model import Check, Fix, Policy, Status, TargetResult
from tlsprobe.probes import legacy, revocation
from tlsprobe.probes.base import TLS_CHECK_IDS, ProbeState, Step, fail_with, run_probe
from tlsprobe.probes.smtp import preamble, steps
from tlsprobe.probes.smtp import verdicts as checks
from tlsprobe.probes.smtp.session import (
    Session,
    StepFailed,
    elapsed_ms,
    explain_smtp,
    open_session,
    quoted,
    speaks_tls,
)
from tlsprobe.targets import Target

IDS = (
    "connect",
    "smtp.starttls",
    *TLS_CHECK_IDS,
    "tls.legacy",
    "smtp.auth_before_tls",
    "smtp.starttls_injection",
)
Attempted = tuple[Session, tls.Handshake]
GREETING_WAIT_MAX = 1.5  # then check whether the port waits for a ClientHello instead
TLS_CHECK_MAX = 1.0
STAPLE_HINT = (
    "have the MTA staple a current OCSP response (Exim: tls_ocsp_file; Postfix cannot staple: "
    "give it a certificate without the must-staple extension)"
)
LEGACY_SETTING = (
    "turn them off: Postfix smtpd_tls_protocols = >={minimum} and "
    "smtpd_tls_mandatory_protocols = >={minimum} (or the MTA's own TLS protocol setting)"
)


def ids_for(target: Target) -> tuple[str, ...]:
    """smtp.login is a check only when the URL carries credentials."""
    return (*IDS, "smtp.login") if target.user is not None else IDS


async def probe(target: Target, policy: Policy) -> TargetResult:
    body = _implicit if target.protocol == "smtps" else _starttls
    hello = legacy.first_byte_hello if target.protocol == "smtps" else _legacy_hello
    implicit = target.protocol == "smtps"
    checked = legacy.alongside(body, hello, LEGACY_SETTING, at_once=implicit)
    staple_preamble = revocation.first_byte if implicit else preamble.starttls
    checked = revocation.alongside(checked, staple_preamble, staple_hint=STAPLE_HINT)
    return await run_probe(target, policy, ids_for(target), checked)


async def _legacy_hello(state: ProbeState, ctx: ssl.SSLContext) -> str:
    """tls.legacy's hello after the probe's own greeting, EHLO and STARTTLS."""
    session, handshake = await _upgrade(state, ctx)
    session.abort()
    return handshake.version


# --- smtp:// ---------------------------------------------------------------------------------


async def _starttls(state: ProbeState) -> None:
    negotiated = await _negotiated(state, _numbered(state, _upgrade))
    if negotiated is None:
        return
    await _in_tls(state, negotiated.session, steps.EHLO_TLS)
    await _injection(state, negotiated.mode)


async def _upgrade(state: ProbeState, ctx: ssl.SSLContext) -> Attempted:
    """Greeting, EHLO, STARTTLS and the handshake on a new connection."""
    session = await _connect(state)
    try:
        await _greeting(state, session, detect_implicit=True)
        await _ehlo(state, session, steps.EHLO_PLAIN)
        state.put(checks.auth_before_tls(session.auth_methods, "auth" in session.extensions))
        state.enter(steps.STARTTLS)
        if "starttls" not in session.extensions:
            raise StepFailed(*checks.not_advertised(session.extensions))
        await _handshake_after_starttls(state, session, ctx)
        return session, session.handshake()
    except BaseException:
        session.abort()
        raise


async def _handshake_after_starttls(
    state: ProbeState, session: Session, ctx: ssl.SSLContext
) -> None:
    started = time.monotonic()

    def ready() -> None:
        state.passed("smtp.starttls", f"answered {quoted(session.tap.reply_lines)}")
        state.enter(steps.HANDSHAKE_AFTER_STARTTLS)
        state.log(f"TLS ClientHello (SNI {_sni_text(state.target)})")

    try:
        await session.starttls(ctx, state.target.host, ready)
    except SMTPResponseException as exc:
        raise StepFailed(*checks.starttls_refused(exc.code, session.tap.reply_lines)) from None
    _log_handshake(state, session, started)


# --- smtps:// --------------------------------------------------------------------------------


async def _implicit(state: ProbeState) -> None:
    for check in checks.not_applicable_to_implicit():
        state.put(check)

    negotiated = await _negotiated(state, _numbered(state, _handshake_first))
    if negotiated is None:
        return
    await _in_tls(state, negotiated.session, steps.EHLO_IMPLICIT, greet=True)


async def _handshake_first(state: ProbeState, ctx: ssl.SSLContext) -> Attempted:
    """TCP, then TLS from the first byte; the greeting comes inside TLS, after judging."""
    started = time.monotonic()
    session = await _connect(state, ctx)
    try:
        _log_handshake(state, session, started)
        return session, session.handshake()
    except BaseException:
        session.abort()
        raise


# --- shared steps ----------------------------------------------------------------------------


def _numbered(
    state: ProbeState, attempt: Callable[[ProbeState, ssl.SSLContext], Awaitable[Attempted]]
) -> tls.Attempt[Session]:
    """`attempt` for tls.negotiate; a retry is a fresh session, and the transcript says why."""
    sessions = 0

    async def numbered(ctx: ssl.SSLContext) -> Attempted:
        nonlocal sessions
        sessions += 1
        if sessions > 1:
            state.log(f"--- session {sessions}: {_mode_text(ctx)} ---")
        return await attempt(state, ctx)

    return numbered


async def _negotiated(
    state: ProbeState, attempt: tls.Attempt[Session]
) -> tls.Negotiated[Session] | None:
    """Negotiate and judge the TLS; None when a step failed (and has been recorded)."""
    try:
        negotiated = await tls.negotiate(attempt, state.added_roots, roots=state.handshake_roots())
    except StepFailed as failed:
        state.fail_step(failed.detail, failed.hint, failed.fix)
        return None
    except Exception as exc:
        await fail_with(state, explain_smtp(exc, state.phase))
        return None
    state.record_tls(negotiated)
    return negotiated


async def _in_tls(
    state: ProbeState, session: Session, ehlo_step: Step, greet: bool = False
) -> None:
    """Inside TLS: (the greeting,) EHLO, AUTH with credentials, QUIT. A failure here fails its
    own step; the TLS verdicts already made stand."""
    try:
        if greet:
            await _greeting(state, session, detect_implicit=False)
        await _ehlo(state, session, ehlo_step)
        if state.target.user is not None:
            await _login(state, session)
        await session.quit()
    except StepFailed as failed:
        state.fail_step(failed.detail, failed.hint, failed.fix)
    except Exception as exc:
        await fail_with(state, explain_smtp(exc, state.phase))
    finally:
        session.abort()


async def _connect(state: ProbeState, ctx: ssl.SSLContext | None = None) -> Session:
    """A new connection; with `ctx`, TLS from the first byte (the step moves on at TCP)."""
    target = state.target
    state.enter(steps.CONNECT)
    state.log(f"connect {target.address} port {target.port}")

    def log(line: str) -> None:
        state.log(line)
        if line.startswith("TCP connected") and ctx is not None:
            state.passed("connect", f"{target.address}:{target.port} (greeting follows in TLS)")
            state.enter(steps.HANDSHAKE)
            state.log(f"TLS ClientHello (SNI {_sni_text(target)})")

    return await open_session(target.address, target.port, log, ctx, target.host)


async def _greeting(state: ProbeState, session: Session, *, detect_implicit: bool) -> None:
    """The 220 greeting; on a plaintext connection, silence is checked for implicit TLS."""
    state.enter(steps.GREETING)

    def banner_started(_: str) -> None:
        # A banner has begun but not ended: if the deadline comes, it is a tarpit, not silence.
        if state.phase is steps.GREETING:
            state.enter(steps.BANNER)

    session.tap.on_line = banner_started
    waiting = asyncio.ensure_future(session.reply())
    try:
        if detect_implicit:
            await _detect_implicit(state, session, waiting)
        reply = await waiting
    except SMTPResponseException:
        tap = session.tap
        raise StepFailed(*checks.greeting_not_smtp(tap.reply_lines, tap.unfinished)) from None
    finally:
        waiting.cancel()
        session.tap.on_line = None
    if reply.code != 220:
        raise StepFailed(*checks.greeting_refused(session.tap.reply_lines))
    target = state.target
    state.passed("connect", f"{target.address}:{target.port}: {quoted(session.tap.reply_lines)}")


async def _detect_implicit(
    state: ProbeState, session: Session, waiting: asyncio.Future[SMTPResponse]
) -> None:
    """No byte within a short wait: if a second connection completes a TLS handshake, the
    port is implicit TLS and the greeting will never come in plaintext."""
    wait = min(GREETING_WAIT_MAX, state.policy.timeout / 4)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiting), wait)
    if waiting.done() or session.tap.received:
        return
    state.log(f"no greeting after {wait:g} s: trying a TLS handshake on a second connection")
    budget = min(TLS_CHECK_MAX, state.remaining() / 2)
    target = state.target
    version = await speaks_tls(target.address, target.port, target.host, budget)
    if version is None:
        state.log("no TLS handshake either: still waiting for the greeting")
        return
    state.log(f"the second connection negotiated {version}: the port speaks implicit TLS")
    raise StepFailed(*checks.implicit_port(wait, version), Fix.IMPLICIT_TLS)


async def _ehlo(state: ProbeState, session: Session, step: Step) -> None:
    """EHLO; a refusal fails `step`."""
    state.enter(step)
    if (await session.ehlo()).code != 250:
        raise StepFailed(*checks.ehlo_refused(session.tap.reply_lines, step is steps.EHLO_TLS))


async def _login(state: ProbeState, session: Session) -> None:
    """AUTH inside TLS with the URL's credentials, with the first mechanism both sides know;
    only over a session a default client would trust with them, as HTTPS sends Basic ones."""
    state.enter(steps.LOGIN)
    target = state.target
    why = tls.credentials_withheld(session.tls_context(), session.handshake(), target.host)
    if why is not None:
        state.log(f"credentials in the URL withheld: {why}")
        state.put(checks.login_withheld(why))
        return
    mechanism = checks.pick_mechanism(session.auth_methods)
    if mechanism is None:
        state.put(checks.no_mechanism(session.extensions, session.auth_methods))
        return
    reply = await session.authenticate(mechanism, target.user or "", target.password or "")
    state.put(checks.login_check(reply.code, mechanism, target.user or "", session.tap.reply_lines))


# --- CVE-2011-0411 ---------------------------------------------------------------------------


async def _injection(state: ProbeState, mode: tls.Mode) -> None:
    """STARTTLS and EHLO in one segment on a new connection: nothing may answer inside TLS."""
    # A server that stalls a second connection (a connection-rate limit, a greeting delay)
    # leaves the test not judged, not failed: said to the probe's one deadline, never by a
    # deadline of its own (two deadlines race under load; see ProbeState.deadline_reached).
    stalled = _not_judged("no answer on the test connection within the deadline")
    state.enter(steps.INJECTION, on_deadline=stalled)
    state.log("--- injection test (CVE-2011-0411): STARTTLS and EHLO in one segment ---")
    capture = tls.Mode.LEGACY_CAPTURE if mode.legacy else tls.Mode.CAPTURE
    await _injection_session(state, tls.context(capture, state.policy.ca_file))


async def _injection_session(state: ProbeState, ctx: ssl.SSLContext) -> None:
    try:
        session = await open_session(state.target.address, state.target.port, state.log)
    except Exception as exc:
        state.put(_not_judged(explain_smtp(exc, steps.CONNECT).detail))
        return
    try:
        state.put(await _inject(state, session, ctx))
        await session.quit()
    except Exception as exc:
        state.put(_not_judged(explain_smtp(exc, steps.INJECTION).detail))
    finally:
        session.abort()


def _not_judged(why: str) -> Check:
    return Check("smtp.starttls_injection", Status.SKIP, f"not judged: {why}")


async def _inject(state: ProbeState, session: Session, ctx: ssl.SSLContext) -> Check:
    tap = session.tap
    greeting = await session.reply()
    if greeting.code != 220 or (await session.ehlo()).code != 250:
        return _not_judged(f"the test connection was refused: {quoted(tap.reply_lines)}")
    tap.inject = checks.INJECTED

    def ready() -> None:
        tap.after_ready = bytearray()

    started = time.monotonic()
    try:
        await session.starttls(ctx, state.target.host, ready)
    except SMTPResponseException:
        return checks.injection_refused(tap.reply_lines)
    except (OSError, ssl.SSLError) as exc:  # aiosmtplib's disconnects are ConnectionErrors
        return checks.injection_dropped(explain_smtp(exc, steps.HANDSHAKE).detail)
    handshake_s = time.monotonic() - started
    window = checks.injection_window(handshake_s, state.remaining())
    state.log(f"TLS up in {handshake_s * 1000:.1f} ms; listening {window:.2f} s for a reply")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(window):
            await tap.arrived.wait()
            await asyncio.sleep(0.05)  # the rest of the reply, for the quote
    return checks.injection_verdict(bytes(tap.after_ready or b""), window)


# --- transcript helpers ----------------------------------------------------------------------


def _log_handshake(state: ProbeState, session: Session, started: float) -> None:
    ssl_object = session.transport.get_extra_info("ssl_object")
    if ssl_object is not None:
        cipher = ssl_object.cipher()
        name = cipher[0] if cipher else "?"
        state.log(f"TLS {ssl_object.version()} {name} in {elapsed_ms(started)}")


def _sni_text(target: Target) -> str:
    return "none" if target.is_ip else target.host


def _mode_text(ctx: ssl.SSLContext) -> str:
    if ctx.verify_mode == ssl.CERT_NONE:
        return "without verification, to read what the server sends"
    return "verifying, with a permissive TLS version and cipher setting"
