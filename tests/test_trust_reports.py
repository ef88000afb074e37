"""The trust a result's verdicts used, in every report that shows it: the JSON `trust` field
(schema tlsprobe/1, additive) and one line in the table's and Markdown's problems."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from tlsprobe.model import Check, Status, TargetResult, TrustUsed
from tlsprobe.report import RunInfo, json_report, markdown, table

INFO = RunInfo(started_at=dt.datetime(2026, 11, 23, 21, tzinfo=dt.UTC), elapsed_s=1.0)
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "schema" / "tlsprobe-1.schema.json").read_text()
)
TRUST = TrustUsed(
    client="requests in Airflow's HttpHook (connection api)",
    used=("certifi's bundle (/certifi/cacert.pem)", "--ca-file (/lab/ca.pem)"),
    anchor="--ca-file",
    ca_file_needed=True,
)
LINE = (
    "trust: requests in Airflow's HttpHook (connection api): certifi's bundle "
    "(/certifi/cacert.pem), --ca-file (/lab/ca.pem)"
)


def result(chain: Status, trust: TrustUsed | None = TRUST) -> TargetResult:
    return TargetResult(
        name="api",
        target="https://api.lab.test/",
        protocol="https",
        host="api.lab.test",
        port=443,
        source="airflow connection api",
        checks=(
            Check("connect", Status.PASS, "connected"),
            Check("cert.chain", chain, "verified to the trusted root CN=lab", "give it the root"),
            Check("http.status", Status.FAIL, "500"),
        ),
        elapsed_ms=3.0,
        trust=trust,
    )


def test_json_carries_the_trust_and_follows_the_schema() -> None:
    """`trust` names the client, the roots used, the anchor's store and whether --ca-file was
    needed; the document is valid against the schema, and a result without TLS has null."""
    document = json.loads(
        json_report.render([result(Status.WARN), result(Status.PASS, None)], INFO)
    )
    jsonschema.validate(document, SCHEMA)
    assert document["results"][0]["trust"] == {
        "client": "requests in Airflow's HttpHook (connection api)",
        "used": ["certifi's bundle (/certifi/cacert.pem)", "--ca-file (/lab/ca.pem)"],
        "anchor": "--ca-file",
        "ca_file_needed": True,
    }
    assert document["results"][1]["trust"] is None


def test_schema_refuses_a_trust_without_its_verdict() -> None:
    """The twin: the schema is not vacuous about `trust`: ca_file_needed must be a boolean."""
    document = json.loads(json_report.render([result(Status.WARN)], INFO))
    document["results"][0]["trust"]["ca_file_needed"] = "yes"
    with pytest.raises(jsonschema.ValidationError, match="'yes' is not of type 'boolean'"):
        jsonschema.validate(document, SCHEMA)


@pytest.mark.parametrize("render", [table.render, markdown.render])
def test_problems_name_the_trust_when_the_chain_is_a_problem(render: object) -> None:
    """Table and Markdown say whose roots the chain verdict used under the target, when
    cert.chain warns or fails, and say nothing of trust when only other checks fail."""
    assert callable(render)
    warned = render([result(Status.WARN)], INFO, False)
    assert LINE in " ".join(warned.split())  # the table folds long lines at its width
    quiet = render([result(Status.PASS)], INFO, False)
    assert "trust:" not in quiet
