"""The verified-path facts and verdicts word for word (tls/certs.py's path and defect functions,
tls/paths.py): every branch and boundary on crafted certificates, no network. The lab-based
twins, with real clients as the oracle, are in tests/test_chains.py."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID as Eku

from certbuild import DAY, DER, EC_KEY, NOW, RSA_1024, RSA_2048, build, sha1_signed
from tlsprobe.lab.certs import Signer
from tlsprobe.lab.chain_certs import UNKNOWN_EXTENSION, ec_key, make
from tlsprobe.lab.chain_certs import Shape as S
from tlsprobe.lab.chain_certs import leaf_shape as leaf
from tlsprobe.model import Check, Policy, Status
from tlsprobe.tls import Handshake, Mode, Negotiated, VerifyError, certs, chain_check, judge, paths

SECOND = dt.timedelta(seconds=1)
VERDICT = Check("cert.chain", Status.PASS, "verified to the trusted root CN=Lab Root")
BUNDLE = (
    "nginx ssl_certificate, Postfix smtpd_tls_chain_files or smtpd_tls_cert_file, "
    "PostgreSQL ssl_cert_file"
)
DROP = (
    "from the certificate bundle the server sends ({BUNDLE}): a client that builds its path "
    "another way (OpenSSL 1.0.2, older Java and Android) may take it and fail"
).replace("{BUNDLE}", BUNDLE)
ORDER = "send the leaf first, then each certificate's issuer (RFC 5246 7.4.2)"

ROOT_KEY, INTER_KEY, LEAF_KEY = ec_key(), ec_key(), ec_key()
ROOT = make(S("Lab Root", ca=True), ROOT_KEY, None, NOW)
INTER = make(S("Lab Intermediate", ca=True), INTER_KEY, Signer(ROOT, ROOT_KEY), NOW)
LEAF = make(leaf(), LEAF_KEY, Signer(INTER, INTER_KEY), NOW)
OTHER_ROOT_KEY = ec_key()
OTHER_ROOT = make(S("Other Root", ca=True), OTHER_ROOT_KEY, None, NOW)
# The intermediate's subject and key, issued by another root: a cross-sign.
CROSS = make(S("Lab Intermediate", ca=True), INTER_KEY, Signer(OTHER_ROOT, OTHER_ROOT_KEY), NOW)
# Same subject, another key: not a cross-sign.
IMPOSTOR = make(S("Lab Intermediate", ca=True), ec_key(), Signer(OTHER_ROOT, OTHER_ROOT_KEY), NOW)
# Same key, another subject: not a cross-sign either.
RENAMED = make(S("Renamed Intermediate", ca=True), INTER_KEY, Signer(ROOT, ROOT_KEY), NOW)


def negotiated_path(sent: list[x509.Certificate], path: list[x509.Certificate]) -> Negotiated[None]:
    hs = Handshake(
        "TLSv1.3",
        "TLS_AES_256_GCM_SHA384",
        None,
        tuple(c.public_bytes(DER) for c in sent),
        verified_root="CN=Lab Root",
        verified_der=tuple(c.public_bytes(DER) for c in path),
    )
    return Negotiated(None, hs, None, Mode.VERIFY)


# --- path_positions and in_path_order -------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "path", "positions"),
    [
        ([LEAF, INTER], [LEAF, INTER, ROOT], (0, 1)),
        ([LEAF, INTER, ROOT], [LEAF, INTER, ROOT], (0, 1, 2)),
        ([INTER, LEAF], [LEAF, INTER, ROOT], (1, 0)),
        ([LEAF, INTER, INTER], [LEAF, INTER, ROOT], (0, 1, None)),
        ([LEAF, CROSS, INTER], [LEAF, INTER, ROOT], (0, None, 1)),
        ([LEAF, INTER], [], (None, None)),
        ([], [LEAF, INTER], ()),
        ([INTER, INTER], [INTER, INTER], (0, 1)),
        ([INTER, INTER, INTER], [ROOT, INTER, INTER], (1, 2, None)),
    ],
)
def test_path_positions(
    sent: list[x509.Certificate], path: list[x509.Certificate], positions: tuple[int | None, ...]
) -> None:
    """Each certificate sent gets the first index on the path not taken by an earlier copy,
    or None."""
    assert certs.path_positions(sent, path) == positions


@pytest.mark.parametrize(
    ("positions", "ordered"),
    [
        ((), True),
        ((0,), True),
        ((0, 1, 2), True),
        ((None, 0, None, 1), True),
        ((0, 2), True),
        ((1, 0), False),
        ((1, None, 0), False),
        ((0, 2, 1), False),
        ((None, None), True),
    ],
)
def test_in_path_order(positions: tuple[int | None, ...], ordered: bool) -> None:
    """Only the used certificates' order counts, and it must rise."""
    assert certs.in_path_order(positions) is ordered


