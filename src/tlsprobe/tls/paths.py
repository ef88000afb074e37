"""The parts of cert.chain about the path verification built: what the server sends beyond
it or out of its order (a warning: clients connect), and defects of a certificate itself that
only reissuing fixes (a failure no trust setting changes). judge.py builds cert.chain from these."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from cryptography import x509

from tlsprobe.model import Check, Status
from tlsprobe.tls import certs
from tlsprobe.tls.negotiate import VerifyError

# X509_V_ERR_* codes as OpenSSL 3 numbers them (INVALID_CA was 24 before 3.0, is 79 now).
# Defects of a certificate itself: no trust setting fixes them, only reissuing does.
_NOT_A_CA = {32, 79, 80, 81, 82, 89, 92}  # INVALID_CA, KEYUSAGE_NO_CERTSIGN and strict kin
_PURPOSE = {26}  # INVALID_PURPOSE: extendedKeyUsage without serverAuth
_NAME_CONSTRAINTS = {47, 48, 49, 51, 52, 53}  # violations, unsupported types and syntax
_PATH_LENGTH = {25}
_CRITICAL = {34}  # UNHANDLED_CRITICAL_EXTENSION
_MALFORMED = {4, 6, 7, 37, 41, 42, 43, 45, 76, 77, 78, 83, 84, 85, 86, 87, 88, 90, 91, 93, 94}
# Where a server's certificate bundle is configured, for the hint to drop what it need not send.
BUNDLE_SETTINGS = (
    "nginx ssl_certificate, Postfix smtpd_tls_chain_files or smtpd_tls_cert_file, "
    "PostgreSQL ssl_cert_file"
)
# The leaf's names a verdict lists at most.
NAMES_SHOWN = 10


def untidy(
    verdict: Check,
    chain: Sequence[x509.Certificate],
    path: Sequence[x509.Certificate],
    now: dt.datetime,
    positions: Sequence[int | None] | None = None,
) -> Check:
    """The pass `verdict` as a warning when the server sends certificates the path does not
    use, or sends the ones it uses out of order: clients connect, but the bundle needs care.
    `positions`: certs.path_positions(chain, path), when the caller already has them."""
    if positions is None:
        positions = certs.path_positions(chain, path)
    unused = [
        _unused_text(chain[index], chain[:index], path, now)
        for index, position in enumerate(positions)
        if position is None
    ]
    notes, hints = [], []
    if unused:
        notes.append(f"the server also sends what the path does not use: {'; '.join(unused)}")
        hints.append(
            f"drop {'it' if len(unused) == 1 else 'them'} from the certificate bundle the "
            f"server sends ({BUNDLE_SETTINGS}): a client that builds its path another way "
            "(OpenSSL 1.0.2, older Java and Android) may take it and fail"
        )
    if not certs.in_path_order(positions):
        sent = [c for c, p in zip(chain, positions, strict=True) if p is not None]
        notes.append(f"sent out of order: {_names(sent)}, where the path is {_names(path)}")
        hints.append("send the leaf first, then each certificate's issuer (RFC 5246 7.4.2)")
    if not notes:
        return verdict
    return Check(
        "cert.chain", Status.WARN, f"{verdict.detail}; " + "; ".join(notes), "; ".join(hints)
    )


def _unused_text(
    cert: x509.Certificate,
    sent_before: Sequence[x509.Certificate],
    path: Sequence[x509.Certificate],
    now: dt.datetime,
) -> str:
    why = [certs.unused_kind(cert, sent_before, path), *certs.unused_defects(cert, now)]
    return f"{certs.short_name(cert.subject)} ({', '.join(why)})"


def _names(chain: Sequence[x509.Certificate]) -> str:
    return ", ".join(certs.short_name(c.subject) for c in chain)


def _label(chain: Sequence[x509.Certificate], cert: x509.Certificate) -> str:
    index = chain.index(cert)
    return f"{certs.role(index, cert)} {certs.short_name(cert.subject)}"


def defect(chain: Sequence[x509.Certificate], error: VerifyError) -> Check | None:
    """cert.chain for a defect of a certificate itself, which only reissuing fixes: the
    certificate named where the chain shows which one it is, OpenSSL's words always."""
    for codes, find, hint in _DEFECTS:
        if error.code in codes:
            what = find(chain)
            said = f"OpenSSL: {error.message}"
            detail = f"{what} ({said})" if what else said
            return Check("cert.chain", Status.FAIL, detail, hint)
    return None


def _not_a_ca(chain: Sequence[x509.Certificate]) -> str | None:
    if (cert := certs.not_a_ca(chain)) is None:
        return None
    return f"{_label(chain, cert)} signs a certificate but is not a CA"


def _no_server_auth(chain: Sequence[x509.Certificate]) -> str | None:
    if (found := certs.without_server_auth(chain)) is None:
        return None
    cert, allowed = found
    return f"{_label(chain, cert)} has extendedKeyUsage {allowed}, without serverAuth"


def _outside_constraints(chain: Sequence[x509.Certificate]) -> str | None:
    if (found := certs.name_constrained(chain)) is None:
        return None
    cert, constraints = found
    names = ", ".join(certs.san_names(chain[0])[:NAMES_SHOWN]) or "none"
    return (
        f"the leaf's names ({names}) are outside the name constraints of "
        f"{_label(chain, cert)} ({constraints})"
    )


def _path_too_long(chain: Sequence[x509.Certificate]) -> str | None:
    if (found := certs.path_length_exceeded(chain)) is None:
        return None
    cert, limit = found
    below = chain.index(cert) - 1
    return (
        f"{_label(chain, cert)} allows {limit} CA certificate{'s' if limit != 1 else ''} "
        f"below it (pathLenConstraint {limit}); the chain puts {below} there"
    )


def _critical(chain: Sequence[x509.Certificate]) -> str | None:
    if (found := certs.unknown_critical(chain)) is None:
        return None
    index, cert, oid = found
    return (
        f"{certs.role(index, cert)} {certs.short_name(cert.subject)} has a critical "
        f"extension clients do not know ({oid})"
    )


def _nothing(chain: Sequence[x509.Certificate]) -> str | None:
    del chain
    return None


_REISSUE = "reissue the certificate"
_DEFECTS: tuple[tuple[set[int], Callable[[Sequence[x509.Certificate]], str | None], str], ...] = (
    (
        _NOT_A_CA,
        _not_a_ca,
        "reissue the leaf from a CA certificate (basicConstraints CA:TRUE, keyUsage "
        "keyCertSign); a certificate that is not a CA cannot issue one. --ca-file does not help",
    ),
    (
        _PURPOSE,
        _no_server_auth,
        "reissue it with serverAuth in extendedKeyUsage (or without extendedKeyUsage): TLS "
        "clients refuse a server certificate not meant for servers. --ca-file does not help",
    ),
    (
        _NAME_CONSTRAINTS,
        _outside_constraints,
        "reissue the leaf for names the CA may certify, or from a CA whose name constraints "
        "cover them. --ca-file does not help",
    ),
    (
        _PATH_LENGTH,
        _path_too_long,
        "reissue the leaf from a CA the constraint allows (fewer CAs below it), or reissue that "
        "CA with a larger pathLenConstraint. --ca-file does not help",
    ),
    (
        _CRITICAL,
        _critical,
        "reissue it without that extension, or with the extension not marked critical. "
        "--ca-file does not help",
    ),
    (
        _MALFORMED,
        _nothing,
        f"{_REISSUE}: OpenSSL refuses it as malformed, not as untrusted. --ca-file does not help",
    ),
)
