"""Unit tests for the pure TLS facts (certs.py) and the pure judge in tls.py: no network."""

from __future__ import annotations

import datetime as dt

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tlsprobe.model import MinTls, Policy, Status
from tlsprobe.tls import (
    Handshake,
    Mode,
    Negotiated,
    VerifyError,
    certs,
    chain_check,
    judge,
    tls_info,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
DER = serialization.Encoding.DER
# DER of the AlgorithmIdentifier OIDs: same length, so patching keeps every DER length valid.
SHA256_RSA_OID = bytes.fromhex("06092a864886f70d01010b")
SHA1_RSA_OID = bytes.fromhex("06092a864886f70d010105")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build(
    cn: str,
    *,
    sans: list[x509.GeneralName] | None = None,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = EC_KEY,
    issuer: tuple[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] | None = None,
    not_before: dt.datetime = NOW - 30 * DAY,
    not_after: dt.datetime = NOW + 365 * DAY,
) -> x509.Certificate:
    """A certificate signed with SHA-256 by `issuer` (name, key), or self-signed."""
    issuer_cn, signer = issuer or (cn, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(issuer_cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer, hashes.SHA256())


def sha1_signed(cert: x509.Certificate, signer: rsa.RSAPrivateKey) -> x509.Certificate:
    """Re-sign an RSA/SHA-256 certificate with SHA-1 (cryptography no longer signs with SHA-1)."""
    der = cert.public_bytes(DER).replace(SHA256_RSA_OID, SHA1_RSA_OID)
    tbs = x509.load_der_x509_certificate(der).tbs_certificate_bytes
    signature = signer.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    return x509.load_der_x509_certificate(der.replace(cert.signature, signature))


def pem(blob: trustme.Blob) -> x509.Certificate:
    return x509.load_pem_x509_certificate(blob.bytes())


def trustme_leaf(*names: str, **kwargs: object) -> x509.Certificate:
    return pem(trustme.CA().issue_cert(*names, **kwargs).cert_chain_pems[0])  # type: ignore[arg-type]


def dns(*names: str) -> list[x509.GeneralName]:
    return [x509.DNSName(n) for n in names]


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("db.lab.test", "db.lab.test", True),
        ("db.lab.test", "web.lab.test", False),
        ("DB.Lab.Test", "db.LAB.test", True),
        ("db.lab.test", "db.lab.test.", True),
        ("db.lab.test.", "db.lab.test", True),
        ("*.lab.test", "db.lab.test", True),
        ("*.lab.test", "a.b.lab.test", False),
        ("*.lab.test", "lab.test", False),
        ("*.lab.test", ".lab.test", False),
        ("*.com", "example.com", False),
        ("f*.example.com", "foo.example.com", False),
        ("*oo.example.com", "foo.example.com", False),
        ("*.*.example.com", "a.b.example.com", False),
        ("*.lab.test", "a-b.lab.test", True),
        ("*.lab.test", "xn--bcher-kva.lab.test", True),
        ("*.lab.test", "a_b.lab.test", False),
        ("*.lab.test", "a*b.lab.test", False),
    ],
)
def test_dns_name_matches(pattern: str, host: str, expected: bool) -> None:
    """DNS SAN matching follows RFC 6125 as OpenSSL applies it, wildcards included."""
    assert certs.dns_name_matches(pattern, host) is expected


@pytest.mark.parametrize(
    ("san", "host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("::1", "0:0:0:0:0:0:0:1", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("localhost", "127.0.0.1", False),
        ("127.0.0.1", "localhost", False),
    ],
)
def test_ip_matches(san: str, host: str, expected: bool) -> None:
    """IP matching compares addresses, not text, and never matches a name."""
    assert certs.ip_matches(san, host) is expected


def test_hostname_pass_for_san() -> None:
    """A trustme leaf for the host passes cert.hostname."""
    check = certs.hostname_check(trustme_leaf("db.lab.test"), "db.lab.test")
    assert (check.id, check.status) == ("cert.hostname", Status.PASS)
    assert check.detail == "db.lab.test matches db.lab.test"


