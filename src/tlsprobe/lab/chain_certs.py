"""Certificates for the chain cases: bundles as servers really send them (extra, cross-signed,
out of order) and certificates OpenSSL refuses for a defect of their own, not for trust.

Built with cryptography beside the lab's trusted root and intermediate (lab/certs.py), whose
trustme keys sign what must chain to the lab root. Every certificate is dated relative to now.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from tlsprobe.lab.certs import (
    DAY,
    LOCAL_NAMES,
    Identity,
    Pki,
    PrivateKey,
    Signer,
    general_names,
    issued,
    key_pem,
    lab_name,
    signer_of,
)
from tlsprobe.records import record

_PEM = serialization.Encoding.PEM

# A private-enterprise OID no software knows: marked critical, every verifier must refuse it.
UNKNOWN_EXTENSION = ObjectIdentifier("1.3.6.1.4.1.55738.1.1")
# The only names the constrained CA may issue for; the lab's leaves are for localhost.
PERMITTED_DOMAIN = "permitted.lab.test"


@record
class Shape:
    """What makes one certificate: anything left at its default is what a good leaf has."""

    cn: str
    ca: bool = False
    path_length: int | None = None
    eku: Sequence[ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,)
    san: Sequence[str] | None = None
    not_before: dt.timedelta = -30 * DAY  # relative to now
    not_after: dt.timedelta = 365 * DAY
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = field(default_factory=tuple)


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make(
    shape: Shape,
    key: PrivateKey,
    issuer: Signer | None,
    now: dt.datetime,
) -> x509.Certificate:
    """One certificate of `shape` for `key`, signed by `issuer` (None: self-signed) with
    SHA-256."""
    builder = (
        issued(lab_name(shape.cn), key.public_key(), None if issuer is None else issuer.cert)
        .not_valid_before(now + shape.not_before)
        .not_valid_after(now + shape.not_after)
        .add_extension(x509.BasicConstraints(shape.ca, shape.path_length), critical=True)
        .add_extension(_key_usage(shape.ca), critical=True)
    )
    if shape.eku is not None and not shape.ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(shape.eku)), critical=False)
    if shape.san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general_names(shape.san)), critical=False
        )
    for extension, critical in shape.extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key if issuer is None else issuer.key, hashes.SHA256())


def ec_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def leaf_shape(**changes: Any) -> Shape:
    """A good server leaf for the lab's local names, with `changes`."""
    return dataclasses.replace(Shape("localhost", san=LOCAL_NAMES), **changes)


