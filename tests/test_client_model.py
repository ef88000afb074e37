"""The client model (issue 12): cert.* verdicts as the real client judges them, held against
the real clients: libpq through psycopg, Python's ssl (smtplib, Airflow, httpx) and curl."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import check, curl_binary, hint, probe_urls, statuses
from threaded import ThreadedHttpServer
from tlsprobe.lab import Lab
from tlsprobe.lab.https import CLIENT_IDENTITY
from tlsprobe.lab.postgres import PRIVATE_ROOT
from tlsprobe.lab.postgres_cluster import PASSWORD, SUPERUSER
from tlsprobe.model import Policy, Status, TargetResult
from tlsprobe.tls import hostname_check
from tlsprobe.tls.judge import CURL, HTTPX, LIBPQ, PYTHON_SSL, cn_fallback

TIMEOUT = 3.0
CN_WARNING = (
    "localhost matches only the subject CN (localhost), in no subjectAltName: "
    "libpq (verify-full) accepts it by falling back to the CN; clients without that "
    "fallback refuse it (browsers; RFC 6125 deprecates it)"
)


def port_of(lab: Lab, name: str) -> int:
    port = urlsplit(lab.url(name)).port
    assert port is not None
    return port


def libpq_connects(lab: Lab, cluster: str, sslmode: str = "verify-full", **keywords: str) -> str:
    """ "ok", or libpq's own error, for a login to a lab cluster (verify-full unless told)."""
    try:
        with psycopg.connect(
            host="localhost",
            port=port_of(lab, cluster),
            user=SUPERUSER,
            password=PASSWORD,
            dbname="postgres",
            sslmode=sslmode,
            connect_timeout=5,
            **keywords,
        ):
            return "ok"
    except psycopg.OperationalError as exc:
        return str(exc)


def probe(lab: Lab, url: str, ca_file: Path | None = None) -> TargetResult:
    (result,) = probe_urls([url], Policy(timeout=TIMEOUT, ca_file=ca_file))
    return result


# --- libpq: the CN fallback ------------------------------------------------------------------


def test_cn_only_postgres_warns_as_libpq_connects(lab: Lab) -> None:
    """libpq verify-full connects to a CN-only server; tlsprobe warns, naming libpq as the
    client that accepts, and its pg.login and sslmodes agree."""
    assert libpq_connects(lab, "pg-cn-only", sslrootcert=str(lab.ca_file)) == "ok"
    result = probe(lab, lab.url("pg-login-cn-only"), lab.ca_file)
    assert check(result, "cert.hostname") == (
        CN_WARNING,
        "reissue the certificate with localhost in subjectAltName",
    )
    assert statuses(result)["pg.login"] == "pass"
    assert "verify-full: TLS, chain and host name verified" in dict(result.facts)["sslmodes"]


def test_wrong_host_postgres_fails_as_libpq_refuses(lab: Lab) -> None:
    """The bad twin: a SAN for another name fails libpq and fails cert.hostname."""
    said = libpq_connects(lab, "pg-wrong-host", sslrootcert=str(lab.ca_file))
    assert "does not match host name" in said
    result = probe(lab, lab.url("pg-wrong-host"), lab.ca_file)
    assert statuses(result)["cert.hostname"] == "fail"
    assert "verify-full: refuses (host name)" in dict(result.facts)["sslmodes"]


# --- libpq: its roots ------------------------------------------------------------------------


def test_root_named_only_by_sslrootcert_is_trusted(lab: Lab) -> None:
    """A chain under a root only the target's sslrootcert names: libpq connects, cert.chain
    passes (it was "the server does not send its intermediate" before)."""
    root = lab.ca_file.parent / PRIVATE_ROOT
    assert libpq_connects(lab, "pg-private-root", sslrootcert=str(root)) == "ok"
    result = probe(lab, lab.url("pg-login-private-root"), lab.ca_file)
    assert statuses(result)["cert.chain"] == "pass"
    assert check(result, "cert.chain")[0].endswith("O=not the tlsprobe lab")
    assert statuses(result)["pg.login"] == "pass"


