"""Credentials in an http(s) URL go as Basic credentials only where a default client would send
them (a chain that verifies, in date, for the host), never to a certificate that fails, never
over plaintext HTTP, and never into a report."""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from conftest import probe_urls, statuses
from threaded import ThreadedHttpServer
from tlsprobe.model import Policy, TargetResult
from tlsprobe.report.json_report import result_dict

USER, PASSWORD = "alice", "s3cret-pw"
EXPECTED = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


class AuthServer(ThreadedHttpServer):
    """A web server in a thread of its own that answers 200 to the right Basic credentials and
    401 otherwise, and remembers the Authorization header of each request (None: none sent)."""

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__(tls)
        self.seen: list[str | None] = []

    def answer(self, head: str) -> bytes:
        lines = head.split("\r\n")
        auth = next((h.split(": ", 1)[1] for h in lines if h.startswith("Authorization")), None)
        self.seen.append(auth)
        status = b"200 OK" if auth == EXPECTED else b"401 Unauthorized"
        return b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@contextmanager
def auth_server(leaf: trustme.LeafCert | None) -> Iterator[AuthServer]:
    ctx = None
    if leaf is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
    with AuthServer(ctx) as server:
        yield server


def probe(server: AuthServer, scheme: str, ca_file: Path | None) -> TargetResult:
    url = f"{scheme}://{USER}:{PASSWORD}@localhost:{server.port}/"
    return probe_urls([url], Policy(timeout=3, ca_file=ca_file))[0]


def assert_no_password(result: TargetResult) -> None:
    said = json.dumps(result_dict(result)) + repr(result)
    for form in (PASSWORD, EXPECTED.split()[1], base64.b64encode(PASSWORD.encode()).decode()):
        assert form not in said


def withheld(result: TargetResult) -> list[str]:
    """Why the transcript says the credentials were withheld, once per session that did."""
    said = "credentials in the URL withheld: "
    return [line.partition(said)[2] for line in result.transcript if said in line]


def test_credentials_go_to_a_trusted_certificate_for_the_host(
    ca: trustme.CA, ca_file: Path
) -> None:
    """A verified chain for localhost: the server gets the Basic credentials and answers 200,
    the transcript says they were sent, and no report shows the password."""
    with auth_server(ca.issue_cert("localhost")) as server:
        result = probe(server, "https", ca_file)
    assert server.seen == [EXPECTED]
    assert statuses(result)["http.status"] == "pass"
    assert any(line.endswith("C: GET / with Basic credentials") for line in result.transcript)
    assert withheld(result) == []
    assert_no_password(result)


def test_credentials_are_withheld_from_a_certificate_for_another_host(
    ca: trustme.CA, ca_file: Path
) -> None:
    """A trusted certificate for another name: no credentials go, so the server answers 401,
    and the transcript says why."""
    with auth_server(ca.issue_cert("other.test")) as server:
        result = probe(server, "https", ca_file)
    assert server.seen == [None]
    assert statuses(result)["cert.hostname"] == "fail"
    assert statuses(result)["http.status"] == "fail"
    assert withheld(result) == ["the certificate is not for localhost"]
    assert_no_password(result)


def test_credentials_are_withheld_from_an_untrusted_chain(ca: trustme.CA) -> None:
    """A chain to an unknown root: the probe's second, non-verifying handshake sends none."""
    with auth_server(ca.issue_cert("localhost")) as server:
        result = probe(server, "https", None)
    assert server.seen == [None]
    assert statuses(result)["cert.chain"] == "fail"
    assert withheld(result) == ["the certificate chain did not verify"]
    assert_no_password(result)


def test_credentials_are_withheld_from_an_expired_certificate(
    ca: trustme.CA, ca_file: Path
) -> None:
    """An expired certificate (which the chain check verifies without dates, to report expiry
    on its own) is not trusted with credentials."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    leaf = ca.issue_cert("localhost", not_before=past - dt.timedelta(days=30), not_after=past)
    with auth_server(leaf) as server:
        result = probe(server, "https", ca_file)
    assert server.seen == [None]
    assert statuses(result)["cert.expiry"] == "fail"
    assert withheld(result) == ["a certificate is expired or not yet valid"]
    assert_no_password(result)


def test_credentials_never_go_over_plaintext_http(ca_file: Path) -> None:
    """http://user:password@...: the request goes without them, and the transcript says so."""
    with auth_server(None) as server:
        result = probe(server, "http", ca_file)
    assert server.seen == [None]
    assert statuses(result)["http.status"] == "fail"
    assert any("withheld: plaintext HTTP" in line for line in result.transcript)
    assert_no_password(result)
