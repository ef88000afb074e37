"""`tlsprobe serve --web-config-file`: exporter-toolkit's web config, held against real clients
(curl and httpx) on ephemeral loopback ports: TLS with and without client certificates, bcrypt
basic auth, the extra headers, a rewritten file picked up, an invalid file refused."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import httpx
import pytest
import trustme
import yaml

from conftest import curl_binary
from tlsprobe.exporter import Exporter
from tlsprobe.exporter.webconfig import load
from tlsprobe.failures import UsageError
from tlsprobe.model import Policy

RIGHT = "c0rrect-horse"
HEADERS = {"X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=63072000"}


@dataclass(frozen=True)
class Pki:
    ca: Path  # the server's root, for the clients
    client: Path  # a client certificate and key the exporter trusts
    stranger: Path  # one from another CA
    files: dict[str, Path]


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def write_config(path: Path, config: dict[str, object]) -> None:
    """Replaced whole (a new inode), as a config manager or an editor writes it."""
    scratch = path.with_suffix(".tmp")
    scratch.write_text(yaml.safe_dump(config))
    os.replace(scratch, path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    where = tmp_path_factory.mktemp("pki")
    server_ca, client_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    files = {name: where / f"{name}.pem" for name in ("ca", "cert", "key", "client_ca")}
    server_ca.cert_pem.write_to_path(str(files["ca"]))
    leaf = server_ca.issue_cert("127.0.0.1", "localhost")
    leaf.cert_chain_pems[0].write_to_path(str(files["cert"]))
    leaf.private_key_pem.write_to_path(str(files["key"]))
    client_ca.cert_pem.write_to_path(str(files["client_ca"]))
    client, stranger = where / "client.pem", where / "stranger.pem"
    client_ca.issue_cert("scraper@example.com").private_key_and_cert_chain_pem.write_to_path(
        str(client)
    )
    other_ca.issue_cert("scraper@example.com").private_key_and_cert_chain_pem.write_to_path(
        str(stranger)
    )
    return Pki(files["ca"], client, stranger, files)


def tls_config(pki: Pki, auth: str) -> dict[str, object]:
    return {
        "tls_server_config": {
            "cert_file": pki.files["cert"].name,  # relative: to the config file
            "key_file": pki.files["key"].name,
            "client_ca_file": str(pki.files["client_ca"]),
            "client_auth_type": auth,
        },
        "http_server_config": {"headers": HEADERS},
        "basic_auth_users": {"prometheus": hashed(RIGHT)},
    }


@pytest.fixture
def served(pki: Pki) -> Iterator[tuple[Exporter, Path]]:
    """An exporter with TLS that requires a verified client certificate, and basic auth."""
    path = pki.ca.parent / "web.yml"
    write_config(path, tls_config(pki, "RequireAndVerifyClientCert"))
    exporter = Exporter([], Policy(timeout=2.0), allow_any=True, listen=("127.0.0.1", 0),
                        web_config=path)  # fmt: skip
    with exporter:
        yield exporter, path


def url(exporter: Exporter, path: str = "/") -> str:
    host, port = exporter.address
    return f"https://{host}:{port}{path}"


def client_tls(pki: Pki, cert: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        context.load_cert_chain(cert)
    return context


def curl(exporter: Exporter, pki: Pki, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [curl_binary(), "-sS", "--max-time", "10", "--cacert", str(pki.ca), "-D", "-", *args]
    return subprocess.run([*argv, url(exporter)], capture_output=True, text=True, check=False)


def test_curl_with_the_client_certificate_and_password_gets_in(
    served: tuple[Exporter, Path], pki: Pki
) -> None:
    """curl with the trusted client certificate and the right password gets a 200 over TLS,
    with the configured headers."""
    exporter, _ = served
    done = curl(exporter, pki, "--cert", str(pki.client), "-u", f"prometheus:{RIGHT}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("HTTP/1.1 200 OK\n")  # text mode: CRLF read as \n
    assert "x-frame-options: deny\n" in done.stdout.lower()
    assert "tlsprobe exporter: /probe?target=URL" in done.stdout


@pytest.mark.parametrize("cert", [None, "stranger"])
def test_curl_without_a_trusted_client_certificate_is_refused(
    served: tuple[Exporter, Path], pki: Pki, cert: str | None
) -> None:
    """The twin: with no client certificate, or one from another CA, the handshake fails."""
    exporter, _ = served
    extra = ["--cert", str(pki.stranger)] if cert else []
    done = curl(exporter, pki, *extra, "-u", f"prometheus:{RIGHT}")
    # 35: refused in the handshake; 52/56: TLS 1.3 refuses after the client's Finished
    assert done.returncode in (35, 52, 56), done
    assert "HTTP/1.1" not in done.stdout


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (("prometheus", RIGHT), 200),
        (("prometheus", "wrong"), 401),
        (("nobody", RIGHT), 401),
        (None, 401),
    ],
)
def test_httpx_basic_auth(
    served: tuple[Exporter, Path], pki: Pki, auth: tuple[str, str] | None, status: int
) -> None:
    """httpx with the client certificate: the right password is let in, a wrong one, an
    unknown user and none get a one-line 401 asking for Basic, headers set on both."""
    exporter, _ = served
    with httpx.Client(verify=client_tls(pki, pki.client), timeout=10) as client:
        answer = client.get(url(exporter), auth=auth)
    assert answer.status_code == status
    assert answer.headers["strict-transport-security"] == "max-age=63072000"
    assert answer.headers["server"] == "tlsprobe"
    if status == 401:
        assert answer.text == "401 Unauthorized\n"
        assert answer.headers["www-authenticate"].startswith("Basic")


def test_a_rewritten_file_takes_effect_without_a_restart(
    served: tuple[Exporter, Path], pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new password and client_auth_type apply to the next connection; a file made invalid
    keeps the last good config and says so once on stderr."""
    exporter, path = served
    config = tls_config(pki, "VerifyClientCertIfGiven")
    config["basic_auth_users"] = {"prometheus": hashed("new-one")}
    write_config(path, config)
    with httpx.Client(
        verify=client_tls(pki, None), timeout=10
    ) as client:  # no client certificate now
        assert client.get(url(exporter), auth=("prometheus", "new-one")).status_code == 200
        assert client.get(url(exporter), auth=("prometheus", RIGHT)).status_code == 401
        path.write_text("basic_auth_users: [not, a, mapping]\n")
        assert client.get(url(exporter), auth=("prometheus", "new-one")).status_code == 200
        assert client.get(url(exporter), auth=("prometheus", "new-one")).status_code == 200
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--web-config-file {path}: basic_auth_users must be a mapping" in err
    assert "keeping the last good config" in err


