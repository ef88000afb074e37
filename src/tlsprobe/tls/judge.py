"""Every tls.* and cert.* verdict on a negotiated session, shared by every protocol."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from tlsprobe.model import Check, Policy, Status, TlsInfo
from tlsprobe.tls import certs
from tlsprobe.tls.negotiate import Handshake, Negotiated, VerifyError

# X509_V_ERR_* codes that need more than OpenSSL's own words.
_MISSING_ISSUER = {2, 20, 21}
_SELF_SIGNED_LEAF = 18
_UNTRUSTED_ROOT = 19
_WEAK = {66, 67, 68}


def tls_info(handshake: Handshake) -> TlsInfo:
    chain = certs.load_chain(handshake.chain_der)
    return TlsInfo(
        version=handshake.version,
        cipher=handshake.cipher,
        alpn=handshake.alpn,
        chain=tuple(certs.cert_info(c) for c in chain),
    )


def handshake_check(neg: Negotiated[Any]) -> Check:
    detail = f"{neg.handshake.version} {neg.handshake.cipher}"
    if neg.mode.legacy:
        detail += " (only with a permissive client: default OpenSSL 3 clients refuse it)"
    return Check("tls.handshake", Status.PASS, detail)


def judge(
    neg: Negotiated[Any], host: str, policy: Policy, now: dt.datetime | None = None
) -> list[Check]:
    """tls.version, cert.chain, cert.hostname and cert.expiry for one negotiated session."""
    now = now or dt.datetime.now(dt.UTC)
    chain = certs.load_chain(neg.handshake.chain_der)
    minimum = f"TLSv{policy.min_tls.value}"
    checks = [
        certs.version_check(neg.handshake.version, minimum, legacy=neg.mode.legacy),
        chain_check(chain, neg.verify_error, neg.handshake.verified_root),
    ]
    if chain:
        checks.append(certs.hostname_check(chain[0], host))
    else:
        checks.append(Check("cert.hostname", Status.SKIP, "not run: no certificate received"))
    anchor = neg.handshake.anchor_der
    dated = (*chain, certs.load_certificate(anchor)) if anchor and chain else chain
    checks.append(certs.expiry_check(dated, now, policy.expiry_warn_days))
    return checks


def chain_check(
    chain: Sequence[x509.Certificate], error: VerifyError | None, verified_root: str | None
) -> Check:
    """cert.chain: OpenSSL's verdict in plain language, plus weak keys and signatures."""
    if not chain:
        return Check(
            "cert.chain",
            Status.FAIL,
            "the server sent no certificate",
            "configure a certificate and key on the server's TLS listener",
        )
    weaknesses = certs.chain_weaknesses(chain)
    if error is None and not weaknesses:
        return Check("cert.chain", Status.PASS, f"verified to the trusted root {verified_root}")
    if error is None or error.code in _WEAK:
        reasons = weaknesses or [error.message if error else "weak certificate"]
        return Check(
            "cert.chain",
            Status.FAIL,
            "; ".join(reasons),
            "reissue with an RSA-2048+ or EC key, signed with SHA-256 or better",
        )
    untrusted = _untrusted(chain, error)
    if weaknesses:
        detail = f"{untrusted.detail}; also {'; '.join(weaknesses)}"
        return Check("cert.chain", Status.FAIL, detail, untrusted.hint)
    return untrusted


def _untrusted(chain: Sequence[x509.Certificate], error: VerifyError) -> Check:
    leaf, last = chain[0], chain[-1]
    issuer = certs.short_name(last.issuer)
    trust_hint = "pass the issuing root with --ca-file, or use a certificate from a trusted CA"
    if error.code == _SELF_SIGNED_LEAF:
        detail = f"self-signed certificate ({certs.short_name(leaf.subject)})"
        return Check("cert.chain", Status.FAIL, detail, trust_hint)
    if error.code in _MISSING_ISSUER and len(chain) == 1:
        detail = f"the server sends only its leaf certificate, issued by {issuer}, which is unknown"
        hint = (
            "the server does not send its intermediate: configure the full chain (leaf + "
            f"intermediates) on the server; or, if {issuer} is a private root, {trust_hint}"
        )
        return Check("cert.chain", Status.FAIL, detail, hint)
    if error.code in _MISSING_ISSUER or error.code == _UNTRUSTED_ROOT:
        root = certs.short_name(last.subject if certs.is_self_issued(last) else last.issuer)
        detail = f"the chain ends at {root}, which is not a trusted root ({error.message})"
        return Check("cert.chain", Status.FAIL, detail, trust_hint)
    return Check("cert.chain", Status.FAIL, f"OpenSSL: {error.message}", trust_hint)
