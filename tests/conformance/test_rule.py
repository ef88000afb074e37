"""The conformance rule on its own: each clause with its good case and its bad twin."""

from __future__ import annotations

import pytest
from conformance_rule import Seen, Setup, expected, tls_verdict

from tlsprobe.model import Check, Status, TargetResult

VERIFIED = Seen(connected=True, encrypted=True, verified=True)
UNVERIFIED = Seen(connected=True, encrypted=True, verified=False)
PLAINTEXT = Seen(connected=True, encrypted=False, verified=False)
REFUSED = Seen(connected=False, encrypted=False, verified=False)


def result(*checks: tuple[str, Status]) -> TargetResult:
    return TargetResult(
        name="t",
        target="https://localhost/",
        protocol="https",
        host="localhost",
        port=443,
        source="test",
        checks=tuple(Check(i, s) for i, s in checks),
        elapsed_ms=1.0,
    )


def test_verified_client_owes_a_pass() -> None:
    """A client that connects, encrypts and verifies is owed a pass."""
    assert expected(VERIFIED) is Status.PASS


def test_refused_client_owes_a_fail() -> None:
    """The twin: a client that fails is owed a fail, whatever its setup."""
    assert expected(REFUSED) is Status.FAIL
    assert expected(REFUSED, Setup(disputed=True)) is Status.FAIL


def test_disputed_endpoint_owes_a_warning() -> None:
    """Where real clients disagree, a verifying client that connects is owed a warning."""
    assert expected(VERIFIED, Setup(disputed=True)) is Status.WARN


@pytest.mark.parametrize("seen", [UNVERIFIED, PLAINTEXT])
def test_lax_client_on_a_good_server_owes_a_warning(seen: Seen) -> None:
    """A client that connects without verifying (or encrypting) a server that a verifying
    client accepts is owed a warning, never a pass."""
    assert expected(seen) is Status.WARN


@pytest.mark.parametrize("seen", [UNVERIFIED, PLAINTEXT])
def test_lax_client_on_a_bad_server_owes_a_fail(seen: Seen) -> None:
    """The twin: the same client on a server a verifying client refuses connects unsafely."""
    assert expected(seen, Setup(strict_refuses=True)) is Status.FAIL


def test_plaintext_by_configuration_owes_a_fail() -> None:
    """A client configured never to encrypt (sslmode=disable, http://) is owed a fail even
    where the server is good."""
    assert expected(PLAINTEXT, Setup(never_encrypts=True)) is Status.FAIL


def test_verdict_reads_only_tls_checks() -> None:
    """http.status and hardening checks do not make the TLS verdict."""
    checks = [("connect", Status.PASS), ("http.status", Status.FAIL)]
    assert tls_verdict(result(*checks, ("smtp.starttls_injection", Status.FAIL))) is Status.PASS


def test_verdict_reads_the_logins() -> None:
    """A refused login (pg.login, smtp.login) or client certificate fails the verdict: that
    client is not let in; its twin with the login passing passes."""
    for check_id in ("pg.login", "smtp.login", "pg.client_cert"):
        refused = result(("connect", Status.PASS), (check_id, Status.FAIL))
        let_in = result(("connect", Status.PASS), (check_id, Status.PASS))
        assert (tls_verdict(refused), tls_verdict(let_in)) == (Status.FAIL, Status.PASS)


def test_untidy_bundle_is_advisory() -> None:
    """A cert.chain warning (certificates sent beside the verified path) counts as a pass, while
    a cert.hostname warning (a disputed CN match) stays a warning."""
    untidy = result(("connect", Status.PASS), ("cert.chain", Status.WARN))
    disputed = result(("connect", Status.PASS), ("cert.hostname", Status.WARN))
    assert (tls_verdict(untidy), tls_verdict(disputed)) == (Status.PASS, Status.WARN)


def test_verdict_takes_the_worst_tls_check() -> None:
    """The twin: a failing or warning TLS check is the verdict."""
    assert tls_verdict(result(("connect", Status.PASS), ("cert.chain", Status.FAIL))) is (
        Status.FAIL
    )
    assert tls_verdict(result(("connect", Status.PASS), ("client.encryption", Status.WARN))) is (
        Status.WARN
    )


def test_expiry_warning_is_advisory() -> None:
    """A certificate that expires soon still connects today: its warning counts as pass."""
    assert tls_verdict(result(("connect", Status.PASS), ("cert.expiry", Status.WARN))) is (
        Status.PASS
    )


def test_expiry_failure_is_not_advisory() -> None:
    """The twin: an expired certificate is a fail."""
    assert tls_verdict(result(("connect", Status.PASS), ("cert.expiry", Status.FAIL))) is (
        Status.FAIL
    )
