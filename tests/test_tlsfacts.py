"""Unit tests for the pure TLS facts (tls/certs.py) and the pure judge that builds checks from
them (tls/judge.py): no network."""

from __future__ import annotations

import datetime as dt
import ipaddress
from types import SimpleNamespace
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, x25519

from certbuild import (
    DAY,
    DER,
    EC_KEY,
    NOW,
    RSA_1024,
    RSA_2048,
    build,
    dns,
    negotiated,
    sha1_signed,
    trustme_chain,
    trustme_leaf,
)
from tlsprobe.model import MinTls, Policy, Status
from tlsprobe.tls import (
    Handshake,
    Mode,
    VerifyError,
    certs,
    chain_check,
    context,
    credentials_withheld,
    expiry_check,
    hostname_check,
    judge,
    tls_info,
    version_check,
)
from tlsprobe.tls.judge import names_text

SECOND = dt.timedelta(seconds=1)


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
        ("f*.lab.test", "f*.lab.test", False),
        ("*.*.lab.test", "a.*.lab.test", False),
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


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (ec.generate_private_key(ec.SECP384R1()), "EC P-384"),
        (ec.generate_private_key(ec.SECP521R1()), "EC P-521"),
        (ec.generate_private_key(ec.SECP256K1()), "EC secp256k1"),
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
        (ed448.Ed448PrivateKey.generate(), "Ed448"),
    ],
    ids=["P-384", "P-521", "secp256k1", "Ed25519", "Ed448"],
)
def test_key_text_names_each_key(key: Any, text: str) -> None:
    """Each key type and curve is named as people know it; a curve without a short name by
    OpenSSL's."""
    assert certs.key_text(build("k", key=key, issuer=("CA", EC_KEY))) == text


def test_key_text_names_other_keys_by_type() -> None:
    """A key type with no name of its own here (X25519, which a CA may certify) reads as its
    class."""
    key = x25519.X25519PrivateKey.generate()
    assert certs.key_text(build("k", key=key, issuer=("CA", EC_KEY))) == "X25519PublicKey"


def test_role_of_each_position() -> None:
    """The first certificate is the leaf; after it a self-issued one is a root, any other an
    intermediate."""
    root, inter = build("Root"), build("Inter", issuer=("Root", EC_KEY))
    assert [certs.role(0, root), certs.role(1, root), certs.role(1, inter)] == [
        "leaf",
        "root",
        "intermediate",
    ]


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [
        ("TLSv1.2", "TLSv1.2", True),
        ("TLSv1.1", "TLSv1.2", False),
        ("TLSv1", "SSLv3", True),
        ("unknown", "SSLv3", False),
    ],
)
def test_version_at_least(version: str, minimum: str, expected: bool) -> None:
    """Versions compare by age; one that is not known is below every minimum, SSLv3 too."""
    assert certs.version_at_least(version, minimum) is expected


@pytest.mark.parametrize(
    ("sans", "host", "expected"),
    [
        (dns("a.lab.test", "*.lab.test"), "db.lab.test", "*.lab.test"),
        (dns("db.lab.test", "*.lab.test"), "db.lab.test", "db.lab.test"),
        (dns("a.lab.test"), "db.lab.test", None),
        ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], "127.0.0.1", "127.0.0.1"),
        ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], "127.0.0.2", None),
        (dns("127.0.0.1"), "127.0.0.1", None),
    ],
)
def test_matching_name(sans: list[x509.GeneralName], host: str, expected: str | None) -> None:
    """The first SAN entry of the host's kind that covers it, or None; covers_host agrees."""
    cert = build("x", sans=sans)
    assert certs.matching_name(cert, host) == expected
    assert certs.covers_host(cert, host) is (expected is not None)


