"""cert.revocation's judgement, free of I/O: an OCSP response (stapled or fetched) or a CRL,
checked against the certificate it is about and its issuer, and the one verdict from them all.

cryptography parses and verifies signatures; what is checked here is what a client checks on
top (RFC 6960 section 3.2): the response is for this certificate, signed by its issuer or by a
responder the issuer delegated to, and current.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlsprobe.model import Check, Status, utc_text
from tlsprobe.records import record
from tlsprobe.tls import certs
from tlsprobe.tls.responders import extension as _extension
from tlsprobe.tls.responders import must_staple

# A response may be a little ahead of our clock (RFC 6960 leaves the slack to the client).
CLOCK_SKEW = dt.timedelta(minutes=5)
# A response without nextUpdate is taken as current for this long after thisUpdate.
NO_NEXT_UPDATE = dt.timedelta(days=7)
MUST_STAPLE_CLIENTS = (
    "Firefox refuses a must-staple certificate without a staple; OpenSSL clients "
    "(curl, Python's ssl, libpq) accept it"
)
STAPLE_HINT = "have the server staple a current OCSP response (nginx ssl_stapling on)"
REISSUE_HINT = "the CA revoked this certificate: issue a new one and install it"
SOFT_FAIL_HINT = "clients soft-fail when the responder cannot be reached; check the CA's responder"
RESPONDER_HINT = (
    "the CA's own OCSP responder answers with a response clients reject (badly signed, stale, "
    "or not about this certificate): tell the CA"
)
UNKNOWN_HINT = (
    "the CA's responder does not know this certificate: check that the CA named in its AIA "
    "issued it, and ask that CA"
)
UNKNOWN_CLIENTS = (
    "Firefox refuses a stapled unknown (SEC_ERROR_OCSP_UNKNOWN_CERT); OpenSSL clients "
    "(curl, Python's ssl, libpq) accept it"
)


UNKNOWN_TEXT = "the responder does not know the certificate (unknown)"


class Said(enum.Enum):
    """Which kind of answer an outcome is: what the verdict's hint is chosen by (never the
    words, which carry URLs and a responder's own text)."""

    GOOD = "good"
    REVOKED = "revoked"
    NO_STAPLE = "no staple"
    NOT_ASKED = "not asked"  # skip: nothing to ask, or the staple could not be asked for
    UNPARSED = "unparsed"
    RESPONDER_ERROR = "responder error"  # an OCSP response status other than successful
    OTHER_CERTIFICATE = "other certificate"
    BAD_SIGNATURE = "bad signature"
    STALE = "stale"
    UNKNOWN = "unknown"
    MUST_STAPLE_MISSING = "must-staple missing"
    NO_ISSUER = "no issuer"  # a staple with no issuer to check it against
    UNREACHABLE = "unreachable"  # the fetch failed: refused, reset, HTTP error, too big
    NO_ANSWER = "no answer"  # the fetch did not finish within the deadline


# The kinds that clients soft-fail on: the hint says so, not "staple".
SOFT_FAILS = frozenset({Said.UNREACHABLE, Said.NO_ANSWER})


@record
class Outcome:
    """What one source said about one certificate: `status` is pass (good), fail (revoked),
    warn (unusable or unreachable), or skip (nothing to ask); `said` which kind of answer."""

    status: Status
    text: str
    said: Said = Said.NOT_ASKED


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """The DER of an OCSP request for `cert` (SHA-1 CertID, as responders expect)."""
    # Only with --revocation: the serialization package loads cryptography's SSH key code and
    # bcrypt, 2 ms of every start.
    from cryptography.hazmat.primitives import serialization

    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    return builder.build().public_bytes(serialization.Encoding.DER)


