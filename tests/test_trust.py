"""The system trust store: found through SSL_CERT_DIR / SSL_CERT_FILE as OpenSSL finds it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tlsprobe.lab import Lab


def hashed_dir(tmp_path: Path, *pems: Path) -> Path:
    """A c_rehash-style directory holding `pems` under their OpenSSL subject hashes."""
    directory = tmp_path / "certs"
    directory.mkdir()
    for pem in pems:
        digest = subprocess.run(
            ["openssl", "x509", "-subject_hash", "-noout", "-in", str(pem)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        shutil.copy(pem, directory / f"{digest}.0")
    (directory / "00000000.0").write_text("")  # marks an otherwise empty dir as hashed
    return directory


def chain_verdict(url: str, env: dict[str, str]) -> str:
    """cert.chain for `url` probed without --ca-file, in a process with `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT_")}
    done = subprocess.run(
        [sys.executable, "-m", "tlsprobe", "check", "--format", "json", url],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
        check=False,
    )
    (result,) = json.loads(done.stdout)["results"]
    return str({c["id"]: c["status"] for c in result["checks"]}["cert.chain"])


def test_root_in_ssl_cert_dir_is_trusted(lab: Lab, tmp_path: Path) -> None:
    """A root in the hashed SSL_CERT_DIR is trusted, and the same directory without it is not."""
    url = lab.url("https-good")
    assert chain_verdict(url, {"SSL_CERT_DIR": str(hashed_dir(tmp_path, lab.ca_file))}) == "pass"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "00000000.0").write_text("")
    assert chain_verdict(url, {"SSL_CERT_DIR": str(empty)}) == "fail"


def test_bundle_named_by_ssl_cert_file_is_loaded(lab: Lab, tmp_path: Path) -> None:
    """A bundle named by SSL_CERT_FILE is trusted even when the hashed directory lacks it."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "00000000.0").write_text("")
    url = lab.url("https-good")
    env = {"SSL_CERT_DIR": str(empty), "SSL_CERT_FILE": str(lab.ca_file)}
    assert chain_verdict(url, env) == "pass"
    env["SSL_CERT_FILE"] = str(tmp_path / "missing.pem")
    assert chain_verdict(url, env) == "fail"