def test_a_common_name_never_covers_the_host() -> None:
    """A CN-only certificate whose CN is the host does not cover it; its CN is still read."""
    cert = build("db.lab.test")
    assert certs.covers_host(cert, "db.lab.test") is False
    assert certs.common_names(cert) == ["db.lab.test"]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (NOW - 30 * DAY, True),  # exactly not_before
        (NOW + 365 * DAY, True),  # exactly not_after
        (NOW - 30 * DAY - SECOND, False),
        (NOW + 365 * DAY + SECOND, False),
    ],
)
def test_in_date_includes_both_ends(at: dt.datetime, expected: bool) -> None:
    """A certificate is in date from its not_before to its not_after, both included."""
    assert certs.in_date([build("db.lab.test")], at) is expected


def test_in_date_judges_every_certificate() -> None:
    """One certificate out of date makes the chain out of date, wherever it sits."""
    good = build("db.lab.test")
    gone = build("Lab Intermediate", not_after=NOW - DAY)
    assert certs.in_date([good, good], NOW) is True
    assert certs.in_date([good, gone], NOW) is False
    assert certs.in_date([gone, good], NOW) is False


# --- tls/judge.py: the checks ---------------------------------------------------------------


def test_hostname_pass_for_san() -> None:
    """A trustme leaf for the host passes cert.hostname."""
    check = hostname_check(trustme_leaf("db.lab.test"), "db.lab.test")
    assert (check.id, check.status) == ("cert.hostname", Status.PASS)
    assert check.detail == "db.lab.test matches db.lab.test"


def test_hostname_fail_for_other_name() -> None:
    """A leaf for other names fails, and the detail names the SANs and the host."""
    check = hostname_check(trustme_leaf("a.lab.test", "b.lab.test"), "db.lab.test")
    assert check.status is Status.FAIL
    assert "a.lab.test, b.lab.test" in check.detail
    assert "db.lab.test" in check.detail
    assert "db.lab.test" in check.hint


def test_hostname_cn_only_is_not_a_pass() -> None:
    """A CN-only certificate whose CN equals the host warns (CN fallback), naming the SAN fix."""
    check = hostname_check(build("db.lab.test"), "db.lab.test")
    assert check.status is Status.WARN
    assert "subject CN (db.lab.test)" in check.detail
    assert check.hint == "reissue the certificate with db.lab.test in subjectAltName"


def test_hostname_same_name_in_san_passes() -> None:
    """The twin of the CN-only case: the same name in the SAN passes."""
    cert = build("db.lab.test", sans=dns("db.lab.test"))
    assert hostname_check(cert, "db.lab.test").status is Status.PASS


def test_hostname_ip_host_matches_ip_san() -> None:
    """An IP host passes against an iPAddress SAN for it."""
    check = hostname_check(trustme_leaf("127.0.0.1"), "127.0.0.1")
    assert check.status is Status.PASS


def test_hostname_ip_host_does_not_match_dns_san_text() -> None:
    """An IP host fails against a dNSName SAN spelling the same text (OpenSSL checks iPAddress)."""
    cert = build("x", sans=dns("127.0.0.1"))
    assert hostname_check(cert, "127.0.0.1").status is Status.FAIL


def test_hostname_wildcard_too_deep_says_so() -> None:
    """A wildcard one label too shallow fails with a note that it covers exactly one label."""
    cert = build("x", sans=dns("*.lab.test"))
    check = hostname_check(cert, "a.b.lab.test")
    assert check.status is Status.FAIL
    assert "*.lab.test covers exactly one label, not a.b.lab.test" in check.detail


def test_hostname_wildcard_one_label_passes() -> None:
    """The twin: the same wildcard covers a host one label below it, without a note."""
    check = hostname_check(build("x", sans=dns("*.lab.test")), "a.lab.test")
    assert (check.status, check.detail) == (Status.PASS, "a.lab.test matches *.lab.test")


def test_expiry_pass() -> None:
    """A leaf valid well past the window passes and says until when."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - DAY, not_after=NOW + 100 * DAY)
    check = expiry_check([leaf], NOW, 14)
    assert check.status is Status.PASS
    assert check.detail == "leaf valid until 2026-09-09T12:00:00Z"


def test_expiry_expired_leaf_fails() -> None:
    """An expired leaf fails with how long ago it expired."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - 90 * DAY, not_after=NOW - 3 * DAY)
    check = expiry_check([leaf], NOW, 14)
    assert check.status is Status.FAIL
    assert check.detail == "leaf expired 3 days ago (2026-05-29T12:00:00Z)"