def test_hostname_fail_for_other_name() -> None:
    """A leaf for other names fails, and the detail names the SANs and the host."""
    check = certs.hostname_check(trustme_leaf("a.lab.test", "b.lab.test"), "db.lab.test")
    assert check.status is Status.FAIL
    assert "a.lab.test, b.lab.test" in check.detail
    assert "db.lab.test" in check.detail
    assert "db.lab.test" in check.hint


def test_hostname_cn_only_fails() -> None:
    """A CN-only certificate whose CN equals the host still fails, naming subjectAltName."""
    check = certs.hostname_check(build("db.lab.test"), "db.lab.test")
    assert check.status is Status.FAIL
    assert "subjectAltName" in check.detail
    assert "CN=db.lab.test" in check.detail


def test_hostname_same_name_in_san_passes() -> None:
    """The twin of the CN-only case: the same name in the SAN passes."""
    cert = build("db.lab.test", sans=dns("db.lab.test"))
    assert certs.hostname_check(cert, "db.lab.test").status is Status.PASS


def test_hostname_ip_host_matches_ip_san() -> None:
    """An IP host passes against an iPAddress SAN for it."""
    check = certs.hostname_check(trustme_leaf("127.0.0.1"), "127.0.0.1")
    assert check.status is Status.PASS


def test_hostname_ip_host_does_not_match_dns_san_text() -> None:
    """An IP host fails against a dNSName SAN spelling the same text (OpenSSL checks iPAddress)."""
    cert = build("x", sans=dns("127.0.0.1"))
    assert certs.hostname_check(cert, "127.0.0.1").status is Status.FAIL


def test_hostname_wildcard_too_deep_says_so() -> None:
    """A wildcard one label too shallow fails with a note that it covers exactly one label."""
    cert = build("x", sans=dns("*.lab.test"))
    check = certs.hostname_check(cert, "a.b.lab.test")
    assert check.status is Status.FAIL
    assert "*.lab.test covers exactly one label, not a.b.lab.test" in check.detail


def test_hostname_wildcard_one_label_passes() -> None:
    """The twin: the same wildcard covers a host one label below it, without a note."""
    check = certs.hostname_check(build("x", sans=dns("*.lab.test")), "a.lab.test")
    assert (check.status, check.detail) == (Status.PASS, "a.lab.test matches *.lab.test")


def test_expiry_pass() -> None:
    """A leaf valid well past the window passes and says until when."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - DAY, not_after=NOW + 100 * DAY)
    check = certs.expiry_check([leaf], NOW, 14)
    assert check.status is Status.PASS
    assert check.detail == "leaf valid until 2026-09-09T12:00:00Z"


def test_expiry_expired_leaf_fails() -> None:
    """An expired leaf fails with how long ago it expired."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - 90 * DAY, not_after=NOW - 3 * DAY)
    check = certs.expiry_check([leaf], NOW, 14)
    assert check.status is Status.FAIL
    assert check.detail == "leaf expired 3 days ago (2026-05-29T12:00:00Z)"


