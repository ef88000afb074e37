"""Every PostgreSQL lab case (real clusters and raw fakes) probed for real, with its exact
verdicts (CASES.md)."""

from __future__ import annotations

import pytest

from conftest import check, probe_lab, statuses, with_legacy
from tlsprobe.lab import Lab
from tlsprobe.model import TargetResult

TIMEOUT = 2.0
P, W, F, S = "pass", "warn", "fail", "skip"
IDS = (
    "connect",
    "pg.sslrequest",
    "tls.handshake",
    "tls.version",
    "cert.chain",
    "cert.hostname",
    "cert.expiry",
    "pg.plaintext",
)


def verdicts(
    *values: str, login: str | None = None, client: str = P, client_cert: str = P
) -> dict[str, str]:
    """The verdicts of one case; pg.client_cert is judged only without a user (no login)."""
    expected = dict(zip(IDS, values, strict=True))
    if login is not None:
        expected["pg.login"] = login
    else:
        expected["pg.client_cert"] = client_cert
    return expected | {"client.encryption": client}


ALL_PASS = verdicts(P, P, P, P, P, P, P, P)
NOT_POSTGRES = verdicts(P, F, S, S, S, S, S, S, client_cert=S)
SSL_OFF = (P, F, S, S, S, S, S, W)
EXPECTED = {
    "pg-good": ALL_PASS,
    "pg-host-rules": verdicts(P, P, P, P, P, P, P, W),
    "pg-ssl-off": verdicts(*SSL_OFF, client_cert=S),
    "pg-tls13-only": ALL_PASS,
    "pg-expired": verdicts(P, P, P, P, P, P, F, P),
    "pg-wrong-host": verdicts(P, P, P, P, P, F, P, P),
    "pg-self-signed": verdicts(P, P, P, P, F, P, P, P),
    "pg-login": verdicts(P, P, P, P, P, P, P, P, login=P),
    "pg-login-wrong-password": verdicts(P, P, P, P, P, P, P, P, login=F),
    "pg-login-ssl-off": verdicts(*SSL_OFF, login=F, client=W),
    # clientcert=verify-ca: the handshake completes without a client certificate, and the
    # startup inside TLS is refused (pg.client_cert), as libpq is at every sslmode.
    "pg-client-cert": verdicts(P, P, P, P, P, P, P, P, client_cert=F),
    "pg-login-client-cert-required": verdicts(P, P, P, P, P, P, P, P, login=F),
    "pg-direct": verdicts(P, P, F, S, S, S, S, S, client_cert=S),
    # The client model (issue 12): libpq's CN fallback, its sslrootcert, channel binding and
    # clientcert=verify-full (tests/test_client_model.py has their words).
    "pg-cn-only": verdicts(P, P, P, P, P, W, P, P),
    "pg-login-cn-only": verdicts(P, P, P, P, P, W, P, P, login=P),
    "pg-private-root": verdicts(P, P, P, P, F, P, P, P),
    "pg-login-private-root": verdicts(P, P, P, P, P, P, P, P, login=P),
    "pg-trust-auth": ALL_PASS,
    "pg-password-auth": ALL_PASS,
    "pg-client-cert-full": verdicts(P, P, P, P, P, P, P, P, client_cert=F),
    "pg-cert-auth": verdicts(P, P, P, P, P, P, P, P, client_cert=F),
    "pg-login-channel-binding": verdicts(P, P, P, P, P, P, P, P, login=P),
    "pg-login-channel-binding-trust": verdicts(P, P, P, P, P, P, P, P, login=F),
    "pg-login-channel-binding-password": verdicts(P, P, P, P, P, P, P, P, login=F),
    "pg-login-channel-binding-no-tls": verdicts(P, P, P, P, P, P, P, W, login=F, client=F),
    "pg-login-client-cert-full": verdicts(P, P, P, P, P, P, P, P, login=F),
    "pg-answers-e": NOT_POSTGRES,
    "pg-garbage": NOT_POSTGRES,
    "pg-silent": NOT_POSTGRES,
    "pg-cve-2021-23222": NOT_POSTGRES,
}
FAKES = ("pg-answers-e", "pg-garbage", "pg-silent", "pg-cve-2021-23222")


