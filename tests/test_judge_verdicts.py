"""The judge's verdicts word for word (tls/judge.py): each branch of cert.chain, cert.hostname,
cert.expiry and tls.version as the exact Check it returns, the expiry boundaries to the second,
and judge() wiring the handshake's facts (root, anchor, ALPN) into them. No network."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from certbuild import DAY, DER, EC_KEY, NOW, RSA_1024, build, dns
from tlsprobe.model import Check, Policy, Status
from tlsprobe.tls import (
    Handshake,
    Mode,
    Negotiated,
    VerifyError,
    chain_check,
    expiry_check,
    handshake_check,
    hostname_check,
    judge,
    tls_info,
    version_check,
)

SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
CIPHER = "TLS_AES_256_GCM_SHA384"
TRUST_HINT = "pass the issuing root with --ca-file, or use a certificate from a trusted CA"
WEAK_HINT = "reissue with an RSA-2048+ or EC key, signed with SHA-256 or better"
RENEW = "renew the certificate"
CLOCK_HINT = "check the issuing CA's clock, or install the certificate when it is valid"
ROOT = build("Lab Root")
INTER = build("Lab Intermediate", issuer=("Lab Root", EC_KEY))
LEAF = build("db.lab.test", sans=dns("db.lab.test"), issuer=("Lab Intermediate", EC_KEY))


def session(
    chain: list[x509.Certificate],
    anchor: x509.Certificate | None = None,
    *,
    alpn: str | None = None,
    mode: Mode = Mode.VERIFY,
) -> Negotiated[None]:
    der = tuple(c.public_bytes(DER) for c in chain)
    anchor_der = anchor.public_bytes(DER) if anchor is not None else None
    hs = Handshake("TLSv1.3", CIPHER, alpn, der, "CN=Lab Root", anchor_der)
    return Negotiated(None, hs, None, mode)


# --- tls.handshake and tls_info -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        (Mode.VERIFY, f"TLSv1.3 {CIPHER}"),
        (Mode.CAPTURE, f"TLSv1.3 {CIPHER}"),
        (
            Mode.LEGACY_CAPTURE,
            f"TLSv1.3 {CIPHER} (only with a permissive client: default OpenSSL 3 clients refuse"
            " it)",
        ),
    ],
)
def test_handshake_check_names_version_and_cipher(mode: Mode, detail: str) -> None:
    """tls.handshake passes with the version and cipher, noting when only a legacy client got in."""
    assert handshake_check(session([LEAF], mode=mode)) == Check(
        "tls.handshake", Status.PASS, detail
    )


def test_tls_info_keeps_the_alpn() -> None:
    """tls_info carries the negotiated ALPN protocol and the chain's facts, leaf first."""
    info = tls_info(session([LEAF, INTER], alpn="h2").handshake)
    assert (info.version, info.cipher, info.alpn) == ("TLSv1.3", CIPHER, "h2")
    assert [c.subject for c in info.chain] == ["CN=db.lab.test", "CN=Lab Intermediate"]


# --- judge() --------------------------------------------------------------------------------


def test_judge_good_session_word_for_word() -> None:
    """A good session gives the four checks, the chain's naming the root the handshake verified."""
    assert judge(session([LEAF, INTER]), "db.lab.test", Policy(), now=NOW) == [
        Check("tls.version", Status.PASS, "TLSv1.3"),
        Check("cert.chain", Status.PASS, "verified to the trusted root CN=Lab Root"),
        Check("cert.hostname", Status.PASS, "db.lab.test matches db.lab.test"),
        Check("cert.expiry", Status.PASS, "leaf valid until 2027-06-01T12:00:00Z"),
    ]


def test_judge_without_certificate_word_for_word() -> None:
    """No certificate: the chain fails and hostname and expiry say why they were not run, even
    when the local store supplied an anchor."""
    assert judge(session([], anchor=ROOT), "db.lab.test", Policy(), now=NOW)[1:] == [
        Check(
            "cert.chain",
            Status.FAIL,
            "the server sent no certificate",
            "configure a certificate and key on the server's TLS listener",
        ),
        Check("cert.hostname", Status.SKIP, "not run: no certificate received"),
        Check("cert.expiry", Status.SKIP, "no certificate received"),
    ]


def test_judge_dates_the_trust_anchor_it_was_not_sent() -> None:
    """An expired root from the local store fails cert.expiry by name, though the server sent
    only leaf and intermediate."""
    old_root = build("Lab Root", not_after=NOW - DAY)
    checks = judge(session([LEAF, INTER], anchor=old_root), "db.lab.test", Policy(), now=NOW)
    assert checks[3] == Check(
        "cert.expiry",
        Status.FAIL,
        "root CN=Lab Root expired 1 day ago (2026-05-31T12:00:00Z)",
        RENEW,
    )


