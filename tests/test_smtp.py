"""Every SMTP lab case probed for real, each asserting its exact verdicts (CASES.md)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from conftest import check, probe_lab, probe_urls, statuses, with_legacy
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult

TIMEOUT = 2.0
P, W, F, S = "pass", "warn", "fail", "skip"
IDS = (
    "connect",
    "smtp.starttls",
    "tls.handshake",
    "tls.version",
    "cert.chain",
    "cert.hostname",
    "cert.expiry",
    "smtp.auth_before_tls",
    "smtp.starttls_injection",
)


def verdicts(*values: str) -> dict[str, str]:
    """Verdicts in IDS order; a tenth value is smtp.login (URLs with credentials only)."""
    return dict(zip((*IDS, "smtp.login")[: len(values)], values, strict=True))


ALL_PASS = verdicts(P, P, P, P, P, P, P, P, P)
STARTTLS_FAILED = verdicts(P, F, S, S, S, S, S, P, S)
HANDSHAKE_FAILED = verdicts(P, P, F, S, S, S, S, P, S)
NO_SESSION = verdicts(F, S, S, S, S, S, S, S, S)
EXPECTED = {
    "smtp-good": verdicts(P, P, P, P, P, P, P, P, P, P),
    "smtp-wrong-password": verdicts(P, P, P, P, P, P, P, P, P, F),
    "smtps-good": verdicts(P, S, P, P, P, P, P, S, S, P),
    "smtp-no-starttls": STARTTLS_FAILED,
    "smtp-starttls-454": STARTTLS_FAILED,
    "smtp-starttls-hang-up": HANDSHAKE_FAILED,
    "smtp-starttls-stall": HANDSHAKE_FAILED,
    "smtp-auth-before-tls": verdicts(P, P, P, P, P, P, P, F, P),
    "smtp-injection": verdicts(P, P, P, P, P, P, P, P, F),
    "smtp-split-ehlo": ALL_PASS,
    "smtp-expired": verdicts(P, P, P, P, P, P, F, P, P),
    "smtp-on-implicit-port": NO_SESSION,
    "smtps-on-starttls-port": verdicts(P, S, F, S, S, S, S, S, S),
    "smtp-tarpit": NO_SESSION,
    "smtp-silent": NO_SESSION,
}


def is_smtp(name: str) -> bool:
    return name.startswith(("smtp-", "smtps-"))


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[str, TargetResult]:
    """Probe every SMTP lab endpoint once, concurrently, trusting the lab's root."""
    return probe_lab(lab, ("smtp-", "smtps-"), TIMEOUT)


def test_every_lab_case_has_expectations(lab: Lab) -> None:
    """The table covers exactly the lab's SMTP cases, so no case goes unjudged."""
    assert {e.name for e in lab.endpoints if is_smtp(e.name)} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case_verdicts(results: dict[str, TargetResult], name: str) -> None:
    """Each SMTP lab case gets exactly the verdicts CASES.md gives it."""
    assert statuses(results[name]) == with_legacy(EXPECTED[name])


def test_good_starttls_reports_the_session(results: dict[str, TargetResult]) -> None:
    """A good STARTTLS server reports its greeting, the 220, the chain and the login."""
    good = results["smtp-good"]
    assert "220 lab.tlsprobe.test ESMTP" in check(good, "connect")[0]
    assert check(good, "smtp.starttls")[0] == "answered 220 2.0.0 Ready to start TLS"
    assert good.tls is not None
    assert len(good.tls.chain) == 2
    assert check(good, "smtp.login")[0].startswith("AUTH PLAIN as probe: 235")


def test_wrong_password_quotes_the_refusal(results: dict[str, TargetResult]) -> None:
    """A refused login quotes the server and says the TLS is fine; TLS checks still pass."""
    detail, hint = check(results["smtp-wrong-password"], "smtp.login")
    assert "535 5.7.8 Authentication credentials invalid" in detail
    assert "check the user name and password" in hint


def test_starttls_refusal_quotes_the_server(results: dict[str, TargetResult]) -> None:
    """STARTTLS answered 454 fails quoting the server's exact reply; a missing one lists EHLO."""
    detail, hint = check(results["smtp-starttls-454"], "smtp.starttls")
    assert detail == (
        "the server answered STARTTLS with 454 4.7.0 TLS not available due to local problem"
    )
    assert "certificate or key" in hint
    detail, hint = check(results["smtp-no-starttls"], "smtp.starttls")
    assert "not advertised" in detail
    assert "PIPELINING" in detail
    assert "smtpd_tls_security_level" in hint


