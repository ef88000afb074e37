"""Every HTTPS lab case probed for real, each asserting its exact verdicts (CASES.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from conftest import (
    detail,
    hint,
    https_verdicts,
    probe_lab,
    probe_targets,
    probe_urls,
    statuses,
    with_legacy,
)
from tlsprobe import tls
from tlsprobe.lab import Lab
from tlsprobe.lab.https import CLIENT_IDENTITY
from tlsprobe.model import MinTls, Policy, TargetResult
from tlsprobe.targets import parse_target

TIMEOUT = 2.0
P, W, F, S = "pass", "warn", "fail", "skip"
verdicts = https_verdicts


ALL_PASS = verdicts(P, P, P, P, P, P, P, P)
EXPECTED = {
    "https-good": ALL_PASS,
    "https-expired": verdicts(P, P, P, P, P, F, P, P),
    "https-not-yet-valid": verdicts(P, P, P, P, P, F, P, P),
    "https-expiring-soon": verdicts(P, P, P, P, P, W, P, P),
    "https-wrong-host": verdicts(P, P, P, P, F, P, P, P),
    "https-wildcard-too-deep": verdicts(P, P, P, P, F, P, P, P),
    "https-cn-only": verdicts(P, P, P, P, W, P, P, P),  # httpx and curl accept, browsers not
    "https-self-signed": verdicts(P, P, P, F, P, P, P, P),
    "https-untrusted-root": verdicts(P, P, P, F, P, P, P, P),
    "https-expired-root": verdicts(P, P, P, P, P, F, P, P),
    "https-incomplete-chain": verdicts(P, P, P, F, P, P, P, P),
    "https-rsa1024": verdicts(P, P, P, F, P, P, P, P),
    "https-sha1": verdicts(P, P, P, F, P, P, P, P),
    "https-tls10-only": verdicts(P, P, F, P, P, P, P, P),
    "https-tls12-only": ALL_PASS,
    "https-tls13-only": ALL_PASS,
    "https-h2": ALL_PASS,
    "https-no-hsts": verdicts(P, P, P, P, P, P, P, W),
    "https-503": verdicts(P, P, P, P, P, P, F, P),
    "https-404": verdicts(P, P, P, P, P, P, F, P),
    "https-redirect-to-http": verdicts(P, P, P, P, P, P, F, P),
    # TLS 1.3 refuses after the client's Finished, so the chain is judged; TLS 1.2 refuses
    # inside the handshake. Either way the handshake fails (CASES.md: no session established).
    "https-client-cert-required": verdicts(P, F, P, P, P, P, S, S),
    "https-client-cert-required-tls12": verdicts(P, F, S, S, S, S, S, S),
    # lab/clientcert.py (issue 12): a 400 for want of a client certificate, and the
    # handshake_failure that is not about one (tests/test_client_model.py has their words).
    "https-verify-client-on": verdicts(P, P, P, P, P, P, F, P),
    "https-verify-client-on-tls12": verdicts(P, P, P, P, P, P, F, P),
    "https-no-shared-cipher-tls12": verdicts(P, F, S, S, S, S, S, S),
    # Resets the diagnostic handshake (tests/test_clientcert_diagnostic.py has its words).
    "https-client-cert-diagnostic-reset": verdicts(P, F, S, S, S, S, S, S),
    "https-unknown-sni": verdicts(P, F, S, S, S, S, S, S),
    "https-plaintext": verdicts(P, F, S, S, S, S, S, S),
    "https-silent": verdicts(P, F, S, S, S, S, S, S),
    # The handshake completes, then the request gets no answer: TLS is still judged.
    "https-stalled-backend": verdicts(P, P, P, P, P, P, F, S),
    "https-close": verdicts(P, F, S, S, S, S, S, S),
    "https-garbage": verdicts(P, F, S, S, S, S, S, S),
}


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[str, TargetResult]:
    """Probe every HTTPS lab endpoint once, concurrently, trusting the lab's root."""
    return probe_lab(lab, ("https-",), TIMEOUT)


