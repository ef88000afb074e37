"""`make bench`: what cert.revocation costs per HTTPS target, on the lab's servers.

Four runs of N targets each, interleaved round after round (the machine is shared): a leaf that
names no OCSP responder (https-good: no side hello, the cost of the check is only looking at the
leaf), the same on the pyOpenSSL server of the next two (revocation-crl-revoked), a leaf that
names one on a stapling server (revocation-good-staple: one pyOpenSSL side hello each), and the
same with --revocation (one OCSP fetch per run, shared by every target). The staple's cost is
read as the difference between the last two and the second. Writes bench/revocation.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from tlsprobe.lab import Lab
from tlsprobe.model import Policy
from tlsprobe.runner import Run, run_loop
from tlsprobe.targets import parse_target

HERE = Path(__file__).resolve().parent
REPEATS = 3


def timed(urls: list[str], policy: Policy) -> float:
    targets = [parse_target(url, name=f"t{i}") for i, url in enumerate(urls)]
    started = time.perf_counter()
    run_loop(Run(targets, policy).execute())  # the loop the CLI runs on (uvloop)
    return time.perf_counter() - started


def main(count: int) -> None:
    with Lab(postgres_clusters=False) as lab:
        base = Policy(timeout=10, ca_file=lab.ca_file)
        fetch = Policy(timeout=10, ca_file=lab.ca_file, revocation=True)
        runs: dict[str, tuple[str, Policy]] = {
            "no responder named (https-good)": ("https-good", base),
            # the same pyOpenSSL server as the stapling one, whose leaf names only a CRL: the
            # baseline that tells the side hello's cost from the server's own
            "no responder named, pyOpenSSL server (revocation-crl-revoked)": (
                "revocation-crl-revoked",
                base,
            ),
            "staple asked (revocation-good-staple)": ("revocation-good-staple", base),
            "staple + --revocation": ("revocation-good-staple", fetch),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(REPEATS):
            for name, (endpoint, policy) in runs.items():
                times[name].append(timed([lab.url(endpoint)] * count, policy))
    medians = {name: round(statistics.median(t), 3) for name, t in times.items()}
    (HERE / "revocation.json").write_text(json.dumps({"targets": count, "wall_s": medians}) + "\n")
    for name, wall in medians.items():
        print(f"{count} targets, {name}: {wall:.2f} s ({wall / count * 1000:.1f} ms a target)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
