"""`make bench`, /metrics at scale: `tlsprobe serve` with N configured HTTPS targets (the bench
server on N loopback ports): series and bytes of one /metrics scrape, the exporter's peak RSS,
and its round time beside `tlsprobe check` on the same targets.

Writes bench/metrics_results.json and prints one line. Goals (5,000 targets): under 15 series a
target, a body under 5 MB, a peak under 150 MB, a round within 1.5x of the CLI's time; read off
the numbers, never asserted in tests.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from run import BIN, HERE, measure, start_servers

TARGETS = int(sys.argv[1]) if len(sys.argv) > 1 else 5000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_round(base: str, limit_s: float = 900) -> str:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"{base}/metrics", timeout=60).text
            if "\ntlsprobe_rounds_total 1.0" in text:
                return text
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError("no round finished")


def serve(config: Path) -> dict[str, float]:
    port = free_port()
    argv = [str(BIN / "tlsprobe"), "serve", "-c", str(config), "--interval", "86400",
            "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        text = first_round(f"http://127.0.0.1:{port}")
        series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        duration = next(
            float(line.split()[1])
            for line in text.splitlines()
            if line.startswith("tlsprobe_round_duration_seconds ")
        )
        return {
            "series": series,
            "series_per_target": round(series / TARGETS, 2),
            "body_mb": round(len(text.encode()) / 1e6, 2),
            "round_s": round(duration, 2),
            "peak_mb": round(peak_rss_mb(child.pid), 1),
        }
    finally:
        child.terminate()
        child.wait(30)


def main() -> None:
    server, ca_file, ports = start_servers(TARGETS)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            config = Path(workdir) / "tlsprobe.toml"
            lines = [f'[defaults]\nca_file = "{ca_file}"\nconcurrency = 50\n']
            lines += [f'[[targets]]\nurl = "https://localhost:{p}/"\n' for p in ports]
            config.write_text("\n".join(lines))
            exporter = serve(config)
            cli = measure([str(BIN / "tlsprobe"), "check", "--format", "json", "-c", str(config)])
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=60)
    results = {"targets": TARGETS, "exporter": exporter, "cli": cli,
               "round_vs_cli": round(exporter["round_s"] / cli["wall_s"], 2)}  # fmt: skip
    (HERE / "metrics_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
