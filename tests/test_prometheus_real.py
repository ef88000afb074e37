"""deploy/ held to real Prometheus: `promtool test rules` on the shipped alerts, and Debian's
prometheus scraping `tlsprobe serve` with blackbox_exporter's /probe relabelling, where every
alert expression and every dashboard query finds exactly the broken lab targets."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from promtools import free_port, running, tool
from tlsprobe.exporter import Exporter
from tlsprobe.lab import Lab
from tlsprobe.model import Policy
from tlsprobe.targets import parse_target

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "tlsprobe.json"
GOOD = ("https-good", "smtp-good")
# Each broken lab target, and the alerts it must raise (and no other).
BROKEN = {
    "https-expired": {
        "TLSProbeFailed",
        "TLSCertificateExpiringSoon",
        "TLSCertificateInLastFifthOfLifetime",
    },
    "https-expiring-soon": {"TLSCertificateExpiringSoon", "TLSCertificateInLastFifthOfLifetime"},
    "legacy-https": {"TLSLegacyVersionAccepted"},
    "smtp-no-starttls": {"TLSProbeFailed", "TLSStartTLSMissing"},
    "revocation-ocsp-revoked": {"TLSProbeFailed", "TLSCertificateRevoked"},
}


def test_promtool_unit_tests_of_the_alerts() -> None:
    """promtool checks alerts.yml and runs alerts_test.yml: each alert fires for its broken
    input series, with its labels and annotations, and not for the good twins."""
    promtool = tool("promtool")
    checked = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        check=False, cwd=ALERTS.parent, capture_output=True, text=True,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.fixture(scope="module")
def prometheus(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus scraping `tlsprobe serve` through /probe every second, each lab target named
    in tlsprobe's configuration and in the scrape config by that name."""
    binary = tool("prometheus")
    names = [*GOOD, *BROKEN]
    targets = [parse_target(lab.url(name), name=name) for name in names]
    policy = Policy(timeout=3.0, ca_file=lab.ca_file)
    workdir = tmp_path_factory.mktemp("prometheus")
    with Exporter(targets, policy, listen=("127.0.0.1", 0)) as exporter:
        host, port = exporter.address
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {
                    "job_name": "tlsprobe",
                    "metrics_path": "/probe",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": names}],
                    "relabel_configs": [
                        {"source_labels": ["__address__"], "target_label": "__param_target"},
                        {"source_labels": ["__param_target"], "target_label": "instance"},
                        {"target_label": "__address__", "replacement": f"{host}:{port}"},
                    ],
                }
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        address = f"127.0.0.1:{free_port()}"
        argv = [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={address}",
        ]
        with running(argv, f"http://{address}/-/ready", workdir):
            base = f"http://{address}"
            wait_for_scrapes(base, len(names))
            yield base


def query(base: str, expr: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, object]] = answer["data"]["result"]
    return result


def names_in(result: list[dict[str, object]]) -> set[str]:
    return {sample["metric"]["name"] for sample in result}  # type: ignore[index]


def wait_for_scrapes(base: str, count: int) -> None:
    """Until every target has been scraped once with a TLS sample where it has one."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(query(base, "tlsprobe_duration_seconds")) == count:
            return
        time.sleep(0.25)
    raise AssertionError(f"Prometheus did not scrape {count} targets: {query(base, 'up')}")


def alert_rules() -> dict[str, str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def test_every_alert_finds_exactly_the_broken_targets(prometheus: str) -> None:
    """Each alert expression, evaluated by Prometheus over what it scraped from /probe, selects
    exactly the lab targets broken its way, and never a good one."""
    rules = alert_rules()
    assert set(rules) == set().union(*BROKEN.values())
    for alert, expr in rules.items():
        expected = {name for name, alerts in BROKEN.items() if alert in alerts}
        assert names_in(query(prometheus, expr)) == expected, alert


def test_every_dashboard_query_answers(prometheus: str) -> None:
    """Each Grafana panel's query, evaluated by Prometheus: the checks table lists exactly the
    broken targets, the expiry and duration panels every target with a certificate or a probe."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exprs = [target["expr"] for panel in panels for target in panel["targets"]]
    assert len(exprs) == 3
    checks, expiry, duration = (names_in(query(prometheus, e)) for e in exprs)
    assert checks == set(BROKEN)
    assert expiry == {*GOOD, *BROKEN} - {"smtp-no-starttls"}
    assert duration == {*GOOD, *BROKEN}


# A blackbox_exporter user's own rules, as the blackbox-exporter mixin and common rule sets write
# them (ours, not copied), each with the lab targets it must find through tlsprobe serve.
BLACKBOX_USER_RULES = {
    "probe_success == 0": {"https-expired", "smtp-no-starttls", "revocation-ocsp-revoked"},
    "probe_ssl_earliest_cert_expiry - time() < 14 * 24 * 3600": {
        "https-expired",
        "https-expiring-soon",
    },
    "probe_ssl_earliest_cert_expiry - time() <= 0": {"https-expired"},
    # The verified path's expiry (tlsprobe verifies the path apart from the time: an expired
    # leaf still has one; blackbox would have failed the handshake and said nothing).
    "probe_ssl_last_chain_expiry_timestamp_seconds - time() < 14 * 24 * 3600": {
        "https-expired",
        "https-expiring-soon",
    },
    'probe_tls_version_info{version=~"TLS 1.[23]"} == 1': {*GOOD, *BROKEN} - {"smtp-no-starttls"},
}


def test_a_blackbox_users_rules_work_unchanged(prometheus: str) -> None:
    """A blackbox_exporter user's alert expressions, in blackbox's names and with its `instance`
    relabelling, select exactly the lab targets they are about through tlsprobe serve."""
    for expr, expected in BLACKBOX_USER_RULES.items():
        found = {s["metric"]["instance"] for s in query(prometheus, expr)}  # type: ignore[index]
        assert found == expected, expr
