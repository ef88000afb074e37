"""The exporter's error answers: each is one line, names no secret, and comes whatever went
wrong; nothing drops the connection without an answer, and label values come from results
that passed the runner's scrub and escaping."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tlsprobe.exporter import Exporter
from tlsprobe.exporter.listener import Listener, bind
from tlsprobe.exporter.web import Face
from tlsprobe.exporter.webconfig import WebConfig
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.targets import Target, parse_target

SECRET = "Sw0rdf1sh-99"


def raw_answer(address: tuple[str, int], request: bytes) -> str:
    """Everything the exporter sends back to `request`, until it closes the connection."""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def get(address: tuple[str, int], target: str) -> tuple[str, str]:
    """The status line and body of the answer to a GET of `target`."""
    request = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    head, _, body = raw_answer(address, request.encode()).partition("\r\n\r\n")
    return head.split("\r\n", 1)[0], body


def probe_path(target: str) -> str:
    return "/probe?target=" + quote(target, safe="")


class Backend:
    """An exporter whose look-up or probe fails as told: errors a well-behaved exporter has no
    input to produce, to prove the HTTP face answers them."""

    def __init__(self) -> None:
        self.policy = Policy(timeout=1.0)
        self.metrics = CollectorRegistry(auto_describe=False)
        self.resolve_error: Exception | None = None
        self.probe_error: Exception | None = None

    def resolve(self, text: str) -> Target:
        if self.resolve_error is not None:
            raise self.resolve_error
        return parse_target(text)

    def policy_for(self, module: str) -> Policy:
        return self.policy

    async def probe(self, target: Target, deadline: float, module: str = "") -> TargetResult:
        raise self.probe_error or RuntimeError("no probe here")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Backend, tuple[str, int]]]:
    """The HTTP face in front of the double, on an event loop of its own in a thread."""
    double = Backend()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listener = Listener(bind(("127.0.0.1", 0)), Face(double, WebConfig))
    try:
        asyncio.run_coroutine_threadsafe(listener.start(), loop).result(10)
        yield double, listener.address
    finally:
        asyncio.run_coroutine_threadsafe(listener.stop(1.0), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def backend(served: tuple[Backend, tuple[str, int]]) -> tuple[Backend, tuple[str, int]]:
    """The served double, with nothing failing until a test says what."""
    double, _ = served
    double.resolve_error = double.probe_error = None
    return served


def test_an_unexpected_error_is_a_one_line_500(
    backend: tuple[Backend, tuple[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception nobody expected becomes a 500 naming only its type (its message may quote
    the request), one line on stderr says the same, and the exporter goes on answering."""
    double, address = backend
    double.resolve_error = ValueError(f"invalid literal {SECRET}\x1b[2J")
    status, body = get(address, probe_path(f"smtp://u:{SECRET}@h"))
    assert status == "HTTP/1.1 500 Internal Server Error"
    assert body == "internal error (ValueError); see the exporter's log\n"
    assert capsys.readouterr().err == "tlsprobe serve: error answering a request: ValueError\n"
    double.resolve_error = None
    assert get(address, "/")[0] == "HTTP/1.1 200 OK"


def test_a_bad_target_is_a_one_line_400_without_its_password(
    backend: tuple[Backend, tuple[str, int]],
) -> None:
    """A UsageError is a 400 of one line; a password or control character its message might
    quote (the input door's words) is hidden and written out."""
    double, address = backend
    double.resolve_error = UsageError(f"'smtp://u:{SECRET}@h:x':\n bad\x1b[2J port")
    status, body = get(address, probe_path(f"smtp://u:{SECRET}@h:x"))
    assert status == "HTTP/1.1 400 Bad Request"
    assert body == "bad target: 'smtp://u:***@h:x': bad\\x1b[2J port\n"


def test_a_probe_that_cannot_finish_is_a_one_line_503(
    backend: tuple[Backend, tuple[str, int]],
) -> None:
    """A probe that times out (the exporter overloaded or stopping) is a 503 of one line."""
    double, address = backend
    double.probe_error = TimeoutError()
    status, body = get(address, probe_path("https://localhost:1/"))
    assert status == "HTTP/1.1 503 Service Unavailable"
    assert body == "the probe did not finish (the exporter is stopping or overloaded)\n"


@pytest.mark.parametrize(
    "request_line",
    [
        f"GET /probe?target=smtp://u:{SECRET}@h x HTTP/1.1",  # a blank in the target
        f"POST /probe?target=smtp://u:{SECRET}@h HTTP/1.1",  # HTTP/1.1 without a Host
        f"GET /probe?target=smtp://u:{SECRET}@h HTTP/9.9",
        f"GET /probe?target=smtp://u:{SECRET}@h FOO/1.1",
        "GET",
    ],
)
def test_requests_the_parser_refuses_are_not_echoed(
    backend: tuple[Backend, tuple[str, int]], request_line: str
) -> None:
    """aiohttp's own error page would quote the parser's complaint (the request line, and the
    password in it) and its Server header names Python's version: here it is a 400 status line
    and one line with the standard phrase, from "tlsprobe"."""
    _, address = backend
    answer = raw_answer(address, f"{request_line}\r\n\r\n".encode())
    assert SECRET not in answer
    assert answer.startswith("HTTP/1.0 400 Bad Request\r\n")
    assert "\r\nServer: tlsprobe\r\n" in answer
    assert "Python" not in answer
    assert answer.endswith("\r\n\r\n400 Bad Request\n")


