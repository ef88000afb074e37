"""Certificates made for the TLS unit tests: no network, no files."""

from __future__ import annotations

import datetime as dt

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from tlsprobe.tls import Handshake, Mode, Negotiated, VerifyError

NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024)
DER = serialization.Encoding.DER
# DER of the AlgorithmIdentifier OIDs: same length, so patching keeps every DER length valid.
SHA256_RSA_OID = bytes.fromhex("06092a864886f70d01010b")
SHA1_RSA_OID = bytes.fromhex("06092a864886f70d010105")


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build(
    cn: str,
    *,
    sans: list[x509.GeneralName] | None = None,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = EC_KEY,
    issuer: tuple[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] | None = None,
    not_before: dt.datetime = NOW - 30 * DAY,
    not_after: dt.datetime = NOW + 365 * DAY,
    subject: x509.Name | None = None,
) -> x509.Certificate:
    """A certificate signed with SHA-256 by `issuer` (name, key), or self-signed; `subject`
    replaces the subject CN=`cn` (a name without a CN, say)."""
    issuer_cn, signer = issuer or (cn, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or name(cn))
        .issuer_name(name(issuer_cn))
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


def trustme_chain() -> tuple[list[x509.Certificate], x509.Certificate]:
    """leaf + intermediate as a server sends them, and the root it does not send."""
    root = trustme.CA()
    leaf = root.create_child_ca().issue_cert("db.lab.test")
    return [pem(b) for b in leaf.cert_chain_pems], pem(root.cert_pem)


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