def test_judge_anchor_in_date_passes() -> None:
    """The twin: the same chain with an anchor in date passes cert.expiry."""
    checks = judge(session([LEAF, INTER], anchor=ROOT), "db.lab.test", Policy(), now=NOW)
    assert checks[3] == Check("cert.expiry", Status.PASS, "leaf valid until 2027-06-01T12:00:00Z")


# --- cert.chain -----------------------------------------------------------------------------


def test_chain_weak_key_without_verify_error() -> None:
    """A weak key OpenSSL let through (no verify error) still fails, naming it."""
    leaf = build("db.lab.test", key=RSA_1024, issuer=("Lab Intermediate", EC_KEY))
    assert chain_check([leaf], None, "CN=Lab Root") == Check(
        "cert.chain",
        Status.FAIL,
        "leaf CN=db.lab.test: weak key RSA-1024 (clients require at least 2048 bits)",
        WEAK_HINT,
    )


@pytest.mark.parametrize("code", [66, 67, 68])
def test_chain_weak_error_without_weakness_found_quotes_openssl(code: int) -> None:
    """OpenSSL's weakness codes fail with OpenSSL's own words when tlsprobe finds no weakness
    of its own to name."""
    check = chain_check([LEAF, INTER], VerifyError(code, "CA certificate key too weak"), None)
    assert check == Check("cert.chain", Status.FAIL, "CA certificate key too weak", WEAK_HINT)


def test_chain_self_signed_word_for_word() -> None:
    """Error 18 is a self-signed certificate named by its CN, with the trust hint."""
    check = chain_check([ROOT], VerifyError(18, "self-signed certificate"), None)
    assert check == Check(
        "cert.chain", Status.FAIL, "self-signed certificate (CN=Lab Root)", TRUST_HINT
    )


LEAF_ONLY_HINT = (
    "the server does not send its intermediate: configure the full chain (leaf + intermediates) "
    f"on the server; or, if CN=Lab Intermediate is a private root, {TRUST_HINT}"
)
LEAF_ONLY = (
    "the server sends only its leaf certificate, issued by CN=Lab Intermediate, which is unknown"
)


@pytest.mark.parametrize("code", [2, 20, 21])
def test_chain_leaf_only_word_for_word(code: int) -> None:
    """Each missing-issuer code on a lone leaf blames the missing intermediate."""
    check = chain_check([LEAF], VerifyError(code, "unable to get issuer certificate"), None)
    assert check == Check("cert.chain", Status.FAIL, LEAF_ONLY, LEAF_ONLY_HINT)


@pytest.mark.parametrize(
    ("chain", "code", "message"),
    [
        ([LEAF, INTER], 2, "unable to get issuer certificate"),
        ([LEAF, INTER], 20, "unable to get local issuer certificate"),
        ([LEAF, INTER], 21, "unable to verify the first certificate"),
        ([LEAF, INTER, ROOT], 19, "self-signed certificate in certificate chain"),
        ([LEAF], 19, "self-signed certificate in certificate chain"),
    ],
    ids=["2", "20", "21", "19 root sent", "19 leaf only"],
)
def test_chain_untrusted_root_word_for_word(
    chain: list[x509.Certificate], code: int, message: str
) -> None:
    """A chain that ends at an unknown root names that root (the last one's issuer, or itself)
    and quotes OpenSSL."""
    end = "CN=Lab Intermediate" if len(chain) == 1 else "CN=Lab Root"
    assert chain_check(chain, VerifyError(code, message), None) == Check(
        "cert.chain",
        Status.FAIL,
        f"the chain ends at {end}, which is not a trusted root ({message})",
        TRUST_HINT,
    )


def test_chain_other_error_quotes_openssl() -> None:
    """Any other verify error, neither trust nor a certificate defect, fails with OpenSSL's
    words and the trust hint (the defects' own hints: test_chains.py)."""
    check = chain_check([LEAF, INTER], VerifyError(28, "certificate rejected"), None)
    assert check == Check("cert.chain", Status.FAIL, "OpenSSL: certificate rejected", TRUST_HINT)


def test_chain_untrusted_and_weak_says_both() -> None:
    """An untrusted chain with a weak key too fails for the trust, then names the weakness."""
    leaf = build("db.lab.test", key=RSA_1024, issuer=("Lab Intermediate", EC_KEY))
    check = chain_check([leaf], VerifyError(20, "unable to get local issuer certificate"), None)
    assert check == Check(
        "cert.chain",
        Status.FAIL,
        f"{LEAF_ONLY}; also leaf CN=db.lab.test: weak key RSA-1024 (clients require at least "
        "2048 bits)",
        LEAF_ONLY_HINT,
    )


# --- cert.hostname --------------------------------------------------------------------------

OTHER_HINT = "reissue the certificate with db.lab.test in subjectAltName, or use a name it covers"


