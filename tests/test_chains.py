"""Chains as real clients build them: the https-chain-* lab cases probed for real, each with its
exact verdicts and words, side by side with httpx and curl; then the path facts and the
certificate-defect verdicts on crafted chains (no network)."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certbuild import DER, NOW
from conftest import HTTPS_IDS, curl_binary, probe_lab, statuses, with_legacy
from tlsprobe.lab import Lab
from tlsprobe.lab.certs import DAY, Signer
from tlsprobe.lab.chain_certs import PERMITTED_DOMAIN, UNKNOWN_EXTENSION, ec_key, make
from tlsprobe.lab.chain_certs import Shape as S
from tlsprobe.lab.chain_certs import leaf_shape as leaf
from tlsprobe.model import Check, Policy, Status, TargetResult, utc_text
from tlsprobe.report import RunInfo
from tlsprobe.report.json_report import render
from tlsprobe.tls import Handshake, Mode, Negotiated, VerifyError, chain_check, judge
from tlsprobe.tls.certs import short_name
from tlsprobe.tls.judge import credentials_withheld, tls_info
from tlsprobe.tls.trust import context

TIMEOUT = 3.0
P, W, F = "pass", "warn", "fail"
BUNDLE = (
    "nginx ssl_certificate, Postfix smtpd_tls_chain_files or smtpd_tls_cert_file, "
    "PostgreSQL ssl_cert_file"
)
DROP = (
    f"drop it from the certificate bundle the server sends ({BUNDLE}): a client that builds "
    "its path another way (OpenSSL 1.0.2, older Java and Android) may take it and fail"
)
ORDER = "send the leaf first, then each certificate's issuer (RFC 5246 7.4.2)"
NO_CA_FILE = ". --ca-file does not help"
HINTS = {
    "not a CA": "reissue the leaf from a CA certificate (basicConstraints CA:TRUE, keyUsage "
    "keyCertSign); a certificate that is not a CA cannot issue one" + NO_CA_FILE,
    "purpose": "reissue it with serverAuth in extendedKeyUsage (or without extendedKeyUsage): "
    "TLS clients refuse a server certificate not meant for servers" + NO_CA_FILE,
    "names": "reissue the leaf for names the CA may certify, or from a CA whose name "
    "constraints cover them" + NO_CA_FILE,
    "path length": "reissue the leaf from a CA the constraint allows (fewer CAs below it), or "
    "reissue that CA with a larger pathLenConstraint" + NO_CA_FILE,
    "critical": "reissue it without that extension, or with the extension not marked "
    "critical" + NO_CA_FILE,
    "malformed": "reissue the certificate: OpenSSL refuses it as malformed, not as untrusted"
    + NO_CA_FILE,
}
# What cert.chain says for each case; the other checks all pass.
CHAIN = {
    "https-chain-extra-expired": W,
    "https-chain-extra-weak": W,
    "https-chain-expired-cross-sign": W,
    "https-chain-out-of-order": W,
    "https-chain-issuer-not-ca": F,
    "https-chain-client-auth-only": F,
    "https-chain-name-constraints": F,
    "https-chain-path-length": F,
    "https-chain-critical-extension": F,
}


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[str, TargetResult]:
    """Every chain case and https-good (the control), probed once, trusting the lab root."""
    return probe_lab(lab, ("https-chain-", "https-good"), TIMEOUT)


def sent(lab: Lab, name: str) -> list[x509.Certificate]:
    """The bundle the lab server `name` sends, read from the file it loaded."""
    return x509.load_pem_x509_certificates((lab.ca_file.parent / f"{name}.pem").read_bytes())


def root_name(lab: Lab) -> str:
    return short_name(x509.load_pem_x509_certificates(lab.ca_file.read_bytes())[0].subject)


def chain_of(result: TargetResult) -> Check:
    found = result.check("cert.chain")
    assert found is not None
    return found


def test_every_chain_case_is_judged(lab: Lab) -> None:
    """The table covers exactly the lab's https-chain-* cases, so none goes unjudged."""
    assert {e.name for e in lab.endpoints if e.name.startswith("https-chain-")} == set(CHAIN)


