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
from dataclasses import field
from pathlib import Path

from tlsprobe.failures import ClientKeyError, KeyProblem
from tlsprobe.records import record

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME, which Python's ssl has no name for: the verifying contexts
# leave the dates to cert.expiry, so chain verification ignores them and an expired chain still
# says whether it is trusted.
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


@record
class ClientCert:
    """A client certificate, its key (None: in the certificate's file) and the key's password.
    `setting` names where that password is configured, for the hint when it is missing or wrong
    (failures.PASSWORD_SETTINGS). The password is part of equality: contexts are cached by it."""

    cert: str
    key: str | None = None
    password: str | None = field(default=None, repr=False)
    setting: str = ""

    @property
    def key_file(self) -> str:
        return self.key or self.cert


@record
class Roots:
    """The roots a client trusts besides --ca-file: the system store, PEM files, or both.
    HTTP clients and Python's ssl use the system store; libpq uses its sslrootcert file only,
    or the system store when sslrootcert=system (probes/postgres/roots.py says which)."""

    system: bool = True
    files: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()  # hashed directories (SSL_CERT_DIR of an Airflow worker, say)

    def text(self) -> str:
        """The roots in words, for the transcript."""
        named = [*(["the system store"] if self.system else []), *self.files, *self.dirs]
        return ", ".join(named) or "no roots at all"


SYSTEM_ROOTS = Roots()


@functools.lru_cache(maxsize=64)
def context(
    mode: Mode,
    ca_file: Path | None,
    alpn: tuple[str, ...] = (),
    client_cert: ClientCert | None = None,
    *,
    roots: Roots = SYSTEM_ROOTS,
) -> ssl.SSLContext:
    """One SSL context per (mode, trust, ALPN, client certificate), shared by every target that
    has the same ones: building a context and loading the trust store costs milliseconds.
    The verifying modes trust `roots` plus `ca_file`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if client_cert is not None:
        load_client_cert(ctx, client_cert)
    ctx.check_hostname = False  # judged by cert.hostname from the SAN, without aborting
    if mode.legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = LEGACY_MINIMUM
        # To diagnose servers that OpenSSL 3 refuses by default (TLS 1.0/1.1, weak keys).
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if mode in (Mode.VERIFY, Mode.LEGACY_VERIFY):
        ctx.verify_mode = ssl.CERT_REQUIRED
        if roots.system:
            load_system_trust(ctx)
        for root_file in roots.files:
            ctx.load_verify_locations(cafile=root_file)
        for root_dir in roots.dirs:
            ctx.load_verify_locations(capath=root_dir)
        if ca_file is not None:
            ctx.load_verify_locations(cafile=str(ca_file))
        ctx.verify_flags |= NO_CHECK_TIME
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


@functools.lru_cache(maxsize=8)
def below_minimum(maximum: ssl.TLSVersion) -> ssl.SSLContext:
    """A client offering only the versions from the oldest this OpenSSL has up to `maximum`,
    with any cipher and no verification: it asks whether a server still accepts them (tls.legacy),
    nothing more, so it needs no trust store (loading one costs milliseconds)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = oldest_version()
        ctx.maximum_version = maximum
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


@functools.cache
def oldest_version() -> ssl.TLSVersion:
    """SSLv3 where this OpenSSL was built with it (Debian's and most distributions' are not:
    ssl.HAS_SSLv3 is False), else TLS 1.0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ssl.TLSVersion.SSLv3 if ssl.HAS_SSLv3 else ssl.TLSVersion.TLSv1


@functools.lru_cache(maxsize=16)
def check_client_cert(client_cert: ClientCert) -> None:
    """Raise ClientKeyError now, before any connection, when the certificate or key cannot be
    used: a probe fails its handshake step at once instead of after connecting."""
    load_client_cert(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), client_cert)


class _NoPassword(Exception):
    """Raised from the password callback: OpenSSL asked, and no password is configured."""


def load_client_cert(ctx: ssl.SSLContext, client_cert: ClientCert) -> None:
    """Load the certificate and key into `ctx`; ClientKeyError when they cannot be used.

    A password callback is always given: without one OpenSSL prompts on the terminal
    ("Enter PEM pass phrase:") and blocks the event loop until someone types. Whether OpenSSL
    called it tells an encrypted key from a key that is not one at all."""
    asked: list[bool] = []

    def password() -> str:
        asked.append(True)
        if not client_cert.password:  # libpq, too, takes an empty sslpassword for none
            raise _NoPassword
        return client_cert.password

    for path, role in ((client_cert.cert, "certificate"), (client_cert.key_file, "key")):
        _check_readable(path, role)
    try:
        ctx.load_cert_chain(client_cert.cert, client_cert.key, password=password)
    except _NoPassword:
        raise _key_error(KeyProblem.ENCRYPTED, client_cert) from None
    except (ssl.SSLError, ValueError) as exc:  # ValueError: a password over OpenSSL's limit
        raise _load_error(exc, client_cert, asked=bool(asked)) from None


def _key_error(problem: KeyProblem, client_cert: ClientCert) -> ClientKeyError:
    return ClientKeyError(
        problem, client_cert.key_file, setting=client_cert.setting, cert=client_cert.cert
    )


def _check_readable(path: str, role: str) -> None:
    """A missing or unreadable file, named (load_cert_chain's OSError names neither)."""
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise ClientKeyError(KeyProblem.MISSING, path, role=role) from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ClientKeyError(KeyProblem.UNREADABLE, path, role=role, reason=reason) from None


def _load_error(exc: Exception, client_cert: ClientCert, *, asked: bool) -> ClientKeyError:
    """What a failed load_cert_chain means. OpenSSL says only "PEM lib" both for a file that
    is not PEM and for a wrong password: the callback being called tells them apart."""
    if asked:
        return _key_error(KeyProblem.WRONG_PASSWORD, client_cert)
    if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
        return _key_error(KeyProblem.MISMATCH, client_cert)
    if not _holds_certificate(client_cert.cert):
        return ClientKeyError(KeyProblem.NOT_PEM, client_cert.cert, role="certificate")
    return ClientKeyError(KeyProblem.NOT_PEM, client_cert.key_file)


def _holds_certificate(path: str) -> bool:
    from cryptography import x509

    try:
        with open(path, "rb") as handle:
            x509.load_pem_x509_certificates(handle.read())
    except (OSError, ValueError):
        return False
    return True


def not_strict(ctx: ssl.SSLContext) -> str | None:
    """Why a session made with `ctx` is not one of the strict Mode.VERIFY context (None: it
    is): either the chain was not verified, or legacy versions and ciphers were allowed."""
    if ctx.verify_mode != ssl.CERT_REQUIRED:
        return "the certificate chain did not verify"
    if ctx.minimum_version == LEGACY_MINIMUM:
        return "only a client that accepts legacy TLS versions or ciphers got through"
    return None


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