def test_expiry_not_yet_valid_fails() -> None:
    """A leaf that is not valid yet fails and says from when."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW + 2 * DAY, not_after=NOW + 90 * DAY)
    check = certs.expiry_check([leaf], NOW, 14)
    assert check.status is Status.FAIL
    assert check.detail == "leaf is not valid until 2026-06-03T12:00:00Z (in 2 days)"


def test_expiry_within_window_warns() -> None:
    """A leaf expiring inside the warning window warns."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - DAY, not_after=NOW + 5 * DAY)
    check = certs.expiry_check([leaf], NOW, 14)
    assert check.status is Status.WARN
    assert check.detail.startswith("leaf expires in 5 days")


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [(dt.timedelta(days=14), Status.PASS), (dt.timedelta(days=14, seconds=-1), Status.WARN)],
)
def test_expiry_window_edge(remaining: dt.timedelta, expected: Status) -> None:
    """Exactly warn_days left passes; one second less warns."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - DAY, not_after=NOW + remaining)
    assert certs.expiry_check([leaf], NOW, 14).status is expected


def test_expiry_expired_intermediate_fails_naming_it() -> None:
    """An expired intermediate fails the check even when the leaf is fine, and is named."""
    leaf = build("db.lab.test", issuer=("Lab Intermediate", RSA_2048))
    inter = build(
        "Lab Intermediate", key=RSA_2048, issuer=("Lab Root", EC_KEY), not_after=NOW - DAY
    )
    check = certs.expiry_check([leaf, inter], NOW, 14)
    assert check.status is Status.FAIL
    assert check.detail.startswith("intermediate CN=Lab Intermediate expired 1 day ago")


def test_expiry_fail_outranks_warn() -> None:
    """A failing intermediate wins over a warning leaf."""
    leaf = build("db.lab.test", issuer=("Lab Intermediate", RSA_2048), not_after=NOW + 2 * DAY)
    inter = build("Lab Intermediate", key=RSA_2048, issuer=("R", EC_KEY), not_after=NOW - DAY)
    assert certs.expiry_check([leaf, inter], NOW, 14).status is Status.FAIL


def test_expiry_huge_window_is_clamped_not_overflowing() -> None:
    """A warning window beyond what a timedelta holds warns for a good leaf instead of raising."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - DAY, not_after=NOW + 100 * DAY)
    check = certs.expiry_check([leaf], NOW, 10**12)
    assert (check.status, check.detail) == (
        Status.WARN,
        "leaf expires in 100 days (2026-09-09T12:00:00Z)",
    )
    assert certs.expiry_check([leaf], NOW, 14).status is Status.PASS


def test_expiry_negative_window_never_warns() -> None:
    """A negative window means none: a leaf expiring in an hour passes, an expired one fails."""
    soon = trustme_leaf("db.lab.test", not_before=NOW - DAY, not_after=NOW + dt.timedelta(hours=1))
    gone = trustme_leaf("db.lab.test", not_before=NOW - 9 * DAY, not_after=NOW - DAY)
    assert certs.expiry_check([soon], NOW, -5).status is Status.PASS
    assert certs.expiry_check([gone], NOW, -5).status is Status.FAIL


def test_expiry_empty_chain_skips() -> None:
    """No certificate means cert.expiry is skipped, not passed."""
    assert certs.expiry_check([], NOW, 14).status is Status.SKIP


@pytest.mark.parametrize(
    ("version", "minimum", "legacy", "status", "detail"),
    [
        ("TLSv1.3", "TLSv1.2", False, Status.PASS, "TLSv1.3"),
        ("TLSv1.2", "TLSv1.2", False, Status.PASS, "TLSv1.2"),
        ("TLSv1.3", "TLSv1.3", False, Status.PASS, "TLSv1.3"),
        ("TLSv1.2", "TLSv1.3", False, Status.FAIL, "negotiated TLSv1.2, below the minimum TLSv1.3"),
        ("TLSv1.1", "TLSv1.2", True, Status.FAIL, "the server offers at best TLSv1.1, below"),
        ("TLSv1", "TLSv1.2", True, Status.FAIL, "the server offers at best TLSv1, below"),
        ("unknown", "TLSv1.2", False, Status.FAIL, "negotiated unknown, below"),
    ],
)
def test_version_check(
    version: str, minimum: str, legacy: bool, status: Status, detail: str
) -> None:
    """tls.version passes at or above the minimum and fails below it, with legacy wording."""
    check = certs.version_check(version, minimum, legacy=legacy)
    assert (check.id, check.status) == ("tls.version", status)
    assert check.detail.startswith(detail)


def test_weak_key_rsa_1024_flagged_2048_not() -> None:
    """RSA-1024 is a weak key; RSA-2048 and EC P-256 are not."""
    assert "weak key RSA-1024" in (certs.weak_key(build("w", key=RSA_1024)) or "")
    assert certs.weak_key(build("s", key=RSA_2048)) is None
    assert certs.weak_key(build("e")) is None