def test_hang_up_after_220_is_named(results: dict[str, TargetResult]) -> None:
    """A server that hangs up after 220 to STARTTLS fails the handshake saying so, quickly."""
    result = results["smtp-starttls-hang-up"]
    detail, hint = check(result, "tls.handshake")
    assert detail == (
        "the server closed the connection after answering 220 to STARTTLS, instead of starting TLS"
    )
    assert "log" in hint
    assert result.elapsed_ms < 1000


@pytest.mark.parametrize(
    ("name", "check_id", "detail", "hint"),
    [
        ("smtp-silent", "connect", f"no 220 greeting within {TIMEOUT:g} s", "sends no greeting"),
        (
            "smtp-tarpit",
            "connect",
            f"the 220 greeting did not complete within {TIMEOUT:g} s: only 220- continuation "
            "lines came (a tarpit, or an overloaded server)",
            "a tarpit",
        ),
        (
            "smtp-starttls-stall",
            "tls.handshake",
            "the server answered 220 to STARTTLS, then sent no TLS ServerHello within "
            f"{TIMEOUT:g} s",
            "accepted STARTTLS but never started TLS",
        ),
    ],
)
def test_deadlines_name_the_stalled_step(
    results: dict[str, TargetResult], name: str, check_id: str, detail: str, hint: str
) -> None:
    """A stalled server fails within the deadline, naming the phase that stalled and the fix."""
    result = results[name]
    assert check(result, check_id)[0] == detail
    assert hint in check(result, check_id)[1]
    assert TIMEOUT * 1000 - 100 < result.elapsed_ms < (TIMEOUT + 1.0) * 1000


def test_tarpit_banner_is_in_the_transcript(results: dict[str, TargetResult]) -> None:
    """The tarpit's unfinished banner shows in the transcript, line by line, with the deadline."""
    transcript = results["smtp-tarpit"].transcript
    assert sum("S: 220-lab.tlsprobe.test please wait" in line for line in transcript) >= 3
    assert "deadline: the 220 greeting did not complete" in transcript[-1]


def test_smtp_on_implicit_port_says_use_smtps(results: dict[str, TargetResult]) -> None:
    """smtp:// against an implicit-TLS port fails connect fast, with the hint to use smtps://."""
    result = results["smtp-on-implicit-port"]
    detail, hint = check(result, "connect")
    assert "speaks implicit TLS" in detail
    assert hint.startswith("use smtps://")
    assert result.elapsed_ms < TIMEOUT * 1000 / 2


def test_smtps_on_starttls_port_says_use_smtp(results: dict[str, TargetResult]) -> None:
    """smtps:// against a STARTTLS port fails the handshake fast, naming the SMTP greeting."""
    result = results["smtps-on-starttls-port"]
    detail, hint = check(result, "tls.handshake")
    assert "an SMTP greeting: '220 lab.tlsprobe.test" in detail
    assert "use smtp://" in hint
    assert result.elapsed_ms < 1000


def test_injection_is_caught_and_explained(results: dict[str, TargetResult]) -> None:
    """The injection-vulnerable server fails, quoting what it answered inside TLS."""
    result = results["smtp-injection"]
    detail, hint = check(result, "smtp.starttls_injection")
    assert "CVE-2011-0411" in detail
    assert "'250-lab.tlsprobe.test greets you'" in detail
    assert "discard input buffered before the TLS handshake" in hint
    assert any(line.endswith("C: EHLO injected.invalid") for line in result.transcript)
    good_detail = check(results["smtp-good"], "smtp.starttls_injection")[0]
    assert good_detail.startswith("nothing answered inside TLS")


def test_auth_before_tls_names_the_mechanisms(results: dict[str, TargetResult]) -> None:
    """AUTH offered in plaintext fails naming the mechanisms, with the server setting to change."""
    detail, hint = check(results["smtp-auth-before-tls"], "smtp.auth_before_tls")
    assert detail.startswith("AUTH PLAIN LOGIN is offered in plaintext")
    assert "smtpd_tls_auth_only" in hint