def test_root_not_named_fails_like_libpq(lab: Lab) -> None:
    """The twin: with the lab's root as sslrootcert (--ca-file), libpq refuses the private
    chain and so does cert.chain, its hint in libpq's terms (sslrootcert), while an HTTPS
    chain under an unknown root keeps --ca-file's."""
    said = libpq_connects(lab, "pg-private-root", sslrootcert=str(lab.ca_file))
    assert "certificate verify failed" in said
    result = probe(lab, lab.url("pg-private-root"), lab.ca_file)
    assert statuses(result)["cert.chain"] == "fail"
    assert hint(result, "cert.chain") == (
        "give libpq the issuing root with sslrootcert (the target's, or PGSSLROOTCERT; "
        "--ca-file stands in when neither names one), or use a certificate from a CA in it"
    )
    https = probe(lab, lab.url("https-untrusted-root"), lab.ca_file)
    assert hint(https, "cert.chain") == (
        "pass the issuing root with --ca-file, or use a certificate from a trusted CA"
    )


@pytest.mark.parametrize(
    ("exists", "detail"),
    [
        (False, "the client encrypts but does not verify the certificate (sslmode=require)"),
        (True, "the client verifies the chain but not the host name (sslmode=require)"),
    ],
)
def test_require_verifies_only_with_a_root_file_that_exists(
    lab: Lab, tmp_path: Path, exists: bool, detail: str
) -> None:
    """sslmode=require naming a root file: libpq verifies the chain only when the file exists
    (the lab's root does not sign pg-private-root's chain, so it then refuses), and
    client.encryption says so; a missing file was taken as verifying before."""
    root = lab.ca_file if exists else tmp_path / "missing-root.crt"
    said = libpq_connects(lab, "pg-private-root", sslmode="require", sslrootcert=str(root))
    assert ("certificate verify failed" in said) if exists else (said == "ok")
    port = port_of(lab, "pg-private-root")
    url = f"postgresql://localhost:{port}/postgres?sslmode=require&sslrootcert={root}"
    result = probe(lab, url)
    assert check(result, "client.encryption")[0] == detail
    assert statuses(result)["client.encryption"] == "warn"


def test_require_with_ca_file_verifies_as_libpq_given_it(lab: Lab) -> None:
    """A URL with sslmode=require and no root of its own, probed with --ca-file: tlsprobe gives
    libpq that file as sslrootcert (as for verify-full), so libpq verifies the chain, and
    client.encryption says so (it said "does not verify" while the handshake verified)."""
    port = port_of(lab, "pg-good")
    said = libpq_connects(lab, "pg-good", sslmode="require", sslrootcert=str(lab.ca_file))
    assert said == "ok"
    result = probe(lab, f"postgresql://localhost:{port}/postgres?sslmode=require", lab.ca_file)
    assert check(result, "client.encryption")[0] == (
        "the client verifies the chain but not the host name (sslmode=require)"
    )


def test_sslrootcert_system_allows_only_verify_full(lab: Lab) -> None:
    """libpq 16 and later: sslrootcert=system with sslmode=require refuses to start, and
    client.encryption fails in libpq's words; the twin without an sslmode is verify-full
    (libpq's default then), whose chain check fails as libpq's does (a lab root is in no
    system store)."""
    port = port_of(lab, "pg-private-root")
    said = libpq_connects(lab, "pg-private-root", sslmode="require", sslrootcert="system")
    weak = 'weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")'
    assert weak in said
    result = probe(
        lab, f"postgresql://localhost:{port}/postgres?sslmode=require&sslrootcert=system"
    )
    assert statuses(result)["client.encryption"] == "fail"
    assert check(result, "client.encryption")[0].endswith(f"libpq refuses to start: {weak})")
    assert hint(result, "client.encryption") == (
        "with sslrootcert=system use sslmode=verify-full (libpq 16 and later allow no other)"
    )
    default = psycopg.conninfo.make_conninfo(
        host="localhost", port=port, user=SUPERUSER, password=PASSWORD, dbname="postgres",
        sslrootcert="system", connect_timeout=5,
    )  # fmt: skip
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(default).close()
    twin = probe(lab, f"postgresql://localhost:{port}/postgres?sslrootcert=system")
    assert check(twin, "client.encryption") == (
        "encrypts and verifies (sslmode=verify-full (libpq's default with sslrootcert=system))",
        "",
    )
    assert statuses(twin)["cert.chain"] == "fail"