# --- unused_kind and unused_defects ---------------------------------------------------------


@pytest.mark.parametrize(
    ("cert", "before", "path", "kind"),
    [
        (INTER, [LEAF, INTER], [LEAF, INTER, ROOT], "a second copy"),
        (
            CROSS,
            [LEAF],
            [LEAF, INTER, ROOT],
            "cross-signed by CN=Other Root, a CA the path already has",
        ),
        (CROSS, [LEAF, CROSS], [LEAF, INTER, ROOT], "a second copy"),
        (IMPOSTOR, [LEAF], [LEAF, INTER, ROOT], "unrelated to the path"),
        (RENAMED, [LEAF], [LEAF, INTER, ROOT], "unrelated to the path"),
        (OTHER_ROOT, [LEAF, INTER], [LEAF, INTER, ROOT], "unrelated to the path"),
        (CROSS, [], [LEAF, ROOT], "unrelated to the path"),
    ],
)
def test_unused_kind(
    cert: x509.Certificate,
    before: list[x509.Certificate],
    path: list[x509.Certificate],
    kind: str,
) -> None:
    """A copy of one sent before, a cross-sign (same subject and key as one on the path), or
    unrelated (same subject or same key alone is not enough)."""
    assert certs.unused_kind(cert, before, path) == kind


def test_unused_defects_dates_to_the_second() -> None:
    """Expired only after its last second, not yet valid only before its first; the date in
    ISO form; none for a certificate in date."""
    start, end = NOW - 10 * DAY, NOW + 10 * DAY
    cert = build("x", not_before=start, not_after=end)
    assert certs.unused_defects(cert, end) == []
    assert certs.unused_defects(cert, start) == []
    assert certs.unused_defects(cert, end + SECOND) == [f"expired {end.date().isoformat()}"]
    assert certs.unused_defects(cert, start - SECOND) == [
        f"not valid until {start.date().isoformat()}"
    ]
    assert end.date().isoformat() == "2026-06-11"


def test_unused_defects_key_and_signature() -> None:
    """A weak key and a SHA-1 signature are each named, after the date; a self-issued
    certificate's SHA-1 self-signature does not count."""
    strong = build("Lab Root", key=RSA_2048)
    weak_signed = sha1_signed(
        build("weak", key=RSA_1024, issuer=("Lab Root", RSA_2048), not_after=NOW - DAY), RSA_2048
    )
    assert certs.unused_defects(weak_signed, NOW) == [
        f"expired {(NOW - DAY).date().isoformat()}",
        "weak key RSA-1024 (clients require at least 2048 bits)",
        "weak signature sha1WithRSAEncryption (SHA1 is broken)",
    ]
    self_sha1 = sha1_signed(build("self", key=RSA_2048), RSA_2048)
    assert certs.unused_defects(self_sha1, NOW) == []
    assert certs.unused_defects(strong, NOW) == []


# --- untidy ---------------------------------------------------------------------------------


def test_untidy_tidy_bundle_keeps_the_verdict() -> None:
    """The path sent in order, with or without its root, is the pass unchanged."""
    assert paths.untidy(VERDICT, [LEAF, INTER], [LEAF, INTER, ROOT], NOW) is VERDICT
    assert paths.untidy(VERDICT, [LEAF, INTER, ROOT], [LEAF, INTER, ROOT], NOW) is VERDICT


def test_untidy_one_unused() -> None:
    """One certificate the path does not use: named with its kind, "drop it"."""
    check = paths.untidy(VERDICT, [LEAF, INTER, CROSS], [LEAF, INTER, ROOT], NOW)
    assert check == Check(
        "cert.chain",
        Status.WARN,
        "verified to the trusted root CN=Lab Root; the server also sends what the path does "
        "not use: CN=Lab Intermediate (cross-signed by CN=Other Root, a CA the path already "
        "has)",
        "drop it " + DROP,
    )


