"""The PostgreSQL probe: the SSLRequest (exactly 8 bytes, exactly one byte back), the TLS
handshake on the same connection judged by the shared judge, whether the server accepts a
plaintext session, and with a user, a real libpq login.

With sslnegotiation=direct (PostgreSQL 17+) the ClientHello goes first, with ALPN `postgresql`.
The transcript and the `sslmodes` fact say what each libpq sslmode would have done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import os
import ssl
import stat
from collections.abc import Mapping
from pathlib import Path

from tlsprobe import net, tls
from tlsprobe.failures import ClientKeyError, KeyProblem, explain
from tlsprobe.model import Check, Fix, Policy, Status, TargetResult
from tlsprobe.probes import legacy, revocation
from tlsprobe.probes.base import TLS_CHECK_IDS, ProbeState, run_probe
from tlsprobe.probes.postgres import preamble, wire
from tlsprobe.probes.postgres import roots as libpq_roots
from tlsprobe.probes.postgres.login import login
from tlsprobe.probes.postgres.sslmodes import sslmodes
from tlsprobe.probes.postgres.startup import Answer, first_answer, judge_client_cert
from tlsprobe.targets import Target, client_tls, pgsettings

IDS = ("connect", "pg.sslrequest", *TLS_CHECK_IDS, "tls.legacy", "pg.plaintext")
ALPN = ("postgresql",)
LEGACY_SETTING = (
    "turn them off: ssl_min_protocol_version = '{minimum}' in postgresql.conf, then reload"
)
# PostgreSQL has no OCSP stapling: the web server's advice would send its admin looking for one.
STAPLE_HINT = (
    "PostgreSQL cannot staple OCSP responses: give the server a certificate without the "
    "must-staple (TLS feature) extension"
)
SYSTEM_HINT = "with sslrootcert=system use sslmode=verify-full (libpq 16 and later allow no other)"
DIRECT_UNSUPPORTED = "direct TLS unsupported by this server (PostgreSQL < 17)"


class Stop(enum.Enum):
    """How the TLS stage ended when it did not negotiate."""

    FAILED = "failed: the rest is skipped"
    NO_TLS = "the server has ssl = off: the plaintext and login checks still run"


Outcome = tls.Negotiated[Answer | None] | Stop
# Of the time left, what the startup inside TLS may take before pg.client_cert is not judged.
STARTUP_SHARE = 0.5


class Refused(Exception):
    """The answer to the SSLRequest rules TLS out; `check` is pg.sslrequest's verdict."""

    def __init__(self, check: Check, answer: bytes) -> None:
        super().__init__(check.detail)
        self.check = check
        self.answer = answer


async def probe(
    target: Target, policy: Policy, env: Mapping[str, str] | None = None
) -> TargetResult:
    """Probe a postgresql:// target; `env` stands in for libpq's environment (os.environ)."""
    env = os.environ if env is None else env
    if target.lends_nothing:  # a caller's target: see targets.caller
        env = {}
    settings = pgsettings.resolve(target, env, policy.ca_file if target.takes_ca_file else None)
    # One resolution for the handshake, the trust report (what --ca-file did, and whether a
    # pass needed it) and whether libpq starts at all.
    trust = libpq_roots.resolve(target, settings, env)
    client = target.client
    if client is None:  # client.encryption as this environment would configure libpq
        client = client_tls.for_postgres_params(dict(target.params), env)
    client = _required(client, settings, trust)
    target = dataclasses.replace(target, client=_refused(client, settings, trust))
    ids = (*IDS, "pg.login") if settings.user else (*IDS, "pg.client_cert")

    async def body(state: ProbeState) -> None:
        state.use_trust(trust.own, trust.added)
        state.log(f"trust as libpq: {trust.text()}")
        await _body(state, settings, trust)

    checked = legacy.alongside(body, _legacy_hello, LEGACY_SETTING, at_once=False)
    # sslnegotiation=direct is TLS from the first byte; the side hello offers no ALPN, which
    # PostgreSQL 17 checks only once the handshake is over, after the staple has come.
    staple_preamble = revocation.first_byte if settings.direct else preamble.sslrequest
    checked = revocation.alongside(checked, staple_preamble, staple_hint=STAPLE_HINT)
    return await run_probe(target, policy, ids, checked)


