"""Unit tests for the pure TLS facts (tls/certs.py): no network."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from certbuild import DAY, EC_KEY, NOW, RSA_1024, RSA_2048, build, dns, sha1_signed, trustme_leaf
from tlsprobe.tls import certs

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