@pytest.mark.parametrize(
    ("subject", "shown"),
    [
        (x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a.lab.test")]), " (CN=a.lab.test)"),
        (x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab")]), ""),
    ],
    ids=["CN", "no CN"],
)
def test_hostname_without_san_word_for_word(subject: x509.Name, shown: str) -> None:
    """No subjectAltName and no CN for the host fails, quoting the CN when there is one."""
    check = hostname_check(build("x", subject=subject), "db.lab.test")
    assert check == Check(
        "cert.hostname",
        Status.FAIL,
        f"the certificate has no subjectAltName{shown}; clients ignore the CN (RFC 6125)",
        "reissue the certificate with db.lab.test in subjectAltName",
    )


@pytest.mark.parametrize(
    ("sans", "host", "detail"),
    [
        (["a.lab.test"], "db.lab.test", "the certificate is for a.lab.test, not db.lab.test"),
        (
            ["*.lab.test"],
            "a.db.lab.test",
            "the certificate is for *.lab.test, not a.db.lab.test"
            " (*.lab.test covers exactly one label, not a.db.lab.test)",
        ),
        (
            ["a.test", "*.LAB.test"],
            "A.DB.Lab.TEST",
            "the certificate is for a.test, *.LAB.test, not A.DB.Lab.TEST"
            " (*.LAB.test covers exactly one label, not A.DB.Lab.TEST)",
        ),
        (["*.other.test"], "db.lab.test", "the certificate is for *.other.test, not db.lab.test"),
    ],
    ids=["other name", "wildcard too shallow", "any case", "other wildcard"],
)
def test_hostname_other_names_word_for_word(sans: list[str], host: str, detail: str) -> None:
    """A certificate for other names lists them; only a wildcard over the host's parent domain
    gets the one-label note, whatever the case of either."""
    check = hostname_check(build("x", sans=dns(*sans)), host)
    hint = f"reissue the certificate with {host} in subjectAltName, or use a name it covers"
    assert check == Check("cert.hostname", Status.FAIL, detail, hint)


# --- cert.expiry: the boundaries ------------------------------------------------------------

START, END = NOW - 30 * DAY, NOW + 365 * DAY
CERT = build("db.lab.test", not_before=START, not_after=END)
VALID = Check("cert.expiry", Status.PASS, "leaf valid until 2027-06-01T12:00:00Z")


@pytest.mark.parametrize(
    ("now", "warn_days", "expected"),
    [
        (END, 0, VALID),
        (
            END,
            14,
            Check(
                "cert.expiry",
                Status.WARN,
                "leaf expires in 0 hours (2027-06-01T12:00:00Z)",
                "renew it: the warning window is 14 days",
            ),
        ),
        (
            END + SECOND,
            0,
            Check(
                "cert.expiry", Status.FAIL, "leaf expired 0 hours ago (2027-06-01T12:00:00Z)", RENEW
            ),
        ),
        (START, 0, VALID),
        (
            START - SECOND,
            0,
            Check(
                "cert.expiry",
                Status.FAIL,
                "leaf is not valid until 2026-05-02T12:00:00Z (in 0 hours)",
                CLOCK_HINT,
            ),
        ),
    ],
    ids=["at not-after", "at not-after, window", "after not-after", "at not-before", "before"],
)
def test_expiry_boundaries_to_the_second(now: dt.datetime, warn_days: int, expected: Check) -> None:
    """A certificate is valid at exactly not-before and not-after, and fails one second outside."""
    assert expiry_check([CERT], now, warn_days) == expected


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (HOUR - SECOND, "0 hours"),
        (HOUR, "1 hour"),
        (5 * HOUR, "5 hours"),
        (12 * HOUR - SECOND, "11 hours"),
        (12 * HOUR, "12 hours"),
        (DAY, "1 day"),
        (36 * HOUR - SECOND, "1 day"),
        (36 * HOUR, "2 days"),
        (60 * HOUR, "2 days"),
        (DAY * 13, "13 days"),
    ],
)
def test_expiry_warning_says_the_time_left(left: dt.timedelta, said: str) -> None:
    """Time left is said in whole hours up to half a day, else in days rounded half to even."""
    cert = build("db.lab.test", not_before=NOW - 365 * DAY, not_after=NOW + left)
    end = (NOW + left).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert expiry_check([cert], NOW, 14) == Check(
        "cert.expiry",
        Status.WARN,
        f"leaf expires in {said} ({end})",
        "renew it: the warning window is 14 days",
    )


# --- tls.version ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "legacy", "detail"),
    [
        ("TLSv1.2", False, "negotiated TLSv1.2, below the minimum TLSv1.3"),
        ("TLSv1.1", True, "the server offers at best TLSv1.1, below the minimum TLSv1.3"),
    ],
)
def test_version_below_minimum_word_for_word(version: str, legacy: bool, detail: str) -> None:
    """A version below the minimum fails, saying what to enable and why the old ones are gone."""
    assert version_check(version, "TLSv1.3", legacy=legacy) == Check(
        "tls.version",
        Status.FAIL,
        detail,
        "enable TLSv1.3 or later on the server (TLS 1.0 and 1.1 are deprecated, RFC 8996)",
    )