def test_every_lab_case_has_expectations(lab: Lab) -> None:
    """The table below covers exactly the lab's HTTPS cases, so no case goes unjudged (the
    https-chain-* cases have their own table, in test_chains.py)."""
    names = {e.name for e in lab.endpoints if e.name.startswith("https-")}
    assert {n for n in names if not n.startswith("https-chain-")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case_verdicts(results: dict[str, TargetResult], name: str) -> None:
    """Each lab case gets exactly the verdicts CASES.md gives it."""
    assert statuses(results[name]) == with_legacy(EXPECTED[name])


def test_good_reports_chain_and_version(results: dict[str, TargetResult]) -> None:
    """A good server reports its version, the leaf and intermediate it sent, and the root."""
    good = results["https-good"]
    assert good.tls is not None
    assert good.tls.version == "TLSv1.3"
    assert len(good.tls.chain) == 2
    assert "localhost" in good.tls.chain[0].san
    assert detail(good, "cert.chain").startswith("verified to the trusted root")


def test_expired_reads_as_expired_with_chain(results: dict[str, TargetResult]) -> None:
    """An expired leaf reads as expired (not as a failed connection) and its chain is kept."""
    expired = results["https-expired"]
    assert "leaf expired 3 days ago" in detail(expired, "cert.expiry")
    assert expired.tls is not None
    assert len(expired.tls.chain) == 2


def test_expired_trusted_root_fails_expiry(results: dict[str, TargetResult]) -> None:
    """A trusted root past its date fails cert.expiry by name, though the server never sends
    it; the chain itself still verifies (dates are cert.expiry's to judge)."""
    expired_root = results["https-expired-root"]
    assert "root CN=tlsprobe lab expired root expired 2 days ago" in detail(
        expired_root, "cert.expiry"
    )
    assert expired_root.tls is not None
    assert len(expired_root.tls.chain) == 1


def test_not_yet_valid_and_expiring_soon_details(results: dict[str, TargetResult]) -> None:
    """Not-yet-valid and expiring-soon leaves say when, in days."""
    assert "is not valid until" in detail(results["https-not-yet-valid"], "cert.expiry")
    assert "leaf expires in 5 days" in detail(results["https-expiring-soon"], "cert.expiry")


def test_hostname_failures_name_the_certificate(results: dict[str, TargetResult]) -> None:
    """Wrong host, a too-deep wildcard and a CN-only certificate each say what is wrong."""
    assert "wrong.example" in detail(results["https-wrong-host"], "cert.hostname")
    assert "exactly one label" in detail(results["https-wildcard-too-deep"], "cert.hostname")
    assert "in no subjectAltName" in detail(results["https-cn-only"], "cert.hostname")


def test_chain_failures_say_why(results: dict[str, TargetResult]) -> None:
    """Self-signed, unknown root, missing intermediate, weak key and SHA-1 are each named."""
    assert "self-signed" in detail(results["https-self-signed"], "cert.chain")
    assert "not a trusted root" in detail(results["https-untrusted-root"], "cert.chain")
    incomplete = results["https-incomplete-chain"]
    assert "the server does not send its intermediate" in hint(incomplete, "cert.chain")
    assert incomplete.tls is not None
    assert len(incomplete.tls.chain) == 1
    assert "weak key RSA-1024" in detail(results["https-rsa1024"], "cert.chain")
    assert "weak signature" in detail(results["https-sha1"], "cert.chain")


def test_legacy_server_names_what_it_offers(results: dict[str, TargetResult]) -> None:
    """A TLS 1.0/1.1-only server fails tls.version naming the best version it offers."""
    legacy = results["https-tls10-only"]
    assert "offers at best TLSv1.1" in detail(legacy, "tls.version")
    assert "permissive client" in detail(legacy, "tls.handshake")


def test_version_only_servers_report_their_version(results: dict[str, TargetResult]) -> None:
    """TLS 1.2-only and TLS 1.3-only servers pass, each reporting what it negotiated."""
    assert detail(results["https-tls12-only"], "tls.version") == "TLSv1.2"
    assert detail(results["https-tls13-only"], "tls.version") == "TLSv1.3"


def test_min_tls_13_fails_a_tls12_server(lab: Lab) -> None:
    """With --min-tls 1.3 the TLS 1.2-only server fails tls.version and the 1.3 one passes."""
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file, min_tls=MinTls.TLS13)
    old, new = probe_urls([lab.url("https-tls12-only"), lab.url("https-tls13-only")], policy)
    assert statuses(old)["tls.version"] == F
    assert statuses(new)["tls.version"] == P