def test_other_methods_are_a_one_line_405(backend: tuple[Backend, tuple[str, int]]) -> None:
    """A well-formed POST is a 405 naming the methods served, never probed."""
    _, address = backend
    request = f"POST {probe_path('https://localhost:1/')} HTTP/1.1\r\nHost: x\r\n"
    answer = raw_answer(address, f"{request}Connection: close\r\n\r\n".encode())
    assert answer.startswith("HTTP/1.1 405 Method Not Allowed\r\n")
    assert "\r\nAllow: GET, HEAD\r\n" in answer
    assert answer.endswith("\r\n\r\n405 Method Not Allowed: GET or HEAD only\n")


def test_head_is_get_without_a_body(backend: tuple[Backend, tuple[str, int]]) -> None:
    """HEAD gets GET's status and Content-Length, and no body."""
    _, address = backend
    answers = [
        raw_answer(address, f"{verb} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        for verb in ("GET", "HEAD")
    ]
    get_head, _, get_body = answers[0].partition("\r\n\r\n")
    head_head, _, head_body = answers[1].partition("\r\n\r\n")
    assert get_body == "tlsprobe exporter: /probe?target=URL and /metrics\n"
    assert head_body == ""
    length = f"Content-Length: {len(get_body)}"
    assert length in get_head
    assert length in head_head
    assert head_head.startswith("HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize(
    ("target", "status_line", "body"),
    [
        (b"/probe?target=https://h%FF/", "HTTP/1.1 400 Bad Request",
         "bad target: the query is not UTF-8\n"),
        (b"/probe?target=https://h%C3%A9:x/", "HTTP/1.1 400 Bad Request",
         "bad target: 'https://h\u00e9:***': the port must be a number from 1 to 65535\n"),
        # Raw bytes above 0x7F in a request line: the parser refuses them (RFC 9112 has none).
        ("/probe?target=https://h\u00e9/".encode(), "HTTP/1.0 400 Bad Request",
         "400 Bad Request\n"),
        (b"/probe?target=https://h\xff/", "HTTP/1.0 400 Bad Request", "400 Bad Request\n"),
    ],
)  # fmt: skip
def test_non_ascii_targets_are_400(
    backend: tuple[Backend, tuple[str, int]], target: bytes, status_line: str, body: str
) -> None:
    """Percent-escapes that are not UTF-8 are a 400 saying so, escapes that are reach the input
    door as text, and raw bytes above ASCII are a 400 from the parser: never a dropped
    connection, never a target with U+FFFD in it."""
    _, address = backend
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    head, _, answer = raw_answer(address, request).partition("\r\n\r\n")
    assert head.startswith(f"{status_line}\r\n")
    assert answer == body


def test_a_port_in_other_digits_gets_an_answer() -> None:
    """`host=localhost port=²` (a digit Python's int() reads, and libpq would not) is answered,
    never a dropped connection: a 400 once the input door refuses it, a 500 before."""
    with Exporter([], Policy(timeout=1.0), allow_any=True, listen=("127.0.0.1", 0)) as exporter:
        status, body = get(exporter.address, "/probe?target=host=localhost%20port=%C2%B2")
    assert status in ("HTTP/1.1 400 Bad Request", "HTTP/1.1 500 Internal Server Error")
    assert body.count("\n") == 1
    assert body.endswith("\n")


def test_label_values_come_from_scrubbed_and_escaped_results(lab: Lab) -> None:
    """A configured target whose name holds its password and an ESC (set past the input door,
    which refuses control characters) is exported with the password as *** and the ESC
    written out, on /probe and /metrics alike."""
    url = lab.url("https-good").replace("https://", f"https://user:{SECRET}@")
    target = dataclasses.replace(parse_target(url), name=f"web-{SECRET}\x1b[2J")
    policy = Policy(timeout=5.0, ca_file=lab.ca_file)
    with Exporter([target], policy, interval=3600.0, listen=("127.0.0.1", 0)) as exporter:
        _, by_name = get(exporter.address, probe_path(target.name))
        while exporter.last_round is None:
            threading.Event().wait(0.05)
        _, metrics = get(exporter.address, "/metrics")
    for body in (by_name, metrics):
        assert SECRET not in body
        names = {
            sample.labels["name"]
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if "name" in sample.labels
        }
        assert names == {"web-***\\x1b[2J"}