def test_untidy_two_unused_with_defects() -> None:
    """Two unused: each named in the order sent, with its defects after its kind; "drop them"."""
    stale = make(S("old.lab.test", not_after=-DAY), ec_key(), None, NOW)
    check = paths.untidy(VERDICT, [LEAF, INTER, INTER, stale], [LEAF, INTER, ROOT], NOW)
    ended = stale.not_valid_after_utc.date().isoformat()
    assert check == Check(
        "cert.chain",
        Status.WARN,
        "verified to the trusted root CN=Lab Root; the server also sends what the path does "
        "not use: CN=Lab Intermediate (a second copy); "
        f"CN=old.lab.test (unrelated to the path, expired {ended})",
        "drop them " + DROP,
    )


def test_untidy_out_of_order() -> None:
    """The used certificates out of the path's order: both orders named, the RFC hint."""
    check = paths.untidy(VERDICT, [INTER, LEAF], [LEAF, INTER, ROOT], NOW)
    assert check == Check(
        "cert.chain",
        Status.WARN,
        "verified to the trusted root CN=Lab Root; sent out of order: CN=Lab Intermediate, "
        "CN=localhost, where the path is CN=localhost, CN=Lab Intermediate, CN=Lab Root",
        ORDER,
    )


def test_untidy_unused_and_out_of_order() -> None:
    """Both at once: the unused note first, then the order (which leaves the unused out), and
    both hints."""
    check = paths.untidy(VERDICT, [INTER, OTHER_ROOT, LEAF], [LEAF, INTER, ROOT], NOW)
    assert check == Check(
        "cert.chain",
        Status.WARN,
        "verified to the trusted root CN=Lab Root; the server also sends what the path does "
        "not use: CN=Other Root (unrelated to the path); sent out of order: "
        "CN=Lab Intermediate, CN=localhost, where the path is CN=localhost, "
        "CN=Lab Intermediate, CN=Lab Root",
        "drop it " + DROP + "; " + ORDER,
    )


# --- certificate defects: the facts ---------------------------------------------------------


def key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def plain(cn: str, *extensions: tuple[x509.ExtensionType, bool]) -> x509.Certificate:
    """A self-signed certificate with exactly `extensions` (none: no basicConstraints)."""
    key = ec_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


CA = (x509.BasicConstraints(ca=True, path_length=None), True)
NOT_CA = (x509.BasicConstraints(ca=False, path_length=None), True)
NO_BC = plain("No Constraints")
CA_FALSE = plain("CA False", NOT_CA)
CA_NO_KU = plain("CA No KeyUsage", CA)
CA_SIGNS = plain("CA Signs", CA, (key_usage(cert_sign=True), True))
CA_NO_SIGN = plain("CA No CertSign", CA, (key_usage(cert_sign=False), True))
ISSUED_NO_BC = build("Issued No Constraints", issuer=("Lab Root", EC_KEY))


@pytest.mark.parametrize(
    ("chain", "found"),
    [
        ([CA_FALSE], None),
        ([NO_BC, CA_SIGNS], None),
        ([CA_FALSE, CA_NO_KU, CA_SIGNS], None),
        ([CA_FALSE, NO_BC], NO_BC),
        ([CA_FALSE, CA_FALSE], CA_FALSE),
        ([CA_FALSE, CA_NO_SIGN], CA_NO_SIGN),
        ([CA_FALSE, CA_SIGNS, CA_NO_SIGN, NO_BC], CA_NO_SIGN),
        ([CA_FALSE, NO_BC, CA_NO_SIGN], NO_BC),
    ],
)
def test_not_a_ca(chain: list[x509.Certificate], found: x509.Certificate | None) -> None:
    """The first certificate after the leaf without CA:TRUE, or with a keyUsage that leaves
    out keyCertSign; a CA with no keyUsage may sign; the leaf is never one."""
    assert certs.not_a_ca(chain) is found


def eku_leaf(*usages: x509.ObjectIdentifier) -> x509.Certificate:
    return plain("eku", (x509.ExtendedKeyUsage(list(usages)), False))


