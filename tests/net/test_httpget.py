"""The one-GET client (probes/httpget.py) on the asyncio-streams backend, against real HTTP/1.1
and HTTP/2 servers on ephemeral loopback ports, on asyncio's loop and on uvloop; and its pure
helpers (the answer, the request target, the Host header)."""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpcore
import pytest
import trustme
from netservers import (
    LONG,
    SHORT,
    SLACK,
    TICK,
    Handler,
    client_context,
    needs_ipv6,
    reset,
    server_context,
    serving,
    wait_until,
)

from conftest import Runner
from tlsprobe import __version__
from tlsprobe.failures import explain
from tlsprobe.probes.https import httpget
from tlsprobe.probes.https.httpget import HttpAnswer, answer, host_header, request_target
from tlsprobe.targets import parse_target

# --- exchange over HTTP/1.1 ---------------------------------------------------------------------


def http11_server(response: bytes, received: list[list[str]]) -> Handler:
    """Reads one request head into `received` (its lines, the server's port in place of
    "PORT"), sends `response`, leaves the connection open."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("ascii")
        port = str(writer.get_extra_info("sockname")[1])
        received.append(head.replace(f":{port}\r\n", ":PORT\r\n").split("\r\n"))
        writer.write(response)

    return handler


def https_exchange(
    on_loop: Runner,
    handler: Handler,
    url: str,
    server_tls: ssl.SSLContext | None,
    client_tls: ssl.SSLContext | None,
    *,
    timeout: float = LONG,
    host: str = "127.0.0.1",
    after_drop: bool = False,
    credentials: bool = False,
) -> tuple[HttpAnswer | BaseException, float]:
    """Serve `handler`, probe `url` (its "PORT" replaced by the server's port) the way https.py
    does: connect, start TLS when `client_tls` is given, exchange (`after_drop`: only once the
    client's transport has seen the server drop the connection). Returns the answer or the
    error, and how long the exchange took."""

    async def scenario() -> tuple[HttpAnswer | BaseException, float]:
        async with serving(handler, tls=server_tls, host=host) as port:
            target = parse_target(url.replace("PORT", str(port)))
            stream = await httpget.connect(target)
            started = time.monotonic()
            try:
                if client_tls is not None:
                    stream = await stream.start_tls(client_tls, target.host)
                if after_drop:
                    await wait_until(lambda: bool(stream.get_extra_info("is_readable")))
                    await asyncio.sleep(0.02)  # the reset, too, reaches the transport
                started = time.monotonic()
                async with asyncio.timeout(timeout):  # the probe's deadline, as https.py has it
                    got: HttpAnswer | BaseException = await httpget.exchange(
                        stream, target, credentials=credentials
                    )
            except Exception as exc:
                got = exc
            finally:
                await stream.aclose()
            return got, time.monotonic() - started

    return on_loop(scenario())


def http11_exchange(
    on_loop: Runner,
    response: bytes,
    url: str,
    server_tls: ssl.SSLContext | None,
    client_tls: ssl.SSLContext | None,
    **options: Any,
) -> tuple[HttpAnswer | BaseException, list[str]]:
    """https_exchange against http11_server(`response`): the answer or the error, and the lines
    of the one request head the server read."""
    received: list[list[str]] = []
    handler = http11_server(response, received)
    got, _ = https_exchange(on_loop, handler, url, server_tls, client_tls, **options)
    [head] = received
    return got, head


REDIRECT = (
    b"HTTP/1.1 301 Moved\r\nLocation: http://x/\r\nStrict-Transport-Security: max-age=5\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_exchange_http11_answer_and_request(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A GET over TLS to an HTTP/1.1 server: the answer's fields are exact, and the request
    carries the percent-encoded path and query, Host with the non-default port, tlsprobe's
    User-Agent."""
    got, head = http11_exchange(
        on_loop,
        REDIRECT,
        "https://localhost:PORT/a b/%20c?q=1 2&r=%41",
        server_context(server_cert),
        client_context(ca),
    )
    assert got == HttpAnswer("HTTP/1.1", 301, "Moved", "http://x/", "max-age=5")
    assert head == [
        "GET /a%20b/%20c?q=1%202&r=%41 HTTP/1.1",
        "Host: localhost:PORT",
        f"User-Agent: tlsprobe/{__version__}",
        "Accept: */*",
        "",
        "",
    ]


@pytest.mark.parametrize(
    "case",
    [
        ("https://alice:s3cret@localhost:PORT/", True, "Authorization: Basic YWxpY2U6czNjcmV0"),
        ("https://alice@localhost:PORT/", True, "Authorization: Basic YWxpY2U6"),
        ("https://alice:s3cret@localhost:PORT/", False, None),
        ("https://localhost:PORT/", True, None),
    ],
)
def test_exchange_sends_basic_credentials_only_when_allowed(
    on_loop: Runner,
    ca: trustme.CA,
    server_cert: trustme.LeafCert,
    case: tuple[str, bool, str | None],
) -> None:
    """The URL's user and password go as Basic credentials when the caller allows it, and
    never otherwise; a URL without a user sends none either way."""
    url, credentials, authorization = case
    got, head = http11_exchange(
        on_loop,
        REDIRECT,
        url,
        server_context(server_cert),
        client_context(ca),
        credentials=credentials,
    )
    assert got == HttpAnswer("HTTP/1.1", 301, "Moved", "http://x/", "max-age=5")
    sent = [line for line in head if line.startswith("Authorization")]
    assert sent == ([authorization] if authorization else [])


@needs_ipv6
def test_exchange_to_an_ipv6_literal_brackets_the_host(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A target at [::1] connects over IPv6 and sends "Host: [::1]:PORT"."""
    got, head = http11_exchange(
        on_loop,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "https://[::1]:PORT/",
        server_context(server_cert),
        client_context(ca),
        host="::1",
    )
    assert got == HttpAnswer("HTTP/1.1", 200, "OK", None, None)
    assert head[:2] == ["GET / HTTP/1.1", "Host: [::1]:PORT"]


def test_exchange_with_connect_override_sends_the_url_host(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """With #connect=127.0.0.1, the connection goes to 127.0.0.1 but Host names the URL's host."""
    got, head = http11_exchange(
        on_loop,
        b"HTTP/1.1 204 No Content\r\n\r\n",
        "https://example.test:PORT/health#connect=127.0.0.1",
        server_context(server_cert),
        client_context(ca),
    )
    assert got == HttpAnswer("HTTP/1.1", 204, "No Content", None, None)
    assert head[:2] == ["GET /health HTTP/1.1", "Host: example.test:PORT"]


def test_exchange_over_plain_http(on_loop: Runner) -> None:
    """Without TLS the same GET goes out in plaintext (an http:// target) and is answered."""
    got, head = http11_exchange(
        on_loop,
        b"HTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n",
        "http://127.0.0.1:PORT/missing",
        None,
        None,
    )
    assert got == HttpAnswer("HTTP/1.1", 404, "Nope", None, None)
    assert head[:2] == ["GET /missing HTTP/1.1", "Host: 127.0.0.1:PORT"]


async def reset_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    reset(writer)


async def reset_after_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(0.05)  # the client has the session tickets
    reset(writer)


def test_exchange_over_plain_http_after_a_reset(on_loop: Runner) -> None:
    """An http:// server that resets the connection as soon as it accepts it: exchange raises
    ReadError (httpcore tolerates the failed write and reads), kind "reset"."""
    got, _ = https_exchange(
        on_loop, reset_at_once, "http://127.0.0.1:PORT/", None, None, after_drop=True
    )
    assert type(got) is httpcore.ReadError
    assert explain(got).kind == "reset"


def test_exchange_over_tls_after_a_reset(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The TLS twin: a server that resets after the handshake: exchange raises ReadError, kind
    "reset", on both loops (the TLS transport takes the write without a RuntimeError)."""
    got, _ = https_exchange(
        on_loop,
        reset_after_handshake,
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca),
        after_drop=True,
    )
    assert type(got) is httpcore.ReadError
    assert explain(got).kind == "reset"


def test_exchange_garbage_status_line_is_protocol(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The bad twin: a server that answers garbage instead of a status line makes exchange raise
    RemoteProtocolError, kind "protocol"."""
    got, _ = https_exchange(
        on_loop,
        http11_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", []),
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca),
    )
    assert type(got) is httpcore.RemoteProtocolError
    assert explain(got).kind == "protocol"


def test_exchange_server_closes_without_answering(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A server that reads the request and closes: RemoteProtocolError ("Server disconnected
    without sending a response."), kind "protocol"."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    got, _ = https_exchange(
        on_loop, handler, "https://localhost:PORT/", server_context(server_cert), client_context(ca)
    )
    assert type(got) is httpcore.RemoteProtocolError
    assert str(got) == "Server disconnected without sending a response."
    assert explain(got).kind == "protocol"


def test_exchange_reads_headers_only(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A server that sends headers and then never ends its body: exchange returns the answer
    promptly, without waiting for the body."""
    endless = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nthe first bytes of the body"
    got, elapsed = https_exchange(
        on_loop,
        http11_server(endless, []),
        "https://localhost:PORT/log",
        server_context(server_cert),
        client_context(ca),
    )
    assert got == HttpAnswer("HTTP/1.1", 200, "OK", None, None)
    assert elapsed < SLACK


def test_exchange_silent_server_times_out(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The twin: a server that reads the request and never answers holds exchange until the
    probe's deadline, which ends it (TimeoutError, kind "timeout"), and nothing earlier does."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    got, elapsed = https_exchange(
        on_loop,
        handler,
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca),
        timeout=SHORT,
    )
    assert type(got) is TimeoutError
    assert explain(got).kind == "timeout"
    assert SHORT - TICK <= elapsed < SHORT + SLACK


# --- exchange over HTTP/2 -----------------------------------------------------------------------


def h2_server(received: list[list[tuple[bytes, bytes]]]) -> Handler:
    """A minimal HTTP/2 server: records each request's header fields (the server's port in
    :authority as "PORT"), answers it with 200 and an HSTS header."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while data := await reader.read(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    port = f":{writer.get_extra_info('sockname')[1]}".encode()
                    received.append([(k, v.replace(port, b":PORT")) for k, v in event.headers])
                    headers = [(":status", "200"), ("strict-transport-security", "max-age=9")]
                    conn.send_headers(event.stream_id, headers, end_stream=True)
            writer.write(conn.data_to_send())

    return handler


def test_exchange_http2_when_alpn_agrees(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """When ALPN selects "h2", exchange speaks HTTP/2: version "HTTP/2", status 200, the
    standard reason "OK" in place of HTTP/2's missing one, the HSTS value; the request carries
    :authority with the port, the encoded :path and tlsprobe's User-Agent."""
    received: list[list[tuple[bytes, bytes]]] = []
    got, _ = https_exchange(
        on_loop,
        h2_server(received),
        "https://localhost:PORT/x y?z=1",
        server_context(server_cert, ("h2", "http/1.1")),
        client_context(ca, ("h2", "http/1.1")),
    )
    assert got == HttpAnswer("HTTP/2", 200, "OK", None, "max-age=9")
    [headers] = received
    fields = dict(headers)
    assert fields[b":method"] == b"GET"
    assert fields[b":scheme"] == b"https"
    assert fields[b":path"] == b"/x%20y?z=1"
    assert fields[b":authority"] == b"localhost:PORT"
    assert fields[b"user-agent"] == f"tlsprobe/{__version__}".encode()
    assert b"host" not in fields


def test_exchange_http11_when_the_server_offers_no_alpn(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The twin: a client offering h2 to a server without ALPN gets HTTP/1.1."""
    got, head = http11_exchange(
        on_loop,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "https://localhost:PORT/",
        server_context(server_cert),
        client_context(ca, ("h2", "http/1.1")),
    )
    assert got == HttpAnswer("HTTP/1.1", 200, "OK", None, None)
    assert head[0] == "GET / HTTP/1.1"


async def read_h2_request(reader: asyncio.StreamReader) -> None:
    """Reads an HTTP/2 client's bytes until its request headers are in, answering nothing."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    while data := await reader.read(65536):
        if any(isinstance(e, h2.events.RequestReceived) for e in conn.receive_data(data)):
            return


def test_exchange_h2_agreed_but_server_answers_http11_and_closes(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """A server that selects "h2" in ALPN but, once the request is in, answers in HTTP/1.1 and
    closes: the HTTP/2 client fails with RemoteProtocolError, kind "protocol"."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_h2_request(reader)
        writer.write(b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    got, elapsed = https_exchange(
        on_loop,
        handler,
        "https://localhost:PORT/",
        server_context(server_cert, ("h2",)),
        client_context(ca, ("h2", "http/1.1")),
    )
    assert type(got) is httpcore.RemoteProtocolError
    assert explain(got).kind == "protocol"
    assert elapsed < SLACK


def test_exchange_h2_agreed_but_server_answers_http11_and_waits(
    on_loop: Runner, ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    """The same answer on a connection left open ends only at the probe's deadline (TimeoutError,
    kind "timeout"): h2 reads "HTTP/1" as the header of a 4.7 MB frame and waits for the rest
    before checking its length (h2's FrameBuffer), so no protocol error is raised."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_h2_request(reader)
        writer.write(b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\n\r\n")

    got, elapsed = https_exchange(
        on_loop,
        handler,
        "https://localhost:PORT/",
        server_context(server_cert, ("h2",)),
        client_context(ca, ("h2", "http/1.1")),
        timeout=SHORT,
    )
    assert type(got) is TimeoutError
    assert explain(got).kind == "timeout"
    assert SHORT - TICK <= elapsed < SHORT + SLACK


# --- pure functions -----------------------------------------------------------------------------


def test_answer_reason_phrases() -> None:
    """answer() keeps the server's reason, stands in the standard one when there is none, and
    leaves it empty for a status with no standard phrase (599)."""
    assert answer(599, [], {"http_version": b"HTTP/1.1"}).reason == ""
    assert answer(404, [], {"reason_phrase": b""}).reason == "Not Found"
    assert answer(200, [], {"reason_phrase": b"Fine"}).reason == "Fine"
    assert answer(200, [], {}) == HttpAnswer("HTTP/1.1", 200, "OK", None, None)


def test_answer_headers_any_case_and_latin1() -> None:
    """Location and HSTS are found whatever their case, and decoded as Latin-1."""
    got = answer(
        302,
        [
            (b"LOCATION", b"https://b\xfccher.example/"),
            (b"strict-transport-SECURITY", b"max-age=1"),
        ],
        {"http_version": b"HTTP/2"},
    )
    assert got == HttpAnswer("HTTP/2", 302, "Found", "https://bücher.example/", "max-age=1")


def test_answer_takes_the_first_of_repeated_hsts_headers() -> None:
    """Of two Strict-Transport-Security headers the first counts (RFC 6797 8.1): a later
    max-age=0 does not turn HSTS off."""
    headers = [
        (b"Strict-Transport-Security", b"max-age=9"),
        (b"Strict-Transport-Security", b"max-age=0"),
    ]
    assert answer(200, headers, {}).hsts == "max-age=9"
    assert answer(200, headers[::-1], {}).hsts == "max-age=0"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h", b"/"),
        ("https://h/", b"/"),
        ("https://h/a?q=1&r=two", b"/a?q=1&r=two"),
        ("https://h/a b", b"/a%20b"),
        ("https://h/a%20b", b"/a%20b"),
        ("https://h/?q=a b&u=x?y", b"/?q=a%20b&u=x?y"),
        ("https://h/p#expect_status=200", b"/p"),
    ],
)
def test_request_target(url: str, expected: bytes) -> None:
    """request_target: "/" by default, the query kept, raw spaces encoded, escapes kept as they
    are, the fragment never sent."""
    assert request_target(parse_target(url)) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h.example/", "h.example"),
        ("https://h.example:443/", "h.example"),
        ("https://h.example:8443/", "h.example:8443"),
        ("http://h.example/", "h.example"),
        ("http://h.example:443/", "h.example:443"),
        ("https://h.example:80/", "h.example:80"),
        ("https://[::1]/", "[::1]"),
        ("https://[2001:db8::1]:8443/", "[2001:db8::1]:8443"),
        ("https://h.example/#connect=10.0.0.7", "h.example"),
    ],
)
def test_host_header(url: str, expected: str) -> None:
    """host_header: the port only when it is not the scheme's default, IPv6 literals bracketed,
    the URL's host even when #connect names another address."""
    assert host_header(parse_target(url)) == expected
