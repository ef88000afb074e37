"""The lab's servers, checked with Python's own ssl module: each case has the defect it claims."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import interruptible
from tlsprobe.lab import Lab
from tlsprobe.lab.https import GARBAGE

CASES = [
    "https-good",
    "https-expired",
    "https-not-yet-valid",
    "https-expiring-soon",
    "https-wrong-host",
    "https-wildcard-too-deep",
    "https-cn-only",
    "https-self-signed",
    "https-untrusted-root",
    "https-expired-root",
    "https-incomplete-chain",
    "https-rsa1024",
    "https-sha1",
    "https-tls10-only",
    "https-tls12-only",
    "https-tls13-only",
    "https-h2",
    "https-no-hsts",
    "https-503",
    "https-404",
    "https-redirect-to-http",
    "https-client-cert-required",
    "https-client-cert-required-tls12",
    "https-unknown-sni",
    "https-plaintext",
    "https-silent",
    "https-stalled-backend",
    "https-close",
    "https-garbage",
    # lab/chains.py, after lab/https.py
    "https-chain-extra-expired",
    "https-chain-extra-weak",
    "https-chain-expired-cross-sign",
    "https-chain-out-of-order",
    "https-chain-issuer-not-ca",
    "https-chain-client-auth-only",
    "https-chain-name-constraints",
    "https-chain-path-length",
    "https-chain-critical-extension",
    # lab/clientcert.py, after the others
    "https-verify-client-on",
    "https-verify-client-on-tls12",
    "https-no-shared-cipher-tls12",
    "https-client-cert-diagnostic-reset",
]
TIMEOUT = 3.0
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test_lab\r\n\r\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


def where(lab: Lab, name: str) -> tuple[tuple[str, int], str]:
    """The address to connect to and the host name to ask for, honouring #connect=."""
    url = urlsplit(lab.url(name))
    assert url.hostname is not None
    assert url.port is not None
    fragment = dict(part.split("=", 1) for part in url.fragment.split("&") if part)
    return (fragment.get("connect", "127.0.0.1"), url.port), url.hostname


def verifying(lab: Lab) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=lab.ca_file)
    ctx.hostname_checks_common_name = False
    return ctx


def capturing() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def legacy(ctx: ssl.SSLContext) -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


@contextmanager
def tls(
    lab: Lab, name: str, ctx: ssl.SSLContext, host: str | None = None
) -> Iterator[ssl.SSLSocket]:
    address, hostname = where(lab, name)
    with (
        socket.create_connection(address, timeout=TIMEOUT) as raw,
        ctx.wrap_socket(raw, server_hostname=host or hostname) as conn,
    ):
        yield conn


def verify_code(lab: Lab, name: str, ctx: ssl.SSLContext, host: str | None = None) -> int:
    with pytest.raises(ssl.SSLCertVerificationError) as failure, tls(lab, name, ctx, host):
        pass
    return failure.value.verify_code


def leaf(lab: Lab, name: str) -> x509.Certificate:
    with tls(lab, name, legacy(capturing())) as conn:
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def sent_chain(lab: Lab, name: str) -> list[x509.Certificate]:
    with tls(lab, name, capturing()) as conn:
        chain = conn._sslobj.get_unverified_chain()  # type: ignore[attr-defined]
    return [x509.load_pem_x509_certificate(cert.public_bytes().encode()) for cert in chain]


def read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def http_get(lab: Lab, name: str) -> tuple[str, dict[str, str]]:
    with tls(lab, name, verifying(lab)) as conn:
        conn.sendall(REQUEST)
        head = read_all(conn).split(b"\r\n\r\n")[0].decode()
    status, *lines = head.split("\r\n")
    return status, dict(line.split(": ", 1) for line in lines)


def raw(lab: Lab, name: str) -> socket.socket:
    return socket.create_connection(where(lab, name)[0], timeout=TIMEOUT)


def client_hello() -> bytes:
    outgoing = ssl.MemoryBIO()
    obj = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="x")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_endpoints_in_demo_order(lab: Lab) -> None:
    """Every case is there, in the documented order, on a loopback port with a description."""
    assert [e.name for e in lab.endpoints if e.name.startswith("https-")] == CASES
    for endpoint in lab.endpoints:
        assert endpoint.description
        assert where(lab, endpoint.name)[0][0] == "127.0.0.1"
        assert endpoint.url == lab.url(endpoint.name)


