"""Airflow scenarios (fixtures/airflow/scenarios/*.toml): what a user wrote, which lab server it
points at, which trust Airflow's process has, which real Airflow client is asked, and what that
client really does.

A scenario's text may name the running lab with `{{port:ENDPOINT}}` (a lab endpoint's port, or
`http-plain`, the harness's own plain HTTP server), `{{ca_file}}` (the lab's root CAs) and
`{{home}}` (the Airflow process's home directory). Anything else in double braces is an error:
a typo must not reach Airflow as text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent.parent / "fixtures" / "airflow" / "scenarios"
CLIENTS = frozenset(
    {"smtp_hook", "send_email", "postgres_hook", "http_hook", "db_check", "execution_api"}
)
TRUSTS = frozenset({"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "sslrootcert", "home_root_crt", "none"})
OUTCOMES = frozenset({"verified", "unverified", "plaintext", "fails"})
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)(?::([\w.-]+))?\s*\}\}")


@dataclass(frozen=True)
class Scenario:
    """One scenario file, as written (placeholders not yet filled)."""

    name: str
    description: str
    covers: tuple[str, ...]
    client: str
    conn_id: str
    trust: tuple[str, ...]
    target: str
    outcome: str
    said: str
    airflow_cfg: str
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    connections_file: str = ""
    ca_file: bool = False
    hint_names: tuple[str, ...] = ()
    twin: str = ""
    # Airflow is configured for plaintext on purpose (both SMTP flags off, http://, sslmode
    # disable): the conformance rule's never_encrypts, a fact of the configuration.
    never_encrypts: bool = False
    flags: tuple[str, ...] = ()  # tlsprobe's own flags, as the user would pass them

    @property
    def endpoint(self) -> str:
        """The lab endpoint the scenario points Airflow at: its first {{port:NAME}}."""
        texts = [self.airflow_cfg, *self.env.values(), *self.files.values()]
        for text in texts:
            for match in _PLACEHOLDER.finditer(text):
                if match.group(1) == "port" and match.group(2):
                    return match.group(2)
        raise AssertionError(f"{self.name}: no {{{{port:ENDPOINT}}}} in it")


def load(path: Path) -> Scenario:
    """Read one scenario file; a missing or unknown field is an AssertionError naming the file."""
    data = tomllib.loads(path.read_text())
    scenario = Scenario(
        name=path.stem,
        description=data["description"],
        covers=tuple(data.get("covers", ())),
        client=data["client"],
        conn_id=data.get("conn_id", ""),
        trust=tuple(data["trust"]),
        target=data["target"],
        outcome=data["outcome"],
        said=data.get("said", ""),
        airflow_cfg=data.get("airflow_cfg", ""),
        env=dict(data.get("env", {})),
        files=dict(data.get("files", {})),
        connections_file=data.get("connections_file", ""),
        ca_file=bool(data.get("ca_file", False)),
        hint_names=tuple(data.get("hint_names", ())),
        twin=data.get("twin", ""),
        never_encrypts=bool(data.get("never_encrypts", False)),
        flags=tuple(data.get("flags", ())),
    )
    assert scenario.client in CLIENTS, f"{path.name}: client {scenario.client!r}"
    assert set(scenario.trust) <= TRUSTS, f"{path.name}: trust {scenario.trust!r}"
    assert scenario.outcome in OUTCOMES, f"{path.name}: outcome {scenario.outcome!r}"
    assert not scenario.connections_file or scenario.connections_file in scenario.files
    return scenario


def load_all() -> list[Scenario]:
    return [load(path) for path in sorted(SCENARIOS.glob("*.toml"))]


def filler(ports: Mapping[str, int], ca_file: Path, home: Path) -> Callable[[str], str]:
    """Fills a scenario text's placeholders from the running lab and the scenario's home."""

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, arg = match.group(1), match.group(2)
            if name == "port" and arg in ports:
                return str(ports[arg])
            if name == "ca_file" and arg is None:
                return str(ca_file)
            if name == "home" and arg is None:
                return str(home)
            raise AssertionError(f"unknown placeholder {match.group(0)!r}")

        return _PLACEHOLDER.sub(one, text)

    return fill