def pg_names(lab: Lab) -> list[str]:
    return [e.name for e in lab.endpoints if e.name.startswith("pg-")]


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[str, TargetResult]:
    """Probe every PostgreSQL lab endpoint once, concurrently, trusting the lab's root."""
    if lab.clusters is not None and lab.clusters.note:
        # Without PostgreSQL's binaries these tests cannot judge anything: a failure that says
        # why, never a skip that reads as green (in CI the lab itself refuses to start).
        pytest.fail(f"the PostgreSQL lab clusters did not start: {lab.clusters.note}")
    return probe_lab(lab, ("pg-",), TIMEOUT)


def test_every_lab_case_has_expectations(lab: Lab, results: dict[str, TargetResult]) -> None:
    """The table covers exactly the lab's PostgreSQL endpoints, so none goes unjudged."""
    assert set(pg_names(lab)) == set(EXPECTED)


def test_clusters_start_quickly(lab: Lab, results: dict[str, TargetResult]) -> None:
    """All the clusters (initdb once, copies started concurrently) are up within 15 s."""
    assert lab.clusters is not None
    assert 0 < lab.clusters.startup_s < 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case_verdicts(results: dict[str, TargetResult], name: str) -> None:
    """Each PostgreSQL lab case gets exactly the verdicts CASES.md gives it."""
    assert statuses(results[name]) == with_legacy(EXPECTED[name])


def test_good_server_reports_tls_and_sslmodes(results: dict[str, TargetResult]) -> None:
    """A good cluster reports TLS 1.3, the chain it sent, and what every sslmode would do."""
    good = results["pg-good"]
    assert good.tls is not None
    assert good.tls.version == "TLSv1.3"
    assert len(good.tls.chain) == 2
    assert check(good, "cert.chain")[0].startswith("verified to the trusted root")
    assert "refuses unencrypted sessions (FATAL 28000" in check(good, "pg.plaintext")[0]
    assert dict(good.facts)["sslmodes"] == (
        "disable: refused (pg_hba.conf requires TLS); allow/prefer/require: TLS without "
        "verifying; verify-ca: TLS, chain verified; verify-full: TLS, chain and host name verified"
    )


def test_host_rules_warn_with_the_pg_hba_hint(results: dict[str, TargetResult]) -> None:
    """host lines in pg_hba.conf: pg.plaintext warns, naming them, and disable goes plaintext."""
    detail, hint = check(results["pg-host-rules"], "pg.plaintext")
    assert "accepts unencrypted sessions (pg_hba.conf has host/hostnossl lines)" in detail
    assert "hostssl" in hint
    assert dict(results["pg-host-rules"].facts)["sslmodes"].startswith("disable/allow: plaintext")


def test_ssl_off_answers_n(results: dict[str, TargetResult]) -> None:
    """ssl = off: pg.sslrequest fails saying so, and the sslmodes that need TLS refuse."""
    off = results["pg-ssl-off"]
    assert check(off, "pg.sslrequest")[0] == "the server answered N: server has ssl = off"
    assert check(off, "tls.handshake")[0] == "not run: the server has ssl = off"
    assert off.tls is None
    assert (
        "require/verify-ca/verify-full: refuses (server has ssl = off)"
        in dict(off.facts)["sslmodes"]
    )


def test_tls13_minimum_reports_tls13(results: dict[str, TargetResult]) -> None:
    """ssl_min_protocol_version = TLSv1.3 passes and reports TLSv1.3."""
    assert check(results["pg-tls13-only"], "tls.version")[0] == "TLSv1.3"


def test_certificate_defects_and_what_libpq_would_do(results: dict[str, TargetResult]) -> None:
    """Expired, wrong-host and self-signed leaves are named, and the verify modes refuse them."""
    expired, wrong, selfsigned = (
        results[n] for n in ("pg-expired", "pg-wrong-host", "pg-self-signed")
    )
    assert "leaf expired 3 days ago" in check(expired, "cert.expiry")[0]
    assert expired.tls is not None
    assert len(expired.tls.chain) == 2
    assert "wrong.example" in check(wrong, "cert.hostname")[0]
    assert "self-signed" in check(selfsigned, "cert.chain")[0]
    assert dict(expired.facts)["sslmodes"].endswith(
        "verify-ca/verify-full: refuses (expired certificate)"
    )
    assert dict(wrong.facts)["sslmodes"].endswith("verify-full: refuses (host name)")
    assert dict(selfsigned.facts)["sslmodes"].endswith(
        "verify-ca/verify-full: refuses (self-signed)"
    )