def test_unknown_name_is_a_value_error(lab: Lab) -> None:
    """Asking for a case that does not exist raises ValueError naming it."""
    with pytest.raises(ValueError, match="no-such-case"):
        lab.url("no-such-case")


def test_ca_file_holds_only_roots(lab: Lab) -> None:
    """The CA file holds self-issued CA certificates only: the lab's root and the expired root,
    never the intermediate."""
    certs = x509.load_pem_x509_certificates(lab.ca_file.read_bytes())
    assert len(certs) == 2
    for cert in certs:
        assert cert.subject == cert.issuer
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_good_verifies_with_hostname_check(lab: Lab) -> None:
    """The good case verifies against the CA file, by SAN, and sends leaf plus intermediate."""
    with tls(lab, "https-good", verifying(lab)) as conn:
        assert conn.version() in ("TLSv1.2", "TLSv1.3")
    assert len(sent_chain(lab, "https-good")) == 2


def test_expired_leaf(lab: Lab) -> None:
    """The expired leaf fails verification as expired (10) and ended in the past."""
    assert verify_code(lab, "https-expired", verifying(lab)) == 10
    assert now() - dt.timedelta(days=4) < leaf(lab, "https-expired").not_valid_after_utc < now()


def test_not_yet_valid_leaf(lab: Lab) -> None:
    """The not-yet-valid leaf fails verification as not yet valid (9) and starts in the future."""
    assert verify_code(lab, "https-not-yet-valid", verifying(lab)) == 9
    assert leaf(lab, "https-not-yet-valid").not_valid_before_utc > now() + dt.timedelta(days=2)


def test_expiring_soon_leaf(lab: Lab) -> None:
    """The expiring-soon leaf still verifies and ends in about five days."""
    with tls(lab, "https-expiring-soon", verifying(lab)):
        pass
    left = leaf(lab, "https-expiring-soon").not_valid_after_utc - now()
    assert dt.timedelta(days=4) < left <= dt.timedelta(days=5)


def test_wrong_host(lab: Lab) -> None:
    """The wrong-host chain is trusted but is for wrong.example only: the host check fails (62)."""
    assert verify_code(lab, "https-wrong-host", verifying(lab)) == 62
    with tls(lab, "https-wrong-host", verifying(lab), host="wrong.example"):
        pass


def test_wildcard_too_deep(lab: Lab) -> None:
    """*.lab.test covers x.lab.test but not the URL's a.b.lab.test, reached through #connect."""
    assert where(lab, "https-wildcard-too-deep")[1] == "a.b.lab.test"
    assert verify_code(lab, "https-wildcard-too-deep", verifying(lab)) == 62
    with tls(lab, "https-wildcard-too-deep", verifying(lab), host="x.lab.test"):
        pass


def test_cn_only(lab: Lab) -> None:
    """The CN-only leaf has no SAN: it passes only when the client falls back to the CN."""
    cert = leaf(lab, "https-cn-only")
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert verify_code(lab, "https-cn-only", verifying(lab)) == 62
    lenient = verifying(lab)
    lenient.hostname_checks_common_name = True
    with tls(lab, "https-cn-only", lenient):
        pass


def test_self_signed(lab: Lab) -> None:
    """The self-signed leaf is sent alone, is its own issuer, and fails as self-signed (18)."""
    chain = sent_chain(lab, "https-self-signed")
    assert len(chain) == 1
    assert chain[0].issuer == chain[0].subject
    assert verify_code(lab, "https-self-signed", verifying(lab)) == 18


