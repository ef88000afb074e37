"""A server that wants a client certificate, reached through an Airflow HTTP connection: the
hint names the connection's extra `cert` (HttpHook hands it to requests), not tlsprobe.toml;
a command-line target keeps tlsprobe.toml's words, and the extra `cert` set makes it pass."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import hint, probe_targets, probe_urls, statuses
from tlsprobe.lab import Lab
from tlsprobe.lab.https import CLIENT_IDENTITY
from tlsprobe.model import Policy, TargetResult
from tlsprobe.sources import connections

IN_EXTRA = (
    "give connection web_x a client certificate issued under a CA the server trusts: set "
    '{"cert": ["/path/to/client.crt", "/path/to/client.key"]} in the extra of connection web_x '
    "(requests' cert: a PEM file, or a certificate and its key)"
)
IN_TOML = (
    "give the target a client certificate and key (client_cert and client_key in its "
    "tlsprobe.toml entry) issued under a CA the server trusts"
)
# (lab server, the check that fails for want of a certificate)
SERVERS = [
    ("https-verify-client-on", "http.status"),
    ("https-client-cert-required-tls12", "tls.handshake"),
]
# TLS 1.3: the server says "certificate required" in an alert of its own, after the handshake.
TLS13 = "https-client-cert-required"


def probe_connection(lab: Lab, server: str, extra: dict[str, Any]) -> TargetResult:
    port = urlsplit(lab.url(server)).port
    fields = {"conn_type": "http", "host": "localhost", "port": port, "schema": "https"}
    env = {"AIRFLOW_CONN_WEB_X": json.dumps({**fields, "extra": extra})}
    targets = connections.from_environment(env).targets
    (result,) = probe_targets(targets, Policy(timeout=3.0, ca_file=lab.ca_file))
    return result


@pytest.mark.parametrize(("server", "check_id"), SERVERS)
def test_the_hint_names_the_extra_cert(lab: Lab, server: str, check_id: str) -> None:
    """No extra `cert`: the check that fails says to set it in the connection's extra (it said
    client_cert in tlsprobe.toml before)."""
    result = probe_connection(lab, server, {})
    assert statuses(result)[check_id] == "fail"
    assert hint(result, check_id) == IN_EXTRA


@pytest.mark.parametrize(("server", "check_id"), SERVERS)
def test_a_command_line_target_keeps_tlsprobe_toml(lab: Lab, server: str, check_id: str) -> None:
    """The twin: the same server as a URL: the hint names tlsprobe.toml's client_cert."""
    (result,) = probe_urls([lab.url(server)], Policy(timeout=3.0, ca_file=lab.ca_file))
    assert statuses(result)[check_id] == "fail"
    assert hint(result, check_id) == IN_TOML


@pytest.mark.parametrize(("server", "check_id"), SERVERS)
def test_with_the_extra_cert_it_passes(lab: Lab, server: str, check_id: str) -> None:
    """With the extra `cert` (the lab's client certificate and key), the same check passes."""
    pem = lab.ca_file.with_name(f"{CLIENT_IDENTITY}.pem")
    result = probe_connection(lab, server, {"cert": [str(pem), str(pem.with_suffix(".key"))]})
    assert statuses(result)[check_id] == "pass"


def test_tls13_certificate_required_names_the_extra_cert(lab: Lab) -> None:
    """TLS 1.3's certificate_required alert: through the connection the hint names its extra
    `cert`; the same server as a URL keeps the alert's own hint."""
    result = probe_connection(lab, TLS13, {})
    assert statuses(result)["tls.handshake"] == "fail"
    assert hint(result, "tls.handshake") == IN_EXTRA
    (url,) = probe_urls([lab.url(TLS13)], Policy(timeout=3.0, ca_file=lab.ca_file))
    assert hint(url, "tls.handshake") == "give the target a client certificate and key"