@pytest.mark.parametrize("name", sorted(CHAIN))
def test_chain_case_verdicts(results: dict[str, TargetResult], name: str) -> None:
    """Each case fails or warns cert.chain alone: expiry and the rest pass (an expired or weak
    certificate the path does not use is no expiry or key failure)."""
    expected = dict.fromkeys(HTTPS_IDS, P) | {"cert.chain": CHAIN[name]}
    assert statuses(results[name]) == with_legacy(expected)


def test_extra_expired_named_word_for_word(lab: Lab, results: dict[str, TargetResult]) -> None:
    """An unrelated expired certificate is named, with its date and why, and the hint says to
    drop it from the bundle, naming the settings of each server."""
    extra = sent(lab, "https-chain-extra-expired")[2]
    ended = extra.not_valid_after_utc.date().isoformat()
    assert chain_of(results["https-chain-extra-expired"]) == Check(
        "cert.chain",
        Status.WARN,
        f"verified to the trusted root {root_name(lab)}; the server also sends what the path "
        f"does not use: CN=old.lab.test (unrelated to the path, expired {ended})",
        DROP,
    )


def test_extra_weak_named_word_for_word(lab: Lab, results: dict[str, TargetResult]) -> None:
    """An unrelated RSA-1024 certificate is named with its weak key."""
    assert chain_of(results["https-chain-extra-weak"]) == Check(
        "cert.chain",
        Status.WARN,
        f"verified to the trusted root {root_name(lab)}; the server also sends what the path "
        "does not use: CN=legacy.lab.test (unrelated to the path, weak key RSA-1024 (clients "
        "require at least 2048 bits))",
        DROP,
    )


def test_expired_cross_sign_named_word_for_word(lab: Lab, results: dict[str, TargetResult]) -> None:
    """The DST Root CA X3 pattern: the path ends at the trusted root, and the expired
    cross-sign of that root is named as one, with its issuer and date."""
    cross = sent(lab, "https-chain-expired-cross-sign")[2]
    root = root_name(lab)
    assert short_name(cross.subject) == root
    ended = cross.not_valid_after_utc.date().isoformat()
    assert chain_of(results["https-chain-expired-cross-sign"]) == Check(
        "cert.chain",
        Status.WARN,
        f"verified to the trusted root {root}; the server also sends what the path does not "
        f"use: {root} (cross-signed by CN=tlsprobe lab old root, a CA the path already has, "
        f"expired {ended})",
        DROP,
    )


def test_out_of_order_word_for_word(lab: Lab, results: dict[str, TargetResult]) -> None:
    """Intermediates sent in the wrong order: the order sent and the path's order, named."""
    leaf_cert, inter, sub = (short_name(c.subject) for c in sent(lab, "https-chain-out-of-order"))
    assert sub == "CN=tlsprobe lab sub-intermediate"
    assert chain_of(results["https-chain-out-of-order"]) == Check(
        "cert.chain",
        Status.WARN,
        f"verified to the trusted root {root_name(lab)}; sent out of order: {leaf_cert}, "
        f"{inter}, {sub}, where the path is {leaf_cert}, {sub}, {inter}, {root_name(lab)}",
        ORDER,
    )


