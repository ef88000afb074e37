"""`make bench` (bench-load): `tlsprobe serve` under load, on loopback only.

1. 50 concurrent scrapers for 30 s, each a keep-alive client scraping /probe of its own bench
   HTTPS target (bench/servers.py) with a 5 s scrape timeout: throughput, p50/p99, and scrapes
   past their deadline (an answer later than the scrape timeout: Prometheus would drop it).
2. A burst of 200 new connections at once, each one scrape: were all answered, and how long
   each took beyond its own probe (the probe's tlsprobe_duration_seconds).
3. RSS and open descriptors of the serve process before, after, after the same load again
   (growth from the first round to the second is a leak; the first grows to working size), and
   30 s after.

Goals (read off the output, never asserted): every connection answered within 1 s of its probe,
no scrape past its deadline, no growth in descriptors or memory. Writes bench/load.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import httpx
from run import BIN, HERE, start_servers

SCRAPERS, DURATION_S, BURST, SETTLE_S = 50, 30.0, 200, 30.0
SCRAPE_TIMEOUT_S = 5.0
HEADERS = {"X-Prometheus-Scrape-Timeout-Seconds": str(SCRAPE_TIMEOUT_S)}


def usage(pid: int) -> dict[str, float]:
    """RSS (MB) and open descriptors of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return {"rss_mb": round(rss_kb / 1024, 1), "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def probe_seconds(text: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith("tlsprobe_duration_seconds{"))
    return float(line.rsplit(" ", 1)[1])


async def scraper(base: str, target: str, until: float, seen: list[float], bad: list[str]) -> None:
    async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S * 3) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                answer = await client.get(f"{base}probe", params={"target": target},
                                          headers=HEADERS)  # fmt: skip
            except httpx.HTTPError as exc:
                bad.append(type(exc).__name__)
                continue
            seen.append(time.monotonic() - started)
            if answer.status_code != 200 or "tlsprobe_success{" not in answer.text:
                bad.append(str(answer.status_code))


async def sustained(base: str, targets: list[str]) -> dict[str, object]:
    seen: list[float] = []
    bad: list[str] = []
    until = time.monotonic() + DURATION_S
    started = time.monotonic()
    await asyncio.gather(*(scraper(base, targets[i % len(targets)], until, seen, bad)
                           for i in range(SCRAPERS)))  # fmt: skip
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(seen, n=100)
    return {
        "scrapers": SCRAPERS,
        "seconds": round(elapsed, 1),
        "scrapes": len(seen),
        "per_second": round(len(seen) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(seen) * 1000, 1),
        "past_deadline": sum(1 for s in seen if s > SCRAPE_TIMEOUT_S),
        "errors": len(bad),
    }


async def one_connection(
    client: httpx.AsyncClient, base: str, target: str
) -> tuple[float, float] | None:
    started = time.monotonic()
    try:
        answer = await client.get(f"{base}probe", params={"target": target}, headers=HEADERS)
    except httpx.HTTPError:
        return None
    finally:
        await client.aclose()
    took = time.monotonic() - started
    return took, took - probe_seconds(answer.text)


async def burst(base: str, targets: list[str]) -> dict[str, object]:
    # Each client made before the clock starts: an httpx client costs ~20 ms of this process'
    # CPU to create (its SSL context), 4 s for 200, which is the bench's time, not the serve's.
    clients = [httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S * 3) for _ in range(BURST)]
    done = await asyncio.gather(*(one_connection(clients[i], base, targets[i % len(targets)])
                                  for i in range(BURST)))  # fmt: skip
    answered = [d for d in done if d is not None]
    return {
        "connections": BURST,
        "answered": len(answered),
        "max_answer_s": round(max((d[0] for d in answered), default=0.0), 3),
        "max_beyond_probe_s": round(max((d[1] for d in answered), default=0.0), 3),
        "within_1s_of_probe": sum(1 for d in answered if d[1] <= 1.0),
    }


def start_serve(ca_file: str) -> tuple[subprocess.Popen[str], str]:
    argv = [str(BIN / "tlsprobe"), "serve", "--allow-any-target", "--listen", "127.0.0.1:0",
            "--ca-file", ca_file, "--timeout", "10"]  # fmt: skip
    serve = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert serve.stderr is not None
    line = serve.stderr.readline()
    return serve, line.split("listening on ", 1)[1].split()[0]


def main() -> None:
    servers, ca_file, ports = start_servers(SCRAPERS)
    assert servers.stdin is not None
    targets = [f"https://localhost:{port}/" for port in ports]
    serve, base = start_serve(ca_file)
    try:
        httpx.get(f"{base}probe", params={"target": targets[0]}, timeout=30)  # warm up
        results: dict[str, object] = {"before": usage(serve.pid)}
        results["sustained"] = asyncio.run(sustained(base, targets))
        results["burst"] = asyncio.run(burst(base, targets))
        results["after"] = usage(serve.pid)
        # The same load again: the first round grows the process to its working size (caches,
        # buffers, the allocator's arenas); a leak shows as growth from this round to the next.
        results["sustained_again"] = asyncio.run(sustained(base, targets))
        results["burst_again"] = asyncio.run(burst(base, targets))
        results["after_again"] = usage(serve.pid)
        time.sleep(SETTLE_S)
        results["settled"] = usage(serve.pid)
    finally:
        serve.terminate()
        results["exit_code"] = serve.wait(timeout=30)
        servers.stdin.close()
        servers.wait(timeout=30)
    (HERE / "load.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