def test_sslrootcert_is_not_widened_by_ca_file(lab: Lab) -> None:
    """sslrootcert=system with --ca-file: libpq trusts the system store only and refuses the
    lab's chain; cert.chain fails too, and pg.login with it (no contradiction)."""
    said = libpq_connects(lab, "pg-good", sslrootcert="system")
    assert "certificate verify failed" in said
    url = lab.url("pg-login") + "&sslrootcert=system"
    result = probe(lab, url, lab.ca_file)
    assert statuses(result)["cert.chain"] == "fail"
    assert statuses(result)["pg.login"] == "fail"
    assert any(line.endswith("trust as libpq: the system store") for line in result.transcript)


def test_default_root_crt_is_libpqs_root(lab: Lab, home: Path) -> None:
    """With no sslrootcert anywhere, libpq reads ~/.postgresql/root.crt: a private root there
    makes libpq connect, and cert.chain passes with it (no --ca-file)."""
    (home / ".postgresql").mkdir()
    shutil.copy(lab.ca_file.parent / PRIVATE_ROOT, home / ".postgresql" / "root.crt")
    assert libpq_connects(lab, "pg-private-root") == "ok"
    url = f"postgresql://{SUPERUSER}:{PASSWORD}@localhost:{port_of(lab, 'pg-private-root')}"
    result = probe(lab, url + "/postgres?sslmode=verify-full")
    assert statuses(result)["cert.chain"] == "pass"
    assert statuses(result)["pg.login"] == "pass"


def test_no_root_at_all_judges_against_the_system_store(lab: Lab, home: Path) -> None:
    """The twin: no root.crt, no sslrootcert, no --ca-file. libpq verify-full refuses to
    start; cert.chain is judged against the system store (and fails for a private root)."""
    said = libpq_connects(lab, "pg-private-root")
    assert "root certificate file" in said
    assert "does not exist" in said
    url = f"postgresql://{SUPERUSER}:{PASSWORD}@localhost:{port_of(lab, 'pg-private-root')}"
    result = probe(lab, url + "/postgres?sslmode=verify-full")
    assert statuses(result)["cert.chain"] == "fail"
    assert statuses(result)["pg.login"] == "fail"
    assert any(line.endswith("trust as libpq: the system store") for line in result.transcript)


# --- libpq: channel binding and client certificates ------------------------------------------


