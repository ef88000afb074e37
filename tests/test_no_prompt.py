"""The real command line on a pseudo-terminal, as a person (or cron with a terminal) runs it:
an encrypted client key without its password never makes OpenSSL or libpq prompt "Enter PEM
pass phrase:" and wait for typing; the run ends within its --timeout with the verdict."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization

from tlsprobe.lab import Lab
from tlsprobe.lab.https import CLIENT_IDENTITY

TIMEOUT = 5.0
GRACE_S = 10.0  # past the deadline, how long before a hung child is killed (and the test fails)
PASSPHRASE = "correct horse; battery"
ENCRYPTED = "is encrypted: give its password"


@dataclass(frozen=True)
class Ended:
    """How a run on the terminal ended: its exit code (None: killed, it hung), what it wrote
    to the terminal, and how long it took."""

    code: int | None
    output: str
    seconds: float

    def report(self) -> dict[str, Any]:
        """The JSON report: the terminal's CR LF line ends are just whitespace to json."""
        start = self.output.index("{")
        parsed: dict[str, Any] = json.loads(self.output[start:])
        return parsed


def run_on_terminal(argv: list[str], env: dict[str, str]) -> Ended:
    """`python -m tlsprobe ARGV` with a pseudo-terminal as its controlling terminal, stdin,
    stdout and stderr, where nobody types; killed GRACE_S after its --timeout."""
    started = time.monotonic()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking with threads running (the lab's): the child only
        # calls exec, which is safe.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid, fd = pty.fork()
    if pid == 0:  # the child does nothing but exec
        try:
            os.execve(sys.executable, [sys.executable, "-m", "tlsprobe", *argv], env)
        finally:
            os._exit(127)
    output = bytearray()
    try:
        output += _read_until_closed(fd, started + TIMEOUT + GRACE_S)
        code = _wait(pid, started + TIMEOUT + GRACE_S)
    finally:
        os.close(fd)
    return Ended(code, output.decode(errors="replace"), time.monotonic() - started)


def _read_until_closed(fd: int, deadline: float) -> bytes:
    output = bytearray()
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every process holding the terminal has closed it
            break
        if not chunk:
            break
        output += chunk
    return bytes(output)


def _wait(pid: int, deadline: float) -> int | None:
    """The child's exit code, or None after killing it at `deadline`."""
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.fixture(scope="module")
def files(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """client.pem with encrypted.key, and a home whose ~/.postgresql holds them as libpq's
    default client certificate and key."""
    here = tmp_path_factory.mktemp("terminal")
    plain = lab.ca_file.with_name(f"{CLIENT_IDENTITY}.key").read_bytes()
    key = serialization.load_pem_private_key(plain, password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    )
    home = here / "home" / ".postgresql"
    home.mkdir(parents=True)
    pairs = [(here / "client.pem", here / "encrypted.key")]
    pairs.append((home / "postgresql.crt", home / "postgresql.key"))
    for cert, key_file in pairs:
        shutil.copyfile(lab.ca_file.with_name(f"{CLIENT_IDENTITY}.pem"), cert)
        key_file.write_bytes(encrypted)
        key_file.chmod(0o600)
    return here


def check(lab: Lab, files: Path, *targets: str) -> Ended:
    """`tlsprobe check` of `targets` on a terminal; HOME is `files`' home (its ~/.postgresql)."""
    if lab.clusters is not None and lab.clusters.note:
        pytest.fail(f"the PostgreSQL lab clusters did not start: {lab.clusters.note}")
    argv = ["check", "--timeout", f"{TIMEOUT:g}", "--ca-file", str(lab.ca_file)]
    argv += ["--format", "json", "--no-progress", *targets]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "TLSPROBE"))}
    return run_on_terminal(argv, env | {"HOME": str(files / "home"), "NO_COLOR": "1"})


def verdict(ended: Ended, index: int, check_id: str) -> tuple[str, str]:
    (found,) = [c for c in ended.report()["results"][index]["checks"] if c["id"] == check_id]
    return found["status"], found["detail"]


def assert_no_prompt(ended: Ended, code: int) -> None:
    """Ended by itself within its --timeout with `code`, and never asked for a pass phrase."""
    assert ended.code is not None, f"hung on the terminal, killed; it wrote: {ended.output!r}"
    assert "pass phrase" not in ended.output.lower()
    assert ended.code == code, ended.output
    assert ended.seconds < TIMEOUT


def pg_with_key(lab: Lab, files: Path, extra: str = "") -> str:
    cert, key = quote(str(files / "client.pem")), quote(str(files / "encrypted.key"))
    return f"{lab.url('pg-client-cert')}&sslcert={cert}&sslkey={key}{extra}"


def test_https_key_from_tlsprobe_toml_without_password(lab: Lab, files: Path) -> None:
    """HTTPS with an encrypted client_key in tlsprobe.toml and no password: exit 1 with the
    handshake verdict, on the terminal, within the deadline, and no prompt."""
    config = files / "tlsprobe.toml"
    config.write_text(
        "[[targets]]\n"
        f'url = "{lab.url("https-client-cert-required")}"\n'
        f'client_cert = "{files / "client.pem"}"\n'
        f'client_key = "{files / "encrypted.key"}"\n'
    )
    ended = check(lab, files, "--config", str(config))
    assert_no_prompt(ended, 1)
    assert verdict(ended, 0, "tls.handshake") == (
        "fail",
        f"the client key {files / 'encrypted.key'} {ENCRYPTED}",
    )


def test_pg_keys_without_sslpassword(lab: Lab, files: Path) -> None:
    """PostgreSQL with an encrypted sslkey and no sslpassword fails its handshake step; with
    libpq's default ~/.postgresql/postgresql.key encrypted (which the probe's handshake does not
    present), libpq's login fails with the same words instead of prompting."""
    login = lab.url("pg-login-client-cert-required")
    ended = check(lab, files, pg_with_key(lab, files), login)
    assert_no_prompt(ended, 1)
    assert verdict(ended, 0, "tls.handshake") == (
        "fail",
        f"the client key {files / 'encrypted.key'} {ENCRYPTED}",
    )
    default_key = files / "home" / ".postgresql" / "postgresql.key"
    assert verdict(ended, 1, "tls.handshake")[0] == "pass"
    assert verdict(ended, 1, "pg.login") == ("fail", f"the client key {default_key} {ENCRYPTED}")


def test_pg_keys_with_sslpassword(lab: Lab, files: Path) -> None:
    """The good twin: with sslpassword the same keys serve the handshake and libpq's login on
    the server that requires a client certificate (its default-file form included): exit 0."""
    secret = f"&sslpassword={quote(PASSPHRASE)}"
    login = lab.url("pg-login-client-cert-required") + secret
    ended = check(lab, files, pg_with_key(lab, files, secret), login)
    assert_no_prompt(ended, 0)
    assert verdict(ended, 0, "tls.handshake")[0] == "pass"
    assert verdict(ended, 1, "pg.login")[0] == "pass"
    assert PASSPHRASE not in ended.output
