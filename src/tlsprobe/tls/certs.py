"""Tiny pure functions for TLS facts: certificates in, facts out. No I/O, and no verdicts:
judge.py builds the checks from these facts."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlsprobe.model import CertInfo

TLS_VERSION_ORDER = {"SSLv3": 0, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}
MIN_RSA_BITS = 2048
MIN_EC_BITS = 224  # OpenSSL's default security level (112-bit security) refuses smaller curves
WEAK_HASHES = {"md5", "sha1"}
# What OpenSSL lets a wildcard stand for (crypto/x509/v3_utl.c wildcard_match): no "_", no "*".
_WILDCARD_LABEL = re.compile(r"[A-Za-z0-9-]+")


@functools.lru_cache(maxsize=4096)
def load_certificate(der: bytes) -> x509.Certificate:
    """Parsed once per distinct certificate: many endpoints share intermediates (or a whole
    chain, behind one load balancer), and parsing dominates the judge's cost."""
    return x509.load_der_x509_certificate(der)


def load_chain(ders: Sequence[bytes]) -> tuple[x509.Certificate, ...]:
    return tuple(load_certificate(der) for der in ders)


@functools.lru_cache(maxsize=4096)
def name_text(name: x509.Name) -> str:
    return name.rfc4514_string() or "(empty)"


@functools.lru_cache(maxsize=4096)
def short_name(name: x509.Name) -> str:
    """The CN if there is one, else the whole name: enough to tell certificates apart."""
    cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={cns[0].value!s}" if cns else name_text(name)


