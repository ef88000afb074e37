"""The HTTPS cases: certificate, protocol-version, HTTP and not-really-TLS defects."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import ssl
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from tlsprobe.lab.certs import DAY, Identity, Pki
from tlsprobe.lab.server import (
    HTTP1,
    PEER_ERRORS,
    SECLEVEL_0,
    Case,
    Conn,
    Handler,
    tls_context,
    within,
)
from tlsprobe.records import record

REQUEST_TIMEOUT = 10.0
LINGER_TIMEOUT = 2.0
DRIP_INTERVAL = 0.05
HSTS = "max-age=31536000"

# Starts with bytes no TLS record begins with (content types are 20-24), so a client cannot
# mistake it for an alert or a handshake; seeded so tests can compare byte for byte.
GARBAGE = b"\x00\xff\x13garbage" + random.Random(20240613).randbytes(54)
# The client identity the lab's client-certificate cases accept: written by the lab as
# `{CLIENT_IDENTITY}.pem` (leaf + intermediate) and `.key` next to its CA file.
CLIENT_IDENTITY = "https-client"


@record
class Reply:
    """The one HTTP answer a case gives to every request."""

    status: str = "200 OK"
    hsts: bool = True
    location: str | None = None  # `{port}` becomes the server's own port

    def headers(self, port: int) -> list[tuple[str, str]]:
        fields = [("Content-Type", "text/plain; charset=utf-8")]
        if self.hsts:
            fields.append(("Strict-Transport-Security", HSTS))
        if self.location is not None:
            fields.append(("Location", self.location.format(port=port)))
        return fields

    @property
    def body(self) -> bytes:
        return f"tlsprobe lab: {self.status}\n".encode()


async def http1(reply: Reply, conn: Conn) -> None:
    """Read one request head, whatever it says, and answer `reply` with Connection: close."""
    await within(REQUEST_TIMEOUT, conn.readuntil(b"\r\n\r\n"))
    body = reply.body
    fields = [
        *reply.headers(conn.port),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    head = f"HTTP/1.1 {reply.status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields)
    await conn.send(head.encode("latin-1") + b"\r\n" + body)


async def http2_or_1(reply: Reply, conn: Conn) -> None:
    """Speak HTTP/2 when ALPN chose it, HTTP/1.1 otherwise."""
    if conn.tls is None or conn.tls.selected_alpn_protocol() != "h2":
        await http1(reply, conn)
        return
    h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    h2conn.initiate_connection()
    await conn.send(h2conn.data_to_send())
    while data := await within(REQUEST_TIMEOUT, conn.read()):
        try:
            events = h2conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            events = [h2.events.ConnectionTerminated()]  # h2 has queued the GOAWAY to send
        for event in events:
            if isinstance(event, h2.events.RequestReceived) and event.stream_id is not None:
                headers = [(":status", reply.status.split()[0]), *reply.headers(conn.port)]
                headers.append(("content-length", str(len(reply.body))))
                h2conn.send_headers(event.stream_id, [(k.lower(), v) for k, v in headers])
                h2conn.send_data(event.stream_id, reply.body, end_stream=True)
        await conn.send(h2conn.data_to_send())
        if any(isinstance(event, h2.events.ConnectionTerminated) for event in events):
            return


async def plaintext(conn: Conn) -> None:
    """Answer whatever arrives (a ClientHello, say) the way nginx answers junk: 400, close."""
    if not await within(REQUEST_TIMEOUT, conn.read()):
        return
    body = b"<html><body><h1>400 Bad Request</h1></body></html>\n"
    await conn.send(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
        + body
    )
    await _close_lingering(conn)


async def _close_lingering(conn: Conn) -> None:
    """Close the way nginx does, lingering: a close() with unread input (a ClientHello already
    sent) resets the connection, and whether the client then reads "closed" or "reset" would be
    a race. The FIN goes first; what the client still sends is read and dropped."""
    conn.write_eof()
    with contextlib.suppress(*PEER_ERRORS):
        await within(LINGER_TIMEOUT, _discard(conn))


async def _discard(conn: Conn) -> None:
    while await conn.read():
        pass


async def endless(conn: Conn) -> None:
    """Plain HTTP: answer 200 at once, then drip a chunked body that never ends (a log tail, an
    event stream) until the client leaves."""
    await within(REQUEST_TIMEOUT, conn.readuntil(b"\r\n\r\n"))
    await conn.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    while True:
        await conn.send(b"6\r\ntick.\n\r\n")
        await asyncio.sleep(DRIP_INTERVAL)


async def silent(conn: Conn) -> None:
    """Hold the connection open without a word until the client leaves or the lab stops."""
    await _discard(conn)


async def hang_up(conn: Conn) -> None:
    """Close at once: the client reads the end of the connection where its ServerHello should
    be (a lingering close, so it never reads a reset instead)."""
    await _close_lingering(conn)


async def garbage(conn: Conn) -> None:
    """Send bytes that are not TLS, then close."""
    await conn.send(GARBAGE)
    await _close_lingering(conn)


def _client_cert_required(
    identity: Identity, ca_file: Path, maximum: ssl.TLSVersion | None = None
) -> Handler:
    """A server that asks for a client certificate under the lab root and refuses without one."""
    ctx = tls_context(identity, maximum=maximum, alpn=HTTP1)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(ca_file))
    return functools.partial(_refuse_without_client_cert, ctx)


async def _refuse_without_client_cert(ctx: ssl.SSLContext, conn: Conn) -> None:
    """Handshake here, not in the lab server: a refused client gets its alert, then a lingering
    close. A TLS 1.3 client sends its request right after its Finished; closing with that request
    unread would reset the connection and could destroy the alert before the client reads it."""
    try:
        await conn.start_tls(ctx)
    except ssl.SSLError:
        with contextlib.suppress(*PEER_ERRORS):
            await within(LINGER_TIMEOUT, _discard(conn))
        return
    await http1(Reply(), conn)


def _sni_known_only(identity: Identity, known: str) -> ssl.SSLContext:
    """A server that answers an SNI name other than `known` with an unrecognized_name alert."""
    ctx = tls_context(identity, alpn=HTTP1)

    def check(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> int | None:
        if name is not None and name != known:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        return None

    ctx.sni_callback = check
    return ctx


def cases(pki: Pki) -> list[Case]:
    """Every HTTPS case, in demo order."""
    now = pki.now
    good = pki.issue("https-good")
    pki.issue(CLIENT_IDENTITY)  # written for the client-certificate cases' good twin
    good_ctx = tls_context(good, alpn=HTTP1)

    def http(reply: Reply = Reply()) -> Handler:
        return functools.partial(http1, reply)

    def cert_case(name: str, description: str, identity: Identity, legacy: bool = False) -> Case:
        return Case(
            name,
            description,
            http(),
            tls_context(identity, ciphers=SECLEVEL_0 if legacy else "", alpn=HTTP1),
        )

    tls = ssl.TLSVersion
    return [
        Case("https-good", "all good: leaf + intermediate, TLS 1.2-1.3, HSTS", http(), good_ctx),
        cert_case(
            "https-expired",
            "leaf expired 3 days ago",
            pki.issue("https-expired", not_before=now - 30 * DAY, not_after=now - 3 * DAY),
        ),
        cert_case(
            "https-not-yet-valid",
            "leaf not valid until 3 days from now",
            pki.issue("https-not-yet-valid", not_before=now + 3 * DAY, not_after=now + 90 * DAY),
        ),
        cert_case(
            "https-expiring-soon",
            "leaf expires in 5 days",
            pki.issue("https-expiring-soon", not_before=now - 85 * DAY, not_after=now + 5 * DAY),
        ),
        cert_case(
            "https-wrong-host",
            "leaf is for wrong.example only",
            pki.issue("https-wrong-host", "wrong.example"),
        ),
        Case(
            "https-wildcard-too-deep",
            "leaf *.lab.test does not cover a.b.lab.test",
            http(),
            tls_context(pki.issue("https-wildcard-too-deep", "*.lab.test"), alpn=HTTP1),
            url="https://a.b.lab.test:{port}/#connect=127.0.0.1",
        ),
        cert_case(
            "https-cn-only",
            "leaf has CN=localhost and no subjectAltName",
            pki.cn_only("https-cn-only"),
        ),
        cert_case(
            "https-self-signed", "self-signed leaf, no CA", pki.self_signed("https-self-signed")
        ),
        cert_case(
            "https-untrusted-root",
            "chain ends at a root that is not in the lab CA file",
            pki.untrusted("https-untrusted-root"),
        ),
        cert_case(
            "https-expired-root",
            "good leaf under a trusted root that expired 2 days ago",
            pki.under_expired_root("https-expired-root"),
        ),
        cert_case(
            "https-incomplete-chain",
            "server sends the leaf without its intermediate",
            pki.issue("https-incomplete-chain", send_intermediate=False),
        ),
        cert_case("https-rsa1024", "RSA-1024 leaf key", pki.rsa1024("https-rsa1024"), legacy=True),
        cert_case("https-sha1", "leaf signed with SHA-1", pki.sha1("https-sha1"), legacy=True),
        Case(
            "https-tls10-only",
            "offers only TLS 1.0 and 1.1",
            http(),
            tls_context(
                good, ciphers=SECLEVEL_0, minimum=tls.TLSv1, maximum=tls.TLSv1_1, alpn=HTTP1
            ),
        ),
        Case(
            "https-tls12-only",
            "offers only TLS 1.2",
            http(),
            tls_context(good, minimum=tls.TLSv1_2, maximum=tls.TLSv1_2, alpn=HTTP1),
        ),
        Case(
            "https-tls13-only",
            "offers only TLS 1.3",
            http(),
            tls_context(good, minimum=tls.TLSv1_3, alpn=HTTP1),
        ),
        Case(
            "https-h2",
            "ALPN h2, answers over HTTP/2",
            functools.partial(http2_or_1, Reply()),
            tls_context(good, alpn=("h2", *HTTP1)),
        ),
        Case(
            "https-no-hsts",
            "no Strict-Transport-Security header",
            http(Reply(hsts=False)),
            good_ctx,
        ),
        Case(
            "https-503",
            "answers 503 Service Unavailable",
            http(Reply("503 Service Unavailable")),
            good_ctx,
        ),
        Case("https-404", "answers 404 Not Found", http(Reply("404 Not Found")), good_ctx),
        Case(
            "https-redirect-to-http",
            "redirects to plain http://",
            http(Reply("301 Moved Permanently", location="http://localhost:{port}/")),
            good_ctx,
        ),
        Case(
            "https-client-cert-required",
            "TLS 1.3, requires a client certificate (refuses after the handshake)",
            _client_cert_required(good, pki.ca_file),
        ),
        Case(
            "https-client-cert-required-tls12",
            "TLS 1.2, requires a client certificate (refuses during the handshake)",
            _client_cert_required(good, pki.ca_file, maximum=tls.TLSv1_2),
        ),
        Case(
            "https-unknown-sni",
            "knows only localhost: another SNI name gets an unrecognized_name alert",
            http(),
            _sni_known_only(good, "localhost"),
            url="https://other.lab.test:{port}/#connect=127.0.0.1",
        ),
        Case("https-plaintext", "plain HTTP on the port: 400 to a ClientHello", plaintext),
        Case("https-silent", "accepts TCP, never sends a byte", silent),
        Case(
            "https-stalled-backend",
            "completes TLS, then never answers the request (a hung backend behind TLS)",
            silent,
            good_ctx,
        ),
        Case("https-close", "closes the connection right after accept", hang_up),
        Case("https-garbage", f"sends {len(GARBAGE)} non-TLS bytes, then closes", garbage),
        Case(
            "http-endless-body",
            "plain HTTP: 200 at once, then a body that never ends",
            endless,
            url="http://localhost:{port}/",
        ),
    ]