def test_expired_certificate_over_starttls(results: dict[str, TargetResult]) -> None:
    """An expired leaf behind STARTTLS reads as expired, with its chain reported."""
    result = results["smtp-expired"]
    assert "leaf expired 3 days ago" in check(result, "cert.expiry")[0]
    assert result.tls is not None
    assert len(result.tls.chain) == 2


def test_implicit_tls_checks_not_applicable(results: dict[str, TargetResult]) -> None:
    """smtps:// skips the STARTTLS-only checks with the reason, and logs in inside TLS."""
    result = results["smtps-good"]
    for check_id in ("smtp.starttls", "smtp.auth_before_tls", "smtp.starttls_injection"):
        assert check(result, check_id)[0].startswith("not applicable: smtps://")
    assert "C: AUTH PLAIN ***" in "\n".join(result.transcript)


def test_split_ehlo_really_arrives_in_pieces(lab: Lab) -> None:
    """The split-EHLO server sends its reply in many segments, STARTTLS only in the last ones."""
    url = urlsplit(lab.url("smtp-split-ehlo"))
    with socket.create_connection(("127.0.0.1", url.port or 0), timeout=TIMEOUT) as sock:
        sock.recv(1024)
        sock.sendall(b"EHLO test\r\n")
        chunks: list[bytes] = []
        while not b"".join(chunks).endswith(b"250 STARTTLS\r\n"):
            chunk = sock.recv(1024)
            assert chunk, f"the server closed after {b''.join(chunks)!r}"
            chunks.append(chunk)
        sock.sendall(b"QUIT\r\n")
    assert len(chunks) > 5
    assert b"STARTTLS" not in chunks[0]


def test_split_ehlo_is_parsed(results: dict[str, TargetResult]) -> None:
    """The probe reassembles the split reply: every line arrives, and 250 STARTTLS is honoured."""
    transcript = results["smtp-split-ehlo"].transcript
    assert any(line.endswith("S: 250 STARTTLS") for line in transcript)
    assert any(line.endswith("S: 250-PIPELINING") for line in transcript)


def test_transcript_orders_the_dialogue(results: dict[str, TargetResult]) -> None:
    """The transcript has the dialogue in order, with timings, TLS events and AUTH redacted."""
    lines = [line.split("] ", 1)[1] for line in results["smtp-good"].transcript]
    expected = [
        "S: 220 lab.tlsprobe.test ESMTP tlsprobe lab",
        "C: EHLO [127.0.0.1]",
        "S: 250 STARTTLS",
        "C: STARTTLS",
        "S: 220 2.0.0 Ready to start TLS",
        "TLS ClientHello (SNI localhost)",
        "S: 250 AUTH PLAIN LOGIN",
        "C: AUTH PLAIN ***",
        "S: 235 2.7.0 Authentication successful",
        "C: QUIT",
    ]
    positions = [lines.index(line) for line in expected]
    assert positions == sorted(positions)
    assert all(line.startswith("[") and " ms] " in line for line in results["smtp-good"].transcript)


def test_login_only_with_credentials(results: dict[str, TargetResult]) -> None:
    """smtp.login appears only for URLs that carry credentials."""
    assert results["smtp-good"].check("smtp.login") is not None
    assert results["smtp-split-ehlo"].check("smtp.login") is None


def test_without_lab_root_the_chain_fails(lab: Lab) -> None:
    """Without --ca-file the good STARTTLS chain is untrusted: the session goes on without
    verification, and the login is skipped (no password to an unverified server)."""
    (result,) = probe_urls([lab.url("smtp-good")], Policy(timeout=TIMEOUT))
    assert statuses(result)["cert.chain"] == F
    assert statuses(result)["smtp.login"] == S
    assert check(result, "smtp.login")[0] == (
        "not run: credentials withheld: the certificate chain did not verify"
    )
    assert "--- session 2: without verification" in "\n".join(result.transcript)


def test_probes_end_fast(results: dict[str, TargetResult]) -> None:
    """Every case that does not stall ends well inside the deadline."""
    stalling = {"smtp-silent", "smtp-tarpit", "smtp-starttls-stall"}
    others = {n: r.elapsed_ms for n, r in results.items() if n not in stalling}
    assert max(others.values()) < TIMEOUT * 1000 / 2, others
