"""Where a certificate says its revocation can be asked about: the OCSP responder of its AIA,
the CRLs of its CDP, and whether it must be stapled. A module of its own, free of the OCSP code:
every probe asks `worth_asking` of every leaf, and tls.revocation (cryptography's OCSP module
with it) is loaded only when the answer is yes or --revocation asks."""

from __future__ import annotations

from typing import TypeVar

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

E = TypeVar("E", bound=x509.ExtensionType)
_STATUS_REQUEST = 5  # the TLS feature (RFC 7633) that makes a certificate must-staple


def ocsp_url(cert: x509.Certificate) -> str | None:
    """The first OCSP responder of the certificate's AIA (None: it names none)."""
    for desc in extension(cert, x509.AuthorityInformationAccess) or ():
        location = desc.access_location
        if desc.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            location, x509.UniformResourceIdentifier
        ):
            return location.value
    return None


def crl_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """The http(s) URLs of the certificate's CRL distribution points."""
    urls = []
    for point in extension(cert, x509.CRLDistributionPoints) or ():
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith("http"):
                urls.append(name.value)
    return tuple(urls)


def must_staple(cert: x509.Certificate) -> bool:
    """Whether the certificate carries the TLS feature status_request (RFC 7633)."""
    features = extension(cert, x509.TLSFeature)
    return features is not None and any(f.value == _STATUS_REQUEST for f in features)


def worth_asking(cert: x509.Certificate) -> bool:
    """Whether a staple can mean anything: the certificate names an OCSP responder or must be
    stapled. Servers staple only responses their CA's responder gave them."""
    return must_staple(cert) or ocsp_url(cert) is not None


def extension(cert: x509.Certificate, kind: type[E]) -> E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None