def test_weak_key_small_ec_curve_flagged() -> None:
    """An EC P-192 key is weak (OpenSSL's default level needs 224 bits); EC P-224 is not."""
    p192 = build("w", key=ec.generate_private_key(ec.SECP192R1()))
    assert certs.weak_key(p192) == (
        "weak key EC secp192r1 (clients require a curve of at least 224 bits)"
    )
    assert certs.weak_key(build("s", key=ec.generate_private_key(ec.SECP224R1()))) is None
    assert certs.chain_weaknesses([p192]) == [
        "leaf CN=w: weak key EC secp192r1 (clients require a curve of at least 224 bits)"
    ]


def test_weak_signature_sha1_flagged_sha256_not() -> None:
    """A SHA-1 signature is weak; the same certificate signed with SHA-256 is not."""
    good = build("db.lab.test", key=RSA_2048, issuer=("CA", RSA_2048))
    bad = sha1_signed(good, RSA_2048)
    assert "weak signature sha1WithRSAEncryption" in (certs.weak_signature(bad) or "")
    assert certs.weak_signature(good) is None


def test_chain_weaknesses_ignore_root_self_signature() -> None:
    """A SHA-1 leaf is flagged, but a self-signed root's own SHA-1 signature is not."""
    leaf = sha1_signed(build("db.lab.test", issuer=("Old Root", RSA_2048)), RSA_2048)
    root = sha1_signed(build("Old Root", key=RSA_2048), RSA_2048)
    found = certs.chain_weaknesses([leaf, root])
    assert len(found) == 1
    assert found[0].startswith("leaf CN=db.lab.test: weak signature")
    assert certs.chain_weaknesses([build("db.lab.test", issuer=("R", RSA_2048))]) == []


def test_chain_weaknesses_name_weak_key_role() -> None:
    """A weak intermediate key is reported with its role and name."""
    leaf = build("db.lab.test", issuer=("Weak CA", RSA_1024))
    inter = build("Weak CA", key=RSA_1024, issuer=("Root", EC_KEY))
    assert certs.chain_weaknesses([leaf, inter]) == [
        "intermediate CN=Weak CA: weak key RSA-1024 (clients require at least 2048 bits)"
    ]


def test_cert_info_ec_keeps_san_order() -> None:
    """cert_info of a trustme EC leaf reports P-256, ECDSA/SHA-256 and the SANs in order."""
    cert = trustme_leaf("b.lab.test", "a.lab.test", "127.0.0.1")
    info = certs.cert_info(cert)
    assert info.key == "EC P-256"
    assert info.signature == "ecdsa-with-SHA256"
    assert info.san == ("b.lab.test", "a.lab.test", "127.0.0.1")
    assert info.sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert info.not_after == cert.not_valid_after_utc


def test_cert_info_rsa_and_no_san() -> None:
    """An RSA-2048 certificate without SAN reads as RSA-2048 with an empty SAN list."""
    info = certs.cert_info(build("only-cn", key=RSA_2048))
    assert (info.key, info.signature, info.san) == ("RSA-2048", "sha256WithRSAEncryption", ())
    assert info.subject == info.issuer == "CN=only-cn"
    rsa_leaf = trustme_leaf("db.lab.test", key_type=trustme.KeyType.RSA)
    assert certs.key_text(rsa_leaf) == "RSA-2048"


# --- tls.py: chain_check and judge ----------------------------------------------------------


def trustme_chain() -> tuple[list[x509.Certificate], x509.Certificate]:
    """leaf + intermediate as a server sends them, and the root it does not send."""
    root = trustme.CA()
    leaf = root.create_child_ca().issue_cert("db.lab.test")
    return [pem(b) for b in leaf.cert_chain_pems], pem(root.cert_pem)


def test_chain_check_pass_names_root() -> None:
    """No verify error and no weakness passes, naming the trusted root."""
    chain, _ = trustme_chain()
    check = chain_check(chain, None, "CN=Lab Root")
    assert (check.id, check.status) == ("cert.chain", Status.PASS)
    assert "CN=Lab Root" in check.detail