def test_expiry_not_yet_valid_fails() -> None:
    """A leaf that is not valid yet fails and says from when."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW + 2 * DAY, not_after=NOW + 90 * DAY)
    check = expiry_check([leaf], NOW, 14)
    assert check.status is Status.FAIL
    assert check.detail == "leaf is not valid until 2026-06-03T12:00:00Z (in 2 days)"


def test_expiry_within_window_warns() -> None:
    """A long-lived leaf expiring inside the warning window warns."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - 85 * DAY, not_after=NOW + 5 * DAY)
    check = expiry_check([leaf], NOW, 14)
    assert check.status is Status.WARN
    assert check.detail.startswith("leaf expires in 5 days")


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [(dt.timedelta(days=14), Status.PASS), (dt.timedelta(days=14, seconds=-1), Status.WARN)],
)
def test_expiry_window_edge(remaining: dt.timedelta, expected: Status) -> None:
    """Exactly warn_days left passes; one second less warns (a 1-year leaf: the days rule)."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - 351 * DAY, not_after=NOW + remaining)
    assert expiry_check([leaf], NOW, 14).status is expected


def test_expiry_expired_intermediate_fails_naming_it() -> None:
    """An expired intermediate fails the check even when the leaf is fine, and is named."""
    leaf = build("db.lab.test", issuer=("Lab Intermediate", RSA_2048))
    inter = build(
        "Lab Intermediate", key=RSA_2048, issuer=("Lab Root", EC_KEY), not_after=NOW - DAY
    )
    check = expiry_check([leaf, inter], NOW, 14)
    assert check.status is Status.FAIL
    assert check.detail.startswith("intermediate CN=Lab Intermediate expired 1 day ago")


def test_expiry_fail_outranks_warn() -> None:
    """A failing intermediate wins over a warning leaf."""
    leaf = build("db.lab.test", issuer=("Lab Intermediate", RSA_2048), not_after=NOW + 2 * DAY)
    inter = build("Lab Intermediate", key=RSA_2048, issuer=("R", EC_KEY), not_after=NOW - DAY)
    assert expiry_check([leaf, inter], NOW, 14).status is Status.FAIL


def test_expiry_huge_window_is_clamped_not_overflowing() -> None:
    """A warning window beyond what a timedelta holds warns for a good leaf instead of raising
    (a 10-year leaf, whose third of a lifetime is longer than the 100 days left)."""
    leaf = trustme_leaf("db.lab.test", not_before=NOW - 3650 * DAY, not_after=NOW + 100 * DAY)
    check = expiry_check([leaf], NOW, 10**12)
    assert (check.status, check.detail) == (
        Status.WARN,
        "leaf expires in 100 days (2026-09-09T12:00:00Z)",
    )
    assert expiry_check([leaf], NOW, 14).status is Status.PASS


def test_expiry_negative_window_never_warns() -> None:
    """A negative window means none: a leaf expiring in an hour passes, an expired one fails."""
    soon = trustme_leaf("db.lab.test", not_before=NOW - DAY, not_after=NOW + dt.timedelta(hours=1))
    gone = trustme_leaf("db.lab.test", not_before=NOW - 9 * DAY, not_after=NOW - DAY)
    assert expiry_check([soon], NOW, -5).status is Status.PASS
    assert expiry_check([gone], NOW, -5).status is Status.FAIL


def test_expiry_empty_chain_skips() -> None:
    """No certificate means cert.expiry is skipped, not passed."""
    assert expiry_check([], NOW, 14).status is Status.SKIP


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
    check = version_check(version, minimum, legacy=legacy)
    assert (check.id, check.status) == ("tls.version", status)
    assert check.detail.startswith(detail)


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


def test_hostname_lists_ten_names_of_thousands() -> None:
    """A certificate with 3,000 SANs for other hosts names ten of them, then counts the rest."""
    names = [f"h{i}.lab.test" for i in range(3000)]
    checks = judge(negotiated([build("x", sans=dns(*names))]), "db.lab.test", Policy(), now=NOW)
    hostname = next(c for c in checks if c.id == "cert.hostname")
    assert hostname.status is Status.FAIL
    assert hostname.detail == (
        f"the certificate is for {', '.join(names[:10])} and 2990 more, not db.lab.test"
    )


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (10, "n0, n1, n2, n3, n4, n5, n6, n7, n8, n9"),
        (11, "n0, n1, n2, n3, n4, n5, n6, n7, n8, n9 and 1 more"),
    ],
)
def test_names_text_counts_past_ten(count: int, shown: str) -> None:
    """Ten names are all listed; the eleventh is counted instead."""
    assert names_text([f"n{i}" for i in range(count)]) == shown


# --- credentials ----------------------------------------------------------------------------


def handshake_of(*chain: x509.Certificate, anchor: x509.Certificate | None = None) -> Handshake:
    der = tuple(c.public_bytes(DER) for c in chain)
    anchor_der = anchor.public_bytes(DER) if anchor is not None else None
    return Handshake("TLSv1.3", "TLS_AES_256_GCM_SHA384", None, der, anchor_der=anchor_der)


GOOD_LEAF = build("db.lab.test", sans=dns("db.lab.test"), issuer=("Lab Root", RSA_2048))
ROOT = build("Lab Root", key=RSA_2048)


@pytest.mark.parametrize(
    ("mode", "handshake", "host", "why"),
    [
        (Mode.VERIFY, handshake_of(GOOD_LEAF), "db.lab.test", None),
        (Mode.VERIFY, handshake_of(GOOD_LEAF, anchor=ROOT), "db.lab.test", None),
        (
            Mode.CAPTURE,
            handshake_of(GOOD_LEAF),
            "db.lab.test",
            "the certificate chain did not verify",
        ),
        (
            Mode.LEGACY_CAPTURE,
            handshake_of(GOOD_LEAF),
            "db.lab.test",
            "the certificate chain did not verify",
        ),
        (
            Mode.LEGACY_VERIFY,
            handshake_of(GOOD_LEAF),
            "db.lab.test",
            "only a client that accepts legacy TLS versions or ciphers got through",
        ),
        (Mode.VERIFY, handshake_of(), "db.lab.test", "the server sent no certificate"),
        (
            Mode.VERIFY,
            handshake_of(GOOD_LEAF),
            "web.lab.test",
            "the certificate is not for web.lab.test",
        ),
        (
            Mode.VERIFY,
            handshake_of(build("db.lab.test", sans=dns("db.lab.test"), not_after=NOW - DAY)),
            "db.lab.test",
            "a certificate is expired or not yet valid",
        ),
        (
            Mode.VERIFY,
            handshake_of(GOOD_LEAF, anchor=build("Lab Root", key=RSA_2048, not_after=NOW - DAY)),
            "db.lab.test",
            "a certificate is expired or not yet valid",
        ),
    ],
    ids=[
        "strict",
        "strict, anchor in date",
        "capture",
        "legacy capture",
        "legacy verify",
        "no certificate",
        "other host",
        "expired leaf",
        "expired anchor",
    ],
)
def test_credentials_withheld(mode: Mode, handshake: Handshake, host: str, why: str | None) -> None:
    """Credentials go only over the strict context, to a certificate for the host whose whole
    path, trust anchor included, is in date; otherwise the reason is named."""
    assert credentials_withheld(context(mode, None), handshake, host, NOW) == why


def test_signature_without_a_name_reads_as_its_dotted_oid() -> None:
    """An algorithm cryptography cannot name is shown by its OID, not as "Unknown OID" (a stand-in
    certificate: no CA here signs with an unknown algorithm); a known one keeps its name."""
    unknown = SimpleNamespace(signature_algorithm_oid=x509.ObjectIdentifier("1.2.3.4.5"))
    assert certs.signature_text(unknown) == "1.2.3.4.5"  # type: ignore[arg-type]
    known = SimpleNamespace(signature_algorithm_oid=x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256)
    assert certs.signature_text(known) == "ecdsa-with-SHA256"  # type: ignore[arg-type]