def judge_ocsp(
    der: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
) -> Outcome:
    """An OCSP response for `cert`, checked for who it is about, who signed it and when."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        return Outcome(
            Status.WARN, f"an OCSP response that cannot be parsed ({exc})", Said.UNPARSED
        )
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        said = f"the responder said {response.response_status.name}"
        return Outcome(Status.WARN, said, Said.RESPONDER_ERROR)
    if not _same_cert_id(response, cert, issuer):
        serial = format(response.serial_number, "x")
        text = f"an OCSP response for another certificate (serial {serial})"
        return Outcome(Status.WARN, text, Said.OTHER_CERTIFICATE)
    if (why := _bad_signature(response, issuer, now)) is not None:
        return Outcome(Status.WARN, f"an OCSP response {why}", Said.BAD_SIGNATURE)
    status = response.certificate_status
    if status is ocsp.OCSPCertStatus.REVOKED:
        text = revoked_text(response.revocation_time_utc, _reason(response))
        return Outcome(Status.FAIL, text, Said.REVOKED)
    if (stale := _stale(response.this_update_utc, response.next_update_utc, now)) is not None:
        return Outcome(Status.WARN, f"an OCSP response {stale}", Said.STALE)
    if status is ocsp.OCSPCertStatus.UNKNOWN:
        return Outcome(Status.WARN, UNKNOWN_TEXT, Said.UNKNOWN)
    nxt = response.next_update_utc
    until = f", next update {utc_text(nxt)}" if nxt is not None else ""
    produced = utc_text(response.produced_at_utc)
    return Outcome(Status.PASS, f"good (OCSP, produced {produced}{until})", Said.GOOD)


def revoked_text(when: dt.datetime | None, reason: str | None) -> str:
    on = f" on {utc_text(when)}" if when is not None else ""
    return f"revoked{on}" + (f" ({reason})" if reason else "")


def _reason(response: ocsp.OCSPResponse) -> str | None:
    reason = response.revocation_reason
    return reason.name if reason is not None else None


def _same_cert_id(
    response: ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> bool:
    if response.serial_number != cert.serial_number:
        return False
    expected = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, response.hash_algorithm)
    request = expected.build()
    return (
        request.issuer_key_hash == response.issuer_key_hash
        and request.issuer_name_hash == response.issuer_name_hash
    )


def _bad_signature(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: dt.datetime
) -> str | None:
    """Why the response's signature cannot be trusted, or None: signed by the issuer itself, or
    by a certificate it carries that the issuer signed for OCSP signing (and in date)."""
    signer = issuer
    if not _names_responder(response, issuer):
        delegated = [c for c in response.certificates if _names_responder(response, c)]
        if not delegated:
            return "signed by a responder that is neither the issuer nor delegated by it"
        signer = delegated[0]
        if not _delegated_by(signer, issuer, now):
            return "signed by a responder the issuer did not delegate OCSP signing to"
    if response.signature_hash_algorithm is None or not _verifies(
        signer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm
    ):
        return "whose signature does not verify"
    return None


def _names_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    key_hash = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return response.responder_key_hash == key_hash


def _delegated_by(signer: x509.Certificate, issuer: x509.Certificate, now: dt.datetime) -> bool:
    eku = _extension(signer, x509.ExtendedKeyUsage)
    if eku is None or ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
        return False
    if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
        return False
    try:
        signer.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _verifies(
    signer: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm
) -> bool:
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _stale(this: dt.datetime, nxt: dt.datetime | None, now: dt.datetime) -> str | None:
    if this > now + CLOCK_SKEW:
        return f"from the future (this update {utc_text(this)})"
    until = nxt if nxt is not None else this + NO_NEXT_UPDATE
    if until < now:
        return f"that is stale (next update was due {utc_text(until)})"
    return None


def judge_crl(
    der: bytes, cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
) -> Outcome:
    """A CRL (DER or PEM) from `cert`'s distribution point, checked as a client does."""
    try:
        crl = (
            x509.load_pem_x509_crl(der)
            if der.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(der)
        )
    except ValueError as exc:
        return Outcome(Status.WARN, f"a CRL that cannot be parsed ({exc})", Said.UNPARSED)
    if crl.issuer != issuer.subject or not _crl_signed(crl, issuer):
        return Outcome(
            Status.WARN, "a CRL not signed by the certificate's issuer", Said.BAD_SIGNATURE
        )
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        reason = _extension_of_entry(entry)
        text = revoked_text(entry.revocation_date_utc, reason) + " (CRL)"
        return Outcome(Status.FAIL, text, Said.REVOKED)
    if (stale := _stale(crl.last_update_utc, crl.next_update_utc, now)) is not None:
        return Outcome(Status.WARN, f"a CRL {stale}", Said.STALE)
    return Outcome(Status.PASS, f"not on the CRL of {certs.short_name(crl.issuer)}", Said.GOOD)


