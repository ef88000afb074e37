"""Debian's Prometheus tools as oracles (prometheus, promtool, prometheus-blackbox-exporter):
found on PATH (`make test` installs them, tools/debian-tools.sh), else the test fails naming the
package, never a skip; started on a free loopback port in a directory of their own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

APT = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "blackbox_exporter": "prometheus-blackbox-exporter",
}


def tool(name: str) -> str:
    """The path of `name`; a missing tool fails the test, never skips it (as curl_binary)."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/bin/prometheus-{name}") if os.path.exists(p)),
        None,
    )
    if found is None:
        pytest.fail(f"{name} is missing: apt-get install {APT.get(name, name)} (or make test)")
    return found


def free_port() -> int:
    """A loopback port free now (the tools take no port 0 and say no port back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(argv: list[str], ready_url: str, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` running until the block ends, once `ready_url` answers 200."""
    log = (workdir / "log.txt").open("wb")
    process = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{argv[0]} did not start: {(workdir / 'log.txt').read_text()[-2000:]}"
                )
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
