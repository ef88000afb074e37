"""deploy/kubernetes: the manifests parse, and every reference holds: labels the selectors
select, ports by name and number, the args tlsprobe's own parser accepts, the ConfigMap's
tlsprobe.toml as tlsprobe reads it, the module the Probe sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tlsprobe.cli.options import build_parser
from tlsprobe.sources import config as config_file

KUBE = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"


def documents() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(KUBE.glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            found[doc["kind"]] = doc
    return found


def test_every_kind_is_shipped() -> None:
    """The exporter's ConfigMap, Deployment, Service and Probe, and the CronJob, each once."""
    assert set(documents()) == {"ConfigMap", "Deployment", "Service", "Probe", "CronJob"}


def test_references_hold() -> None:
    """Selectors select the pod's labels, the Service's targetPort names the container's port,
    --listen and the Probe's prober URL use those ports, and the volumes name the ConfigMap."""
    docs = documents()
    deployment, service, probe = docs["Deployment"], docs["Service"], docs["Probe"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in ports
    args = build_parser().parse_args(container["args"])
    assert args.listen[1] == ports[service_port["targetPort"]]
    prober = probe["spec"]["prober"]
    assert prober["url"] == f"{service['metadata']['name']}.monitoring.svc:{service_port['port']}"
    assert prober["path"] == "/probe"
    for spec in (pod["spec"], docs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]):
        assert spec["volumes"][0]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]


def test_cronjob_args_are_tlsprobe_check_flags() -> None:
    """The CronJob runs `tlsprobe check` with flags its parser accepts, reading the mounted file."""
    pod = documents()["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    args = build_parser().parse_args(pod["containers"][0]["args"])
    assert (args.command, str(args.config), args.format) == (
        "check",
        "/config/tlsprobe.toml",
        "json",
    )


def test_configmap_is_a_valid_tlsprobe_toml_with_the_probes_targets_and_module(
    tmp_path: Path,
) -> None:
    """The ConfigMap's tlsprobe.toml loads (its password from the variable the pods set), names
    every target the Probe scrapes, and has the module the Probe sends."""
    docs = documents()
    path = tmp_path / "tlsprobe.toml"
    path.write_text(docs["ConfigMap"]["data"]["tlsprobe.toml"])
    env_names = [
        e["name"] for e in docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    ]
    found = config_file.load(path, dict.fromkeys(env_names, "x"))
    spec = docs["Probe"]["spec"]
    assert {t.name for t in found.targets} == set(spec["targets"]["staticConfig"]["static"])
    assert set(found.modules) == {spec["module"]}
