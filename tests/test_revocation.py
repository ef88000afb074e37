"""cert.revocation against the revocation lab: stapled OCSP judged always, must-staple, and
--revocation's OCSP and CRL fetches, each case with its exact verdict."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest

from conftest import probe_urls
from tlsprobe.lab import Lab
from tlsprobe.lab import revocation as lab_revocation
from tlsprobe.lab.certs import Pki
from tlsprobe.model import Policy, Status, TargetResult
from tlsprobe.tls import revocation

TIMEOUT = 4.0
CASES = (
    "revocation-good-staple",
    "revocation-ocsp-revoked",
    "revocation-crl-revoked",
    "revocation-stale-staple",
    "revocation-badly-signed-staple",
    "revocation-must-staple",
    "revocation-must-staple-missing",
    "revocation-responder-unreachable",
    "revocation-responder-stalls",
)
WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
GOOD = rf"good \(OCSP, produced {WHEN}, next update {WHEN}\)"
REVOKED = rf"revoked on {WHEN} \(key_compromise\)"
URL = r"http://127\.0\.0\.1:\d+"


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[bool, dict[str, TargetResult]]:
    """Every revocation case probed without and with --revocation."""
    out = {}
    for fetch in (False, True):
        policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file, revocation=fetch)
        probed = probe_urls([lab.url(n) for n in CASES], policy)
        out[fetch] = dict(zip(CASES, probed, strict=True))
    return out


def verdict(result: TargetResult) -> tuple[str, str] | None:
    check = result.check("cert.revocation")
    return None if check is None else (check.status.value, check.detail)


# Without --revocation: the staple alone (no network beyond the server itself).
STAPLE_ONLY = {
    "revocation-good-staple": ("pass", rf"stapled: {GOOD}"),
    "revocation-ocsp-revoked": ("fail", rf"stapled: {REVOKED}"),
    "revocation-stale-staple": (
        "warn",
        rf"stapled: an OCSP response that is stale \(next update was due {WHEN}\)",
    ),
    "revocation-badly-signed-staple": (
        "warn",
        "stapled: an OCSP response signed by a responder that is neither the issuer nor "
        "delegated by it",
    ),
    "revocation-must-staple": ("pass", rf"stapled: {GOOD}"),
    "revocation-must-staple-missing": (
        "warn",
        re.escape(f"must-staple, and the server staples nothing: {revocation.MUST_STAPLE_CLIENTS}"),
    ),
    "revocation-responder-unreachable": ("pass", "no staple"),
    "revocation-responder-stalls": ("pass", "no staple"),
}


@pytest.mark.parametrize("name", sorted(STAPLE_ONLY))
def test_the_staple_is_judged_without_network(
    results: dict[bool, dict[str, TargetResult]], name: str
) -> None:
    """Each stapling server gets its exact verdict from its staple alone, and every other
    check of it passes (the staple never touches the TLS verdicts)."""
    result = results[False][name]
    got = verdict(result)
    assert got is not None
    status, pattern = STAPLE_ONLY[name]
    assert got[0] == status
    assert re.fullmatch(pattern, got[1]), got[1]
    others = {c.status for c in result.checks if c.id not in ("cert.revocation", "http.hsts")}
    assert others == {Status.PASS}


def test_staple_facts(results: dict[bool, dict[str, TargetResult]]) -> None:
    """What was stapled is in the facts: the response's words, or "none"."""
    assert re.fullmatch(GOOD, dict(results[False]["revocation-good-staple"].facts)["ocsp_staple"])
    assert dict(results[False]["revocation-must-staple-missing"].facts)["ocsp_staple"] == "none"


def test_crl_only_certificate_has_no_check_without_revocation(
    results: dict[bool, dict[str, TargetResult]],
) -> None:
    """A leaf with a CDP and no OCSP responder is not asked for a staple (nothing to pay for),
    so without --revocation cert.revocation does not appear at all."""
    assert verdict(results[False]["revocation-crl-revoked"]) is None