@pytest.fixture(scope="module")
def logins(lab: Lab) -> dict[str, TargetResult]:
    names = [
        "pg-login-channel-binding",
        "pg-login-channel-binding-trust",
        "pg-login-channel-binding-password",
        "pg-login-channel-binding-no-tls",
        "pg-login-client-cert-full",
    ]
    results = probe_urls([lab.url(n) for n in names], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    return dict(zip(names, results, strict=True))


def test_channel_binding_with_scram_logs_in(logins: dict[str, TargetResult]) -> None:
    """channel_binding=require against SCRAM over TLS logs in (the good twin)."""
    assert statuses(logins["pg-login-channel-binding"])["pg.login"] == "pass"


@pytest.mark.parametrize(
    ("name", "detail", "hint"),
    [
        (
            "pg-login-channel-binding-trust",
            "channel_binding=require, but the server let 'probe' in without SCRAM (pg_hba.conf "
            "trust, cert, or another method with no password exchange), so nothing bound the "
            "login to this TLS session",
            "use scram-sha-256 on the server's pg_hba.conf line for this user and address; or, "
            "if that method is intended, drop channel_binding=require from the target",
        ),
        (
            "pg-login-channel-binding-password",
            "channel_binding=require, but the server asks for the password without SCRAM "
            "(pg_hba.conf md5 or password, or a password stored as MD5)",
            "use scram-sha-256 in pg_hba.conf and store the password as SCRAM "
            "(password_encryption = scram-sha-256, then set the password again)",
        ),
        (
            "pg-login-channel-binding-no-tls",
            "channel_binding=require needs TLS (it binds SCRAM to the TLS session), and "
            "sslmode=disable did not use it",
            "set sslmode=verify-full (and ssl = on on the server)",
        ),
        (
            "pg-login-client-cert-full",
            "the server requires a client certificate, and none was given",
            "give the target a client certificate and key (sslcert, sslkey)",
        ),
    ],
)
def test_login_refusals_say_what_is_needed(
    logins: dict[str, TargetResult], name: str, detail: str, hint: str
) -> None:
    """channel_binding and clientcert=verify-full refusals read as what the server or the
    target needs, in libpq's terms, never as a raw driver error."""
    assert statuses(logins[name])["pg.login"] == "fail"
    assert check(logins[name], "pg.login") == (detail, hint)


# --- the CN fallback of every client, measured -----------------------------------------------

ORACLE_CA = trustme.CA(organization_name="tlsprobe client model")
NOW = dt.datetime.now(dt.UTC)


def leaf(cn: str, sans: list[x509.GeneralName] | None) -> tuple[x509.Certificate, bytes]:
    """A leaf under ORACLE_CA with subject CN=`cn` and these SANs (None: no extension)."""
    ca_key = serialization.load_pem_private_key(ORACLE_CA.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ORACLE_CA.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
    )
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert, cert.public_bytes(serialization.Encoding.PEM) + key_pem


class Ok(ThreadedHttpServer):
    def answer(self, head: str) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def python_ssl_accepts(port: int, host: str, ca: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except ssl.SSLCertVerificationError:
        return False


def run_curl(*args: str) -> subprocess.CompletedProcess[str]:
    """Debian's curl with `args`, five seconds at most; it must be installed (.ci/run does)."""
    argv = [curl_binary(), "-sS", "--max-time", "5", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def curl_accepts(port: int, host: str, ca: Path) -> bool:
    resolve = f"{host}:{port}:127.0.0.1"
    done = run_curl("--cacert", str(ca), "--resolve", resolve, f"https://{host}:{port}/")
    assert done.returncode in (0, 60), done.stderr  # 60: the peer's certificate was refused
    return done.returncode == 0


def ip(address: str) -> x509.GeneralName:
    return x509.IPAddress(ipaddress.ip_address(address))


# (CN, SANs, host, libpq accepts: from fe-secure-openssl.c, proven for CN-only in the lab).
CN_CASES = {
    "CN only": ("localhost", None, "localhost", True),
    "CN only, IP host": ("127.0.0.1", None, "127.0.0.1", True),
    "SAN with only an IP": ("localhost", [ip("127.0.0.1")], "localhost", True),
    "IP host, SAN with only DNS": ("127.0.0.1", [x509.DNSName("other.test")], "127.0.0.1", True),
    "wildcard CN": ("*.lab.test", None, "a.lab.test", True),
    "wildcard CN too deep": ("*.lab.test", None, "b.a.lab.test", False),
    "DNS SAN for another name": ("localhost", [x509.DNSName("other.test")], "localhost", False),
}


@pytest.mark.parametrize("case", sorted(CN_CASES))
def test_cn_fallback_is_the_real_clients(case: str, tmp_path: Path) -> None:
    """Which clients accept a CN match is what Python's ssl (httpx too) and Debian's curl
    really do, certificate by certificate; cert.hostname warns when one accepts, else fails."""
    cn, sans, host, libpq = CN_CASES[case]
    cert, pem = leaf(cn, sans)
    (tmp_path / "server.pem").write_bytes(pem)
    ORACLE_CA.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "server.pem")
    with Ok(server_ctx) as server:
        real = {
            PYTHON_SSL: python_ssl_accepts(server.port, host, tmp_path / "ca.pem"),
            CURL: curl_accepts(server.port, host, tmp_path / "ca.pem"),
        }
    accept, refuse = cn_fallback(cert, host)
    assert {PYTHON_SSL: PYTHON_SSL in accept, CURL: CURL in accept} == real
    assert (LIBPQ in accept) is libpq
    assert (HTTPX in accept) is real[PYTHON_SSL]
    assert "browsers" in refuse
    status = hostname_check(cert, host).status
    assert status is (Status.WARN if accept else Status.FAIL)


def test_httpx_is_pythons_ssl(tmp_path: Path) -> None:
    """httpx verifies with Python's ssl: it accepts the CN-only certificate as ssl does."""
    cert, pem = leaf("localhost", None)
    (tmp_path / "server.pem").write_bytes(pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "server.pem")
    client_ctx = ssl.create_default_context()
    ORACLE_CA.configure_trust(client_ctx)
    with Ok(server_ctx) as server, httpx.Client(verify=client_ctx) as client:
        assert client.get(f"https://localhost:{server.port}/").status_code == 200
    assert HTTPX in cn_fallback(cert, "localhost", "https")[0]


@pytest.mark.parametrize(
    ("protocol", "detail"),
    [
        (
            "https",
            "localhost matches only the subject CN (localhost), in no subjectAltName: httpx "
            "and curl accept it by falling back to the CN; browsers refuse it",
        ),
        (
            "smtp",
            "localhost matches only the subject CN (localhost), in no subjectAltName: Python's "
            "ssl (smtplib, Airflow) accepts it by falling back to the CN; clients without that "
            "fallback refuse it (browsers; RFC 6125 deprecates it)",
        ),
        ("postgresql", CN_WARNING),
    ],
)
def test_cn_warning_names_the_protocols_clients(protocol: str, detail: str) -> None:
    """The warning names the clients of the target's protocol that accept and refuse."""
    cert, _ = leaf("localhost", None)
    check_ = hostname_check(cert, "localhost", protocol)
    assert (check_.status, check_.detail) == (Status.WARN, detail)


def test_cn_only_ip_host_fails_for_smtp_but_warns_for_https() -> None:
    """CN=127.0.0.1 and no SAN: Python's ssl never falls back for an IP (smtplib fails), curl
    does (an HTTPS warning naming curl as the one that accepts)."""
    cert, _ = leaf("127.0.0.1", None)
    assert hostname_check(cert, "127.0.0.1", "smtp").status is Status.FAIL
    https = hostname_check(cert, "127.0.0.1", "https")
    assert https.status is Status.WARN
    assert "curl accepts it" in https.detail
    assert "httpx and browsers refuse it" in https.detail


# --- HTTPS: a client certificate required ----------------------------------------------------

VERIFY_CLIENT_ON = (
    "HTTP/1.1 400 Bad Request: the server asks for a client certificate and none was sent "
    '(nginx ssl_verify_client on answers so: "No required SSL certificate was sent")'
)
NEEDS_CERT = (
    "give the target a client certificate and key (client_cert and client_key in its "
    "tlsprobe.toml entry) issued under a CA the server trusts"
)


def curl_status(lab: Lab, name: str, *client: str) -> str:
    """curl's HTTP status code (or its exit code, as "exit N") for a lab endpoint."""
    ca = str(lab.ca_file)
    done = run_curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, *client, lab.url(name))
    return done.stdout if done.returncode == 0 else f"exit {done.returncode}"


def lab_client(lab: Lab) -> tuple[str, str, str, str]:
    pem = lab.ca_file.with_name(f"{CLIENT_IDENTITY}.pem")
    return "--cert", str(pem), "--key", str(pem.with_suffix(".key"))


@pytest.mark.parametrize("name", ["https-verify-client-on", "https-verify-client-on-tls12"])
def test_400_for_want_of_a_client_certificate(lab: Lab, name: str) -> None:
    """A server that asks for a certificate and answers 400 without one (curl gets 400, and
    200 with the certificate) reads as a client certificate missing, not a URL path."""
    assert curl_status(lab, name) == "400"
    assert curl_status(lab, name, *lab_client(lab)) == "200"
    result = probe(lab, lab.url(name), lab.ca_file)
    assert check(result, "http.status") == (VERIFY_CLIENT_ON, NEEDS_CERT)


def test_a_plain_400_still_says_check_the_path(lab: Lab) -> None:
    """The twin: a 404 from a server that asks for no certificate keeps the path hint."""
    result = probe(lab, lab.url("https-404"), lab.ca_file)
    assert check(result, "http.status") == (
        "HTTP/1.1 404 Not Found",
        "check the URL path (or set #expect_status)",
    )


def test_tls12_handshake_failure_is_told_apart(lab: Lab) -> None:
    """TLS 1.2 handshake_failure: from a server that asked for a certificate, "give the
    target a client certificate"; from one with no cipher in common, not that. curl fails
    both (35: handshake) without a certificate, and gets the first one with it."""
    assert curl_status(lab, "https-client-cert-required-tls12") == "exit 35"
    assert curl_status(lab, "https-client-cert-required-tls12", *lab_client(lab)) == "200"
    assert curl_status(lab, "https-no-shared-cipher-tls12") == "exit 35"
    asked = probe(lab, lab.url("https-client-cert-required-tls12"), lab.ca_file)
    assert check(asked, "tls.handshake") == (
        "the server asked for a client certificate (CertificateRequest), then aborted the "
        "handshake when none came (handshake_failure alert)",
        NEEDS_CERT,
    )
    common = probe(lab, lab.url("https-no-shared-cipher-tls12"), lab.ca_file)
    detail_, hint_ = check(common, "tls.handshake")
    assert detail_.endswith(
        "without asking for a client certificate: no cipher suite or signature algorithm in common"
    )
    assert "client certificate" not in hint_