def test_login_reports_the_servers_view(results: dict[str, TargetResult]) -> None:
    """A good login says what pg_stat_ssl shows, and records the server version."""
    login = results["pg-login"]
    assert check(login, "pg.login")[0] == (
        "logged in as 'probe' with sslmode=verify-full; the server sees "
        "TLSv1.3 TLS_AES_256_GCM_SHA384"
    )
    assert dict(login.facts)["server_version"].startswith("15")


def test_wrong_password_fails_login_alone(results: dict[str, TargetResult]) -> None:
    """A wrong password fails pg.login in plain words, while TLS keeps its own verdicts."""
    detail, hint = check(results["pg-login-wrong-password"], "pg.login")
    assert detail == "the server refused the password for user 'probe' (28P01)"
    assert "password" in hint


def test_prefer_against_ssl_off_fails_login(results: dict[str, TargetResult]) -> None:
    """Default sslmode prefer against ssl = off logs in unencrypted: pg.login fails."""
    detail, _ = check(results["pg-login-ssl-off"], "pg.login")
    assert "sslmode=prefer, but the session is not encrypted" in detail


def test_direct_tls_against_old_server(results: dict[str, TargetResult]) -> None:
    """sslnegotiation=direct against PostgreSQL 15 says direct TLS is unsupported, not broken."""
    direct = results["pg-direct"]
    detail, hint = check(direct, "tls.handshake")
    assert detail.startswith("direct TLS unsupported by this server (PostgreSQL < 17)")
    assert hint.startswith("direct TLS unsupported by this server (PostgreSQL < 17)")
    assert "sslnegotiation=postgres" in hint
    assert dict(direct.facts)["sslnegotiation"] == "direct"


def test_not_postgres_answers(results: dict[str, TargetResult]) -> None:
    """E and garbage answers fail pg.sslrequest as "not a PostgreSQL server, or too old"."""
    for name in ("pg-answers-e", "pg-garbage"):
        assert "not a PostgreSQL server, or too old" in check(results[name], "pg.sslrequest")[0]
    assert "answered E (an error)" in check(results["pg-answers-e"], "pg.sslrequest")[0]
    assert r"\x00\xff\x13garbage" in check(results["pg-garbage"], "pg.sslrequest")[0]


def test_cve_2021_23222_bytes_never_reach_tls(results: dict[str, TargetResult]) -> None:
    """S followed by injected bytes fails, names the CVE, and no handshake is attempted."""
    cve = results["pg-cve-2021-23222"]
    detail, _ = check(cve, "pg.sslrequest")
    assert "S followed by 9 more bytes" in detail
    assert "CVE-2021-23222" in detail
    assert cve.tls is None
    assert not any("ClientHello" in line for line in cve.transcript)


def test_silent_server_ends_within_deadline(results: dict[str, TargetResult]) -> None:
    """A server that never answers the SSLRequest fails within the deadline, naming the step."""
    silent = results["pg-silent"]
    assert check(silent, "pg.sslrequest")[0] == f"no answer to the SSLRequest within {TIMEOUT:g} s"
    assert silent.elapsed_ms < (TIMEOUT + 1.0) * 1000


def test_transcript_shows_the_exchange(results: dict[str, TargetResult]) -> None:
    """The transcript shows the SSLRequest, the one-byte answer, the handshake and the modes."""
    lines = "\n".join(results["pg-good"].transcript)
    for expected in ("C: SSLRequest 00 00 00 08 04 d2 16 2f", "S: b'S'", "TLS TLSv1.3"):
        assert expected in lines
    assert "C: StartupMessage user=postgres database=postgres (no TLS)" in lines
    assert "libpq sslmodes: disable: refused" in lines