def test_verify_if_given_still_refuses_a_stranger(served: tuple[Exporter, Path], pki: Pki) -> None:
    """The twin of the rewrite: VerifyClientCertIfGiven lets no certificate in, but not a
    certificate from another CA."""
    exporter, path = served
    write_config(path, tls_config(pki, "VerifyClientCertIfGiven"))
    done = curl(exporter, pki, "--cert", str(pki.stranger), "-u", f"prometheus:{RIGHT}")
    assert done.returncode in (35, 52, 56), done
    assert curl(exporter, pki, "-u", f"prometheus:{RIGHT}").returncode == 0


def test_plain_http_with_basic_auth_only(tmp_path: Path) -> None:
    """Without tls_server_config the exporter serves plain HTTP, basic auth still applies."""
    path = tmp_path / "web.yml"
    write_config(path, {"basic_auth_users": {"u": hashed(RIGHT)}})
    with Exporter([], Policy(), allow_any=True, listen=("127.0.0.1", 0), web_config=path) as ex:
        host, port = ex.address
        assert httpx.get(f"http://{host}:{port}/", auth=("u", RIGHT)).status_code == 200
        assert httpx.get(f"http://{host}:{port}/", auth=("u", "nope")).status_code == 401


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("tls_server_config: {cert_file: a.pem}", "needs both cert_file and key_file"),
        ("tls_server_config: {cert_file: a.pem, key_file: b.pem}", "cannot load cert_file"),
        ("http_server_config: {headers: {Content-Type: foo}}", "only Strict-Transport-Security"),
        ("http_server_config: {headers: {X-Frame-Options: allow}}", "must be one of deny"),
        ("http_server_config: {headers: {X-Content-Type-Options: sniff}}", "one of nosniff"),
        ("basic_auth_users: {u: plaintext}", "basic_auth_users.u is not a bcrypt hash"),
        ("basic_auth_users: [u]", "basic_auth_users must be a mapping"),
        ("rate_limit: {interval: 1s}", "rate_limit is not a setting tlsprobe supports"),
        ("tls_server_config: {client_allowed_sans: [x]}", "client_allowed_sans is not a setting"),
        ("{: [", "not valid YAML at line 1"),
    ],
)
def test_invalid_files_are_refused(tmp_path: Path, config: str, says: str) -> None:
    """Each thing exporter-toolkit refuses (or tlsprobe would have to ignore) is one line naming
    the file and the key; a password hash is never quoted."""
    path = tmp_path / "web.yml"
    path.write_text(config + "\n")
    with pytest.raises(UsageError) as refused:
        load(path)
    assert str(refused.value).startswith(f"--web-config-file {path}: ")
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_toolkit_s_own_example_is_accepted(tmp_path: Path, pki: Pki) -> None:
    """The twin: every header exporter-toolkit allows, a $2y$ hash as htpasswd writes it,
    versions, and a client CA with RequireAnyClientCert load."""
    path = tmp_path / "web.yml"
    config = tls_config(pki, "RequireAnyClientCert")
    config["tls_server_config"] |= {  # type: ignore[operator]
        "cert_file": str(pki.files["cert"]), "key_file": str(pki.files["key"]),
        "min_version": "TLS13", "max_version": "TLS13",
    }  # fmt: skip
    config["http_server_config"] = {
        "http2": True,
        "headers": {
            "Content-Security-Policy": "default-src 'self'",
            "X-Frame-Options": "sameorigin",
            "X-Content-Type-Options": "nosniff",
            "X-XSS-Protection": "1; mode=block",
            "Strict-Transport-Security": "",  # blank: unset
        },
    }
    config["basic_auth_users"] = {
        "p": "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"
    }
    write_config(path, config)
    loaded = load(path)
    assert loaded.tls is not None
    assert len(loaded.headers) == 4
    assert set(loaded.users) == {"p"}