def test_chain_check_self_signed() -> None:
    """Verify error 18 fails as a self-signed certificate, with a --ca-file hint."""
    cert = build("db.lab.test", sans=dns("db.lab.test"))
    check = chain_check([cert], VerifyError(18, "self-signed certificate"), None)
    assert check.status is Status.FAIL
    assert check.detail == "self-signed certificate (CN=db.lab.test)"
    assert "--ca-file" in check.hint


def test_chain_check_leaf_only_hints_missing_intermediate() -> None:
    """Error 20 with a one-certificate chain says the server does not send its intermediate."""
    chain, _ = trustme_chain()
    check = chain_check(chain[:1], VerifyError(20, "unable to get local issuer certificate"), None)
    assert check.status is Status.FAIL
    assert "the server does not send its intermediate" in check.hint
    assert certs.short_name(chain[0].issuer) in check.detail


@pytest.mark.parametrize("code", [19, 20])
def test_chain_check_untrusted_root_named(code: int) -> None:
    """Errors 19/20 with a longer chain name the untrusted root, without the intermediate hint."""
    chain, root = trustme_chain()
    served = [*chain, root] if code == 19 else chain
    check = chain_check(served, VerifyError(code, "untrusted"), None)
    assert check.status is Status.FAIL
    assert f"the chain ends at {certs.short_name(root.subject)}" in check.detail
    assert "does not send its intermediate" not in check.hint


def test_chain_check_weak_key() -> None:
    """Error 66 on an RSA-1024 leaf fails and names the weak key."""
    leaf = build("db.lab.test", key=RSA_1024, issuer=("CA", EC_KEY))
    check = chain_check([leaf], VerifyError(66, "EE certificate key too weak"), None)
    assert check.status is Status.FAIL
    assert "weak key RSA-1024" in check.detail
    assert "RSA-2048" in check.hint


def test_chain_check_empty_chain_fails() -> None:
    """No certificate at all fails cert.chain."""
    assert chain_check([], None, None).status is Status.FAIL


def negotiated(
    chain: list[x509.Certificate],
    *,
    version: str = "TLSv1.3",
    error: VerifyError | None = None,
    mode: Mode = Mode.VERIFY,
) -> Negotiated[None]:
    der = tuple(c.public_bytes(DER) for c in chain)
    hs = Handshake(version, "TLS_AES_256_GCM_SHA384", None, der, verified_root="CN=Lab Root")
    return Negotiated(None, hs, error, mode)


def test_judge_good_session_all_pass() -> None:
    """A good negotiated session yields the four TLS checks, in order, all passing."""
    chain, _ = trustme_chain()
    checks = judge(negotiated(chain), "db.lab.test", Policy(), now=NOW)
    assert [(c.id, c.status) for c in checks] == [
        ("tls.version", Status.PASS),
        ("cert.chain", Status.PASS),
        ("cert.hostname", Status.PASS),
        ("cert.expiry", Status.PASS),
    ]


def test_judge_bad_session_all_fail() -> None:
    """An old version, untrusted expired leaf for another host fails all four checks."""
    leaf = build("x", sans=dns("other.lab.test"), issuer=("CA", EC_KEY), not_after=NOW - DAY)
    neg = negotiated([leaf], version="TLSv1", error=VerifyError(20, "x"), mode=Mode.LEGACY_CAPTURE)
    checks = judge(neg, "db.lab.test", Policy(min_tls=MinTls.TLS13), now=NOW)
    assert [c.status for c in checks] == [Status.FAIL] * 4
    assert checks[0].detail.startswith("the server offers at best TLSv1,")


def test_judge_no_certificate_skips_hostname_and_expiry() -> None:
    """Without a certificate, hostname and expiry are skipped and the chain fails."""
    checks = judge(negotiated([]), "db.lab.test", Policy(), now=NOW)
    assert [c.status for c in checks] == [Status.PASS, Status.FAIL, Status.SKIP, Status.SKIP]


def test_tls_info_reports_chain_in_order() -> None:
    """tls_info reports the chain as sent, leaf first, with version and cipher."""
    chain, _ = trustme_chain()
    info = tls_info(negotiated(chain).handshake)
    assert (info.version, info.cipher, info.alpn) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384", None)
    assert [c.san for c in info.chain] == [("db.lab.test",), ()]