DEFECTS = {
    "https-chain-issuer-not-ca": (
        "intermediate CN=tlsprobe lab not a CA signs a certificate but is not a CA "
        "(OpenSSL: invalid CA certificate)",
        HINTS["not a CA"],
    ),
    "https-chain-client-auth-only": (
        "leaf CN=localhost has extendedKeyUsage clientAuth, without serverAuth "
        "(OpenSSL: unsuitable certificate purpose)",
        HINTS["purpose"],
    ),
    "https-chain-name-constraints": (
        "the leaf's names (localhost, 127.0.0.1, ::1) are outside the name constraints of "
        f"intermediate CN=tlsprobe lab constrained CA (permitted: {PERMITTED_DOMAIN}) "
        "(OpenSSL: permitted subtree violation)",
        HINTS["names"],
    ),
    "https-chain-path-length": (
        "intermediate CN=tlsprobe lab pathlen-0 CA allows 0 CA certificates below it "
        "(pathLenConstraint 0); the chain puts 1 there (OpenSSL: path length constraint "
        "exceeded)",
        HINTS["path length"],
    ),
    "https-chain-critical-extension": (
        "leaf CN=localhost has a critical extension clients do not know "
        f"({UNKNOWN_EXTENSION.dotted_string}) (OpenSSL: unhandled critical extension)",
        HINTS["critical"],
    ),
}


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_defect_names_certificate_and_says_reissue(
    results: dict[str, TargetResult], name: str
) -> None:
    """Each certificate defect names the certificate and the defect, quotes OpenSSL 3's words
    for the code it returns, and hints "reissue", never --ca-file."""
    detail, hint = DEFECTS[name]
    assert chain_of(results[name]) == Check("cert.chain", Status.FAIL, detail, hint)


def test_verified_path_in_json(lab: Lab, results: dict[str, TargetResult]) -> None:
    """The JSON marks which sent certificates the verified path uses and lists that path, root
    last; a chain that did not verify has null marks and an empty path."""
    names = ("https-chain-extra-expired", "https-chain-out-of-order", "https-chain-path-length")
    document = json.loads(render([results[n] for n in names], RunInfo(NOW, 1.0)))
    tls = [r["tls"] for r in document["results"]]
    assert [c["on_verified_path"] for c in tls[0]["chain"]] == [True, True, False]
    anchor = x509.load_pem_x509_certificates(lab.ca_file.read_bytes())[0]
    served = [c["sha256"] for c in tls[0]["chain"]]
    assert tls[0]["verified_path"] == [*served[:2], anchor.fingerprint(SHA256).hex()]
    assert [c["on_verified_path"] for c in tls[1]["chain"]] == [True, True, True]
    assert len(tls[1]["verified_path"]) == 4
    assert [c["on_verified_path"] for c in tls[2]["chain"]] == [None, None, None]
    assert tls[2]["verified_path"] == []


# --- the real clients, side by side -------------------------------------------------------------


def curl_connects(url: str, ca_file: Path) -> bool:
    done = subprocess.run(
        [curl_binary(), "-sS", "-o", "/dev/null", "--max-time", "5", "--cacert", str(ca_file), url],
        capture_output=True,
        text=True,
        check=False,
    )
    # 60: the certificate did not verify; anything else unexpected is a test failure.
    assert done.returncode in (0, 60), done.stderr
    return done.returncode == 0


