"""The chain cases (HTTPS; the judge is shared by every protocol): bundles real clients accept
though they are untidy, and certificates real clients refuse for a defect that only reissuing
fixes."""

from __future__ import annotations

import functools

from tlsprobe.lab.certs import Identity, Pki
from tlsprobe.lab.chain_certs import PERMITTED_DOMAIN, ChainPki
from tlsprobe.lab.https import Reply, http1
from tlsprobe.lab.server import HTTP1, SECLEVEL_0, Case, tls_context


def cases(pki: Pki) -> list[Case]:
    """Every chain case, in demo order."""
    made = ChainPki(pki)
    handler = functools.partial(http1, Reply())

    def case(name: str, description: str, identity: Identity, *, weak: bool = False) -> Case:
        return Case(
            name,
            description,
            handler,
            tls_context(identity, ciphers=SECLEVEL_0 if weak else "", alpn=HTTP1),
        )

    return [
        case(
            "https-chain-extra-expired",
            "good chain, plus an unrelated certificate that expired 40 days ago",
            made.with_unrelated_expired("https-chain-extra-expired"),
        ),
        case(
            "https-chain-extra-weak",
            "good chain, plus an unrelated RSA-1024 certificate",
            made.with_unrelated_weak("https-chain-extra-weak"),
            weak=True,
        ),
        case(
            "https-chain-expired-cross-sign",
            "leaf, intermediate, and the trusted root cross-signed by an expired root (DST X3)",
            made.with_expired_cross_sign("https-chain-expired-cross-sign"),
        ),
        case(
            "https-chain-out-of-order",
            "two intermediates sent in the wrong order",
            made.out_of_order("https-chain-out-of-order"),
        ),
        case(
            "https-chain-issuer-not-ca",
            "leaf signed by a certificate with CA:FALSE",
            made.issuer_not_ca("https-chain-issuer-not-ca"),
        ),
        case(
            "https-chain-client-auth-only",
            "leaf's extendedKeyUsage is clientAuth only",
            made.client_auth_only("https-chain-client-auth-only"),
        ),
        case(
            "https-chain-name-constraints",
            f"leaf for localhost under a CA constrained to {PERMITTED_DOMAIN}",
            made.outside_name_constraints("https-chain-name-constraints"),
        ),
        case(
            "https-chain-path-length",
            "a CA below a CA with pathLenConstraint 0",
            made.path_too_long("https-chain-path-length"),
        ),
        case(
            "https-chain-critical-extension",
            "leaf with an unknown critical extension",
            made.unknown_critical_extension("https-chain-critical-extension"),
        ),
    ]
