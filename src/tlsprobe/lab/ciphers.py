"""Cases of key exchange, cipher suites and how a name meets the certificate: a TLS 1.2 server
that offers only DHE over a 1024-bit group, one that offers only CBC suites, an IP-address SAN
reached by its address (and its twin reached by a name not in it), a wildcard reached at its
apex, and a certificate that becomes valid minutes from now (a server clock running fast).

Their names start with `tls-` (all are HTTPS servers): the expected verdicts come from the real
clients, as tests/conformance/ runs them.
"""

from __future__ import annotations

import datetime as dt
import functools
import ssl

import trustme

from tlsprobe.lab.certs import DAY, Identity, Pki
from tlsprobe.lab.https import Reply, http1
from tlsprobe.lab.server import HTTP1, Case, tls_context

# RFC 2409's second Oakley group: the 1024-bit MODP group (generator 2) that Apache and old
# OpenSSL defaults shipped for years. A published constant, so the lab needs no slow prime
# search, and cryptography's FFDH (deprecated there, a warning the tests turn into an error)
# is not needed to write it.
OAKLEY_GROUP_2 = b"""\
-----BEGIN DH PARAMETERS-----
MIGHAoGBAP//////////yQ/aoiFowjTExmKLgNwc0SkCTgiKZ8x0Agu+pjsTmyJR
Sgh5jjQE3e+VGbPNOkMbMCsKbfJfFDdP4TVtbVHCReSFtXZiXn7G9ExC6aY37WsL
/1y29Aa37e44a/taiZ+lrp8kEXxLH+ZJKGZR7OZTgf//////////AgEC
-----END DH PARAMETERS-----
"""
DHE_ONLY = "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
# CBC with SHA-2 MACs: suites that Python's default context and curl both still offer, so the
# case is about CBC alone, not about SHA-1 MACs (which Python's default context drops).
CBC_ONLY = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384"
# Far enough ahead that a long test session does not reach it, short enough to be clock skew.
SKEW = dt.timedelta(minutes=20)


def _rsa_identity(pki: Pki, name: str) -> Identity:
    """A leaf with an RSA-2048 key (DHE-RSA suites need one) under the lab's intermediate."""
    leaf = pki.intermediate.issue_cert(
        "localhost", "127.0.0.1", "::1", key_type=trustme.KeyType.RSA
    )
    identity = Identity(pki.workdir / f"{name}.pem", pki.workdir / f"{name}.key")
    identity.chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems[:2]))
    identity.key.write_bytes(leaf.private_key_pem.bytes())
    return identity


def _tls12(identity: Identity, ciphers: str) -> ssl.SSLContext:
    """TLS 1.2 only (TLS 1.3 suites cannot be narrowed this way), offering only `ciphers`.
    Security level 0: OpenSSL's default level 2 would refuse to use a 1024-bit group itself."""
    v12 = ssl.TLSVersion.TLSv1_2
    return tls_context(
        identity, ciphers=f"{ciphers}:@SECLEVEL=0", minimum=v12, maximum=v12, alpn=HTTP1
    )


def _dhe1024(pki: Pki) -> ssl.SSLContext:
    ctx = _tls12(_rsa_identity(pki, "tls-dhe1024"), DHE_ONLY)
    group = pki.workdir / "oakley-group-2.pem"
    group.write_bytes(OAKLEY_GROUP_2)
    ctx.load_dh_params(str(group))
    return ctx


def cases(pki: Pki) -> list[Case]:
    """Every case of this module, in demo order."""
    http = functools.partial(http1, Reply())
    ip_only = tls_context(pki.issue("tls-ip-san", "127.0.0.1"), alpn=HTTP1)
    return [
        Case("tls-dhe1024", "TLS 1.2, only DHE over a 1024-bit group", http, _dhe1024(pki)),
        Case(
            "tls-cbc-only",
            "TLS 1.2, only CBC cipher suites (ECDHE-ECDSA-AES-SHA256/384)",
            http,
            _tls12(pki.issue("tls-cbc-only"), CBC_ONLY),
        ),
        Case(
            "tls-ip-san",
            "leaf has only IP:127.0.0.1 in its SAN, reached by that address",
            http,
            ip_only,
            url="https://127.0.0.1:{port}/",
        ),
        Case(
            "tls-ip-san-by-name",
            "leaf has only IP:127.0.0.1 in its SAN, reached as localhost",
            http,
            ip_only,
        ),
        Case(
            "tls-wildcard-apex",
            "leaf *.lab.test reached as lab.test (a wildcard never covers its apex)",
            http,
            tls_context(pki.issue("tls-wildcard-apex", "*.lab.test"), alpn=HTTP1),
            url="https://lab.test:{port}/#connect=127.0.0.1",
        ),
        Case(
            "tls-not-yet-valid-minutes",
            f"leaf valid from {SKEW.seconds // 60} minutes after the lab started (clock skew)",
            http,
            tls_context(
                pki.issue(
                    "tls-not-yet-valid-minutes",
                    not_before=pki.now + SKEW,
                    not_after=pki.now + 90 * DAY,
                ),
                alpn=HTTP1,
            ),
        ),
    ]
