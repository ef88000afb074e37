"""The tls.legacy cases: servers that negotiate TLS 1.3 but still accept TLS 1.0 and 1.1.

Their refusing twins are the good endpoints (https-good, smtp-good, smtps-good, pg-good), which
accept TLS 1.2 and 1.3 only. The PostgreSQL twin is a real cluster (lab/postgres.py, legacy-pg).
"""

from __future__ import annotations

import functools
import ssl

from tlsprobe.lab.certs import Identity, Pki
from tlsprobe.lab.https import Reply, http1
from tlsprobe.lab.server import SECLEVEL_0, Case, tls_context
from tlsprobe.lab.smtp import Mta, serve


def legacy_context(identity: Identity, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    """A server context that accepts TLS 1.0 to 1.3 (security level 0: OpenSSL 3's default
    level refuses TLS 1.0 and 1.1, whose handshakes sign with SHA-1 or MD5+SHA-1)."""
    return tls_context(identity, ciphers=SECLEVEL_0, minimum=ssl.TLSVersion.TLSv1, alpn=alpn)


def cases(pki: Pki) -> list[Case]:
    """HTTPS, SMTP STARTTLS and SMTPS servers accepting TLS 1.0 to 1.3."""
    identity = pki.issue("legacy")
    https_ctx = legacy_context(identity, ("http/1.1",))
    smtp_ctx = legacy_context(identity)
    return [
        Case(
            "legacy-https",
            "TLS 1.3 negotiated, TLS 1.0 and 1.1 also accepted",
            functools.partial(http1, Reply()),
            https_ctx,
        ),
        Case(
            "legacy-smtp",
            "STARTTLS: TLS 1.3 negotiated, TLS 1.0 and 1.1 also accepted",
            functools.partial(serve, Mta(starttls=smtp_ctx)),
            url="smtp://localhost:{port}",
        ),
        Case(
            "legacy-smtps",
            "implicit TLS: TLS 1.3 negotiated, TLS 1.0 and 1.1 also accepted",
            functools.partial(serve, Mta()),
            tls=smtp_ctx,
            url="smtps://localhost:{port}",
        ),
    ]