def key_text(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"EC {curve.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA-{key.key_size}"
    return type(key).__name__


def signature_text(cert: x509.Certificate) -> str:
    """The signature algorithm's name, or its dotted OID when cryptography has no name for it
    (it says "Unknown OID" then, which would tell a reader nothing)."""
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    return name if name and name != "Unknown OID" else oid.dotted_string


def san_names(cert: x509.Certificate) -> tuple[str, ...]:
    """DNS names and IP addresses from subjectAltName, in certificate order."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = []
    for entry in ext:
        if isinstance(entry, x509.DNSName | x509.IPAddress):
            names.append(str(entry.value))
    return tuple(names)


def san_entries(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) from subjectAltName: a host is matched against one kind only."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = [str(v) for v in ext.get_values_for_type(x509.DNSName)]
    ips = [str(v) for v in ext.get_values_for_type(x509.IPAddress)]
    return dns, ips


@functools.lru_cache(maxsize=4096)
def cert_info(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject=name_text(cert.subject),
        issuer=name_text(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        key=key_text(cert),
        signature=signature_text(cert),
        san=san_names(cert),
        serial=serial_hex(cert.serial_number),
        dns_names=tuple(san_entries(cert)[0]),
    )


def serial_hex(serial: int) -> str:
    """A serial number as blackbox_exporter labels it: the bytes of its magnitude in hex, so a
    leading zero nibble is kept (int's hex would drop it)."""
    magnitude = abs(serial)
    return magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big").hex()


def is_self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def role(index: int, cert: x509.Certificate) -> str:
    if index == 0:
        return "leaf"
    return "root" if is_self_issued(cert) else "intermediate"


# --- weakness -------------------------------------------------------------------------------


def weak_key(cert: x509.Certificate) -> str | None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"weak key {key_text(cert)} (clients require at least {MIN_RSA_BITS} bits)"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < MIN_EC_BITS:
        return f"weak key {key_text(cert)} (clients require a curve of at least {MIN_EC_BITS} bits)"
    return None


def weak_signature(cert: x509.Certificate) -> str | None:
    algorithm = cert.signature_hash_algorithm
    if algorithm is not None and algorithm.name in WEAK_HASHES:
        return f"weak signature {signature_text(cert)} ({algorithm.name.upper()} is broken)"
    return None


@functools.lru_cache(maxsize=1024)
def _chain_weaknesses(chain: tuple[x509.Certificate, ...]) -> tuple[str, ...]:
    return tuple(_find_weaknesses(chain))


def chain_weaknesses(chain: Sequence[x509.Certificate]) -> list[str]:
    """Weak keys and signatures in the served chain; a root's self-signature does not count."""
    return list(_chain_weaknesses(tuple(chain)))


def _find_weaknesses(chain: Sequence[x509.Certificate]) -> list[str]:
    found: list[str] = []
    for index, cert in enumerate(chain):
        label = f"{role(index, cert)} {short_name(cert.subject)}"
        if problem := weak_key(cert):
            found.append(f"{label}: {problem}")
        if not is_self_issued(cert) and (problem := weak_signature(cert)):
            found.append(f"{label}: {problem}")
    return found


# --- host name ------------------------------------------------------------------------------


def dns_name_matches(pattern: str, host: str) -> bool:
    """RFC 6125 matching as OpenSSL does it: a wildcard is a whole left-most label, covers
    exactly one label of letters, digits and hyphens, and needs two labels after it."""
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if not pattern.startswith("*."):
        return "*" not in pattern and pattern == host
    suffix = pattern[2:]
    if suffix.count(".") < 1 or "*" in suffix:
        return False
    first, dot, rest = host.partition(".")
    return bool(dot) and _WILDCARD_LABEL.fullmatch(first) is not None and rest == suffix


def ip_matches(san: str, host: str) -> bool:
    try:
        return ipaddress.ip_address(san) == ipaddress.ip_address(host)
    except ValueError:
        return False


def matching_name(cert: x509.Certificate, host: str) -> str | None:
    """The first subjectAltName entry that covers `host`, or None: an IP address for an IP
    host, a DNS name otherwise (a host is matched against one kind only); never the CN."""
    dns, ips = san_entries(cert)
    if ip_matches(host, host):
        return next((san for san in ips if ip_matches(san, host)), None)
    return next((san for san in dns if dns_name_matches(san, host)), None)


def covers_host(cert: x509.Certificate, host: str) -> bool:
    """Whether the certificate's subjectAltName covers `host`, as clients match it."""
    return matching_name(cert, host) is not None


def common_names(cert: x509.Certificate) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


# --- dates ----------------------------------------------------------------------------------


def in_date(chain: Sequence[x509.Certificate], now: dt.datetime) -> bool:
    """Whether every certificate is valid at `now` (both ends of its validity included)."""
    return all(c.not_valid_before_utc <= now <= c.not_valid_after_utc for c in chain)


# --- version --------------------------------------------------------------------------------


def version_at_least(version: str, minimum: str) -> bool:
    return TLS_VERSION_ORDER.get(version, -1) >= TLS_VERSION_ORDER[minimum]


# --- the sent bundle against the verified path ----------------------------------------------


def path_positions(
    sent: Sequence[x509.Certificate], path: Sequence[x509.Certificate]
) -> tuple[int | None, ...]:
    """For each certificate sent, its index on the verified path; None when the path does not
    use it (unrelated, a cross-sign the path went around, or a second copy of one it uses)."""
    taken: set[int] = set()
    positions: list[int | None] = []
    for cert in sent:
        index = next((i for i, c in enumerate(path) if c == cert and i not in taken), None)
        if index is not None:
            taken.add(index)
        positions.append(index)
    return tuple(positions)


def in_path_order(positions: Sequence[int | None]) -> bool:
    """Whether the sent certificates the path uses come in the path's order (leaf, then each
    certificate's issuer), as TLS 1.2 requires (RFC 5246 7.4.2)."""
    used = [p for p in positions if p is not None]
    return used == sorted(used)


def _spki(cert: x509.Certificate) -> bytes:
    # Only for a certificate the path does not use; the serialization package imports
    # cryptography's SSH key code and bcrypt, 2 ms of every start.
    from cryptography.hazmat.primitives import serialization

    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def unused_kind(
    cert: x509.Certificate,
    sent_before: Sequence[x509.Certificate],
    path: Sequence[x509.Certificate],
) -> str:
    """What a certificate the path does not use is: a second copy, a cross-sign of a
    certificate on the path (same subject and key, another issuer), or unrelated."""
    if cert in sent_before:
        return "a second copy"
    if any(used.subject == cert.subject and _spki(used) == _spki(cert) for used in path):
        return f"cross-signed by {short_name(cert.issuer)}, a CA the path already has"
    return "unrelated to the path"


def unused_defects(cert: x509.Certificate, now: dt.datetime) -> list[str]:
    """Why an unused certificate matters beyond its being there: dates, key, signature."""
    found: list[str] = []
    if now > cert.not_valid_after_utc:
        found.append(f"expired {cert.not_valid_after_utc.date().isoformat()}")
    elif now < cert.not_valid_before_utc:
        found.append(f"not valid until {cert.not_valid_before_utc.date().isoformat()}")
    if problem := weak_key(cert):
        found.append(problem)
    if not is_self_issued(cert) and (problem := weak_signature(cert)):
        found.append(problem)
    return found


# --- certificate defects OpenSSL refuses ----------------------------------------------------


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _can_sign_certificates(cert: x509.Certificate) -> bool:
    constraints = _basic_constraints(cert)
    if constraints is None or not constraints.ca:
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def not_a_ca(chain: Sequence[x509.Certificate]) -> x509.Certificate | None:
    """The first certificate after the leaf that may not sign certificates (no CA:TRUE, or a
    keyUsage without keyCertSign), though the chain has it issue one."""
    return next((c for c in chain[1:] if not _can_sign_certificates(c)), None)


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def without_server_auth(chain: Sequence[x509.Certificate]) -> tuple[x509.Certificate, str] | None:
    """The first certificate whose extendedKeyUsage leaves out serverAuth, and what it allows."""
    allowed = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    for cert in chain:
        usages = _eku(cert)
        if usages is not None and not allowed.intersection(usages):
            names = [getattr(u, "_name", u.dotted_string) for u in usages]
            return cert, ", ".join(names) or "nothing"
    return None


def name_constrained(chain: Sequence[x509.Certificate]) -> tuple[x509.Certificate, str] | None:
    """The first CA with nameConstraints, and its permitted and excluded names as text."""
    for cert in chain[1:]:
        try:
            constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            continue
        parts = []
        for label, trees in (
            ("permitted", constraints.permitted_subtrees),
            ("excluded", constraints.excluded_subtrees),
        ):
            if trees:
                parts.append(f"{label}: {', '.join(str(t.value) for t in trees)}")
        return cert, "; ".join(parts)
    return None


def path_length_exceeded(chain: Sequence[x509.Certificate]) -> tuple[x509.Certificate, int] | None:
    """The first CA whose pathLenConstraint is smaller than the number of CAs the chain puts
    between it and the leaf, with that constraint."""
    for index, cert in enumerate(chain[1:], start=1):
        constraints = _basic_constraints(cert)
        limit = constraints.path_length if constraints is not None else None
        if limit is not None and index - 1 > limit:
            return cert, limit
    return None


def unknown_critical(chain: Sequence[x509.Certificate]) -> tuple[int, x509.Certificate, str] | None:
    """The first certificate (index, certificate, OID) with a critical extension of a kind
    cryptography, like OpenSSL, does not know."""
    for index, cert in enumerate(chain):
        for extension in cert.extensions:
            if extension.critical and isinstance(extension.value, x509.UnrecognizedExtension):
                return index, cert, extension.oid.dotted_string
    return None
