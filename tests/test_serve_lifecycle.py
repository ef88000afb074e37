"""`tlsprobe serve`'s connections over time: a request head that never ends is cut off, and
SIGTERM lets the scrape in flight finish before exit 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tlsprobe.exporter import Exporter
from tlsprobe.exporter import listener as serve_listener
from tlsprobe.lab import Lab
from tlsprobe.model import Policy


def test_a_request_head_that_never_ends_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client sending half a request head is disconnected when the head deadline passes,
    while a whole request on another connection is still answered."""
    monkeypatch.setattr(serve_listener, "HEAD_TIMEOUT_S", 0.3)
    with Exporter([], Policy(), allow_any=True, listen=("127.0.0.1", 0)) as exporter:
        with socket.create_connection(exporter.address, timeout=5) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            assert slow.recv(100) == b""  # closed by the exporter, nothing answered
            assert 0.25 < time.monotonic() - started < 3
        host, port = exporter.address
        assert httpx.get(f"http://{host}:{port}/", timeout=5).status_code == 200


def test_keep_alive_connection_serves_many_requests() -> None:
    """The twin: a connection whose heads arrive whole stays open for the next request."""
    with Exporter([], Policy(), allow_any=True, listen=("127.0.0.1", 0)) as exporter:
        host, port = exporter.address
        with httpx.Client(timeout=5) as client:
            answers = [client.get(f"http://{host}:{port}/") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert all(a.headers.get("connection", "keep-alive") != "close" for a in answers)


def test_sigterm_finishes_the_scrape_in_flight(lab: Lab) -> None:
    """SIGTERM during a 1.5 s probe of a silent server: that scrape still gets its 200, new
    connections are refused, and the process exits 0 without a traceback."""
    argv = ["serve", "--listen", "127.0.0.1:0", "--allow-any-target", "--ca-file", str(lab.ca_file)]
    with subprocess.Popen(
        [sys.executable, "-m", "tlsprobe", *argv],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        try:
            assert process.stderr is not None
            base = process.stderr.readline().split("listening on ", 1)[1].split()[0]
            answers: list[httpx.Response] = []
            scrape = threading.Thread(
                target=lambda: answers.append(
                    httpx.get(
                        f"{base}probe",
                        params={"target": lab.url("https-silent")},
                        headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"},
                        timeout=15,
                    )
                )
            )
            scrape.start()
            time.sleep(0.5)  # the probe is under way
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            with pytest.raises(httpx.ConnectError):
                httpx.get(base, timeout=2)
            scrape.join(15)
            assert process.wait(timeout=15) == 0
            assert [a.status_code for a in answers] == [200]
            assert "\ntlsprobe_duration_seconds{" in answers[0].text
            assert next(line for line in answers[0].text.splitlines()
                    if line.startswith("tlsprobe_success{")).endswith(" 0.0")  # fmt: skip
            assert "Traceback" not in process.stderr.read()
        finally:
            process.kill()
