"""The Airflow harness's fixtures: the lab (as tests/ has it), a plain HTTP server, and
Airflow's own virtual environment (`.venv-airflow`, built by `make test-airflow`)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The rule that ties a verdict to what a client did is the conformance suite's, imported, not
# copied.
sys.path.insert(0, str(ROOT / "tests" / "conformance"))

from tlsprobe.lab import Lab  # noqa: E402


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """The interpreter of `.venv-airflow` (or $TLSPROBE_AIRFLOW_VENV): missing, every scenario
    fails, never skips; a skip would read as agreement with a client that never ran."""
    venv = Path(os.environ.get("TLSPROBE_AIRFLOW_VENV", ROOT / ".venv-airflow")).absolute()
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{venv} is missing: run `make test-airflow`", pytrace=False)
    return python


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


class _Plain(BaseHTTPRequestHandler):
    """Answers every GET with 200 and a short body, over plain HTTP."""

    def do_GET(self) -> None:
        body = b"plain http\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args  # quiet: the test output is the scenarios'


@pytest.fixture(scope="session")
def plain_http() -> Iterator[int]:
    """A plain HTTP server on an ephemeral loopback port; its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def ports(lab: Lab, plain_http: int) -> dict[str, int]:
    """The port of every lab endpoint by name, and `http-plain`."""
    found = {e.name: urlsplit(e.url).port for e in lab.endpoints}
    return {name: port for name, port in found.items() if port is not None} | {
        "http-plain": plain_http
    }