@pytest.mark.parametrize(
    ("usages", "allowed"),
    [
        ((Eku.SERVER_AUTH,), None),
        ((Eku.CLIENT_AUTH, Eku.SERVER_AUTH), None),
        ((Eku.ANY_EXTENDED_KEY_USAGE,), None),
        ((Eku.CLIENT_AUTH,), "clientAuth"),
        ((Eku.CODE_SIGNING, Eku.EMAIL_PROTECTION), "codeSigning, emailProtection"),
    ],
)
def test_without_server_auth(
    usages: tuple[x509.ObjectIdentifier, ...], allowed: str | None
) -> None:
    """extendedKeyUsage without serverAuth (or anyExtendedKeyUsage) is found with what it
    allows, by name."""
    cert = eku_leaf(*usages)
    assert certs.without_server_auth([cert]) == (None if allowed is None else (cert, allowed))


def test_without_server_auth_first_in_chain() -> None:
    """No extendedKeyUsage at all allows everything; the first certificate that restricts it
    is the one named, a CA's included."""
    client = eku_leaf(Eku.CLIENT_AUTH)
    code = eku_leaf(Eku.CODE_SIGNING)
    assert certs.without_server_auth([NO_BC, CA_SIGNS]) is None
    assert certs.without_server_auth([NO_BC, client, code]) == (client, "clientAuth")
    assert certs.without_server_auth([eku_leaf(Eku.SERVER_AUTH), code]) == (code, "codeSigning")


def constraints(
    permitted: list[str] | None, excluded: list[str] | None
) -> tuple[x509.NameConstraints, bool]:
    p = [x509.DNSName(n) for n in permitted] if permitted is not None else None
    e = [x509.DNSName(n) for n in excluded] if excluded is not None else None
    return x509.NameConstraints(p, e), True


PERMITS = plain("Permits", CA, constraints(["a.test", "b.test"], None))
EXCLUDES = plain("Excludes", CA, constraints(None, ["c.test"]))
BOTH = plain("Both", CA, constraints(["a.test"], ["x.a.test", "y.a.test"]))


@pytest.mark.parametrize(
    ("chain", "found"),
    [
        ([CA_FALSE, CA_SIGNS], None),
        ([PERMITS], None),
        ([CA_FALSE, PERMITS], (PERMITS, "permitted: a.test, b.test")),
        ([CA_FALSE, EXCLUDES], (EXCLUDES, "excluded: c.test")),
        ([CA_FALSE, BOTH], (BOTH, "permitted: a.test; excluded: x.a.test, y.a.test")),
        ([CA_FALSE, CA_SIGNS, EXCLUDES, PERMITS], (EXCLUDES, "excluded: c.test")),
    ],
)
def test_name_constrained(
    chain: list[x509.Certificate], found: tuple[x509.Certificate, str] | None
) -> None:
    """The first CA after the leaf with nameConstraints, past those without, and its subtrees
    as text."""
    assert certs.name_constrained(chain) == found


def limited(cn: str, limit: int | None) -> x509.Certificate:
    return plain(cn, (x509.BasicConstraints(ca=True, path_length=limit), True))


ZERO, ONE, ANY = limited("Zero", 0), limited("One", 1), limited("Any", None)


@pytest.mark.parametrize(
    ("chain", "found"),
    [
        ([CA_FALSE, ZERO], None),
        ([CA_FALSE, ONE], None),
        ([CA_FALSE, ANY, ONE], None),
        ([CA_FALSE, ANY, ZERO], (ZERO, 0)),
        ([CA_FALSE, NO_BC, ZERO], (ZERO, 0)),
        ([CA_FALSE, ANY, ANY, ONE], (ONE, 1)),
        ([CA_FALSE, ANY, ZERO, ONE], (ZERO, 0)),
        ([CA_FALSE, ANY, NO_BC, ANY], None),
        ([ZERO, ZERO], None),
    ],
)
def test_path_length_exceeded(
    chain: list[x509.Certificate], found: tuple[x509.Certificate, int] | None
) -> None:
    """A CA whose pathLenConstraint is below the number of CAs between it and the leaf (the
    boundary: equal is allowed); a CA without basicConstraints or without a limit never."""
    assert certs.path_length_exceeded(chain) == found


UNKNOWN = x509.UnrecognizedExtension(UNKNOWN_EXTENSION, b"\x05\x00")


