"""`revocation = true` from tlsprobe.toml ([defaults]) through `tlsprobe check`, and from an
exporter module ([modules.NAME]) through `tlsprobe serve`'s /probe?module=, against the lab's
CRL server; each twin without the key, where the CRL server's own log shows no request."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tlsprobe.exporter import Exporter
from tlsprobe.lab import Lab
from tlsprobe.model import Policy
from tlsprobe.plan import Flags, Sources, make_plan
from tlsprobe.targets import parse_target

WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
# The leaf that names a CRL and no OCSP responder: no check at all unless revocation is on.
CRL_ONLY = "revocation-crl-revoked"
REVOKED = (
    rf"CN={CRL_ONLY}: revoked on {WHEN} \(key_compromise\) \(CRL\) "
    r"from http://127\.0\.0\.1:\d+/lab\.crl"
)


def downloads(lab: Lab) -> int:
    """How many times the lab's CRL has been downloaded so far (the responder's own log)."""
    log = httpx.get(lab.url("revocation-responder").replace("lab.crl", "asked"), timeout=5).text
    counts = dict(line.split() for line in log.splitlines())
    return int(counts.get("crl", 0))


def check(config: Path, url: str) -> dict[str, dict[str, str]]:
    """`tlsprobe check -c CONFIG URL --format json`: the target's checks by id."""
    ran = subprocess.run(
        [sys.executable, "-m", "tlsprobe", "check", "-c", str(config), "--format", "json", url],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert ran.stderr == ""
    (result,) = json.loads(ran.stdout)["results"]
    return {c["id"]: c for c in result["checks"]}


def write(tmp_path: Path, lab: Lab, extra: str) -> Path:
    config = tmp_path / "tlsprobe.toml"
    config.write_text(f'[defaults]\nca_file = "{lab.ca_file}"\ntimeout = 5\n{extra}')
    return config


def test_revocation_true_in_the_config_fetches_the_crl(lab: Lab, tmp_path: Path) -> None:
    """[defaults] revocation = true makes `tlsprobe check` download the CRL once and fail the
    revoked leaf, as --revocation does."""
    before = downloads(lab)
    checks = check(write(tmp_path, lab, "revocation = true\n"), lab.url(CRL_ONLY))
    assert downloads(lab) == before + 1
    assert checks["cert.revocation"]["status"] == "fail"
    assert re.fullmatch(REVOKED, checks["cert.revocation"]["detail"])


def test_without_the_key_the_config_fetches_nothing(lab: Lab, tmp_path: Path) -> None:
    """The twin: the same config without the key (and revocation = false) asks the CA
    nothing; the CRL server sees no request and the leaf gets no cert.revocation check."""
    for extra in ("", "revocation = false\n"):
        before = downloads(lab)
        checks = check(write(tmp_path, lab, extra), lab.url(CRL_ONLY))
        assert downloads(lab) == before
        assert "cert.revocation" not in checks
        assert checks["cert.chain"]["status"] == "pass"


def severities(base: str, url: str, module: str) -> dict[str, float]:
    """tlsprobe_check_severity by check, from one /probe scrape naming `module`."""
    params = {"target": url, **({"module": module} if module else {})}
    answer = httpx.get(f"{base}/probe", params=params, timeout=15)
    assert answer.status_code == 200, answer.text
    return {
        s.labels["check"]: s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
        if s.name == "tlsprobe_check_severity"
    }


def test_an_exporter_module_turns_revocation_on(lab: Lab, tmp_path: Path) -> None:
    """A scrape naming [modules.revoking] (revocation = true) downloads the CRL and carries
    cert.revocation's failure; the twin scrapes, with no module or one without the key, make
    no request to the CRL server and carry no cert.revocation sample."""
    config = tmp_path / "tlsprobe.toml"
    config.write_text("[modules.revoking]\nrevocation = true\n[modules.plain]\ntimeout = 4\n")
    plan = make_plan(Sources(config=config), Flags(), {}, default_timeout=5.0, required=False)
    policy = Policy(timeout=5.0, ca_file=lab.ca_file)
    url = lab.url(CRL_ONLY)
    target = [parse_target(url)]
    with Exporter(target, policy, modules=plan.modules, listen=("127.0.0.1", 0)) as exporter:
        host, port = exporter.address
        base = f"http://{host}:{port}"
        for module in ("", "plain"):
            before = downloads(lab)
            assert "cert.revocation" not in severities(base, url, module)
            assert downloads(lab) == before
        before = downloads(lab)
        found = severities(base, url, "revoking")
        assert downloads(lab) == before + 1
    assert found["cert.revocation"] == 2
    assert exporter.policy_for("revoking").revocation
    assert not exporter.policy_for("plain").revocation
