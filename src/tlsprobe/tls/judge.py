"""Every tls.* and cert.* verdict on a negotiated session, shared by every protocol, and the
one rule for sending credentials over it. The facts they stand on come from certs.py."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from tlsprobe import memo
from tlsprobe.model import Check, Fix, Policy, Status, TlsInfo
from tlsprobe.targets import client_trust
from tlsprobe.tls import certs, facts, paths, trust
from tlsprobe.tls.expiry import expiry_check
from tlsprobe.tls.negotiate import Handshake, Negotiated, VerifyError

# X509_V_ERR_* codes of trust that need more than OpenSSL's own words (the codes of
# certificate defects, which only reissuing fixes, are in paths.py).
_MISSING_ISSUER = {2, 20, 21}
_SELF_SIGNED_LEAF = 18
_UNTRUSTED_ROOT = 19
_WEAK = {66, 67, 68}
# A certificate may name thousands of hosts: a verdict lists this many, then counts the rest.
NAMES_SHOWN = paths.NAMES_SHOWN


def tls_info(handshake: Handshake) -> TlsInfo:
    chain, verified_path, on_path = facts.shown(handshake.chain_der, handshake.verified_der)
    return TlsInfo(
        version=handshake.version,
        cipher=handshake.cipher,
        alpn=handshake.alpn,
        chain=chain,
        verified_path=verified_path,
        on_path=on_path,
        path_not_after=facts.path_not_after(handshake.verified_der),
    )


def handshake_check(neg: Negotiated[Any]) -> Check:
    detail = f"{neg.handshake.version} {neg.handshake.cipher}"
    if neg.mode.legacy:
        detail += " (only with a permissive client: default OpenSSL 3 clients refuse it)"
    return Check("tls.handshake", Status.PASS, detail)


# How to trust a private root, in the terms of the client of each protocol (the default: the
# clients that take the system store, to which --ca-file adds).
TRUST_HINTS = {
    "postgresql": (
        "give libpq the issuing root with sslrootcert (the target's, or PGSSLROOTCERT; "
        "--ca-file stands in when neither names one), or use a certificate from a CA in it"
    ),
}
TRUST_HINT = client_trust.COMMAND_LINE_FIX


def judge(
    neg: Negotiated[Any],
    host: str,
    policy: Policy,
    now: dt.datetime | None = None,
    protocol: str | None = None,
) -> list[Check]:
    """tls.version, cert.chain, cert.hostname and cert.expiry for one negotiated session;
    `protocol` says whose client the host name and the trust hint speak for."""
    now = now or dt.datetime.now(dt.UTC)
    sent, verified = neg.handshake.chain_der, neg.handshake.verified_der
    chain = certs.load_chain(sent)
    path = certs.load_chain(verified)
    minimum = f"TLSv{policy.min_tls.value}"
    checks = [
        version_check(neg.handshake.version, minimum, legacy=neg.mode.legacy),
        chain_check(
            chain,
            neg.verify_error,
            neg.handshake.verified_root,
            path,
            now,
            trust_hint=TRUST_HINTS.get(protocol or "", TRUST_HINT),
            weaknesses=facts.weaknesses(sent, verified),
            positions=facts.positions(sent, verified),
        ),
    ]
    if chain:  # a function of the leaf's bytes, the host and the protocol: once per run
        leaf = chain[0]
        checks.append(
            memo.once(
                ("cert.hostname", sent[0], host, protocol),
                lambda: hostname_check(leaf, host, protocol),
            )
        )
    else:
        checks.append(Check("cert.hostname", Status.SKIP, "not run: no certificate received"))
    checks.append(
        expiry_check(
            relied_on(neg.handshake),
            now,
            policy.expiry_warn_days,
            fraction=policy.expiry_warn_fraction,
            fail_days=policy.expiry_fail_days,
        )
    )
    return checks


def relied_on(handshake: Handshake) -> tuple[x509.Certificate, ...]:
    """The certificates a client relies on: the path verification built, when it built one;
    otherwise the chain as sent, plus the trust anchor the local store supplied."""
    chain = certs.load_chain(handshake.chain_der)
    if handshake.verified_der and chain:
        return certs.load_chain(handshake.verified_der)
    anchor = handshake.anchor_der
    return (*chain, certs.load_certificate(anchor)) if anchor and chain else chain


def chain_check(
    chain: Sequence[x509.Certificate],
    error: VerifyError | None,
    verified_root: str | None,
    path: Sequence[x509.Certificate] = (),
    now: dt.datetime | None = None,
    *,
    trust_hint: str = TRUST_HINT,
    weaknesses: Sequence[str] | None = None,
    positions: Sequence[int | None] | None = None,
) -> Check:
    """cert.chain: OpenSSL's verdict in plain language, plus weak keys and signatures, judged
    on the verified `path` when there is one (else on the chain as sent); certificates sent
    but not on that path, or sent out of order, are a warning. `weaknesses` and `positions`:
    certs.chain_weaknesses and certs.path_positions, when the caller already has them."""
    if not chain:
        return Check(
            "cert.chain",
            Status.FAIL,
            "the server sent no certificate",
            "configure a certificate and key on the server's TLS listener",
        )
    weaknesses = list(certs.chain_weaknesses(path or chain) if weaknesses is None else weaknesses)
    if error is None and not weaknesses:
        verdict = Check("cert.chain", Status.PASS, f"verified to the trusted root {verified_root}")
        when = now or dt.datetime.now(dt.UTC)
        return paths.untidy(verdict, chain, path, when, positions) if path else verdict
    if error is None or error.code in _WEAK:
        reasons = weaknesses or [error.message if error else "weak certificate"]
        return Check(
            "cert.chain",
            Status.FAIL,
            "; ".join(reasons),
            "reissue with an RSA-2048+ or EC key, signed with SHA-256 or better",
        )
    verdict = paths.defect(chain, error) or _untrusted(chain, error, trust_hint)
    if weaknesses:
        detail = f"{verdict.detail}; also {'; '.join(weaknesses)}"
        return Check("cert.chain", Status.FAIL, detail, verdict.hint)
    return verdict


def _untrusted(chain: Sequence[x509.Certificate], error: VerifyError, trust_hint: str) -> Check:
    leaf, last = chain[0], chain[-1]
    issuer = certs.short_name(last.issuer)
    if error.code == _SELF_SIGNED_LEAF:
        detail = f"self-signed certificate ({certs.short_name(leaf.subject)})"
        return Check("cert.chain", Status.FAIL, detail, trust_hint, Fix.TRUST)
    if error.code in _MISSING_ISSUER and len(chain) == 1:
        detail = f"the server sends only its leaf certificate, issued by {issuer}, which is unknown"
        hint = (
            "the server does not send its intermediate: configure the full chain (leaf + "
            f"intermediates) on the server; or, if {issuer} is a private root, {trust_hint}"
        )
        return Check("cert.chain", Status.FAIL, detail, hint)
    if error.code in _MISSING_ISSUER or error.code == _UNTRUSTED_ROOT:
        # The last certificate's issuer: a served root issued itself, so it names the root too.
        detail = f"the chain ends at {issuer}, which is not a trusted root ({error.message})"
        return Check("cert.chain", Status.FAIL, detail, trust_hint, Fix.TRUST)
    return Check("cert.chain", Status.FAIL, f"OpenSSL: {error.message}", trust_hint)


# --- host name ------------------------------------------------------------------------------


def hostname_check(cert: x509.Certificate, host: str, protocol: str | None = None) -> Check:
    """cert.hostname: the leaf's subjectAltName must cover the host. A match by the subject CN
    alone warns when the clients of `protocol` (None: every client tlsprobe knows) accept it by
    their CN fallback, naming which accept and which refuse; it fails when none does."""
    if (match := certs.matching_name(cert, host)) is not None:
        return Check("cert.hostname", Status.PASS, f"{host} matches {match}")
    accept, refuse = cn_fallback(cert, host, protocol)
    if (cn := _cn_match(cert, host)) is not None and accept:
        return _cn_warning(host, cn, accept, refuse)
    sans = certs.san_names(cert)
    if not sans:
        cns = certs.common_names(cert)
        cn_text = f" (CN={cns[0]})" if cns else ""
        return Check(
            "cert.hostname",
            Status.FAIL,
            f"the certificate has no subjectAltName{cn_text}; clients ignore the CN (RFC 6125)",
            f"reissue the certificate with {host} in subjectAltName",
        )
    return Check(
        "cert.hostname",
        Status.FAIL,
        f"the certificate is for {names_text(sans)}, not {host}{_wildcard_note(sans, host)}",
        f"reissue the certificate with {host} in subjectAltName, or use a name it covers",
    )


# The clients whose CN fallback is modelled, and which of them use each protocol. Measured
# against the real ones (tests/test_client_model.py): libpq 18 (fe-secure-openssl.c) falls back
# when the SAN has no entry of the host's kind (DNS or IP); Python's ssl (OpenSSL's
# X509_check_host) when it has no DNS name, and never for an IP address; Debian's curl 7.88
# only when it has neither DNS names nor IP addresses; browsers never.
LIBPQ = "libpq (verify-full)"
PYTHON_SSL = "Python's ssl (smtplib, Airflow)"
HTTPX = "httpx"
CURL = "curl"
BROWSERS = "browsers"
CLIENTS_OF = {
    "postgresql": (LIBPQ,),
    "smtp": (PYTHON_SSL,),
    "smtps": (PYTHON_SSL,),
    "https": (HTTPX, CURL, BROWSERS),
}
ALL_CLIENTS = (LIBPQ, PYTHON_SSL, HTTPX, CURL, BROWSERS)


def cn_fallback(
    cert: x509.Certificate, host: str, protocol: str | None = None
) -> tuple[list[str], list[str]]:
    """(clients that accept, clients that refuse) a certificate for `host` whose SAN does
    not cover it, among the clients of `protocol`: only a CN fallback can accept it."""
    dns, ips = certs.san_entries(cert)
    is_ip = certs.ip_matches(host, host)
    if _cn_match(cert, host) is None:
        clients = CLIENTS_OF.get(protocol or "", ALL_CLIENTS)
        return [], list(clients)
    accepts = {
        LIBPQ: not (ips if is_ip else dns),
        PYTHON_SSL: not is_ip and not dns,
        HTTPX: not is_ip and not dns,
        CURL: not dns and not ips,
        BROWSERS: False,
    }
    clients = CLIENTS_OF.get(protocol or "", ALL_CLIENTS)
    return [c for c in clients if accepts[c]], [c for c in clients if not accepts[c]]


def _cn_match(cert: x509.Certificate, host: str) -> str | None:
    """The subject CN that names `host` (a wildcard covers one label, as in a SAN), or None."""
    is_ip = certs.ip_matches(host, host)
    for cn in certs.common_names(cert):
        if certs.ip_matches(cn, host) if is_ip else certs.dns_name_matches(cn, host):
            return cn
    return None


def _cn_warning(host: str, cn: str, accept: Sequence[str], refuse: Sequence[str]) -> Check:
    refused = (
        f"{_clients(refuse, 'refuse')} it"
        if refuse
        else "clients without that fallback refuse it (browsers; RFC 6125 deprecates it)"
    )
    return Check(
        "cert.hostname",
        Status.WARN,
        f"{host} matches only the subject CN ({cn}), in no subjectAltName: "
        f"{_clients(accept, 'accept')} it by falling back to the CN; {refused}",
        f"reissue the certificate with {host} in subjectAltName",
    )


def _clients(names: Sequence[str], verb: str) -> str:
    """ "curl refuses", "httpx and curl accept": a browser is never one client alone."""
    plural = len(names) > 1 or names[0] == BROWSERS
    return f"{' and '.join(names)} {verb if plural else verb + 's'}"


def names_text(names: Sequence[str]) -> str:
    """The first NAMES_SHOWN names, then how many more there are."""
    shown = ", ".join(names[:NAMES_SHOWN])
    rest = len(names) - NAMES_SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown


def _wildcard_note(sans: Sequence[str], host: str) -> str:
    for san in sans:
        if san.startswith("*.") and host.lower().endswith("." + san[2:].lower()):
            return f" ({san} covers exactly one label, not {host})"
    return ""


# --- version --------------------------------------------------------------------------------


def version_check(version: str, minimum: str, *, legacy: bool) -> Check:
    """tls.version: the negotiated version against the minimum; `legacy` when only a permissive
    second handshake got through, so `version` is the best the server offers."""
    if certs.version_at_least(version, minimum):
        return Check("tls.version", Status.PASS, version)
    offered = f"the server offers at best {version}" if legacy else f"negotiated {version}"
    return Check(
        "tls.version",
        Status.FAIL,
        f"{offered}, below the minimum {minimum}",
        f"enable {minimum} or later on the server (TLS 1.0 and 1.1 are deprecated, RFC 8996)",
    )


# --- credentials ----------------------------------------------------------------------------


def credentials_withheld(
    ctx: ssl.SSLContext, handshake: Handshake, host: str, now: dt.datetime | None = None
) -> str | None:
    """Why a default client would not send credentials over a session made with `ctx`, or None
    when it would: the strict context (chain verified, no legacy TLS), and a certificate for
    `host` whose whole path is in date. The probe's other contexts exist to diagnose: sending
    credentials through them would hand the password to whoever holds the port."""
    if (why := trust.not_strict(ctx)) is not None:
        return why
    chain = certs.load_chain(handshake.chain_der)
    if not chain:
        return "the server sent no certificate"
    if not certs.covers_host(chain[0], host):
        return f"the certificate is not for {host}"
    # The chain verified with NO_CHECK_TIME (trust.py): the dates are checked here, on the
    # path verified, the trust anchor's included.
    if not certs.in_date(relied_on(handshake), now or dt.datetime.now(dt.UTC)):
        return "a certificate is expired or not yet valid"
    return None