class ChainPki:
    """Makes the chain cases' identities under the lab's PKI, files beside its own."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.now = pki.now
        self.root = signer_of(pki.root)
        self.intermediate = pki.signer

    def _identity(self, name: str, key: PrivateKey, chain: Sequence[x509.Certificate]) -> Identity:
        return self.pki.identity(name, key_pem(key), [cert.public_bytes(_PEM) for cert in chain])

    def _ca(self, cn: str, issuer: Signer | None, **changes: Any) -> Signer:
        key = ec_key()
        shape = dataclasses.replace(Shape(cn, ca=True), **changes)
        return Signer(make(shape, key, issuer, self.now), key)

    def _good(self, name: str, *extra: x509.Certificate) -> Identity:
        """A good leaf under the lab intermediate, sent with it, then `extra`."""
        key = ec_key()
        leaf = make(leaf_shape(), key, self.intermediate, self.now)
        return self._identity(name, key, [leaf, self.intermediate.cert, *extra])

    def with_unrelated_expired(self, name: str) -> Identity:
        """The good chain, then a leaf for another host that expired 40 days ago, under a CA
        nothing else in the bundle has to do with (left behind by an old deployment)."""
        old_ca = self._ca("tlsprobe lab retired CA", None, not_before=-800 * DAY)
        shape = Shape(
            "old.lab.test", san=["old.lab.test"], not_before=-400 * DAY, not_after=-40 * DAY
        )
        stale = make(shape, ec_key(), old_ca, self.now)
        return self._good(name, stale)

    def with_unrelated_weak(self, name: str) -> Identity:
        """The good chain, then an unrelated RSA-1024 certificate (in date)."""
        other_ca = self._ca("tlsprobe lab legacy CA", None)
        weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        weak = make(Shape("legacy.lab.test", san=["legacy.lab.test"]), weak_key, other_ca, self.now)
        return self._good(name, weak)

    def with_expired_cross_sign(self, name: str) -> Identity:
        """The 2021 "DST Root CA X3" bundle: leaf, intermediate, and the trusted lab root
        cross-signed by an old root that is in no trust store and expired with its
        cross-sign. OpenSSL stops at the trusted root and never needs the cross-sign."""
        old_root = self._ca("tlsprobe lab old root", None, not_before=-3000 * DAY, not_after=-DAY)
        shape = Shape("", ca=True, not_before=-1000 * DAY, not_after=-DAY)
        cross = _cross_sign(shape, self.root.cert, old_root, self.now)
        return self._good(name, cross)

    def out_of_order(self, name: str) -> Identity:
        """root -> intermediate -> sub-intermediate -> leaf, sent as leaf, intermediate, sub:
        the two intermediates swapped."""
        sub = self._ca("tlsprobe lab sub-intermediate", self.intermediate)
        key = ec_key()
        leaf = make(leaf_shape(), key, sub, self.now)
        return self._identity(name, key, [leaf, self.intermediate.cert, sub.cert])

    def issuer_not_ca(self, name: str) -> Identity:
        """A leaf signed by another leaf's key: its issuer has basicConstraints CA:FALSE."""
        not_ca_key = ec_key()
        not_ca = make(
            leaf_shape(cn="tlsprobe lab not a CA"), not_ca_key, self.intermediate, self.now
        )
        key = ec_key()
        leaf = make(leaf_shape(), key, Signer(not_ca, not_ca_key), self.now)
        return self._identity(name, key, [leaf, not_ca, self.intermediate.cert])

    def client_auth_only(self, name: str) -> Identity:
        """A leaf whose extendedKeyUsage is clientAuth alone: no serverAuth."""
        key = ec_key()
        leaf = make(
            leaf_shape(eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)), key, self.intermediate, self.now
        )
        return self._identity(name, key, [leaf, self.intermediate.cert])

    def outside_name_constraints(self, name: str) -> Identity:
        """A leaf for localhost under a CA (below the lab root) constrained to
        PERMITTED_DOMAIN."""
        constraint = x509.NameConstraints([x509.DNSName(PERMITTED_DOMAIN)], None)
        constrained = self._ca(
            "tlsprobe lab constrained CA",
            self.root,
            path_length=0,
            extensions=((constraint, True),),
        )
        key = ec_key()
        leaf = make(leaf_shape(), key, constrained, self.now)
        return self._identity(name, key, [leaf, constrained.cert])

    def path_too_long(self, name: str) -> Identity:
        """root -> CA with pathLenConstraint 0 -> sub-CA -> leaf: one CA too many below it."""
        limited = self._ca("tlsprobe lab pathlen-0 CA", self.root, path_length=0)
        below = self._ca("tlsprobe lab CA below pathlen 0", limited)
        key = ec_key()
        leaf = make(leaf_shape(), key, below, self.now)
        return self._identity(name, key, [leaf, below.cert, limited.cert])

    def unknown_critical_extension(self, name: str) -> Identity:
        """A leaf with a critical extension of an OID no verifier knows."""
        unknown = x509.UnrecognizedExtension(UNKNOWN_EXTENSION, b"\x05\x00")
        key = ec_key()
        leaf = make(leaf_shape(extensions=((unknown, True),)), key, self.intermediate, self.now)
        return self._identity(name, key, [leaf, self.intermediate.cert])


def _cross_sign(
    shape: Shape, subject: x509.Certificate, issuer: Signer, now: dt.datetime
) -> x509.Certificate:
    """`subject`'s name and public key, issued by `issuer`: a second path to the same CA."""
    public = subject.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise TypeError(f"unexpected key type {type(public).__name__}")
    return (
        issued(subject.subject, public, issuer.cert)
        .not_valid_before(now + shape.not_before)
        .not_valid_after(now + shape.not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(True), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )
