"""What a client trusts and accepts: the SSL contexts tlsprobe handshakes with, one per mode.

The strict context verifies as real clients do (OpenSSL, the system store plus --ca-file); the
capturing and legacy ones exist to diagnose, so that an expired, self-signed or legacy server
still reads as exactly that, with its chain, and never as "connection failed".
"""

from __future__ import annotations

import enum
import functools
import os
import ssl
import warnings
from pathlib import Path

# so chain verification ignores them and an expired chain still says whether it is trusted.
NO_CHECK_TIME = 0x200000
LEGACY_MINIMUM = ssl.TLSVersion.TLSv1  # of the permissive contexts that name what old servers offer


class Mode(enum.Enum):
    VERIFY = "verify"
    CAPTURE = "capture"
    LEGACY_VERIFY = "legacy-verify"
    LEGACY_CAPTURE = "legacy-capture"

    @property
    def legacy(self) -> bool:
        return self in (Mode.LEGACY_VERIFY, Mode.LEGACY_CAPTURE)


@functools.lru_cache(maxsize=64)
def context(
    mode: Mode,
    ca_file: Path | None,
    alpn: tuple[str, ...] = (),
    client_cert: tuple[str, str | None] | None = None,
) -> ssl.SSLContext:
    """One SSL context per (mode, trust, ALPN, client certificate), shared by every target that
    has the same ones: building a context and loading the trust store costs milliseconds."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if client_cert is not None:
        ctx.load_cert_chain(client_cert[0], client_cert[1])
    ctx.check_hostname = False  # judged by cert.hostname from the SAN, without aborting
    if mode.legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = LEGACY_MINIMUM
        # To diagnose servers that OpenSSL 3 refuses by default (TLS 1.0/1.1, weak keys).
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if mode in (Mode.VERIFY, Mode.LEGACY_VERIFY):
        ctx.verify_mode = ssl.CERT_REQUIRED
        load_system_trust(ctx)
        if ca_file is not None:
            ctx.load_verify_locations(cafile=str(ca_file))
        ctx.verify_flags |= NO_CHECK_TIME
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def is_strict(ctx: ssl.SSLContext) -> bool:
    """Whether `ctx` is a Mode.VERIFY context: the chain verified, no legacy versions."""
    return ctx.verify_mode == ssl.CERT_REQUIRED and ctx.minimum_version != LEGACY_MINIMUM


def load_system_trust(ctx: ssl.SSLContext) -> None:
    """The system's trusted roots, as OpenSSL finds them. A hashed directory is searched per
    look-up, while the bundle file is parsed whole up front (about 50 ms, a tenth of a one-target
    run). So the directory alone, when there is one and the bundle in use is the system's own
    (which update-ca-certificates keeps in step with the directory); any other bundle, say one
    named by SSL_CERT_FILE, is loaded as it is."""
    paths = ssl.get_default_verify_paths()
    bundle = os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile
    own_bundle = os.path.realpath(bundle) == os.path.realpath(paths.openssl_cafile)
    if own_bundle and paths.capath and _is_hashed_dir(paths.capath):
        ctx.load_verify_locations(capath=paths.capath)
    else:
        ctx.load_default_certs()


def _is_hashed_dir(path: str) -> bool:
    """A directory with OpenSSL's `<hash>.0` links (c_rehash / update-ca-certificates)."""
    try:
        return any(len(name) == 10 and name.endswith(".0") for name in os.listdir(path))
    except OSError:
        return False