def test_serve_with_an_invalid_file_is_exit_2(tmp_path: Path) -> None:
    """`tlsprobe serve` with an invalid web config says so on one stderr line and exits 2."""
    path = tmp_path / "web.yml"
    path.write_text("http_server_config: {headers: {Server: nginx}}\n")
    argv = [
        "serve",
        "--allow-any-target",
        "--listen",
        "127.0.0.1:0",
        "--web-config-file",
        str(path),
    ]
    done = subprocess.run([sys.executable, "-m", "tlsprobe", *argv], capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert f"--web-config-file {path}: http_server_config.headers.Server" in done.stderr


def test_an_unknown_user_costs_a_bcrypt_check_too(tmp_path: Path) -> None:
    """An unknown user is answered no faster than a wrong password (both pay bcrypt), so
    timing does not tell which user names exist."""
    path = tmp_path / "web.yml"
    slow = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=12)).decode()  # ~0.2 s a check
    write_config(path, {"basic_auth_users": {"real": slow}})
    with Exporter([], Policy(), allow_any=True, listen=("127.0.0.1", 0), web_config=path) as ex:
        host, port = ex.address
        took = {}
        for user in ("real", "ghost"):
            started = time.monotonic()
            answer = httpx.get(f"http://{host}:{port}/", auth=(user, "guess"), timeout=30)
            took[user] = time.monotonic() - started
            assert answer.status_code == 401
    assert took["ghost"] > 0.5 * took["real"] > 0.02