def _crl_signed(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return False
    return crl.is_signature_valid(key)


def _extension_of_entry(entry: x509.RevokedCertificate) -> str | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return None


# --- the verdict ------------------------------------------------------------------------------


@record
class Staple:
    """What the side hello learnt: the stapled response (b"": the server sent none), or why it
    was not asked (`not_asked`, said as is)."""

    der: bytes = b""
    not_asked: str = ""


def staple_outcome(
    staple: Staple, leaf: x509.Certificate, issuer: x509.Certificate | None, now: dt.datetime
) -> tuple[Outcome, str]:
    """The staple's outcome and the fact the report shows for it."""
    if staple.not_asked:
        return Outcome(Status.SKIP, f"no staple asked: {staple.not_asked}"), "not asked"
    if not staple.der:
        if must_staple(leaf):
            text = f"must-staple, and the server staples nothing: {MUST_STAPLE_CLIENTS}"
            return Outcome(Status.WARN, text, Said.MUST_STAPLE_MISSING), "none"
        return Outcome(Status.PASS, "no staple", Said.NO_STAPLE), "none"
    if issuer is None:
        text = "a staple, but no issuer to check it against"
        return Outcome(Status.WARN, text, Said.NO_ISSUER), "unchecked"
    outcome = judge_ocsp(staple.der, leaf, issuer, now)
    text = f"stapled: {outcome.text}"
    if outcome.said is Said.UNKNOWN:
        text += f": {UNKNOWN_CLIENTS}"
    return Outcome(outcome.status, text, outcome.said), outcome.text


def verdict(outcomes: Sequence[tuple[str, Outcome]]) -> Check:
    """cert.revocation from every (whose, outcome): the worst decides, all are told."""
    counted = [(who, o) for who, o in outcomes if o.status is not Status.SKIP]
    if not counted:
        texts = "; ".join(o.text for _, o in outcomes) or "nothing to check"
        return Check("cert.revocation", Status.SKIP, texts)
    rank = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}
    worst = max((o.status for _, o in counted), key=rank.__getitem__)
    detail = "; ".join(f"{who}: {o.text}" if who else o.text for who, o in counted)
    # Whose: "" is the staple; a fetched answer names the certificate it was asked about.
    stapled = {o.said for who, o in counted if o.status is Status.WARN and not who}
    fetched = {o.said for who, o in counted if o.status is Status.WARN and who}
    return Check("cert.revocation", worst, detail, hint(worst, stapled, fetched))


def hint(
    worst: Status,
    warned: set[Said] | frozenset[Said],
    fetched: set[Said] | frozenset[Said] = frozenset(),
) -> str:
    """The hint of a verdict, by the kinds of its warnings (`warned` the staple's, `fetched`
    the CA's responders'): a staple to fix comes first, then a responder that disowns the
    certificate, then a responder whose answers clients reject, and only then the
    soft-failing fetches."""
    if worst is not Status.WARN:
        return REISSUE_HINT if worst is Status.FAIL else ""
    if warned - SOFT_FAILS - {Said.UNKNOWN}:
        return STAPLE_HINT
    if Said.UNKNOWN in warned | fetched:
        return UNKNOWN_HINT
    return RESPONDER_HINT if fetched - SOFT_FAILS else SOFT_FAIL_HINT
