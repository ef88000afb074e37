"""The TLS judge shared by every protocol: contexts (trust), the handshake and its retries
(negotiate), the verdicts (judge), and pure certificate facts (certs)."""

# First, before any module here imports cryptography.x509: see x509_load.
import tlsprobe.tls.x509_load  # noqa: F401

# isort: split
from tlsprobe.tls.expiry import expiry_check
from tlsprobe.tls.judge import (
    chain_check,
    credentials_withheld,
    handshake_check,
    hostname_check,
    judge,
    tls_info,
    version_check,
)
from tlsprobe.tls.negotiate import Attempt, Handshake, Negotiated, VerifyError, capture, negotiate
from tlsprobe.tls.trust import (
    LEGACY_MINIMUM,
    SYSTEM_ROOTS,
    ClientCert,
    Mode,
    Roots,
    check_client_cert,
    context,
    load_system_trust,
)

__all__ = [
    "LEGACY_MINIMUM",
    "SYSTEM_ROOTS",
    "Attempt",
    "ClientCert",
    "Handshake",
    "Mode",
    "Negotiated",
    "Roots",
    "VerifyError",
    "capture",
    "chain_check",
    "check_client_cert",
    "context",
    "credentials_withheld",
    "expiry_check",
    "handshake_check",
    "hostname_check",
    "judge",
    "load_system_trust",
    "negotiate",
    "tls_info",
    "version_check",
]