def test_untrusted_root(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The untrusted chain is complete but ends at another root, so it fails (20)."""
    assert len(sent_chain(lab, "https-untrusted-root")) == 2
    assert verify_code(lab, "https-untrusted-root", verifying(lab)) == 20
    stranger = ssl.create_default_context(
        cafile=lab.ca_file.parent / "https-untrusted-root-root.pem"
    )
    with tls(lab, "https-untrusted-root", stranger):
        pass


def test_incomplete_chain(lab: Lab) -> None:
    """The incomplete chain sends one certificate, so its issuer is unknown (20)."""
    assert len(sent_chain(lab, "https-incomplete-chain")) == 1
    assert verify_code(lab, "https-expired-root", verifying(lab)) == 10  # certificate has expired
    assert verify_code(lab, "https-incomplete-chain", verifying(lab)) == 20


def test_rsa1024(lab: Lab) -> None:
    """The RSA-1024 leaf fails as too weak (66) by default and verifies at SECLEVEL=0."""
    public_key = leaf(lab, "https-rsa1024").public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 1024
    assert verify_code(lab, "https-rsa1024", verifying(lab)) == 66
    with tls(lab, "https-rsa1024", legacy(verifying(lab))):
        pass


def test_sha1(lab: Lab) -> None:
    """The SHA-1 leaf fails as a weak digest (68) by default and verifies at SECLEVEL=0."""
    assert isinstance(leaf(lab, "https-sha1").signature_hash_algorithm, hashes.SHA1)
    assert verify_code(lab, "https-sha1", verifying(lab)) == 68
    with tls(lab, "https-sha1", legacy(verifying(lab))):
        pass


def test_tls10_only(lab: Lab) -> None:
    """The TLS 1.0/1.1 server alerts protocol_version to a default client and speaks TLS 1.1."""
    with (
        pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"),
        tls(lab, "https-tls10-only", verifying(lab)),
    ):
        pass
    with tls(lab, "https-tls10-only", legacy(verifying(lab))) as conn:
        assert conn.version() == "TLSv1.1"


def test_tls12_only(lab: Lab) -> None:
    """The TLS 1.2 server negotiates TLS 1.2 and refuses a TLS 1.3-only client."""
    with tls(lab, "https-tls12-only", verifying(lab)) as conn:
        assert conn.version() == "TLSv1.2"
    modern = verifying(lab)
    modern.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(ssl.SSLError), tls(lab, "https-tls12-only", modern):
        pass


def test_tls13_only(lab: Lab) -> None:
    """The TLS 1.3 server negotiates TLS 1.3 and refuses a TLS 1.2-only client."""
    with tls(lab, "https-tls13-only", verifying(lab)) as conn:
        assert conn.version() == "TLSv1.3"
    old = verifying(lab)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError), tls(lab, "https-tls13-only", old):
        pass


def test_h2(lab: Lab) -> None:
    """The h2 server selects ALPN h2 and answers an HTTP/2 GET with 200 and HSTS."""
    ctx = verifying(lab)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    client = h2.connection.H2Connection(h2.config.H2Configuration(header_encoding="utf-8"))
    client.initiate_connection()
    headers: dict[str, str] = {}
    with tls(lab, "https-h2", ctx) as conn:
        assert conn.selected_alpn_protocol() == "h2"
        stream = client.get_next_available_stream_id()
        request = [
            (":method", "GET"),
            (":path", "/"),
            (":scheme", "https"),
            (":authority", "localhost"),
        ]
        client.send_headers(stream, request, end_stream=True)
        conn.sendall(client.data_to_send())
        while not headers:
            for event in client.receive_data(conn.recv(65536)):
                if isinstance(event, h2.events.ResponseReceived):
                    headers = {str(k): str(v) for k, v in event.headers}
    assert headers[":status"] == "200"
    assert headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(
    ("name", "status", "hsts"),
    [
        ("https-good", "HTTP/1.1 200 OK", True),
        ("https-h2", "HTTP/1.1 200 OK", True),
        ("https-no-hsts", "HTTP/1.1 200 OK", False),
        ("https-503", "HTTP/1.1 503 Service Unavailable", True),
        ("https-404", "HTTP/1.1 404 Not Found", True),
        ("https-redirect-to-http", "HTTP/1.1 301 Moved Permanently", True),
    ],
)
def test_http_status(lab: Lab, name: str, status: str, hsts: bool) -> None:
    """Each HTTP case answers its own status line, with HSTS exactly where promised."""
    line, headers = http_get(lab, name)
    assert line == status
    assert ("Strict-Transport-Security" in headers) is hsts
    assert headers["Connection"] == "close"


def test_redirect_goes_to_plain_http(lab: Lab) -> None:
    """The redirect points at http:// on the same host and port."""
    _, headers = http_get(lab, "https-redirect-to-http")
    port = where(lab, "https-redirect-to-http")[0][1]
    assert headers["Location"] == f"http://localhost:{port}/"


def test_plaintext_answers_400(lab: Lab) -> None:
    """A ClientHello sent to the plaintext case gets an HTTP 400, as nginx would answer it."""
    with raw(lab, "https-plaintext") as conn:
        conn.sendall(client_hello())
        assert read_all(conn).startswith(b"HTTP/1.1 400 Bad Request\r\n")


def test_silent_says_nothing(lab: Lab) -> None:
    """The silent case accepts the connection and sends nothing within 0.3 s."""
    with raw(lab, "https-silent") as conn:
        conn.settimeout(0.3)
        with pytest.raises(TimeoutError):
            conn.recv(1)


def test_close_gives_eof(lab: Lab) -> None:
    """The close case ends the connection at once: the first read is EOF."""
    with raw(lab, "https-close") as conn:
        assert conn.recv(1) == b""


def test_garbage_bytes(lab: Lab) -> None:
    """The garbage case sends its fixed non-TLS bytes, then EOF."""
    assert GARBAGE[0] not in range(20, 25)
    assert len(GARBAGE) == 64
    with raw(lab, "https-garbage") as conn:
        assert read_all(conn) == GARBAGE


def test_survives_rude_clients(lab: Lab) -> None:
    """Clients that hang up, send junk, or send oversized headers leave the server working."""
    with raw(lab, "https-good"):
        pass
    with raw(lab, "https-good") as conn:
        conn.sendall(b"\x00\xff" * 100)
    with raw(lab, "https-good") as conn:
        conn.sendall(client_hello())
    with tls(lab, "https-good", verifying(lab)) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\n")
    with tls(lab, "https-good", verifying(lab)) as conn:
        conn.sendall(b"X-Junk: " + b"a" * 40000 + b"\r\n")
        with suppress(OSError):  # EOF or a reset: either way, no answer to an endless header
            assert read_all(conn) == b""
    with tls(lab, "https-h2", verifying(lab)) as conn:
        conn.sendall(b"definitely not a preface\r\n\r\n")
    assert http_get(lab, "https-good")[0] == "HTTP/1.1 200 OK"


def open_sockets() -> set[str]:
    fds = Path("/proc/self/fd")
    links = (os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink())
    return {link for link in links if link.startswith("socket:")}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_stop_closes_open_connections() -> None:
    """Stopping a lab ends held-open connections at once, twice over, and closes every socket."""
    before = open_sockets()
    with ExitStack() as stack:
        lab = Lab(postgres_clusters=False).start()
        workdir = lab.ca_file.parent
        held = [stack.enter_context(raw(lab, name)) for name in ("https-silent", "https-good")]
        held.append(stack.enter_context(tls(lab, "https-h2", verifying(lab))))
        stack.enter_context(tls(lab, "https-good", verifying(lab)))
        started = time.monotonic()
        lab.stop()
        lab.stop()
        assert time.monotonic() - started < 2
        for conn in held:
            assert conn.recv(1) == b""
    # No gc.collect(): a socket the lab forgot would stay open until the collector found it.
    assert open_sockets() <= before
    assert not workdir.exists()


def test_workdir_is_kept(tmp_path: Path) -> None:
    """A caller's workdir receives the PEM files and survives stop()."""
    with Lab(tmp_path / "pki", postgres_clusters=False) as lab:
        assert lab.ca_file == tmp_path / "pki" / "ca.pem"
    assert (tmp_path / "pki" / "ca.pem").exists()


def test_not_started_is_an_error() -> None:
    """A lab that has not started has no endpoints to give."""
    with pytest.raises(RuntimeError):
        Lab().endpoints  # noqa: B018


def test_main_prints_endpoints_until_interrupted() -> None:
    """`python -m tlsprobe.lab` prints one line per case and the CA file, and exits on Ctrl-C."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    with subprocess.Popen(
        interruptible("-m", "tlsprobe.lab"), stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            while not (line := proc.stdout.readline()).startswith("CA file: ") and line:
                lines.append(line)
            ca_line = line
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()  # a failed assertion must not leave the with-block waiting forever
    assert [n for n in (line.split()[0] for line in lines) if n.startswith("https-")] == CASES
    assert ca_line.startswith("CA file: ")
