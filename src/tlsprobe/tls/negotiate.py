"""The handshake as a real client makes it, retried to capture facts when it fails.

A protocol hands `negotiate` one function that performs its preamble and handshake with a given
SSL context. `negotiate` first verifies the way real clients do; when that fails it retries with
a capturing context (see trust.py), and the first verification error is kept for the judge.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from tlsprobe.failures import Kind, explain
from tlsprobe.records import record
from tlsprobe.tls import certs
from tlsprobe.tls.trust import SYSTEM_ROOTS, ClientCert, Mode, Roots, context

T = TypeVar("T")


@record
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
    # The path OpenSSL built and verified, leaf first, trust anchor last: what the client
    # actually relies on, which may leave out certificates the server sent. Empty when the
    # session was not verified.
    verified_der: tuple[bytes, ...] = ()


@record
class VerifyError:
    code: int
    message: str


@record
class Negotiated(Generic[T]):
    session: T
    handshake: Handshake
    verify_error: VerifyError | None
    mode: Mode


Attempt = Callable[[ssl.SSLContext], Awaitable[tuple[T, Handshake]]]


def capture(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> Handshake:
    """Read version, cipher, ALPN, the chain as sent and the path verified (private API until
    Python 3.13)."""
    inner: Any = ssl_object._sslobj  # type: ignore[union-attr]
    sent = inner.get_unverified_chain() or []
    verified: list[Any] = []
    if ssl_object.context.verify_mode != ssl.CERT_NONE:
        verified = inner.get_verified_chain() or []
    chain_der = tuple(cert.public_bytes(2) for cert in sent)  # 2 == _ssl.ENCODING_DER
    verified_der = tuple(cert.public_bytes(2) for cert in verified)
    root, anchor = None, None
    if verified_der:
        anchor = verified_der[-1]
        root = certs.short_name(certs.load_certificate(anchor).subject)
    cipher = ssl_object.cipher()
    return Handshake(
        version=ssl_object.version() or "unknown",
        cipher=cipher[0] if cipher else "unknown",
        alpn=ssl_object.selected_alpn_protocol(),
        chain_der=chain_der,
        verified_root=root,
        anchor_der=anchor if anchor not in chain_der else None,
        verified_der=verified_der,
    )


def _next_mode(mode: Mode, exc: BaseException) -> tuple[Mode, VerifyError | None] | None:
    """Which context to try after `exc`, or None when the failure is the verdict itself."""
    kind = explain(exc).kind
    if kind is Kind.TLS_VERIFY:
        error = _verify_error(exc)
        if mode is Mode.VERIFY:
            return Mode.CAPTURE, error
        if mode is Mode.LEGACY_VERIFY:
            return Mode.LEGACY_CAPTURE, error
    if kind is Kind.TLS_VERSION and not mode.legacy:
        return Mode.LEGACY_VERIFY, None
    # OpenSSL's security level can stop even a non-verifying handshake (weak keys, SHA-1).
    if kind in (Kind.TLS, Kind.TLS_ALERT) and mode is Mode.CAPTURE:
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
    client_cert: ClientCert | None = None,
    *,
    roots: Roots = SYSTEM_ROOTS,
) -> Negotiated[T]:
    """Handshake as a real client would (trusting `roots` plus `ca_file`); on a
    verdict-worthy failure, retry to capture facts."""
    mode, verify_error = Mode.VERIFY, None
    while True:
        try:
            session, handshake = await attempt(
                context(mode, ca_file, alpn, client_cert, roots=roots)
            )
        except Exception as exc:
            step = _next_mode(mode, exc)
            if step is None:
                raise
            mode, error = step
            verify_error = verify_error or error
            continue
        return Negotiated(session, handshake, verify_error, mode)
