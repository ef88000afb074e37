"""Smoke test of the runtime dependencies alone: the tlsprobe command given as argument,
installed without the dev and lab extras, checks the lab's good endpoints (HTTPS with HTTP/2,
SMTP, SMTPS, PostgreSQL). The lab runs here, from the development environment. A dependency that
only the test tools pulled in (httpcore's anyio, say) fails this, where the test suite cannot.

Usage: python .ci/smoke.py PATH/TO/tlsprobe
"""

from __future__ import annotations

import json
import subprocess
import sys

from tlsprobe.lab import Lab

GOOD = ("https-good", "https-h2", "smtp-good", "smtps-good", "pg-good")


def main(tlsprobe: str) -> int:
    with Lab() as lab:
        urls = [lab.url(name) for name in GOOD]
        argv = [tlsprobe, "check", "--format", "json", "--ca-file", str(lab.ca_file), *urls]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        print(f"smoke: tlsprobe exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return 1
    results = json.loads(done.stdout)["results"]
    for name, result in zip(GOOD, results, strict=True):
        print(f"smoke: {name}: {result['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
