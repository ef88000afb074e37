"""A lab killed outright (SIGKILL, a CI time-out) leaves no PostgreSQL cluster behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

START_AND_DIE = """
import os, signal
from tlsprobe.lab.postgres_cluster import Clusters, ClusterSpec, HBA_HOST
clusters = Clusters([ClusterSpec("pg-reaped", None, HBA_HOST)])
running = clusters.start()
from tlsprobe.lab import postgres_cluster
print(running[0].datadir, postgres_cluster._template().parent, flush=True)
if {die}:
    os.kill(os.getpid(), signal.SIGKILL)
clusters.stop()
"""


def postmaster_alive(datadir: Path) -> bool:
    """Whether a postgres server process runs for `datadir`."""
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return any(str(datadir) in line and "postgres" in line for line in listing.stdout.splitlines())


def start_cluster(*, die: bool) -> tuple[Path, Path]:
    done = subprocess.run(
        [sys.executable, "-c", START_AND_DIE.format(die=die)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    expected = -signal.SIGKILL if die else 0
    assert done.returncode == expected, done.stderr
    datadir, template = done.stdout.split()
    return Path(datadir), Path(template)


def wait_gone(datadir: Path, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not datadir.exists() and not postmaster_alive(datadir):
            return True
        time.sleep(0.2)
    return False


def test_killed_lab_leaves_no_cluster() -> None:
    """After SIGKILL of the process that started it, the cluster is stopped and removed, and
    so is the initdb template it was copied from."""
    datadir, template = start_cluster(die=True)
    assert wait_gone(datadir), f"{datadir} or its server outlived the lab"
    assert wait_gone(template), f"the template {template} outlived the lab"


def test_orderly_stop_removes_the_cluster_at_once() -> None:
    """The twin: an orderly stop removes the cluster itself, before it returns."""
    datadir, _template = start_cluster(die=False)
    assert not datadir.exists()
    assert not postmaster_alive(datadir)
    assert not datadir.parent.exists()
