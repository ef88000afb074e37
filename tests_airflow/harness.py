"""One scenario, run twice: the real Airflow client in `.venv-airflow`, then `tlsprobe check`
on the same airflow.cfg, connections and environment.

Each run gets a home of its own (HOME, AIRFLOW_HOME, its airflow.cfg, ~/.postgresql) and an
environment built from nothing but PATH, so the trust a scenario names is the only trust the
processes have beyond the system store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import real_clients
from conformance_rule import ADVISORY_WARNINGS, TLS_CHECKS, Seen, Setup
from scenarios import Scenario, filler

from tlsprobe.model import Status, worst

CLIENT_SCRIPT = Path(__file__).resolve().parent / "airflow_client.py"
CLIENT_TIMEOUT = 90.0  # Airflow's import alone takes seconds on a busy 2-core machine
TLSPROBE_TIMEOUT = 60.0
TLSPROBE_DEADLINE = "5"  # tlsprobe's --timeout per target


@dataclass(frozen=True)
class Ran:
    """What Airflow did and what tlsprobe said about the scenario's target."""

    scenario: Scenario
    seen: Seen
    setup: Setup  # how Airflow was set up, as the conformance rule asks
    result: Mapping[str, Any] | None  # the target's JSON result; None: tlsprobe had no such target
    tlsprobe_said: str  # its exit status and standard error, for the failure message

    @property
    def outcome(self) -> str:
        """The scenario-file word for what Airflow did."""
        if not self.seen.connected:
            return "fails"
        if not self.seen.encrypted:
            return "plaintext"
        return "verified" if self.seen.verified else "unverified"

    @property
    def overall(self) -> str:
        return "missing" if self.result is None else str(self.result["status"])

    @property
    def given(self) -> Status | None:
        """tlsprobe's TLS verdict on the target, as conformance_rule.tls_verdict reads it."""
        if self.result is None:
            return None
        statuses = [
            Status.PASS
            if check["status"] == "warn" and check["id"] in ADVISORY_WARNINGS
            else Status(check["status"])
            for check in self.result["checks"]
            if check["id"] in TLS_CHECKS
        ]
        return worst(statuses)

    def hints(self) -> str:
        if self.result is None:
            return ""
        return " | ".join(c["hint"] for c in self.result["checks"] if c["status"] != "pass")

    def summary(self) -> str:
        if self.result is None:
            return f"no target named {self.scenario.target!r} ({self.tlsprobe_said})"
        bad = [f"{c['id']}={c['status']}" for c in self.result["checks"] if c["status"] != "pass"]
        return f"{self.overall} ({', '.join(bad) or 'all checks pass'})"


def run(
    scenario: Scenario,
    workdir: Path,
    ports: Mapping[str, int],
    ca_file: Path,
    airflow_python: Path,
    *,
    urls: Mapping[str, str],
) -> Ran:
    """Set up the scenario's home and environment, run Airflow's client, then tlsprobe."""
    home = workdir / scenario.name
    airflow_home = home / "airflow"
    airflow_home.mkdir(parents=True)
    fill = filler(ports, ca_file, home)
    cfg = airflow_home / "airflow.cfg"
    cfg.write_text(fill(scenario.airflow_cfg))
    for name, text in scenario.files.items():
        path = home / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill(text))
    env = _environment(scenario, home, airflow_home, ca_file, fill)
    seen = _airflow(scenario, airflow_python, env, home)
    result, said = _tlsprobe(scenario, cfg, home, env, ca_file)
    setup = Setup(scenario.never_encrypts, _strict_refuses(scenario, seen, urls, ca_file))
    return Ran(scenario, seen, setup, result, said)


def _strict_refuses(scenario: Scenario, seen: Seen, urls: Mapping[str, str], ca_file: Path) -> bool:
    """Whether the same kind of client, verifying fully with the lab's root, refuses the
    scenario's endpoint (the conformance rule's strict_refuses): asked of the real client
    only when Airflow connected without verifying, the one case the answer decides."""
    if not seen.connected or seen.verified:
        return False
    url = urls[scenario.endpoint]
    scheme = url.partition(":")[0]
    if scheme.startswith("postgres"):
        strict = real_clients.libpq(real_clients.with_sslmode(url, "verify-full"), ca_file)
    elif scheme in ("smtp", "smtps"):
        strict = real_clients.smtp(url, ca_file)
    else:
        strict = real_clients.httpx_client(url.replace("http://", "https://", 1), ca_file)
    return not strict.connected


def _environment(
    scenario: Scenario, home: Path, airflow_home: Path, ca_file: Path, fill: Any
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AIRFLOW_HOME": str(airflow_home),
        "LANG": "C.UTF-8",
    }
    if "SSL_CERT_FILE" in scenario.trust:
        env["SSL_CERT_FILE"] = str(ca_file)
    if "REQUESTS_CA_BUNDLE" in scenario.trust:
        env["REQUESTS_CA_BUNDLE"] = str(ca_file)
    if "home_root_crt" in scenario.trust:
        (home / ".postgresql").mkdir(exist_ok=True)
        shutil.copyfile(ca_file, home / ".postgresql" / "root.crt")
    return env | {key: fill(value) for key, value in scenario.env.items()}


def _run(
    command: list[str], env: Mapping[str, str], home: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """A program of the scenario, in its home and environment, with nothing to read."""
    return subprocess.run(
        command,
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _airflow(scenario: Scenario, python: Path, env: Mapping[str, str], home: Path) -> Seen:
    command = [str(python), str(CLIENT_SCRIPT), scenario.client, scenario.conn_id or "-"]
    try:
        done = _run(command, env, home, CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Seen(False, False, False, f"no answer within {CLIENT_TIMEOUT:g} s")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-5:]
        raise AssertionError(f"{scenario.name}: the Airflow client crashed: {tail}")
    said = json.loads(lines[-1])
    return Seen(said["connected"], said["encrypted"], said["verified"], said["said"])


def _tlsprobe(
    scenario: Scenario, cfg: Path, home: Path, env: Mapping[str, str], ca_file: Path
) -> tuple[Mapping[str, Any] | None, str]:
    program = Path(sys.executable).with_name("tlsprobe")
    command = [str(program), "check", "--airflow-cfg", str(cfg), "--format", "json"]
    command += ["--timeout", TLSPROBE_DEADLINE, "--no-progress"]
    if scenario.connections_file:
        command += ["--airflow-connections", str(home / scenario.connections_file)]
    if scenario.ca_file:
        command += ["--ca-file", str(ca_file)]
    command += list(scenario.flags)
    done = _run(command, env, home, TLSPROBE_TIMEOUT)
    said = f"exit {done.returncode}: {done.stderr.strip()[-500:]}"
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return None, said
    names = [r["name"] for r in report["results"]]
    found = [r for r in report["results"] if r["name"] == scenario.target]
    return (found[0] if found else None), f"{said}; targets {names}"
