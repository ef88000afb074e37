"""The JSON report against schema/tlsprobe-1.schema.json, for every lab endpoint."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import probe_targets
from tlsprobe.lab import Lab
from tlsprobe.model import Policy
from tlsprobe.report import RunInfo
from tlsprobe.report.json_report import render
from tlsprobe.targets import parse_target

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "schema" / "tlsprobe-1.schema.json").read_text()
)


@pytest.fixture(scope="module")
def document(lab: Lab) -> dict[str, Any]:
    """The JSON report of every lab endpoint (all protocols, every defect) in one run."""
    targets = [parse_target(e.url, name=e.name, source=e.description) for e in lab.endpoints]
    results = probe_targets(targets, Policy(timeout=2.0, ca_file=lab.ca_file))
    parsed: dict[str, Any] = json.loads(
        render(results, RunInfo(dt.datetime(2026, 11, 23, 21, tzinfo=dt.UTC), 1.0))
    )
    return parsed


def test_every_lab_result_follows_the_schema(document: dict[str, Any]) -> None:
    """The report of every lab case, pass or fail, is valid against the published schema."""
    jsonschema.validate(document, SCHEMA)
    assert len(document["results"]) == document["summary"]["targets"] > 50


def test_schema_rejects_a_renamed_field(document: dict[str, Any]) -> None:
    """The twin: the schema is not vacuous; a result whose `checks` was renamed is refused."""
    broken = json.loads(json.dumps(document))
    broken["results"][0]["verdicts"] = broken["results"][0].pop("checks")
    with pytest.raises(jsonschema.ValidationError, match="'checks' is a required property"):
        jsonschema.validate(broken, SCHEMA)


def test_schema_rejects_an_unknown_status(document: dict[str, Any]) -> None:
    """A check status outside pass/warn/fail/skip is refused."""
    broken = json.loads(json.dumps(document))
    broken["results"][0]["checks"][0]["status"] = "ok"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)