async def httpx_connects(url: str, ca_file: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    async with httpx.AsyncClient(verify=ctx, timeout=5.0) as client:
        try:
            await client.get(url)
        except httpx.ConnectError as exc:
            refused = str(exc)
        else:
            return True
    if "CERTIFICATE_VERIFY_FAILED" not in refused:  # any other failure is the test's
        pytest.fail(refused)
    return False


@pytest.mark.parametrize("name", ["https-good", *sorted(CHAIN)])
def test_real_clients_connect_exactly_when_the_chain_does_not_fail(
    lab: Lab, results: dict[str, TargetResult], name: str
) -> None:
    """httpx and curl, trusting the lab root, connect exactly when cert.chain is not a fail:
    a warning about the bundle is a connection every client makes."""
    url, expected = lab.url(name), chain_of(results[name]).status is not Status.FAIL
    assert asyncio.run(httpx_connects(url, lab.ca_file)) is expected
    assert curl_connects(url, lab.ca_file) is expected


# --- crafted chains, no network -------------------------------------------------------------------

ROOT_KEY, INTER_KEY, LEAF_KEY = ec_key(), ec_key(), ec_key()
ROOT = make(S("Lab Root", ca=True), ROOT_KEY, None, NOW)
INTER = make(S("Lab Intermediate", ca=True), INTER_KEY, Signer(ROOT, ROOT_KEY), NOW)
LEAF = make(leaf(), LEAF_KEY, Signer(INTER, INTER_KEY), NOW)
STALE = make(S("old.lab.test", not_after=-DAY), ec_key(), None, NOW)
SHA256 = hashes.SHA256()


def session(
    sent_chain: list[x509.Certificate],
    path: list[x509.Certificate],
    error: VerifyError | None = None,
    mode: Mode = Mode.VERIFY,
) -> Negotiated[None]:
    hs = Handshake(
        "TLSv1.3",
        "TLS_AES_256_GCM_SHA384",
        None,
        tuple(c.public_bytes(DER) for c in sent_chain),
        verified_root="CN=Lab Root" if path else None,
        verified_der=tuple(c.public_bytes(DER) for c in path),
    )
    return Negotiated(None, hs, error, mode)


def by_id(checks: list[Check]) -> dict[str, Check]:
    return {c.id: c for c in checks}


def test_unused_expired_certificate_passes_expiry_on_the_verified_path() -> None:
    """Judged on the path verified, an expired certificate the path does not use is no
    cert.expiry failure, and cert.chain warns about it."""
    checks = by_id(
        judge(session([LEAF, INTER, STALE], [LEAF, INTER, ROOT]), "localhost", Policy(), NOW)
    )
    assert checks["cert.expiry"].status is Status.PASS
    assert checks["cert.chain"].status is Status.WARN


def test_unverified_session_dates_every_certificate_sent() -> None:
    """The twin: when the chain did not verify there is no path, and the expired certificate
    sent fails cert.expiry as before."""
    error = VerifyError(20, "unable to get local issuer certificate")
    checks = by_id(judge(session([LEAF, INTER, STALE], [], error), "localhost", Policy(), NOW))
    assert checks["cert.expiry"] == Check(
        "cert.expiry",
        Status.FAIL,
        f"root CN=old.lab.test expired 1 day ago ({utc_text(STALE.not_valid_after_utc)})",
        "renew the certificate",
    )


def test_expired_certificate_on_the_path_fails_expiry() -> None:
    """An expired intermediate the path uses still fails cert.expiry, naming it."""
    old_inter = make(
        S("Old Intermediate", ca=True, not_after=-DAY), INTER_KEY, Signer(ROOT, ROOT_KEY), NOW
    )
    checks = by_id(
        judge(session([LEAF, old_inter], [LEAF, old_inter, ROOT]), "localhost", Policy(), NOW)
    )
    assert checks["cert.expiry"].status is Status.FAIL
    assert checks["cert.expiry"].detail.startswith(
        "intermediate CN=Old Intermediate expired 1 day ago"
    )


def test_duplicate_and_not_yet_valid_extras_named() -> None:
    """A second copy of the intermediate and a not-yet-valid stranger are each named, in the
    order sent, with one hint for both."""
    future = make(S("next.lab.test", not_before=3 * DAY), ec_key(), None, NOW)
    check = chain_check([LEAF, INTER, INTER, future], None, "CN=Lab Root", [LEAF, INTER, ROOT], NOW)
    starts = future.not_valid_before_utc.date().isoformat()
    assert check == Check(
        "cert.chain",
        Status.WARN,
        "verified to the trusted root CN=Lab Root; the server also sends what the path does "
        "not use: CN=Lab Intermediate (a second copy); "
        f"CN=next.lab.test (unrelated to the path, not valid until {starts})",
        DROP.replace("drop it", "drop them"),
    )


def test_tidy_bundle_passes() -> None:
    """The twin: the same path sent exactly, in order, passes."""
    check = chain_check([LEAF, INTER], None, "CN=Lab Root", [LEAF, INTER, ROOT], NOW)
    assert check == Check("cert.chain", Status.PASS, "verified to the trusted root CN=Lab Root")


def test_weak_certificate_on_the_path_fails() -> None:
    """A weak key on the path verification used (a permissive legacy session) still fails;
    only certificates the path does not use are a warning."""
    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak_leaf = make(leaf(), weak_key, Signer(INTER, INTER_KEY), NOW)
    check = chain_check([weak_leaf, INTER], None, "CN=Lab Root", [weak_leaf, INTER, ROOT], NOW)
    assert check == Check(
        "cert.chain",
        Status.FAIL,
        "leaf CN=localhost: weak key RSA-1024 (clients require at least 2048 bits)",
        "reissue with an RSA-2048+ or EC key, signed with SHA-256 or better",
    )


def test_tls_info_marks_path_use() -> None:
    """tls_info marks each sent certificate by whether the path uses it (the second copy of a
    used one does not count), and lists the path's fingerprints."""
    info = tls_info(session([LEAF, INTER, INTER, STALE], [LEAF, INTER, ROOT]).handshake)
    assert info.on_path == (True, True, False, False)
    assert info.verified_path == tuple(c.fingerprint(SHA256).hex() for c in (LEAF, INTER, ROOT))
    assert tls_info(session([LEAF, INTER], []).handshake).on_path == ()


def test_credentials_withheld_dates_the_verified_path() -> None:
    """An expired certificate the path does not use does not withhold credentials; an expired
    trust anchor on the path does."""
    strict = context(Mode.VERIFY, None)
    good = session([LEAF, INTER, STALE], [LEAF, INTER, ROOT]).handshake
    assert credentials_withheld(strict, good, "localhost", NOW) is None
    old_root = make(S("Lab Root", ca=True, not_after=-DAY), ROOT_KEY, None, NOW)
    bad = session([LEAF, INTER], [LEAF, INTER, old_root]).handshake
    assert credentials_withheld(strict, bad, "localhost", NOW) == (
        "a certificate is expired or not yet valid"
    )


def constrained(permitted: str) -> list[x509.Certificate]:
    ca_key = ec_key()
    names = x509.NameConstraints([x509.DNSName(permitted)], None)
    ca = make(
        S("Narrow CA", ca=True, extensions=((names, True),)), ca_key, Signer(ROOT, ROOT_KEY), NOW
    )
    return [make(leaf(), ec_key(), Signer(ca, ca_key), NOW), ca]


@pytest.mark.parametrize(
    ("chain", "code", "message", "detail", "hint"),
    [
        (
            [
                make(
                    leaf(eku=(ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.CLIENT_AUTH)),
                    LEAF_KEY,
                    Signer(INTER, INTER_KEY),
                    NOW,
                ),
                INTER,
            ],
            26,
            "unsuitable certificate purpose",
            "leaf CN=localhost has extendedKeyUsage codeSigning, clientAuth, without serverAuth",
            HINTS["purpose"],
        ),
        (
            constrained("x.test"),
            48,
            "excluded subtree violation",
            "the leaf's names (localhost, 127.0.0.1, ::1) are outside the name constraints of "
            "intermediate CN=Narrow CA (permitted: x.test)",
            HINTS["names"],
        ),
    ],
)
def test_defect_word_for_word(
    chain: list[x509.Certificate], code: int, message: str, detail: str, hint: str
) -> None:
    """Each defect class names the certificate from the chain and quotes OpenSSL."""
    check = chain_check(chain, VerifyError(code, message), None)
    assert check == Check("cert.chain", Status.FAIL, f"{detail} (OpenSSL: {message})", hint)


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (79, "not a CA"),
        (32, "not a CA"),
        (26, "purpose"),
        (47, "names"),
        (51, "names"),
        (25, "path length"),
        (34, "critical"),
        (7, "malformed"),
        (94, "malformed"),
    ],
)
def test_defect_not_found_in_chain_quotes_openssl_alone(code: int, hint: str) -> None:
    """When the chain sent shows no certificate with the defect (it is in the local store, say),
    the detail is OpenSSL's words alone, and the hint still says reissue."""
    check = chain_check([LEAF, INTER], VerifyError(code, "its words"), None)
    assert check == Check("cert.chain", Status.FAIL, "OpenSSL: its words", HINTS[hint])


def test_trust_errors_keep_the_trust_hint() -> None:
    """The twin: an untrusted root still hints --ca-file, not reissue."""
    check = chain_check(
        [LEAF, INTER], VerifyError(20, "unable to get local issuer certificate"), None
    )
    assert check.hint.startswith("pass the issuing root with --ca-file")
