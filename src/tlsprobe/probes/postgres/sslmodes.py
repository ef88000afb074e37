"""What each libpq sslmode would have done with this server, from what the probe saw. Pure.

libpq verifies against its sslrootcert, not the system store: verify-ca and verify-full are
judged here against the roots tlsprobe trusts (give libpq the same file)."""

from __future__ import annotations

from collections.abc import Mapping

from tlsprobe.model import Check, Status
from tlsprobe.targets.pgsettings import SSLMODES

TLS_UNVERIFIED = "TLS without verifying"


def sslmodes(checks: Mapping[str, Check], legacy: bool) -> str:
    """`disable: plaintext; allow/prefer/require: TLS without verifying; verify-ca: refuses
    (self-signed); ...`: consecutive modes with the same outcome are grouped."""
    outcomes = outcome_per_mode(checks, legacy)
    groups: list[tuple[list[str], str]] = []
    for mode in SSLMODES:
        if groups and groups[-1][1] == outcomes[mode]:
            groups[-1][0].append(mode)
        else:
            groups.append(([mode], outcomes[mode]))
    return "; ".join(f"{'/'.join(modes)}: {outcome}" for modes, outcome in groups)


def outcome_per_mode(checks: Mapping[str, Check], legacy: bool) -> dict[str, str]:
    plain = _plaintext(checks.get("pg.plaintext"))
    # No handshake was tried only when the server answered N (anything else ends the probe
    # earlier); with sslnegotiation=direct there is a handshake and no SSLRequest.
    if _status(checks, "tls.handshake") in (None, Status.SKIP):
        refuses = "refuses (server has ssl = off)"
        return dict(zip(SSLMODES, [plain, plain, plain, refuses, refuses, refuses], strict=True))
    # libpq's default ssl_min_protocol_version is TLSv1.2, on OpenSSL's default security level.
    tls_ok = _status(checks, "tls.handshake") is Status.PASS and not legacy
    unverified = TLS_UNVERIFIED if tls_ok else "refuses (TLS handshake fails)"
    chain = _chain_problem(checks) if tls_ok else "TLS handshake fails"
    # A cert.hostname warning on PostgreSQL is a CN libpq accepts (tls/judge.py cn_fallback).
    named = _status(checks, "cert.hostname") in (Status.PASS, Status.WARN)
    host = chain or (None if named else "host name")
    if tls_ok and (refusal := _client_cert_refusal(checks)) is not None:
        # Refused at the startup in every TLS mode; allow and prefer then try plaintext.
        refused = f"refuses ({refusal})"
        fallback = plain if plain == "plaintext" else refused
        return {
            "disable": plain,
            "allow": fallback,
            "prefer": fallback,
            "require": refused,
            "verify-ca": f"refuses ({chain})" if chain else refused,
            "verify-full": f"refuses ({host})" if host else refused,
        }
    return {
        "disable": plain,
        "allow": plain if plain == "plaintext" else unverified,
        "prefer": unverified if tls_ok else plain,
        "require": unverified,
        "verify-ca": f"refuses ({chain})" if chain else "TLS, chain verified",
        "verify-full": f"refuses ({host})" if host else "TLS, chain and host name verified",
    }


def _client_cert_refusal(checks: Mapping[str, Check]) -> str | None:
    """Why the server refuses the client at the startup for its certificate, or None."""
    check = checks.get("pg.client_cert")
    if check is None or check.status is not Status.FAIL:
        return None
    refused = "refused the target's client certificate" in check.detail
    return "client certificate refused" if refused else "no client certificate"


def _status(checks: Mapping[str, Check], check_id: str) -> Status | None:
    check = checks.get(check_id)
    return check.status if check is not None else None


def _plaintext(check: Check | None) -> str:
    if check is not None and check.status is Status.PASS:
        return "refused (pg_hba.conf requires TLS)"
    if check is not None and "accepts unencrypted" in check.detail:
        return "plaintext"
    return "plaintext, if pg_hba.conf allows it"


def _chain_problem(checks: Mapping[str, Check]) -> str | None:
    """Why libpq's chain verification would fail (OpenSSL checks the dates too), or None."""
    chain, expiry = checks.get("cert.chain"), checks.get("cert.expiry")
    if chain is not None and chain.status is Status.FAIL:
        return "self-signed" if "self-signed" in chain.detail else "untrusted chain"
    if expiry is not None and expiry.status is Status.FAIL:
        return "not yet valid" if "not valid until" in expiry.detail else "expired certificate"
    return None
