"""cert.revocation against the revocation lab: stapled OCSP judged always, must-staple, and
--revocation's OCSP and CRL fetches, each case with its exact verdict."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from conftest import probe_urls
from tlsprobe.lab import Lab
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
    "revocation-staple-for-another",
    "revocation-delegated-responder",
    "revocation-delegate-without-eku",
    "revocation-delegate-of-another-ca",
    "revocation-unknown",
)
WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
GOOD = rf"good \(OCSP, produced {WHEN}, next update {WHEN}\)"
REVOKED = rf"revoked on {WHEN} \(key_compromise\)"
URL = r"http://127\.0\.0\.1:\d+"
UNDELEGATED = "an OCSP response signed by a responder the issuer did not delegate OCSP signing to"
UNKNOWN = re.escape(revocation.UNKNOWN_TEXT)


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
    "revocation-staple-for-another": (
        "warn",
        r"stapled: an OCSP response for another certificate \(serial [0-9a-f]+\)",
    ),
    "revocation-delegated-responder": ("pass", rf"stapled: {GOOD}"),
    "revocation-delegate-without-eku": ("warn", f"stapled: {UNDELEGATED}"),
    "revocation-delegate-of-another-ca": ("warn", f"stapled: {UNDELEGATED}"),
    "revocation-unknown": (
        "warn",
        rf"stapled: {UNKNOWN}: {re.escape(revocation.UNKNOWN_CLIENTS)}",
    ),
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


# The hint of each new case, without and with --revocation (chosen by the kind of answer).
HINTS = {
    "revocation-staple-for-another": (revocation.STAPLE_HINT, revocation.STAPLE_HINT),
    "revocation-delegated-responder": ("", ""),
    "revocation-delegate-without-eku": (revocation.STAPLE_HINT, revocation.STAPLE_HINT),
    "revocation-delegate-of-another-ca": (revocation.STAPLE_HINT, revocation.STAPLE_HINT),
    "revocation-unknown": (revocation.UNKNOWN_HINT, revocation.UNKNOWN_HINT),
    "revocation-responder-unreachable": ("", revocation.SOFT_FAIL_HINT),
    "revocation-responder-stalls": ("", revocation.SOFT_FAIL_HINT),
    "revocation-ocsp-revoked": (revocation.REISSUE_HINT, revocation.REISSUE_HINT),
}


@pytest.mark.parametrize("name", sorted(HINTS))
def test_the_hint_follows_the_kind_of_answer(
    results: dict[bool, dict[str, TargetResult]], name: str
) -> None:
    """Each case's hint, without and with --revocation, is the one its kind of answer calls
    for: fix the staple, ask the CA about an unknown, reissue, or know that clients soft-fail."""
    got = []
    for fetch in (False, True):
        check = results[fetch][name].check("cert.revocation")
        assert check is not None
        got.append(check.hint)
    assert tuple(got) == HINTS[name]


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
    "revocation-delegated-responder": (
        "pass",
        rf"stapled: {GOOD}; CN=revocation-delegated-responder: {GOOD} from {URL}/ocsp\Z",
    ),
    "revocation-delegate-without-eku": (
        "warn",
        rf"stapled: {UNDELEGATED}; CN=revocation-delegate-without-eku: {UNDELEGATED} "
        rf"from {URL}/ocsp\Z",
    ),
    "revocation-delegate-of-another-ca": (
        "warn",
        rf"stapled: {UNDELEGATED}; CN=revocation-delegate-of-another-ca: {UNDELEGATED} "
        rf"from {URL}/ocsp\Z",
    ),
    "revocation-unknown": (
        "warn",
        rf"stapled: {UNKNOWN}: .*; CN=revocation-unknown: {UNKNOWN} from {URL}/ocsp\Z",
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


def _port(lab: Lab, name: str) -> str:
    return lab.url(name).rsplit(":", 1)[1].strip("/")


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def test_staple_for_another_certificate_warns_end_to_end(lab: Lab) -> None:
    """`tlsprobe check` warns, naming the serial of the certificate the staple is about (not
    the leaf's), for the s_server that staples another leaf's good response."""
    theirs = _serial(lab.ca_file.parent / "revocation-theirs.pem")
    mine = _serial(lab.ca_file.parent / "revocation-staple-for-another.pem")
    assert theirs != mine
    url = lab.url("revocation-staple-for-another")
    ran = subprocess.run(
        [sys.executable, "-m", "tlsprobe", "check", "--ca-file", str(lab.ca_file),
         "--format", "json", url],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr  # a warning only
    assert ran.stderr == ""
    (result,) = json.loads(ran.stdout)["results"]
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["cert.revocation"]["status"] == "warn"
    assert checks["cert.revocation"]["detail"] == (
        f"stapled: an OCSP response for another certificate (serial {theirs:x})"
    )
    assert checks["cert.revocation"]["hint"] == revocation.STAPLE_HINT


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_openssl_reads_the_staple_for_another_certificate(lab: Lab, version: str) -> None:
    """openssl s_client -status, the real client, receives the same staple in TLS 1.2 and
    1.3: a good response whose serial is the other leaf's, not the one it was served."""
    shown = _s_client(_port(lab, "revocation-staple-for-another"), version)
    theirs = _serial(lab.ca_file.parent / "revocation-theirs.pem")
    assert "Cert Status: good" in shown
    assert _serials(shown) == [theirs]


def test_the_good_twin_staples_its_own_serial(lab: Lab) -> None:
    """The good twin, through the same client: the staple names the leaf's own serial."""
    shown = _s_client(_port(lab, "revocation-good-staple"), "-tls1_3")
    mine = _serial(lab.ca_file.parent / "revocation-good-staple.pem")
    assert _serials(shown) == [mine]


def _serials(shown: str) -> list[int]:
    """The serials of the OCSP responses s_client printed."""
    return [int(h, 16) for h in re.findall(r"Serial Number: ([0-9A-F]+)", shown)]


def _s_client(port: str, *args: str) -> str:
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-status", *args],
        input=b"", capture_output=True, timeout=10, check=False,
    ).stdout.decode()  # fmt: skip


# `openssl ocsp` asking the lab's responder: what OpenSSL's RFC 6960 4.2.2.2 checks say.
OPENSSL_OCSP = {
    "revocation-delegated-responder": (0, ": good", "Response verify OK"),
    "revocation-delegate-without-eku": (1, ": good", "missing ocspsigning usage"),
    "revocation-delegate-of-another-ca": (1, ": good", "unable to get local issuer certificate"),
    "revocation-unknown": (0, ": unknown", "Response verify OK"),
}


@pytest.mark.parametrize("name", sorted(OPENSSL_OCSP))
def test_openssl_ocsp_agrees_on_the_delegated_responders(lab: Lab, name: str) -> None:
    """OpenSSL's OCSP client, asking the same responder, accepts the delegated responder's
    signature and refuses both bad twins (no id-kp-OCSPSigning; another CA's signer), as
    tlsprobe does; and it reads the unknown as unknown."""
    workdir = lab.ca_file.parent
    intermediate = str(workdir / "revocation-intermediate.pem")
    asked = subprocess.run(
        ["openssl", "ocsp", "-url", lab.url("revocation-responder").replace("lab.crl", "ocsp"),
         "-issuer", intermediate, "-verify_other", intermediate,
         "-cert", str(workdir / f"{name}.pem"), "-CAfile", str(lab.ca_file)],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    code, status, verify = OPENSSL_OCSP[name]
    assert asked.returncode == code
    assert asked.stdout.splitlines()[0].endswith(status)
    assert verify in asked.stderr


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
