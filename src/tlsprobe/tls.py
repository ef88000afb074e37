"""The TLS judge, shared by every protocol: contexts, handshake capture, and verdicts.

A protocol hands `negotiate` one function that performs its preamble and handshake with a given
SSL context. `negotiate` first verifies the way real clients do (OpenSSL, system store plus
--ca-file); when that fails it retries with a capturing context, so that an expired, self-signed
or legacy server still reads as exactly that, with its chain, and never as "connection failed".
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import os
import ssl
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from cryptography import x509

from tlsprobe import tlsfacts
from tlsprobe.errors import explain
from tlsprobe.model import Check, Policy, Status, TlsInfo

T = TypeVar("T")

# X509_V_FLAG_NO_CHECK_TIME: Python's ssl has no name for it. Dates are judged by cert.expiry,
# so chain verification ignores them and an expired chain still says whether it is trusted.
NO_CHECK_TIME = 0x200000
LEGACY_MINIMUM = ssl.TLSVersion.TLSv1  # of the permissive contexts that name what old servers offer

# X509_V_ERR_* codes that need more than OpenSSL's own words.
_MISSING_ISSUER = {2, 20, 21}
_SELF_SIGNED_LEAF = 18
_UNTRUSTED_ROOT = 19
_WEAK = {66, 67, 68}


class Mode(enum.Enum):
    VERIFY = "verify"
    CAPTURE = "capture"
    LEGACY_VERIFY = "legacy-verify"
    LEGACY_CAPTURE = "legacy-capture"

    @property
    def legacy(self) -> bool:
        return self in (Mode.LEGACY_VERIFY, Mode.LEGACY_CAPTURE)


@dataclass(frozen=True)
class Handshake:
    """Facts read off a finished handshake."""

    version: str
    cipher: str
    alpn: str | None
    chain_der: tuple[bytes, ...]
    verified_root: str | None = None
    # The trust anchor from the local store when the server did not send it: its dates matter
    # too (an expired private root fails every real client), though it is not part of `chain`.
    anchor_der: bytes | None = None


@dataclass(frozen=True)
class VerifyError:
    code: int
    message: str


@dataclass(frozen=True)
class Negotiated(Generic[T]):
    session: T
    handshake: Handshake
    verify_error: VerifyError | None
    mode: Mode


Attempt = Callable[[ssl.SSLContext], Awaitable[tuple[T, Handshake]]]


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


def capture(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> Handshake:
    """Read version, cipher, ALPN and the chain as sent (private API until Python 3.13)."""
    inner: Any = ssl_object._sslobj  # type: ignore[union-attr]
    sent = inner.get_unverified_chain() or []
    verified: list[Any] = []
    if ssl_object.context.verify_mode != ssl.CERT_NONE:
        verified = inner.get_verified_chain() or []
    chain_der = tuple(cert.public_bytes(2) for cert in sent)  # 2 == _ssl.ENCODING_DER
    root, anchor = None, None
    if verified:
        anchor = verified[-1].public_bytes(2)
        root = tlsfacts.short_name(tlsfacts.load_certificate(anchor).subject)
    cipher = ssl_object.cipher()
    return Handshake(
        version=ssl_object.version() or "unknown",
        cipher=cipher[0] if cipher else "unknown",
        alpn=ssl_object.selected_alpn_protocol(),
        chain_der=chain_der,
        verified_root=root,
        anchor_der=anchor if anchor not in chain_der else None,
    )


def _next_mode(mode: Mode, exc: BaseException) -> tuple[Mode, VerifyError | None] | None:
    """Which context to try after `exc`, or None when the failure is the verdict itself."""
    kind = explain(exc).kind
    if kind == "tls-verify":
        error = _verify_error(exc)
        if mode is Mode.VERIFY:
            return Mode.CAPTURE, error
        if mode is Mode.LEGACY_VERIFY:
            return Mode.LEGACY_CAPTURE, error
    if kind == "tls-version" and not mode.legacy:
        return Mode.LEGACY_VERIFY, None
    # OpenSSL's security level can stop even a non-verifying handshake (weak keys, SHA-1).
    if kind in ("tls", "tls-alert") and mode is Mode.CAPTURE:
        return Mode.LEGACY_CAPTURE, None
    return None


def _verify_error(exc: BaseException) -> VerifyError:
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, ssl.SSLCertVerificationError):
            return VerifyError(current.verify_code, current.verify_message)
        current = current.__cause__ or current.__context__
    return VerifyError(0, str(exc))


async def negotiate(
    attempt: Attempt[T],
    ca_file: Path | None,
    alpn: tuple[str, ...] = (),
    client_cert: tuple[str, str | None] | None = None,
) -> Negotiated[T]:
    """Handshake as a real client would; on a verdict-worthy failure, retry to capture facts."""
    mode, verify_error = Mode.VERIFY, None
    while True:
        try:
            session, handshake = await attempt(context(mode, ca_file, alpn, client_cert))
        except Exception as exc:
            step = _next_mode(mode, exc)
            if step is None:
                raise
            mode, error = step
            verify_error = verify_error or error
            continue
        return Negotiated(session, handshake, verify_error, mode)


def tls_info(handshake: Handshake) -> TlsInfo:
    chain = tlsfacts.load_chain(handshake.chain_der)
    return TlsInfo(
        version=handshake.version,
        cipher=handshake.cipher,
        alpn=handshake.alpn,
        chain=tuple(tlsfacts.cert_info(c) for c in chain),
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
    chain = tlsfacts.load_chain(neg.handshake.chain_der)
    minimum = f"TLSv{policy.min_tls.value}"
    checks = [
        tlsfacts.version_check(neg.handshake.version, minimum, legacy=neg.mode.legacy),
        chain_check(chain, neg.verify_error, neg.handshake.verified_root),
    ]
    if chain:
        checks.append(tlsfacts.hostname_check(chain[0], host))
    else:
        checks.append(Check("cert.hostname", Status.SKIP, "not run: no certificate received"))
    anchor = neg.handshake.anchor_der
    dated = (*chain, tlsfacts.load_certificate(anchor)) if anchor and chain else chain
    checks.append(tlsfacts.expiry_check(dated, now, policy.expiry_warn_days))
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
    weaknesses = tlsfacts.chain_weaknesses(chain)
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
    issuer = tlsfacts.short_name(last.issuer)
    trust_hint = "pass the issuing root with --ca-file, or use a certificate from a trusted CA"
    if error.code == _SELF_SIGNED_LEAF:
        detail = f"self-signed certificate ({tlsfacts.short_name(leaf.subject)})"
        return Check("cert.chain", Status.FAIL, detail, trust_hint)
    if error.code in _MISSING_ISSUER and len(chain) == 1:
        detail = f"the server sends only its leaf certificate, issued by {issuer}, which is unknown"
        hint = (
            "the server does not send its intermediate: configure the full chain (leaf + "
            f"intermediates) on the server; or, if {issuer} is a private root, {trust_hint}"
        )
        return Check("cert.chain", Status.FAIL, detail, hint)
    if error.code in _MISSING_ISSUER or error.code == _UNTRUSTED_ROOT:
        root = tlsfacts.short_name(last.subject if tlsfacts.is_self_issued(last) else last.issuer)
        detail = f"the chain ends at {root}, which is not a trusted root ({error.message})"
        return Check("cert.chain", Status.FAIL, detail, trust_hint)
    return Check("cert.chain", Status.FAIL, f"OpenSSL: {error.message}", trust_hint)