def _required(
    client: client_tls.ClientTls | None,
    settings: pgsettings.Settings,
    trust: libpq_roots.LibpqRoots,
) -> client_tls.ClientTls | None:
    """sslmode=require verifies the chain exactly when libpq loads a root file: one named that
    does not exist verifies nothing, ~/.postgresql/root.crt unnamed does (from every source)."""
    if client is None or client.broken or settings.sslmode != "require":
        return client
    verifies = libpq_roots.loads_a_root(settings, trust)
    if client.verifies_chain is verifies:
        return client
    return dataclasses.replace(client, verifies_chain=verifies)


def _refused(
    client: client_tls.ClientTls | None,
    settings: pgsettings.Settings,
    trust: libpq_roots.LibpqRoots,
) -> client_tls.ClientTls | None:
    """The client, broken when libpq refuses to start: sslrootcert=system with a weaker
    sslmode than verify-full (the fix: that sslmode), or a verifying client without a root
    file (the fix: a root, in the source's terms). A client that cannot connect already is
    left as it is."""
    if client is None or client.broken:
        return client
    if why := libpq_roots.weak_with_system(settings):
        setting = f"{client.setting}: libpq refuses to start: {why}"
        return dataclasses.replace(client, setting=setting, broken=True, hint=SYSTEM_HINT)
    why = libpq_roots.refusal(settings, trust) if client.verifies_chain else None
    if why is None:
        return client
    setting = f"{client.setting}: libpq refuses to start: {why}"
    return dataclasses.replace(client, setting=setting, broken=True, hint="", fix=Fix.TRUST)


async def _legacy_hello(state: ProbeState, ctx: ssl.SSLContext) -> str:
    """tls.legacy's hello after the probe's own SSLRequest (a server that takes direct TLS
    accepts the same versions there)."""
    return (await _via_sslrequest(state, ctx))[1].version


async def _body(
    state: ProbeState, settings: pgsettings.Settings, roots: libpq_roots.LibpqRoots
) -> None:
    state.facts["sslnegotiation"] = settings.sslnegotiation
    stage = _direct if settings.direct else _negotiated
    negotiated = await stage(state, settings, roots)
    if negotiated is Stop.FAILED:
        return
    if negotiated is not Stop.NO_TLS:
        state.record_tls(negotiated)
        if not settings.user:  # else pg.login tells, with the real libpq
            who = _startup_as(settings)[0]
            state.put(judge_client_cert(negotiated.session, who, _sends_cert(settings)))
    elif not settings.user:
        state.put(Check("pg.client_cert", Status.SKIP, "not run: the server has ssl = off"))
    state.put(await _plaintext(state, settings))
    legacy = negotiated is not Stop.NO_TLS and negotiated.mode.legacy
    modes = sslmodes(state.checks, legacy)
    state.facts["sslmodes"] = modes
    state.log(f"libpq sslmodes: {modes}")
    if settings.user:
        state.put(await login(state, settings))


async def _negotiated(
    state: ProbeState, settings: pgsettings.Settings, roots: libpq_roots.LibpqRoots
) -> Outcome:
    """SSLRequest then TLS, as libpq does; a failure is recorded and says whether to go on."""

    async def attempt(ctx: ssl.SSLContext) -> tuple[Answer | None, tls.Handshake]:
        return await _via_sslrequest(state, ctx, _startup_for(settings))

    client_cert = _client_cert(state, settings)
    try:
        return await tls.negotiate(attempt, roots.added, (), client_cert, roots=roots.roots)
    except Refused as refused:
        state.put(refused.check)
        if refused.answer != b"N":
            state.fail_step(refused.check.detail, refused.check.hint)
            return Stop.FAILED
        for check_id in TLS_CHECK_IDS:
            state.put(Check(check_id, Status.SKIP, "not run: the server has ssl = off"))
        return Stop.NO_TLS
    except Exception as exc:
        if state.step == "connect":
            raise  # run_probe names the address and the reason
        _fail_tls(state, exc)
        return Stop.FAILED


