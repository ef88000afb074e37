"""client.encryption of an Airflow postgres connection, probed against the lab's PostgreSQL:
its hint names the connection's extra (`sslmode`, and `sslrootcert` when it names none), as
SMTP and HTTP connections' hints name theirs; a command-line target keeps libpq's words."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import check, probe_targets
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.sources import connections
from tlsprobe.targets import parse_target

THERE = "in the extra of connection pg_x"
BOTH = f'set {{"sslmode": "verify-full", "sslrootcert": "/path/to/root.crt"}} {THERE}'
MODE = f'set {{"sslmode": "verify-full"}} {THERE}'
ROOT = "{root}"
# (extra, client.encryption's status, its hint)
VARIANTS: list[tuple[dict[str, str], str, str]] = [
    ({"sslmode": "require"}, "warn", BOTH),
    ({"sslmode": "disable"}, "fail", BOTH),
    ({}, "warn", BOTH),  # libpq's default prefer
    ({"sslmode": "verify-ca", "sslrootcert": ROOT}, "warn", MODE),
    ({"sslmode": "verify-full", "sslrootcert": ROOT}, "pass", ""),
]


def connection(lab: Lab, extra: dict[str, str]) -> str:
    port = urlsplit(lab.url("pg-good")).port
    filled = {k: str(lab.ca_file) if v == ROOT else v for k, v in extra.items()}
    return json.dumps({"conn_type": "postgres", "host": "localhost", "port": port, "extra": filled})


@pytest.fixture(scope="module")
def results(lab: Lab) -> list[TargetResult]:
    """Every variant as an AIRFLOW_CONN_PG_X, probed once, concurrently."""
    targets = []
    for extra, *_ in VARIANTS:
        env: dict[str, Any] = {"AIRFLOW_CONN_PG_X": connection(lab, extra)}
        targets.extend(connections.from_environment(env).targets)
    return probe_targets(targets, Policy(timeout=3.0, ca_file=lab.ca_file))


@pytest.mark.parametrize("index", range(len(VARIANTS)), ids=[str(v[0]) for v in VARIANTS])
def test_postgres_connection_hint_names_the_extra(results: list[TargetResult], index: int) -> None:
    """Each sslmode in the extra gets its exact client.encryption status, and a hint that says
    what to set in the connection's extra (it was libpq's generic words before)."""
    _, status, words = VARIANTS[index]
    found = results[index].check("client.encryption")
    assert found is not None
    assert (found.status.value, found.hint) == (status, words)


def test_a_command_line_target_keeps_libpqs_words(lab: Lab) -> None:
    """The twin: the same sslmode=require on a postgresql:// URL: the hint in libpq's terms
    (--ca-file, which libpq is given as its sslrootcert, makes require verify the chain, so
    what is left to add is the host name)."""
    target = parse_target(lab.url("pg-good").split("?")[0] + "?sslmode=require")
    (result,) = probe_targets([target], Policy(timeout=3.0, ca_file=lab.ca_file))
    assert check(result, "client.encryption")[1] == (
        "check the host name too (for PostgreSQL: sslmode=verify-full)"
    )
