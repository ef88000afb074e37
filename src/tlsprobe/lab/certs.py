"""The lab's PKI: one trusted root, an intermediate under it, and leaves with known defects.

Everything is made at start-up with dates relative to now, so no fixture ever expires. trustme
makes the well-formed chains; cryptography makes the shapes trustme cannot (no SAN, self-signed,
RSA-1024); the `openssl` command line signs the SHA-1 leaf because cryptography refuses to.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlsprobe.records import record

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
DAY = dt.timedelta(days=1)
_PEM = serialization.Encoding.PEM
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@record
class Identity:
    """A server's certificate chain (leaf first) and private key, as files `ssl` can load."""

    chain: Path
    key: Path


@record
class Signer:
    """A CA certificate and its key: what signing a certificate needs, in cryptography's types."""

    cert: x509.Certificate
    key: PrivateKey


def signer_of(ca: trustme.CA) -> Signer:
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    if not isinstance(key, PrivateKey):
        raise TypeError(f"unexpected CA key type {type(key).__name__}")
    return Signer(x509.load_pem_x509_certificate(ca.cert_pem.bytes()), key)


def general_names(identities: Sequence[str]) -> list[x509.GeneralName]:
    """subjectAltName entries: an IP address where the text is one, else a DNS name."""
    names: list[x509.GeneralName] = []
    for identity in identities:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(identity)))
        except ValueError:
            names.append(x509.DNSName(identity))
    return names


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def issued(
    subject: x509.Name, public_key: Any, issuer: x509.Certificate | None
) -> x509.CertificateBuilder:
    """What every lab certificate has: its subject and key, a random serial, the issuer's name
    (its own when `issuer` is None: self-signed), and the key identifiers that link the two."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is None:
        return builder
    ski = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key())
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    return builder.add_extension(aki, critical=False)


def _leaf(
    subject: x509.Name,
    key: PrivateKey,
    issuer: Signer | None,
    *,
    san: Sequence[str] | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    """A server leaf like trustme's, except that the SAN may be left out and `issuer` None means
    self-signed."""
    builder = (
        issued(subject, key.public_key(), None if issuer is None else issuer.cert)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general_names(san)), critical=False
        )
    return builder.sign(key if issuer is None else issuer.key, hashes.SHA256())


def lab_name(name: str) -> x509.Name:
    """A lab certificate's subject: O=tlsprobe lab, CN=`name`."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsprobe lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )


