"""The tls-* lab cases (lab/ciphers.py) probed for real, each with its exact verdicts. The
expected verdicts are the real clients' (test_conformance runs them side by side): httpx and
curl refuse a 1024-bit DHE group, a name outside an IP-only SAN, a wildcard at its apex and a
certificate minutes from valid; they connect to CBC-only TLS 1.2 and to an IP SAN by address."""

from __future__ import annotations

import pytest

from conftest import check, https_verdicts, probe_lab, statuses, with_legacy
from tlsprobe.lab import Lab
from tlsprobe.model import TargetResult

TIMEOUT = 2.0
P, F, S = "pass", "fail", "skip"
verdicts = https_verdicts


EXPECTED = {
    "tls-dhe1024": verdicts(P, F, S, S, S, S, S, S),
    "tls-cbc-only": verdicts(P, P, P, P, P, P, P, P),
    "tls-ip-san": verdicts(P, P, P, P, P, P, P, P),
    "tls-ip-san-by-name": verdicts(P, P, P, P, F, P, P, P),
    "tls-wildcard-apex": verdicts(P, P, P, P, F, P, P, P),
    "tls-not-yet-valid-minutes": verdicts(P, P, P, P, P, F, P, P),
}


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[str, TargetResult]:
    """Every tls-* endpoint probed once, concurrently, trusting the lab's root."""
    return probe_lab(lab, ("tls-",), TIMEOUT)


def test_every_case_has_expectations(lab: Lab) -> None:
    """The table covers exactly the lab's tls-* cases."""
    assert {e.name for e in lab.endpoints if e.name.startswith("tls-")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case_verdicts(results: dict[str, TargetResult], name: str) -> None:
    """Each tls-* case gets exactly the verdicts its real clients call for."""
    assert statuses(results[name]) == with_legacy(EXPECTED[name])


def test_dhe1024_names_the_small_group(results: dict[str, TargetResult]) -> None:
    """A 1024-bit DHE group fails the handshake by name, with the server setting to change."""
    assert check(results["tls-dhe1024"], "tls.handshake") == (
        "the server's Diffie-Hellman group is too small (under 2048 bits)",
        "configure a 2048-bit or larger DH group, or ECDHE only",
    )


def test_cbc_only_reports_the_cbc_suite(results: dict[str, TargetResult]) -> None:
    """The CBC-only server's TLS 1.2 CBC suite is what the handshake reports."""
    cbc = results["tls-cbc-only"]
    assert cbc.tls is not None
    assert (cbc.tls.version, cbc.tls.cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES128-SHA256")


def test_ip_san_by_address_and_by_name(results: dict[str, TargetResult]) -> None:
    """An IP-only SAN covers its address, and the same certificate reached by name does not."""
    assert check(results["tls-ip-san"], "cert.hostname")[0] == "127.0.0.1 matches 127.0.0.1"
    assert check(results["tls-ip-san-by-name"], "cert.hostname")[0] == (
        "the certificate is for 127.0.0.1, not localhost"
    )


def test_wildcard_does_not_cover_its_apex(results: dict[str, TargetResult]) -> None:
    """*.lab.test reached as lab.test fails the host name, naming both."""
    assert check(results["tls-wildcard-apex"], "cert.hostname")[0] == (
        "the certificate is for *.lab.test, not lab.test"
    )


def test_minutes_from_valid_reads_as_not_yet_valid(results: dict[str, TargetResult]) -> None:
    """A certificate valid from 20 minutes on fails expiry as not yet valid, hinting the clock."""
    detail, hint = check(results["tls-not-yet-valid-minutes"], "cert.expiry")
    assert detail.startswith("leaf is not valid until ")
    assert hint == "check the issuing CA's clock, or install the certificate when it is valid"
