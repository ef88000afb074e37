"""The HTTPS probe: one GET through httpcore (httpx's engine), judged by the shared TLS judge."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl

from tlsprobe import tls
from tlsprobe.failures import Explained, Kind, explain
from tlsprobe.model import Check, Fix, Policy, Status, TargetResult
from tlsprobe.probes import legacy, revocation
from tlsprobe.probes.base import TLS_CHECK_IDS, ProbeState, run_probe, stalled, step_for
from tlsprobe.probes.https import clientcert, httpget
from tlsprobe.probes.https.httpget import HttpAnswer
from tlsprobe.targets import Target

IDS = ("connect", *TLS_CHECK_IDS, "tls.legacy", "http.status", "http.hsts")
ALPN = ("h2", "http/1.1")
JUDGE_RESERVE_S = 0.25  # of the deadline, kept for judging the handshake after an HTTP stall
# tls.legacy's hint: where an HTTPS server (or the proxy in front of it) turns versions off.
LEGACY_SETTING = (
    "turn them off: nginx ssl_protocols {allowed}; (Apache SSLProtocol, or the setting of the "
    "proxy or load balancer that ends TLS)"
)


PLAIN_IDS = ("connect", "http.status")


async def probe(target: Target, policy: Policy) -> TargetResult:
    body = legacy.alongside(_body, legacy.first_byte_hello, LEGACY_SETTING)
    body = revocation.alongside(body, revocation.first_byte)
    return await run_probe(target, policy, IDS, body)


async def probe_plain(target: Target, policy: Policy) -> TargetResult:
    """http:// (an Airflow web server without TLS, say): client.encryption fails; the server is
    still asked, so the report shows whether it is up."""
    return await run_probe(target, policy, PLAIN_IDS, _plain_body)


async def _plain_body(state: ProbeState) -> None:
    target = state.target
    state.log(f"connect {target.address} port {target.port}")
    stream = await httpget.connect(target)
    try:
        state.passed("connect", f"{target.address}:{target.port}")
        state.enter("http.status")
        if target.user is not None:
            state.log("credentials in the URL withheld: plaintext HTTP would show them to all")
        state.log(f"C: GET {target.path}")
        answer = await httpget.exchange(stream, target, credentials=False)
    finally:
        await stream.aclose()
    state.log(f"S: {answer.http_version} {answer.status} {answer.reason}")
    # A redirect to http:// is no downgrade from http://.
    answer = dataclasses.replace(answer, location=None, hsts=None)
    state.put(status_check(answer, target.expect_status))


async def _body(state: ProbeState) -> None:
    target = state.target

    async def attempt(ctx: ssl.SSLContext) -> tuple[HttpAnswer | Explained, tls.Handshake]:
        return await _get(state, ctx)

    client_cert = _client_cert(state)
    try:
        negotiated = await tls.negotiate(
            attempt, state.added_roots, ALPN, client_cert, roots=state.handshake_roots()
        )
    except Exception as exc:
        if client_cert is None and clientcert.is_handshake_failure(exc):
            # handshake_failure says "no client certificate" as often as "no common cipher".
            asked = await clientcert.asks_for_client_cert(target, state.remaining())
            if asked is None:
                # The diagnostic told nothing: the original error stands, unexplained further.
                state.log(f"diagnostic handshake: {clientcert.UNTOLD}")
                raise
            detail, hint = clientcert.handshake_failure(asked)
            state.log(f"diagnostic handshake: {detail}")
            state.fail_step(detail, hint, Fix.CLIENT_CERT if asked else "")
            return
        raise
    # The judge reads the certificates: a crash in it is the certificates' step, not HTTP's.
    state.enter("cert.chain")
    state.record_tls(negotiated)
    answer = negotiated.session
    if isinstance(answer, Explained):
        # A TLS alert after the client's Finished is the server refusing the session (TLS 1.3
        # sends "certificate required" only then): the handshake failed, as it does in TLS 1.2.
        state.enter("tls.handshake" if answer.kind.is_tls else "http.status")
        state.fail_step(answer.detail, answer.hint, answer.fix)
        return
    state.facts["http_version"] = answer.http_version
    status = status_check(answer, target.expect_status)
    if status.status is Status.FAIL and answer.status == 400 and client_cert is None:
        status = await _without_client_cert(state, status)
    state.put(status)
    state.put(hsts_check(answer.hsts))


async def _without_client_cert(state: ProbeState, status: Check) -> Check:
    """A 400 from a server that asks for a client certificate is about the certificate
    (nginx ssl_verify_client on), not the URL path."""
    if not await clientcert.asks_for_client_cert(state.target, state.remaining()):
        return status  # no, or not known: the 400 is told as it came
    state.log("diagnostic handshake: the server asks for a client certificate")
    detail = (
        f"{status.detail}: the server asks for a client certificate and none was sent "
        '(nginx ssl_verify_client on answers so: "No required SSL certificate was sent")'
    )
    return Check("http.status", Status.FAIL, detail, clientcert.NEEDS_CERT_HINT, Fix.CLIENT_CERT)


def _client_cert(state: ProbeState) -> tls.ClientCert | None:
    """The target's client certificate, loaded now: one that cannot be used (an encrypted key
    without its password, a missing file) fails the handshake step before any connection."""
    target = state.target
    if not target.client_cert:
        return None
    client_cert = tls.ClientCert(
        target.client_cert,
        target.client_key,
        target.client_key_password,
        setting="client_key_password_env",
    )
    state.enter("tls.handshake")
    tls.check_client_cert(client_cert)
    return client_cert


async def _get(
    state: ProbeState, ctx: ssl.SSLContext
) -> tuple[HttpAnswer | Explained, tls.Handshake]:
    """One GET with `ctx`, naming each step as it starts. Once the handshake is done, an HTTP
    failure is returned, so the TLS verdicts still stand."""
    target = state.target
    state.enter("connect")
    state.log(f"connect {target.address} port {target.port}")
    stream = await httpget.connect(target)  # under the probe's deadline alone
    # Closed on every way out, the deadline's cancellation included.
    try:
        state.passed("connect", f"{target.address}:{target.port}")
        state.enter("tls.handshake")
        state.log(f"TLS ClientHello (SNI {target.host if not target.is_ip else 'none'})")
        stream = await stream.start_tls(ctx, server_hostname=target.host)
        handshake = tls.capture(stream.get_extra_info("ssl_object"))
        state.log(f"TLS {handshake.version} {handshake.cipher} ALPN {handshake.alpn or '-'}")
        state.enter("http.status")
        credentials = target.user is not None and _may_send_credentials(ctx, handshake, state)
        state.log(f"C: GET {target.path}" + (" with Basic credentials" if credentials else ""))
        try:
            async with asyncio.timeout(_answer_budget(state)):
                got = await httpget.exchange(stream, target, credentials=credentials)
        except TimeoutError:
            stall, hint = stalled(step_for("http.status"), state.policy.timeout)
            state.log(f"deadline: {stall}")
            return Explained(Kind.TIMEOUT, stall, hint), handshake
        except Exception as exc:
            failed = explain(exc)
            state.log(f"error: {failed.detail}")
            return failed, handshake
    finally:
        await stream.aclose()
    state.log(f"S: {got.http_version} {got.status} {got.reason}")
    return got, handshake


def _answer_budget(state: ProbeState) -> float:
    """The time left for the HTTP answer: the probe's deadline less a moment to judge the
    handshake, so a server that completes TLS and then hangs (a stalled backend behind a TLS
    terminator) still gets its TLS and certificate verdicts."""
    return max(0.0, state.remaining() - min(JUDGE_RESERVE_S, state.policy.timeout / 10))


def _may_send_credentials(ctx: ssl.SSLContext, handshake: tls.Handshake, state: ProbeState) -> bool:
    """Only where a default client would send them (tls.credentials_withheld says why not)."""
    why = tls.credentials_withheld(ctx, handshake, state.target.host)
    if why is not None:
        state.log(f"credentials in the URL withheld: {why}")
    return why is None


def status_check(answer: HttpAnswer, expected: tuple[range, ...]) -> Check:
    """http.status: the expected status (default: below 400); a redirect to http:// fails."""
    seen = f"{answer.http_version} {answer.status} {answer.reason}".strip()
    if expected:
        if any(answer.status in r for r in expected):
            return Check("http.status", Status.PASS, seen)
        wanted = ", ".join(_range_text(r) for r in expected)
        hint = "check the URL path, or the statuses #expect_status names"
        return Check("http.status", Status.FAIL, f"{seen}, expected {wanted}", hint)
    location = answer.location or ""
    if 300 <= answer.status < 400 and location.lower().startswith("http://"):
        return Check(
            "http.status",
            Status.FAIL,
            f"{seen} redirects to plaintext {location}",
            "redirect to an https:// URL: this redirect sends the next request unencrypted",
        )
    if answer.status >= 400:
        hint = "the server is up but unhealthy" if answer.status >= 500 else "check the URL path"
        return Check("http.status", Status.FAIL, seen, hint + " (or set #expect_status)")
    return Check("http.status", Status.PASS, seen)


def _range_text(r: range) -> str:
    return str(r.start) if len(r) == 1 else f"{r.start}-{r.stop - 1}"


def hsts_check(value: str | None) -> Check:
    """http.hsts: warn when Strict-Transport-Security is absent or disabled by max-age=0."""
    hint = "send Strict-Transport-Security: max-age=31536000 on HTTPS responses"
    if value is None:
        return Check("http.hsts", Status.WARN, "no Strict-Transport-Security header", hint)
    directives = {p.strip().split("=")[0].lower(): p.strip() for p in value.split(";")}
    max_age = directives.get("max-age", "").partition("=")[2].strip('"')
    if max_age in ("", "0"):
        return Check("http.hsts", Status.WARN, f"Strict-Transport-Security: {value}", hint)
    return Check("http.hsts", Status.PASS, f"max-age={max_age}")