FETCHED = {
    "revocation-good-staple": ("pass", rf"stapled: {GOOD}; CN=revocation-good-staple: {GOOD} "),
    "revocation-ocsp-revoked": ("fail", rf"stapled: {REVOKED}; CN=revocation-ocsp-revoked: "),
    "revocation-crl-revoked": (
        "fail",
        rf"CN=revocation-crl-revoked: {REVOKED} \(CRL\) from {URL}/lab\.crl",
    ),
    "revocation-responder-unreachable": (
        "warn",
        rf"no staple; CN=revocation-responder-unreachable: {URL}/ocsp unreachable ",
    ),
    "revocation-responder-stalls": (
        "warn",
        rf"no staple; CN=revocation-responder-stalls: no answer from {URL}/ocsp within ",
    ),
}


@pytest.mark.parametrize("name", sorted(FETCHED))
def test_revocation_fetches_ocsp_else_the_crl(
    results: dict[bool, dict[str, TargetResult]], name: str
) -> None:
    """--revocation asks the responder (else the CRL): revoked fails, an unreachable or
    stalling responder only warns (clients soft-fail), within the target's deadline."""
    result = results[True][name]
    got = verdict(result)
    assert got is not None
    status, pattern = FETCHED[name]
    assert got[0] == status
    assert re.match(pattern, got[1]), got[1]
    assert result.elapsed_ms < TIMEOUT * 1000
    others = {c.status for c in result.checks if c.id not in ("cert.revocation", "http.hsts")}
    assert others == {Status.PASS}


def test_unreachable_responder_warns_with_the_soft_fail_hint(
    results: dict[bool, dict[str, TargetResult]],
) -> None:
    """The hint of an unreachable responder says clients soft-fail, not to staple."""
    check = results[True]["revocation-responder-unreachable"].check("cert.revocation")
    assert check is not None
    assert check.hint.startswith("clients soft-fail")


def test_lab_without_revocation_pointers_has_no_check(lab: Lab) -> None:
    """The bad twin of the cost design: a leaf that names no responder and is not
    must-staple (https-good) gets no side hello and no cert.revocation check."""
    result = probe_urls([lab.url("https-good")], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))[0]
    assert result.check("cert.revocation") is None
    assert not any("cert.revocation" in line for line in result.transcript)


def test_the_crl_is_fetched_once_per_run(lab: Lab) -> None:
    """Two targets under one CA's CRL in one run share one fetch (the responder's log would
    show two otherwise): the second sees the same answer, with no second connection."""
    url = lab.url("revocation-crl-revoked")
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file, revocation=True)
    first, second = probe_urls([url, url], policy)
    assert verdict(first) == verdict(second)
    assert verdict(first) is not None


def test_staple_for_another_certificate_warns(tmp_path: Path) -> None:
    """A response for another certificate warns naming its serial. OpenSSL's own server (3.0,
    pyOpenSSL's callback and s_server alike) will not send one, so no lab server can: the
    response is the lab responder's real one for another leaf, judged directly."""
    pki = Pki(tmp_path)
    responder = lab_revocation.Responder(pki)
    mine = lab_revocation._leaf(pki, "mine", ocsp_port=responder.port, crl_port=None)
    theirs = lab_revocation._leaf(pki, "theirs", ocsp_port=responder.port, crl_port=None)
    responder.sock.close()
    outcome = revocation.judge_ocsp(
        responder.response(theirs.cert), mine.cert, pki.signer.cert, pki.now
    )
    serial = format(theirs.cert.serial_number, "x")
    assert outcome == revocation.Outcome(
        Status.WARN, f"an OCSP response for another certificate (serial {serial})"
    )
    good = revocation.judge_ocsp(responder.response(mine.cert), mine.cert, pki.signer.cert, pki.now)
    assert good.status is Status.PASS


def test_openssl_sees_the_same_staple(lab: Lab) -> None:
    """openssl s_client -status, a real client, reads the revoked staple tlsprobe failed."""
    port = lab.url("revocation-ocsp-revoked").rsplit(":", 1)[1].strip("/")
    shown = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-status"],
        input=b"",
        capture_output=True,
        timeout=10,
        check=False,
    ).stdout.decode()
    assert "Cert Status: revoked" in shown
    assert "Revocation Reason: keyCompromise" in shown


def test_stale_text_names_the_date() -> None:
    """A response past its next update is stale, one without next update lasts a week."""
    now = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    this = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert revocation._stale(this, None, now) == (
        "that is stale (next update was due 2026-01-08T00:00:00Z)"
    )
    assert revocation._stale(this, now + dt.timedelta(days=1), now) is None