def test_http2_is_recorded(results: dict[str, TargetResult]) -> None:
    """A server that offers h2 is spoken to in HTTP/2, and HTTP/1.1 servers are not."""
    assert dict(results["https-h2"].facts)["http_version"] == "HTTP/2"
    assert dict(results["https-good"].facts)["http_version"] == "HTTP/1.1"


def test_status_failures(results: dict[str, TargetResult]) -> None:
    """5xx, 4xx and a redirect to plaintext http:// fail http.status with the reason."""
    assert "503" in detail(results["https-503"], "http.status")
    assert "404" in detail(results["https-404"], "http.status")
    assert "redirects to plaintext http://" in detail(
        results["https-redirect-to-http"], "http.status"
    )


def test_expect_status_option(lab: Lab) -> None:
    """#expect_status turns a 503 into a pass and a 200 into a fail."""
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file)
    unhealthy, healthy = probe_urls(
        [lab.url("https-503") + "#expect_status=503", lab.url("https-good") + "#expect_status=204"],
        policy,
    )
    assert statuses(unhealthy)["http.status"] == P
    assert statuses(healthy)["http.status"] == F


def test_non_tls_servers_are_named(results: dict[str, TargetResult]) -> None:
    """Plaintext HTTP, a closing server and garbage each fail the handshake with what was seen."""
    assert "plaintext HTTP" in detail(results["https-plaintext"], "tls.handshake")
    assert "closed the connection" in detail(results["https-close"], "tls.handshake")
    assert "non-TLS bytes" in detail(results["https-garbage"], "tls.handshake")


def test_silent_server_ends_within_deadline(results: dict[str, TargetResult]) -> None:
    """A server that accepts and never answers fails within the deadline, naming the phase."""
    silent = results["https-silent"]
    assert detail(silent, "tls.handshake") == f"no TLS ServerHello within {TIMEOUT:g} s"
    assert silent.elapsed_ms < (TIMEOUT + 1.0) * 1000


def test_stalled_backend_keeps_its_tls_verdicts(results: dict[str, TargetResult]) -> None:
    """A server that completes TLS and never answers the request fails http.status within the
    deadline, naming the stall, while the handshake and certificate verdicts stand (the twin of
    https-silent, which stalls before TLS and has none)."""
    stalled = results["https-stalled-backend"]
    assert detail(stalled, "http.status") == f"no HTTP response within {TIMEOUT:g} s"
    check = stalled.check("http.status")
    assert check is not None
    assert check.hint.startswith("the request was sent but no response came")
    assert detail(stalled, "cert.chain").startswith("verified to the trusted root")
    assert stalled.tls is not None
    assert stalled.elapsed_ms < TIMEOUT * 1000


def test_without_lab_root_every_chain_fails(lab: Lab) -> None:
    """Without --ca-file the good lab server's chain is untrusted: trust really comes from it."""
    (result,) = probe_urls([lab.url("https-good")], Policy(timeout=TIMEOUT))
    assert statuses(result)["cert.chain"] == F
    assert statuses(result)["cert.hostname"] == P


