"""HTTPS servers that want a client certificate but do not abort the handshake without one:
nginx's `ssl_verify_client on` asks for a certificate, completes the handshake either way, and
answers a client that sent none with 400 "No required SSL certificate was sent". The TLS 1.2
and 1.3 servers that abort the handshake instead are in https.py."""

from __future__ import annotations

import contextlib
import ssl

from tlsprobe.lab.certs import Pki
from tlsprobe.lab.https import Reply, http1
from tlsprobe.lab.server import HTTP1, PEER_ERRORS, Case, Conn, Handler, tls_context, within
from tlsprobe.records import record

# nginx's own words, in the body of its 400 (ngx_http_special_response.c).
NO_CERT_SENT = "No required SSL certificate was sent"
HTTP_ALPN = b"http/1.1"  # in every ClientHello of the probe's, in none of its diagnostic's
LINGER_S = 1.0


@record
class NoCertSent(Reply):
    """nginx's answer to a client without a certificate, body and all."""

    status: str = "400 Bad Request"

    @property
    def body(self) -> bytes:
        return f"<html><center>{NO_CERT_SENT}</center></html>\n".encode()


async def _verify_client_on(conn: Conn) -> None:
    """200 to a client that presented a certificate the server trusts, else nginx's 400."""
    tls = conn.tls
    sent = tls is not None and tls.getpeercert(binary_form=True) is not None
    await http1(Reply() if sent else NoCertSent(), conn)


def _asks_for_cert(pki: Pki, maximum: ssl.TLSVersion | None) -> ssl.SSLContext:
    ctx = tls_context(pki.issue("https-verify-client-on"), maximum=maximum, alpn=HTTP1)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # ask, and go on without one
    ctx.load_verify_locations(cafile=str(pki.ca_file))
    return ctx


def _no_shared_cipher(pki: Pki) -> ssl.SSLContext:
    """TLS 1.2 with PSK suites only, which no certificate client offers: the server aborts
    with the same handshake_failure alert, and never asks for a certificate."""
    identity = pki.issue("https-verify-client-on")
    return tls_context(identity, ciphers="PSK", maximum=ssl.TLSVersion.TLSv1_2, alpn=HTTP1)


async def _answer(conn: Conn) -> None:
    await http1(Reply(), conn)


def _refuses_without_cert_tls12(pki: Pki) -> ssl.SSLContext:
    ctx = _asks_for_cert(pki, ssl.TLSVersion.TLSv1_2)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _resets_diagnostic(ctx: ssl.SSLContext) -> Handler:
    """A server that refuses a client without a certificate (TLS 1.2 handshake_failure), and
    resets any handshake that offers no HTTP ALPN, as the probe's diagnostic handshake
    offers none: whether it asks for a certificate cannot be seen there."""

    async def serve(conn: Conn) -> None:
        hello = await conn.read()
        if HTTP_ALPN not in hello:
            conn.reset()
            return
        try:
            await conn.start_tls(ctx, hello)
        except ssl.SSLError:
            # Read on a while (the client's alert may follow): closing at once could reset the
            # connection before the client reads the server's own alert.
            with contextlib.suppress(*PEER_ERRORS):
                await within(LINGER_S, conn.read())
            return
        await http1(Reply(), conn)

    return serve


def cases(pki: Pki) -> list[Case]:
    return [
        Case(
            "https-verify-client-on",
            "asks for a client certificate, completes TLS 1.3 without one, then answers 400"
            f' ("{NO_CERT_SENT}", nginx ssl_verify_client on)',
            _verify_client_on,
            _asks_for_cert(pki, None),
        ),
        Case(
            "https-verify-client-on-tls12",
            "the same over TLS 1.2",
            _verify_client_on,
            _asks_for_cert(pki, ssl.TLSVersion.TLSv1_2),
        ),
        Case(
            "https-no-shared-cipher-tls12",
            "TLS 1.2 with PSK cipher suites only: handshake_failure, no CertificateRequest",
            _answer,
            _no_shared_cipher(pki),
        ),
        Case(
            "https-client-cert-diagnostic-reset",
            "TLS 1.2, refuses without a client certificate, and resets a handshake without "
            "HTTP ALPN (the probe's diagnostic one)",
            _resets_diagnostic(_refuses_without_cert_tls12(pki)),
        ),
    ]