async def _direct(
    state: ProbeState, settings: pgsettings.Settings, roots: libpq_roots.LibpqRoots
) -> Outcome:
    """sslnegotiation=direct: the ClientHello first. A server that fails it but answers S to
    an SSLRequest is a PostgreSQL older than 17, not a broken one."""

    async def attempt(ctx: ssl.SSLContext) -> tuple[Answer | None, tls.Handshake]:
        transport, protocol = await _open(state)
        try:
            return await _handshake(state, transport, protocol, ctx, _startup_for(settings))
        finally:
            transport.abort()

    client_cert = _client_cert(state, settings)
    try:
        negotiated = await tls.negotiate(attempt, roots.added, ALPN, client_cert, roots=roots.roots)
    except Exception as exc:
        if state.step == "connect":
            raise
        answer = await _sslrequest_only(state)
        state.put(wire.judge_answer(answer, b"") if answer else wire.no_answer())
        state.enter("tls.handshake")
        if answer != b"S":
            _fail_tls(state, exc)
            return Stop.FAILED
        why = explain(exc)
        state.log(f"error: {why.detail}; the server answers S to an SSLRequest")
        detail = f"{DIRECT_UNSUPPORTED}: {why.detail}, yet it answers S to an SSLRequest"
        hint = f"{DIRECT_UNSUPPORTED}: use sslnegotiation=postgres (the default) or PostgreSQL 17+"
        state.fail_step(detail, hint)
        return Stop.FAILED
    state.put(Check("pg.sslrequest", Status.SKIP, "not run: sslnegotiation=direct sends none"))
    return negotiated


def _fail_tls(state: ProbeState, exc: Exception) -> None:
    """A failed handshake ends the probe. No plain-TCP sniff (as HTTPS does): PostgreSQL
    already said S, and a sniff would only be a bogus startup packet in its log."""
    why = explain(exc)
    state.log(f"error: {why.detail}")
    state.fail_step(why.detail, why.hint, why.fix)


def _client_cert(state: ProbeState, settings: pgsettings.Settings) -> tls.ClientCert | None:
    """libpq sends a client certificate only when its file exists, and so does the probe. Its
    key is loaded now, with sslpassword: one that cannot be used fails the handshake step before
    any connection, as libpq fails before its handshake."""
    if not _sends_cert(settings):
        return None
    assert settings.sslcert is not None
    password = dict(settings.extra).get("sslpassword")
    client_cert = tls.ClientCert(settings.sslcert, settings.sslkey, password, "sslpassword")
    state.enter("tls.handshake")
    tls.check_client_cert(client_cert)
    if open_to_others(client_cert.key_file):
        raise ClientKeyError(KeyProblem.OPEN_TO_OTHERS, client_cert.key_file)
    return client_cert