class Pki:
    """Makes the lab's certificates and writes them as PEM files under `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.now = dt.datetime.now(dt.UTC)
        self.root = trustme.CA(organization_name="tlsprobe lab")
        self.intermediate = self.root.create_child_ca()
        self.ca_file = self._write("ca.pem", self.root.cert_pem.bytes())
        self._intermediate_pem = self.intermediate.cert_pem.bytes()
        self._signer = signer_of(self.intermediate)

    @property
    def signer(self) -> Signer:
        """The trusted intermediate that signs the lab's leaves, in cryptography's types."""
        return self._signer

    def identity(self, name: str, key_pem: bytes, chain: Sequence[bytes]) -> Identity:
        """Write a chain (PEM, leaf first) and its key as the identity `name`."""
        return self._identity(name, key_pem, chain)

    def _write(self, filename: str, data: bytes) -> Path:
        path = self.workdir / filename
        path.write_bytes(data)
        return path

    def _identity(self, name: str, key_pem: bytes, chain: Sequence[bytes]) -> Identity:
        return Identity(
            chain=self._write(f"{name}.pem", b"".join(chain)),
            key=self._write(f"{name}.key", key_pem),
        )

    def _from_trustme(self, name: str, leaf: trustme.LeafCert, *, send: int) -> Identity:
        pems = [blob.bytes() for blob in leaf.cert_chain_pems[:send]]
        return self._identity(name, leaf.private_key_pem.bytes(), pems)

    def issue(
        self,
        name: str,
        *identities: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        send_intermediate: bool = True,
    ) -> Identity:
        """A trustme leaf under the trusted intermediate, for `identities` or the local names."""
        leaf = self.intermediate.issue_cert(
            *(identities or LOCAL_NAMES),
            not_before=not_before or self.now - 30 * DAY,
            not_after=not_after or self.now + 365 * DAY,
        )
        return self._from_trustme(name, leaf, send=2 if send_intermediate else 1)

    def untrusted(self, name: str) -> Identity:
        """Leaf and intermediate under a second root that never goes into `ca_file`."""
        stranger = trustme.CA(organization_name="not the tlsprobe lab")
        self._write(f"{name}-root.pem", stranger.cert_pem.bytes())
        leaf = stranger.create_child_ca().issue_cert(*LOCAL_NAMES)
        return self._from_trustme(name, leaf, send=2)

    def _crafted(
        self,
        name: str,
        key: PrivateKey,
        *,
        san: Sequence[str] | None = LOCAL_NAMES,
        self_signed: bool = False,
    ) -> Identity:
        leaf = _leaf(
            lab_name("localhost"),
            key,
            None if self_signed else self._signer,
            san=san,
            not_before=self.now - 30 * DAY,
            not_after=self.now + 365 * DAY,
        )
        chain = [leaf.public_bytes(_PEM)]
        if not self_signed:
            chain.append(self._intermediate_pem)
        return self._identity(name, key_pem(key), chain)

    def under_expired_root(self, name: str) -> Identity:
        """A good leaf under a second root that expired two days ago. That root goes into
        `ca_file` beside the lab's own: a trusted private root past its date, which every real
        client refuses ("certificate has expired") though the server's chain is fine."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = lab_name("tlsprobe lab expired root")
        root = (
            issued(subject, key.public_key(), None)
            .not_valid_before(self.now - 400 * DAY)
            .not_valid_after(self.now - 2 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        with self.ca_file.open("ab") as bundle:
            bundle.write(root.public_bytes(_PEM))
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _leaf(
            lab_name("localhost"),
            leaf_key,
            Signer(root, key),
            san=LOCAL_NAMES,
            not_before=self.now - 30 * DAY,
            not_after=self.now + 365 * DAY,
        )
        return self._identity(name, key_pem(leaf_key), [leaf.public_bytes(_PEM)])

    def cn_only(self, name: str) -> Identity:
        """CN=localhost and no subjectAltName at all, under the trusted intermediate."""
        return self._crafted(name, ec.generate_private_key(ec.SECP256R1()), san=None)

    def self_signed(self, name: str) -> Identity:
        """A leaf that is its own issuer: no CA anywhere."""
        return self._crafted(name, ec.generate_private_key(ec.SECP256R1()), self_signed=True)

    def rsa1024(self, name: str) -> Identity:
        """An RSA-1024 leaf under the trusted intermediate."""
        return self._crafted(name, rsa.generate_private_key(public_exponent=65537, key_size=1024))

    def sha1(self, name: str) -> Identity:
        """A leaf under the trusted intermediate whose signature uses SHA-1.

        cryptography refuses SHA-1 signatures ("not supported for signatures"), so cryptography
        makes the key and the request and `openssl x509 -req -sha1` signs it.
        """
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("the https-sha1 case needs the openssl command line")
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(lab_name("localhost"))
            .sign(key, hashes.SHA256())
        )
        ca_cert = self._write("intermediate.pem", self._intermediate_pem)
        ca_key = self._write("intermediate.key", key_pem(self._signer.key))
        request = self._write(f"{name}.csr", csr.public_bytes(_PEM))
        extensions = self._write(f"{name}.ext", _SHA1_EXTENSIONS.encode())
        leaf = self.workdir / f"{name}.leaf.pem"
        options = {
            "-in": request,
            "-CA": ca_cert,
            "-CAkey": ca_key,
            "-extfile": extensions,
            "-out": leaf,
            "-days": "365",
            "-set_serial": str(x509.random_serial_number()),
        }
        command = [openssl, "x509", "-req", "-sha1"]
        command += [str(part) for option in options.items() for part in option]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"openssl could not sign the SHA-1 leaf: {done.stderr.strip()}")
        return self._identity(name, key_pem(key), [leaf.read_bytes(), self._intermediate_pem])


_SHA1_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