@pytest.mark.parametrize(
    ("chain", "found"),
    [
        ([CA_FALSE, CA_SIGNS], None),
        ([plain("soft", (UNKNOWN, False))], None),
        ([CA_FALSE, plain("hard", (UNKNOWN, True))], 1),
        ([plain("hard", (UNKNOWN, True)), CA_SIGNS], 0),
    ],
)
def test_unknown_critical(chain: list[x509.Certificate], found: int | None) -> None:
    """A critical extension cryptography does not know, with its index and OID; a known
    critical one (basicConstraints) or an unknown one not marked critical is none."""
    expected = None if found is None else (found, chain[found], "1.3.6.1.4.1.55738.1.1")
    assert certs.unknown_critical(chain) == expected


# --- certificate defects: the verdicts ------------------------------------------------------


NO_HELP = ". --ca-file does not help"


def defect(chain: list[x509.Certificate], code: int) -> Check | None:
    return paths.defect(chain, VerifyError(code, "its words"))


@pytest.mark.parametrize("code", [32, 79, 80, 81, 82, 89, 92])
def test_not_a_ca_verdict(code: int) -> None:
    """Every not-a-CA code names the certificate and its place."""
    assert defect([CA_FALSE, CA_SIGNS, ISSUED_NO_BC], code) == Check(
        "cert.chain",
        Status.FAIL,
        "intermediate CN=Issued No Constraints signs a certificate but is not a CA "
        "(OpenSSL: its words)",
        "reissue the leaf from a CA certificate (basicConstraints CA:TRUE, keyUsage "
        "keyCertSign); a certificate that is not a CA cannot issue one" + NO_HELP,
    )


def test_purpose_verdict() -> None:
    """INVALID_PURPOSE names the certificate and its usages."""
    cert = eku_leaf(Eku.CLIENT_AUTH)
    assert defect([cert], 26) == Check(
        "cert.chain",
        Status.FAIL,
        "leaf CN=eku has extendedKeyUsage clientAuth, without serverAuth (OpenSSL: its words)",
        "reissue it with serverAuth in extendedKeyUsage (or without extendedKeyUsage): TLS "
        "clients refuse a server certificate not meant for servers" + NO_HELP,
    )


@pytest.mark.parametrize("code", [47, 48, 49, 51, 52, 53])
def test_name_constraints_verdict(code: int) -> None:
    """Every name-constraint code names the leaf's names (at most ten) and the CA's
    constraints; a leaf without SAN has none."""
    sans = [f"h{i}.test" for i in range(11)]
    many = make(leaf(san=sans), ec_key(), None, NOW)
    hint = (
        "reissue the leaf for names the CA may certify, or from a CA whose name constraints "
        "cover them" + NO_HELP
    )
    assert defect([many, PERMITS], code) == Check(
        "cert.chain",
        Status.FAIL,
        f"the leaf's names ({', '.join(sans[:10])}) are outside the name constraints of "
        "root CN=Permits (permitted: a.test, b.test) (OpenSSL: its words)",
        hint,
    )
    assert defect([CA_FALSE, NO_BC, EXCLUDES], code) == Check(
        "cert.chain",
        Status.FAIL,
        "the leaf's names (none) are outside the name constraints of root CN=Excludes "
        "(excluded: c.test) (OpenSSL: its words)",
        hint,
    )


@pytest.mark.parametrize(
    ("chain", "words"),
    [
        (
            [CA_FALSE, ANY, ZERO],
            "root CN=Zero allows 0 CA certificates below it (pathLenConstraint 0); the chain "
            "puts 1 there",
        ),
        (
            [CA_FALSE, ANY, ANY, ONE],
            "root CN=One allows 1 CA certificate below it (pathLenConstraint 1); the chain puts "
            "2 there",
        ),
        (
            [CA_FALSE, ANY, ANY, ANY, ONE],
            "root CN=One allows 1 CA certificate below it (pathLenConstraint 1); the chain puts "
            "3 there",
        ),
    ],
)
def test_path_length_verdict(chain: list[x509.Certificate], words: str) -> None:
    """PATH_LENGTH_EXCEEDED names the CA, its limit (one certificate or many) and how many
    CAs the chain puts below it."""
    assert defect(chain, 25) == Check(
        "cert.chain",
        Status.FAIL,
        f"{words} (OpenSSL: its words)",
        "reissue the leaf from a CA the constraint allows (fewer CAs below it), or reissue "
        "that CA with a larger pathLenConstraint" + NO_HELP,
    )