def open_to_others(key_file: str) -> bool:
    """libpq's rule for a client key (fe-secure-openssl.c): a regular file owned by root may
    be group-readable (0640), any other must be the owner's alone (0600); libpq refuses it
    before its handshake otherwise."""
    try:
        info = os.stat(key_file)
    except OSError:
        return False  # check_client_cert already read it: gone since, the handshake says so
    if not stat.S_ISREG(info.st_mode):
        return False
    if info.st_uid == 0:
        return bool(info.st_mode & (stat.S_IWGRP | stat.S_IXGRP | stat.S_IRWXO))
    return bool(info.st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _sends_cert(settings: pgsettings.Settings) -> bool:
    return settings.sslcert is not None and Path(settings.sslcert).is_file()


async def _open(state: ProbeState) -> tuple[asyncio.Transport, wire.Wire]:
    target = state.target
    address = target.address  # hostaddr (or #connect) when given, as libpq connects
    state.enter("connect")
    state.log(f"connect {address} port {target.port}")
    loop = asyncio.get_running_loop()
    sock = await net.connect(address, target.port)
    with net.closed_on_error(sock):
        transport, protocol = await loop.create_connection(wire.Wire, sock=sock)
    state.passed("connect", f"{address}:{target.port}")
    return transport, protocol


def _startup_as(settings: pgsettings.Settings) -> tuple[str, str]:
    """Who a startup without credentials is sent as (libpq's default user is the OS user;
    the probe's, as for pg.plaintext, is postgres) and to which database."""
    return settings.user or "postgres", settings.dbname


def _startup_for(settings: pgsettings.Settings) -> tuple[str, str] | None:
    """The startup to send inside TLS for pg.client_cert: only without a user (pg.login)."""
    return None if settings.user else _startup_as(settings)


async def _via_sslrequest(
    state: ProbeState, ctx: ssl.SSLContext, startup: tuple[str, str] | None = None
) -> tuple[Answer | None, tls.Handshake]:
    transport, protocol = await _open(state)
    try:
        state.enter("pg.sslrequest")
        transport.write(wire.SSL_REQUEST)
        state.log("C: SSLRequest 00 00 00 08 04 d2 16 2f")
        try:
            answer = await protocol.readexactly(1)
        except asyncio.IncompleteReadError:
            raise Refused(wire.no_answer(), b"") from None
        extra = bytes(protocol.buffer)  # what came with the answer (CVE-2021-23222)
        more = f" and {len(extra)} more bytes" if extra else ""
        state.log(f"S: {answer!r}{more}")
        check = wire.judge_answer(answer, extra)
        if check.status is not Status.PASS:
            raise Refused(check, answer)
        state.put(check)
        # No await between the check above and start_tls, which stops reading from the socket
        # before it yields: bytes that were not there when checked cannot have slipped in.
        state.enter("tls.handshake")
        return await _handshake(state, transport, protocol, ctx, startup)
    finally:
        transport.abort()


async def _handshake(
    state: ProbeState,
    transport: asyncio.Transport,
    protocol: wire.Wire,
    ctx: ssl.SSLContext,
    startup: tuple[str, str] | None = None,
) -> tuple[Answer | None, tls.Handshake]:
    """The handshake on an open connection, and with `startup` (user, database) the first
    answer to a StartupMessage inside the session (pg.client_cert; no password is sent)."""
    target = state.target
    state.enter("tls.handshake")
    state.log(f"TLS ClientHello (SNI {target.host if not target.is_ip else 'none'})")
    loop = asyncio.get_running_loop()
    secure = await loop.start_tls(transport, protocol, ctx, server_hostname=target.host)
    if secure is None:  # the connection went away as the handshake finished
        raise ConnectionResetError("the connection closed during the TLS handshake")
    answer = None
    try:
        handshake = tls.capture(secure.get_extra_info("ssl_object"))
        state.log(f"TLS {handshake.version} {handshake.cipher} ALPN {handshake.alpn or '-'}")
        if startup is not None:
            who, database = startup
            state.log(f"C: StartupMessage user={who} database={database} (inside TLS)")
            budget = state.remaining() * STARTUP_SHARE
            answer = await first_answer(protocol, secure, who, database, budget)
            state.log(f"S: {answer[0].decode('latin-1')} message" if answer else "S: no answer")
    finally:
        secure.abort()
    return answer, handshake


async def _sslrequest_only(state: ProbeState) -> bytes:
    """The one-byte answer to an SSLRequest on a fresh connection (b"": none came)."""
    phase = state.phase
    transport, protocol = await _open(state)
    try:
        state.enter(phase)
        transport.write(wire.SSL_REQUEST)
        state.log("C: SSLRequest 00 00 00 08 04 d2 16 2f")
        answer = await protocol.readexactly(1)
        state.log(f"S: {answer!r}")
        return answer
    except asyncio.IncompleteReadError:
        return b""
    finally:
        transport.abort()


async def _plaintext(state: ProbeState, settings: pgsettings.Settings) -> Check:
    """pg.plaintext: a plaintext StartupMessage; close at the first answer, never log in."""
    who, database = settings.user or "postgres", settings.dbname
    try:
        transport, protocol = await _open(state)
    except OSError as exc:
        return _untold(explain(exc).detail)
    try:
        state.enter("pg.plaintext")
        transport.write(wire.startup_message(who, database))
        state.log(f"C: StartupMessage user={who} database={database} (no TLS)")
        for _ in range(8):
            kind, body = await protocol.message()
            state.log(f"S: {kind.decode('latin-1')} message, {len(body)} bytes")
            if (check := wire.judge_plaintext(kind, body, repr(who))) is not None:
                return check
        return _untold("only notices came back")
    except (asyncio.IncompleteReadError, ValueError, OSError) as exc:
        reason = explain(exc).detail if isinstance(exc, OSError) else str(exc)
        if isinstance(exc, asyncio.IncompleteReadError):
            reason = "the server closed the connection"
        return _untold(reason)
    finally:
        transport.abort()


def _untold(reason: str) -> Check:
    """pg.plaintext when the plaintext startup got no verdict-worthy answer."""
    return Check("pg.plaintext", Status.WARN, f"could not tell: {reason}", wire.UNTOLD_HINT)
