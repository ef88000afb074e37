"""Whether an HTTPS server asks for a client certificate, seen on a diagnostic handshake of its
own, run only where the answer changes the verdict: a TLS 1.2 handshake_failure alert (which
means "no cipher in common" as often as "no client certificate"), and a 400 after a complete
handshake (nginx's "No required SSL certificate was sent"). Python's ssl tells no caller
whether a CertificateRequest came; OpenSSL's message callback sees every handshake message."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from tlsprobe import net
from tlsprobe.targets import Target

HANDSHAKE = 22  # TLS ContentType handshake
CERTIFICATE_REQUEST = 13  # TLS HandshakeType certificate_request
ASK_BUDGET_S = 2.0

NEEDS_CERT_HINT = (
    "give the target a client certificate and key (client_cert and client_key in its "
    "tlsprobe.toml entry) issued under a CA the server trusts"
)
ABORTED = (
    "the server asked for a client certificate (CertificateRequest), then aborted the "
    "handshake when none came (handshake_failure alert)"
)
NOTHING_IN_COMMON = (
    "the server aborted the handshake (handshake_failure alert) without asking for a client "
    "certificate: no cipher suite or signature algorithm in common",
    "compare the server's cipher suites and certificate with what current clients accept "
    "(TLS 1.2 with ECDHE and AES-GCM or ChaCha20, or TLS 1.3)",
)

UNTOLD = "failed too, before any CertificateRequest: whether the server asks for one is unknown"


def handshake_failure(asked: bool) -> tuple[str, str]:
    """(detail, hint) of a handshake_failure alert, by whether the server asked for a
    client certificate (known: a diagnostic that told nothing answers nothing)."""
    return (ABORTED, NEEDS_CERT_HINT) if asked else NOTHING_IN_COMMON


async def asks_for_client_cert(target: Target, budget: float) -> bool | None:
    """Whether the server sends a CertificateRequest in a fresh handshake that sends none;
    None when that handshake tells nothing: it failed otherwise than by the server's
    handshake_failure alert (a reset, a timeout, EOF) before any CertificateRequest came."""
    asked: list[bool] = []

    def seen(*args: Any) -> None:
        _conn, direction, _version, content_type, msg_type, _data = args
        if direction == "read" and content_type == HANDSHAKE and msg_type == CERTIFICATE_REQUEST:
            asked.append(True)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx._msg_callback = seen  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(min(ASK_BUDGET_S, budget)):
            sock = await net.connect(target.address, target.port)
            with net.closed_on_error(sock):
                transport, _ = await loop.create_connection(
                    asyncio.Protocol,
                    sock=sock,
                    ssl=ctx,
                    server_hostname=None if target.is_ip else target.host,
                )
            transport.abort()
    except (OSError, ssl.SSLError, TimeoutError, EOFError) as exc:
        if not asked and not is_handshake_failure(exc):
            return None
    return bool(asked)


def is_handshake_failure(exc: BaseException) -> bool:
    """A handshake_failure alert from the server, however wrapped."""
    current: BaseException | None = exc
    while current is not None:
        if getattr(current, "reason", None) == "SSLV3_ALERT_HANDSHAKE_FAILURE":
            return True
        current = current.__cause__ or current.__context__
    return False