def test_critical_verdict() -> None:
    """UNHANDLED_CRITICAL_EXTENSION names the certificate by its place and the OID."""
    inter = make(
        S("Odd CA", ca=True, extensions=((UNKNOWN, True),)), ec_key(), Signer(ROOT, ROOT_KEY), NOW
    )
    assert defect([LEAF, inter, ROOT], 34) == Check(
        "cert.chain",
        Status.FAIL,
        "intermediate CN=Odd CA has a critical extension clients do not know "
        "(1.3.6.1.4.1.55738.1.1) (OpenSSL: its words)",
        "reissue it without that extension, or with the extension not marked critical" + NO_HELP,
    )


def test_critical_verdict_on_the_leaf() -> None:
    """The leaf with an unknown critical extension is named as the leaf, even when it is
    self-issued."""
    odd = plain("odd.test", (UNKNOWN, True))
    assert defect([odd], 34) == Check(
        "cert.chain",
        Status.FAIL,
        "leaf CN=odd.test has a critical extension clients do not know "
        "(1.3.6.1.4.1.55738.1.1) (OpenSSL: its words)",
        "reissue it without that extension, or with the extension not marked critical" + NO_HELP,
    )


@pytest.mark.parametrize(
    "code", [4, 6, 7, 37, 41, 42, 43, 45, 76, 77, 78, 83, 84, 85, 86, 87, 88, 90, 91, 93, 94]
)
def test_malformed_verdict(code: int) -> None:
    """Every malformed code quotes OpenSSL alone and says reissue."""
    assert defect([CA_FALSE, ONE], code) == Check(
        "cert.chain",
        Status.FAIL,
        "OpenSSL: its words",
        "reissue the certificate: OpenSSL refuses it as malformed, not as untrusted" + NO_HELP,
    )


@pytest.mark.parametrize("code", [2, 18, 19, 20, 21, 10, 24, 33, 46, 50, 66, 95])
def test_trust_codes_are_no_defect(code: int) -> None:
    """Trust, date and weakness codes, and codes next to the defect sets, are no defect."""
    assert defect([CA_FALSE, NO_BC], code) is None


# --- chain_check and judge on the verified path ---------------------------------------------


def test_chain_check_dates_unused_certificates_at_the_given_time() -> None:
    """chain_check and judge date an unused certificate at the `now` they are given, and at
    the clock's time without one (never a naive time: no TypeError)."""
    old = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    then = make(S("then.lab.test", not_before=-DAY, not_after=DAY), ec_key(), None, old)
    sent, path = [LEAF, INTER, then], [LEAF, INTER, ROOT]
    at_old = chain_check(sent, None, "CN=Lab Root", path, old)
    assert at_old.detail.endswith("CN=then.lab.test (unrelated to the path)")
    expired = "CN=then.lab.test (unrelated to the path, expired 2001-01-02)"
    assert chain_check(sent, None, "CN=Lab Root", path).detail.endswith(expired)
    neg = negotiated_path(sent, path)
    judged = {c.id: c for c in judge(neg, "localhost", Policy(), old)}
    assert judged["cert.chain"].detail.endswith("CN=then.lab.test (unrelated to the path)")


def test_weaknesses_joined_and_added_to_a_trust_failure() -> None:
    """Two weaknesses are joined with "; ", alone or after a trust failure's words."""
    weak = sha1_signed(build("weak.test", key=RSA_1024, issuer=("Lab Root", RSA_2048)), RSA_2048)
    both = (
        "leaf CN=weak.test: weak key RSA-1024 (clients require at least 2048 bits); "
        "leaf CN=weak.test: weak signature sha1WithRSAEncryption (SHA1 is broken)"
    )
    assert chain_check([weak], None, "CN=Lab Root") == Check(
        "cert.chain",
        Status.FAIL,
        both,
        "reissue with an RSA-2048+ or EC key, signed with SHA-256 or better",
    )
    error = VerifyError(19, "self-signed certificate in certificate chain")
    check = chain_check([weak], error, None)
    assert check.detail == (
        "the chain ends at CN=Lab Root, which is not a trusted root (self-signed certificate "
        f"in certificate chain); also {both}"
    )
