"""One HTTP GET through httpcore, the engine under httpx: the same HTTP/1.1 (h11) and HTTP/2 (h2)
code, without httpx's client layer (cookie jar, redirects, URL and header models). That layer cost
more CPU per target than the request itself (measured with `make bench`), and a probe that reads
one status line and two headers needs none of it.

HTTP/1.1 goes to h11 directly, as httpcore's connection drives it, with httpcore's errors: that
connection guards its state with anyio locks and cancellation shields, which a connection used
for one request on one task does not need, and which cost a tenth of a millisecond per target
and, at first use, anyio's own imports (about 10 ms of every run). Measured side by side with
`make bench` on one commit: through httpcore's HTTP/1.1 connection, 100 targets took 0.38 s
(1.88x the floor) and one target 201 ms; driving h11 here, 0.32 s (1.68x) and 147 ms. h11 is
the HTTP/1.1 library httpcore itself drives, made to be driven so: its parser and state machine
do the protocol, this module only moves the bytes."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tlsprobe import __version__
from tlsprobe.probes.https.backend import AsyncioBackend, AsyncioStream, httpcore_module
from tlsprobe.records import record
from tlsprobe.targets import DEFAULT_PORTS, PATH_SAFE, Target, in_url

if TYPE_CHECKING:
    import httpcore

USER_AGENT = f"tlsprobe/{__version__}"
BACKEND = AsyncioBackend()

_QUERY_SAFE = PATH_SAFE + "?"  # RFC 3986: a query may hold what a path may, and "?"


@record
class HttpAnswer:
    http_version: str
    status: int
    reason: str
    location: str | None
    hsts: str | None


# No step here has a deadline of its own: every caller runs under its probe's deadline
# (probes.base.run_probe), which is the only one that can end a step first. Another one around
# each read and write was a timer set and cancelled for nothing, four or five per target.


async def connect(target: Target) -> AsyncioStream:
    """A TCP connection to the target's address (its #connect= override, if any)."""
    return await BACKEND.connect_tcp(target.address, target.port)


async def exchange(stream: AsyncioStream, target: Target, *, credentials: bool) -> HttpAnswer:
    """GET the target's path on an open stream, in HTTP/2 when TLS agreed on it, with the URL's
    user and password as Basic credentials when `credentials` says they may go. Reads the
    status line and headers only: the body may be large or never end (a log tail)."""
    ssl_object = stream.get_extra_info("ssl_object")
    scheme = b"https" if ssl_object is not None else b"http"
    if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
        try:
            return await _http11(stream, target, credentials=credentials)
        finally:
            await stream.aclose()
    core = httpcore_module()
    origin = core.Origin(scheme, target.address.encode("ascii"), target.port)
    connection = core.AsyncHTTP2Connection(origin, stream)
    sent = request(target, scheme, credentials=credentials)
    response = await connection.handle_async_request(sent)
    try:
        return answer(response.status, response.headers, response.extensions)
    finally:
        await response.aclose()
        await connection.aclose()


async def _http11(stream: AsyncioStream, target: Target, *, credentials: bool) -> HttpAnswer:
    """The GET in HTTP/1.1 through h11, with httpcore's errors for what goes wrong."""
    import h11

    connection = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=100 * 1024)
    try:
        head = h11.Request(
            method=b"GET", target=request_target(target), headers=_headers(target, credentials)
        )
        data = connection.send(head) + (connection.send(h11.EndOfMessage()) or b"")
    except h11.LocalProtocolError as exc:
        raise httpcore_module().LocalProtocolError(exc) from exc
    try:
        await stream.write(data)
    except Exception as exc:
        # As httpcore: a server may answer (and close) before reading the request. The
        # stream's errors are httpcore's, so httpcore is loaded by now.
        if not isinstance(exc, httpcore_module().WriteError):
            raise
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as exc:
            raise httpcore_module().RemoteProtocolError(exc) from exc
        if event is h11.NEED_DATA:
            chunk = await stream.read(64 * 1024)
            if not chunk and connection.their_state == h11.SEND_RESPONSE:
                raise httpcore_module().RemoteProtocolError(
                    "Server disconnected without sending a response."
                )
            connection.receive_data(chunk)
        elif isinstance(event, h11.Response) or (
            isinstance(event, h11.InformationalResponse) and event.status_code == 101
        ):
            break
    extensions = {"http_version": b"HTTP/" + event.http_version, "reason_phrase": event.reason}
    return answer(event.status_code, event.headers.raw_items(), extensions)


def _headers(target: Target, credentials: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"Host", host_header(target).encode("ascii")),
        (b"User-Agent", USER_AGENT.encode("ascii")),
        (b"Accept", b"*/*"),
    ]
    if credentials and target.user is not None:
        pair = f"{target.user}:{target.password or ''}".encode()
        headers.append((b"Authorization", b"Basic " + base64.b64encode(pair)))
    return headers


def request(target: Target, scheme: bytes, *, credentials: bool = False) -> httpcore.Request:
    core = httpcore_module()
    url = core.URL(
        scheme=scheme,
        host=target.address.encode("ascii"),
        port=target.port,
        target=request_target(target),
    )
    headers = _headers(target, credentials)
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"))  # None: see connect
    sent: httpcore.Request = core.Request(
        b"GET", url, headers=headers, extensions={"timeout": timeouts}
    )
    return sent


def answer(
    status: int, raw_headers: list[tuple[bytes, bytes]], extensions: Mapping[str, Any]
) -> HttpAnswer:
    """The parts of a response the checks read; HTTP/2 has no reason phrase, so the standard
    one stands in, as httpx shows it."""
    headers: dict[bytes, bytes] = {}
    for name, value in raw_headers:  # the first of repeated headers counts (RFC 6797 8.1)
        headers.setdefault(name.lower(), value)
    reason = extensions.get("reason_phrase", b"").decode("ascii", errors="replace")
    return HttpAnswer(
        http_version=extensions.get("http_version", b"HTTP/1.1").decode("ascii"),
        status=status,
        reason=reason or _standard_reason(status),
        location=_text(headers.get(b"location")),
        hsts=_text(headers.get(b"strict-transport-security")),
    )


def request_target(target: Target) -> bytes:
    """The path and query of the target's URL, percent-encoded where the user left them raw."""
    path = quote(target.path or "/", safe=PATH_SAFE)
    query = f"?{quote(target.query, safe=_QUERY_SAFE)}" if target.query else ""
    return (path + query).encode("ascii")


def host_header(target: Target) -> str:
    host = in_url(target.host)
    return host if target.port == DEFAULT_PORTS[target.protocol] else f"{host}:{target.port}"


def _standard_reason(status: int) -> str:
    import http  # HTTP/2 answers only: HTTP/1.1 carries its own reason phrase

    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
