"""The HTTPS probe: one GET with httpx, the real client, judged by the shared TLS judge."""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from tlsprobe import __version__, tls
from tlsprobe.errors import Explained, explain
from tlsprobe.model import Check, Status, TargetResult
from tlsprobe.probes.base import ProbeState, run_probe
from tlsprobe.targets import Target

IDS = (
    "connect",
    "tls.handshake",
    "tls.version",
    "cert.chain",
    "cert.hostname",
    "cert.expiry",
    "http.status",
    "http.hsts",
)
ALPN = ("h2", "http/1.1")
USER_AGENT = f"tlsprobe/{__version__}"


@dataclass(frozen=True)
class HttpAnswer:
    http_version: str
    status: int
    reason: str
    location: str | None
    hsts: str | None


PLAIN_IDS = ("connect", "http.status")


async def probe(target: Target, policy: Any) -> TargetResult:
    return await run_probe(target, policy, IDS, _body)


async def probe_plain(target: Target, policy: Any) -> TargetResult:
    """http:// (an Airflow web server without TLS, say): client.encryption fails; the server is
    still asked, so the report shows whether it is up."""
    return await run_probe(target, policy, PLAIN_IDS, _plain_body)


async def _plain_body(state: ProbeState) -> None:
    target = state.target

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            state.passed("connect", f"{target.address}:{target.port}")
            state.enter("http.status")

    url = httpx.URL(target.url).copy_with(host=target.address, fragment=None)
    headers = {"User-Agent": USER_AGENT, "Host": _host_header(target)}
    # client.stream, not client.get: the verdict needs the status line, not the body, which
    # may be large or never end (a log tail, an event stream).
    async with (
        httpx.AsyncClient(timeout=state.policy.timeout + 1, trust_env=False) as client,
        client.stream("GET", url, headers=headers, extensions={"trace": trace}) as response,
    ):
        state.log(f"S: {response.http_version} {response.status_code} {response.reason_phrase}")
        answer = HttpAnswer(
            response.http_version,
            response.status_code,
            response.reason_phrase,
            None,  # a redirect to http:// is no downgrade from http://
            None,
        )
    state.put(status_check(answer, target.expect_status))


async def _body(state: ProbeState) -> None:
    target = state.target

    async def attempt(ctx: ssl.SSLContext) -> tuple[HttpAnswer | Explained, tls.Handshake]:
        return await _get(state, ctx)

    client_cert = (target.client_cert, target.client_key) if target.client_cert else None
    negotiated = await tls.negotiate(attempt, state.policy.ca_file, ALPN, client_cert)
    state.put(tls.handshake_check(negotiated))
    # The judge reads the certificates: a crash in it is the certificates' step, not HTTP's.
    state.enter("cert.chain")
    state.tls = tls.tls_info(negotiated.handshake)
    for check in tls.judge(negotiated, target.host, state.policy):
        state.put(check)
    answer = negotiated.session
    if isinstance(answer, Explained):
        # A TLS alert after the client's Finished is the server refusing the session (TLS 1.3
        # sends "certificate required" only then): the handshake failed, as it does in TLS 1.2.
        state.enter("tls.handshake" if answer.kind.startswith("tls") else "http.status")
        state.fail_step(answer.detail, answer.hint)
        return
    state.facts["http_version"] = answer.http_version
    state.put(status_check(answer, target.expect_status))
    state.put(hsts_check(answer.hsts))


async def _get(
    state: ProbeState, ctx: ssl.SSLContext
) -> tuple[HttpAnswer | Explained, tls.Handshake]:
    """One GET with `ctx`; the trace hook names the step under way and captures the handshake.
    Once the handshake is done, an HTTP failure is returned, so the TLS verdicts still stand."""
    target = state.target
    captured: list[tls.Handshake] = []
    opened: list[Any] = []
    state.enter("connect")

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            opened.append(info["return_value"])
        _on_trace(state, event, info, captured)

    url = httpx.URL(target.url).copy_with(host=target.address, fragment=None)
    headers = {"User-Agent": USER_AGENT, "Host": _host_header(target)}
    extensions = {"trace": trace, "sni_hostname": target.host}
    timeout = httpx.Timeout(state.policy.timeout + 1)  # the probe's own deadline comes first
    try:
        async with (
            httpx.AsyncClient(verify=ctx, http2=True, timeout=timeout, trust_env=False) as client,
            client.stream("GET", url, headers=headers, extensions=extensions) as response,
        ):
            state.log(f"S: {response.http_version} {response.status_code} {response.reason_phrase}")
            answer: HttpAnswer | Explained = HttpAnswer(
                http_version=response.http_version,
                status=response.status_code,
                reason=response.reason_phrase,
                location=response.headers.get("location"),
                hsts=response.headers.get("strict-transport-security"),
            )
    except Exception as exc:
        if not captured:
            raise
        answer = explain(exc)
        state.log(f"error: {answer.detail}")
    except BaseException:
        # httpcore closes the socket only on an Exception during start_tls: when the deadline
        # cancels a stalled handshake the socket would leak, so close it here.
        for stream in opened:
            with contextlib.suppress(Exception):
                await stream.aclose()
        raise
    return answer, captured[0]


def _on_trace(
    state: ProbeState, event: str, info: dict[str, Any], captured: list[tls.Handshake]
) -> None:
    target = state.target
    if event == "connection.connect_tcp.started":
        state.enter("connect")
        state.log(f"connect {target.address} port {target.port}")
    elif event == "connection.start_tls.started":
        state.passed("connect", f"{target.address}:{target.port}")
        state.enter("tls.handshake")
        state.log(f"TLS ClientHello (SNI {target.host if not target.is_ip else 'none'})")
    elif event == "connection.start_tls.complete":
        ssl_object = info["return_value"].get_extra_info("ssl_object")
        handshake = tls.capture(ssl_object)
        captured.append(handshake)
        state.log(f"TLS {handshake.version} {handshake.cipher} ALPN {handshake.alpn or '-'}")
        state.enter("http.status")
    elif event.endswith("send_request_headers.started"):
        state.log(f"C: GET {target.path}")


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 80 if target.protocol == "http" else 443
    return host if target.port == default else f"{host}:{target.port}"


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
