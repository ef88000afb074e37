"""Who signs the revocation lab's OCSP responses when the issuer does not: delegated responders
(RFC 6960 section 4.2.2.2), one done right and its two bad twins.

A delegated responder's certificate is issued by the CA that issued the certificate asked about,
carries id-kp-OCSPSigning, and travels in the response's certs; a client checks all three.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlsprobe.lab.certs import DAY, Pki, PrivateKey, issued, lab_name
from tlsprobe.records import record


@record
class Signer:
    """A key that signs OCSP responses, its certificate, and whether the response carries it."""

    cert: x509.Certificate
    key: PrivateKey
    carried: bool = True


def delegate(pki: Pki, name: str, *, eku: bool = True, by_issuer: bool = True) -> Signer:
    """A responder certificate for `name`: issued by the lab's intermediate (else by a CA of its
    own that nobody trusts), with id-kp-OCSPSigning unless `eku` is False."""
    key = ec.generate_private_key(ec.SECP256R1())
    if by_issuer:
        issuer_cert, issuer_key = pki.signer.cert, pki.signer.key
    else:
        other = outsider(f"{name} CA")
        issuer_cert, issuer_key = other.cert, other.key
    builder = (
        issued(lab_name(name), key.public_key(), issuer_cert)
        .not_valid_before(pki.now - DAY)
        .not_valid_after(pki.now + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # A responder's own certificate is not checked for revocation (RFC 6960 4.2.2.2.1).
        .add_extension(x509.OCSPNoCheck(), critical=False)
    )
    if eku:
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING])
        builder = builder.add_extension(usage, critical=False)
    return Signer(builder.sign(issuer_key, hashes.SHA256()), key)


def outsider(name: str) -> Signer:
    """A self-signed certificate and key that the lab's CA never heard of (not carried)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        issued(lab_name(name), key.public_key(), None)
        .not_valid_before(now - DAY)
        .not_valid_after(now + DAY)
        .sign(key, hashes.SHA256())
    )
    return Signer(cert, key, carried=False)
