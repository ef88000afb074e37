"""Airflow SMTP connections probed against the lab's STARTTLS and SMTPS servers, each read as
SmtpHook (provider 3.2.0) reads it: the target it opens, client.encryption, and hints in the
connection's own terms. The real hook's outcome for each is in the afconn report (and in
`make test-airflow`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import hint, probe_targets, statuses
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.sources import connections

STARTTLS, SMTPS = "smtp-good", "smtps-good"
THERE = "the extra of connection smtp_x"
NEITHER = (
    f'set {{"disable_tls": true}} in {THERE} for an implicit-TLS port (465), or '
    '{"disable_ssl": true} for a STARTTLS port (587)'
)
TO_STARTTLS = f'this port speaks plaintext first (STARTTLS): set {{"disable_ssl": true}} in {THERE}'
TO_IMPLICIT = f'this port speaks implicit TLS: remove "disable_ssl" from {THERE}'
PLAINTEXT = (
    f'remove "disable_tls" from {THERE} to use STARTTLS (or remove "disable_ssl" instead, '
    "for an implicit-TLS port)"
)
NO_VERIFY = f'remove "ssl_context" from {THERE} (or set it to "default")'

# (server, extra, URL scheme probed, connect, tls.handshake, client.encryption, hints by check)
VARIANTS: list[tuple[str, dict[str, Any], str, str, str, str, dict[str, str]]] = [
    (
        STARTTLS,
        {},
        "smtps",
        "pass",
        "fail",
        "fail",
        {"tls.handshake": TO_STARTTLS, "client.encryption": NEITHER},
    ),
    (SMTPS, {}, "smtps", "pass", "pass", "fail", {"client.encryption": NEITHER}),
    (STARTTLS, {"disable_ssl": True}, "smtp", "pass", "pass", "pass", {}),
    (
        SMTPS,
        {"disable_ssl": True},
        "smtp",
        "fail",
        "skip",
        "pass",
        {
            "connect": TO_IMPLICIT + ', and set {"disable_tls": true} so that the hook does not '
            "also call STARTTLS"
        },
    ),
    (
        STARTTLS,
        {"disable_tls": True},
        "smtps",
        "pass",
        "fail",
        "pass",
        {"tls.handshake": TO_STARTTLS + ', and remove "disable_tls"'},
    ),
    (SMTPS, {"disable_tls": True}, "smtps", "pass", "pass", "pass", {}),
    (
        STARTTLS,
        {"disable_ssl": True, "disable_tls": True},
        "smtp",
        "pass",
        "pass",
        "fail",
        {"client.encryption": PLAINTEXT},
    ),
    (
        SMTPS,
        {"disable_ssl": True, "disable_tls": True},
        "smtp",
        "fail",
        "skip",
        "fail",
        {"connect": TO_IMPLICIT, "client.encryption": PLAINTEXT},
    ),
    # A URI's query gives text, and bool("false") is true: the hook disables SSL.
    (STARTTLS, {"disable_ssl": "false"}, "smtp", "pass", "pass", "pass", {}),
    (
        SMTPS,
        {"disable_tls": True, "ssl_context": "none"},
        "smtps",
        "pass",
        "pass",
        "warn",
        {"client.encryption": NO_VERIFY},
    ),
    (
        SMTPS,
        {"disable_tls": True, "ssl_context": "Default"},
        "smtps",
        "pass",
        "pass",
        "fail",
        {"client.encryption": f'set "ssl_context" to "default" in {THERE}, or remove it'},
    ),
    # starttls is not read: the hook still speaks SMTP_SSL, then STARTTLS.
    (
        STARTTLS,
        {"starttls": True},
        "smtps",
        "pass",
        "fail",
        "fail",
        {"tls.handshake": TO_STARTTLS, "client.encryption": NEITHER},
    ),
]


def connection(lab: Lab, server: str, extra: dict[str, Any]) -> str:
    port = urlsplit(lab.url(server)).port
    fields = {"conn_type": "smtp", "host": "localhost", "port": port, "extra": extra}
    return json.dumps({**fields, "login": "probe", "password": "s3cret-pw"})


@pytest.fixture(scope="module")
def results(lab: Lab) -> list[TargetResult]:
    """Every variant probed once, concurrently, as `tlsprobe check` would."""
    targets = []
    for server, extra, *_ in VARIANTS:
        env = {"AIRFLOW_CONN_SMTP_X": connection(lab, server, extra)}
        targets.extend(connections.from_environment(env).targets)
    return probe_targets(targets, Policy(timeout=2.0, ca_file=lab.ca_file))


@pytest.mark.parametrize("index", range(len(VARIANTS)), ids=[f"{v[0]}-{v[1]}" for v in VARIANTS])
def test_smtp_connection_verdicts(results: list[TargetResult], index: int) -> None:
    """Each SMTP connection variant opens the target SmtpHook opens and gets the exact
    verdicts, with the hint of each failing check in the connection's own terms."""
    _, _, scheme, connect, handshake, client, hints = VARIANTS[index]
    result = results[index]
    assert result.target.startswith(f"{scheme}://")
    got = statuses(result)
    assert (got["connect"], got["tls.handshake"], got["client.encryption"]) == (
        connect,
        handshake,
        client,
    )
    for check_id, words in hints.items():
        assert hint(result, check_id) == words, check_id
    if client == "pass":
        assert hint(result, "client.encryption") == ""
