"""The rule that ties tlsprobe's verdict to what a real client does, written once.

Pure: what a client did (`Seen`) and how it was set up go in, the one verdict tlsprobe owes
comes out. `tls_verdict` reads that verdict off a result.
"""

from __future__ import annotations

from dataclasses import dataclass

from tlsprobe.model import Status, TargetResult, worst

# The checks about connecting, encrypting, verifying and being let in (not http.*, not the
# server-hardening checks such as smtp.starttls_injection or pg.plaintext). The logins count:
# a target with a user is a client that logs in, and refused credentials, a client certificate
# the server demands, or channel binding it cannot get stop that client as surely as TLS does.
TLS_CHECKS = frozenset(
    {
        "connect",
        "tls.handshake",
        "tls.version",
        "tls.legacy",
        "cert.chain",
        "cert.hostname",
        "cert.expiry",
        "pg.sslrequest",
        "smtp.starttls",
        "client.encryption",
        "pg.login",
        "pg.client_cert",
        "smtp.login",
    }
)
# cert.revocation is not among them: none of these clients checks revocation by default, so a
# revoked certificate connects; its fail is the promise's "would connect unsafely" (README,
# "Why a revoked certificate fails although curl connects"), stated in test_conformance.
# Warnings that say nothing about whether this client connects today: a certificate that
# expires within --expiry-warn-days (tomorrow's outage), older versions the server also
# accepts (versions this client would not choose), and certificates sent beside the verified
# path (an untidy bundle the client goes around). They count as pass here.
ADVISORY_WARNINGS = frozenset({"cert.expiry", "tls.legacy", "cert.chain"})


@dataclass(frozen=True)
class Seen:
    """What one real client did against one endpoint, in its own words (`said`)."""

    connected: bool  # a session came up: the client got past TLS (or plaintext) to the protocol
    encrypted: bool
    verified: bool  # it checked the chain and the host name, and accepted both
    said: str = ""


@dataclass(frozen=True)
class Setup:
    """How the client was set up, and what other clients make of the same endpoint."""

    never_encrypts: bool = False  # sslmode=disable, http://: configured for plaintext
    strict_refuses: bool = False  # the same client, verifying fully, refuses this endpoint
    disputed: bool = False  # real clients disagree on it (CN-only: libpq accepts, browsers not)


def expected(seen: Seen, setup: Setup = Setup()) -> Status:
    """The TLS verdict tlsprobe owes: fail exactly when the client fails (or connects unsafely:
    configured for plaintext, or without verifying a server that a verifying client refuses);
    warn when it connects without encrypting or verifying a server that does verify, or where
    real clients disagree; pass only when it connects, encrypts and verifies."""
    if not seen.connected:
        return Status.FAIL
    if seen.encrypted and seen.verified:
        return Status.WARN if setup.disputed else Status.PASS
    if setup.never_encrypts or setup.strict_refuses:
        return Status.FAIL
    return Status.WARN


def tls_verdict(result: TargetResult) -> Status:
    """The worst of a result's TLS checks, advisory warnings counted as pass."""
    statuses = [
        Status.PASS if c.status is Status.WARN and c.id in ADVISORY_WARNINGS else c.status
        for c in result.checks
        if c.id in TLS_CHECKS
    ]
    return worst(statuses)