def with_client_cert(lab: Lab, url: str) -> TargetResult:
    """Probe `url` presenting the lab's client certificate (leaf + intermediate) and key."""
    target = dataclasses.replace(
        parse_target(url),
        client_cert=str(lab.ca_file.with_name(f"{CLIENT_IDENTITY}.pem")),
        client_key=str(lab.ca_file.with_name(f"{CLIENT_IDENTITY}.key")),
    )
    (result,) = probe_targets([target], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    return result


def test_client_cert_required_fails_the_handshake(results: dict[str, TargetResult]) -> None:
    """Without a client certificate the TLS 1.3 server fails tls.handshake (not http.status),
    saying a client certificate is required, and its chain is still reported."""
    refused = results["https-client-cert-required"]
    assert detail(refused, "tls.handshake") == "the server requires a client certificate"
    assert "client certificate" in hint(refused, "tls.handshake")
    assert detail(refused, "http.status") == "not run: tls.handshake failed"
    assert refused.tls is not None
    assert len(refused.tls.chain) == 2
    old = results["https-client-cert-required-tls12"]
    assert detail(old, "tls.handshake") == (
        "the server asked for a client certificate (CertificateRequest), then aborted the "
        "handshake when none came (handshake_failure alert)"
    )


@pytest.mark.parametrize("name", ["https-client-cert-required", "https-client-cert-required-tls12"])
def test_client_cert_given_passes(lab: Lab, name: str) -> None:
    """The good twin: the same servers pass every check when the client presents its certificate."""
    assert statuses(with_client_cert(lab, lab.url(name))) == with_legacy(ALL_PASS)


def test_unknown_sni_is_named(results: dict[str, TargetResult]) -> None:
    """A server that does not know the SNI name fails tls.handshake saying so."""
    unknown = results["https-unknown-sni"]
    assert detail(unknown, "tls.handshake") == "the server does not know the host name sent in SNI"
    assert "host name in the URL" in hint(unknown, "tls.handshake")


def test_known_sni_passes(lab: Lab) -> None:
    """The good twin: the same server asked for the name it knows passes every check."""
    url = lab.url("https-unknown-sni").replace("other.lab.test", "localhost")
    (result,) = probe_urls([url], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    assert statuses(result) == with_legacy(ALL_PASS)


def test_judge_crash_is_blamed_on_the_certificates(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash inside the TLS judge fails cert.chain, not http.status (no server makes the
    judge crash, so the judge is replaced)."""

    def crash(*args: Any, **kwargs: Any) -> list[Any]:
        raise ValueError("judge bug")

    monkeypatch.setattr(tls, "judge", crash)
    (result,) = probe_urls([lab.url("https-good")], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    assert statuses(result) == with_legacy(verdicts(P, P, S, F, S, S, S, S))
    assert detail(result, "cert.chain") == "unexpected error: ValueError: judge bug"
    assert detail(result, "http.status") == "not run: cert.chain failed"


def test_plain_http_endless_body_passes(lab: Lab) -> None:
    """http:// to a server that answers 200 and never ends its body passes http.status at once:
    the verdict reads the status line, not the body."""
    (result,) = probe_urls([lab.url("http-endless-body")], Policy(timeout=TIMEOUT))
    assert statuses(result) == {"connect": P, "http.status": P, "client.encryption": F}
    assert detail(result, "http.status") == "HTTP/1.1 200 OK"
    assert result.elapsed_ms < TIMEOUT * 1000 / 2


def test_plain_http_silent_server_fails(lab: Lab) -> None:
    """The bad twin: http:// to a silent server fails http.status within the deadline."""
    url = lab.url("https-silent").replace("https://", "http://")
    (result,) = probe_urls([url], Policy(timeout=TIMEOUT))
    assert statuses(result) == {"connect": P, "http.status": F, "client.encryption": F}
    assert detail(result, "http.status") == f"no HTTP response within {TIMEOUT:g} s"
    assert result.elapsed_ms < (TIMEOUT + 1.0) * 1000
