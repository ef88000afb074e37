"""Airflow connections mapped as their hooks read them (smtp 3.2.0, http 6.3.0, postgres
7.1.1): the target each opens, client.encryption's model, the notes and the terms. Pure: the
lab tests (test_airflow_connections_lab.py) prove the verdicts on real servers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.model import Fix
from tlsprobe.sources import Collected, connections
from tlsprobe.targets import Target
from tlsprobe.targets.client_tls import Encrypts


def found(value: str, conn_id: str = "X") -> Collected:
    return connections.from_environment({f"AIRFLOW_CONN_{conn_id}": value})


def target(value: str) -> Target:
    (only,) = found(value).targets
    return only


def smtp(extra: dict[str, Any], port: int | None = None) -> Target:
    fields = {"conn_type": "smtp", "host": "mail.example", "port": port, "extra": extra}
    return target(json.dumps(fields))


@pytest.mark.parametrize(
    ("extra", "url", "encrypts", "broken"),
    [
        ({}, "smtps://mail.example", Encrypts.YES, True),
        ({"disable_ssl": True}, "smtp://mail.example:25", Encrypts.YES, False),
        ({"disable_tls": True}, "smtps://mail.example", Encrypts.YES, False),
        ({"disable_ssl": True, "disable_tls": True}, "smtp://mail.example:25", Encrypts.NO, False),
        ({"disable_ssl": "false"}, "smtp://mail.example:25", Encrypts.YES, False),
        ({"disable_ssl": ""}, "smtps://mail.example", Encrypts.YES, True),
        ({"disable_ssl": 0, "disable_tls": 1}, "smtps://mail.example", Encrypts.YES, False),
        ({"starttls": True}, "smtps://mail.example", Encrypts.YES, True),
    ],
)
def test_smtp_hook_mode_and_default_port(
    extra: dict[str, Any], url: str, encrypts: Encrypts, broken: bool
) -> None:
    """Each flag is Python's bool() of the extra; no port is smtplib's 25 or 465, not 587;
    neither flag is SMTP_SSL then STARTTLS, a client that cannot connect."""
    got = smtp(extra)
    assert got.display == url
    assert got.client is not None
    assert (got.client.encrypts, got.client.broken) == (encrypts, broken)


def test_smtp_port_given_is_kept() -> None:
    """A port in the connection is the port, whatever the flags."""
    assert smtp({"disable_ssl": True}, 587).port == 587
    assert smtp({"disable_tls": True}, 2465).port == 2465


@pytest.mark.parametrize(
    ("extra", "verifies", "broken"),
    [
        ({"disable_tls": True}, True, False),
        ({"disable_tls": True, "ssl_context": "default"}, True, False),
        ({"disable_tls": True, "ssl_context": "none"}, False, False),
        ({"disable_ssl": True, "ssl_context": "none"}, False, False),
        ({"disable_tls": True, "ssl_context": "Default"}, True, True),
        ({"disable_ssl": True, "ssl_context": "bogus"}, True, True),
    ],
)
def test_smtp_ssl_context(extra: dict[str, Any], verifies: bool, broken: bool) -> None:
    """ssl_context "none" does not verify; any value but "default" or "none" makes the hook
    raise, so the client is broken."""
    client = smtp(extra).client
    assert client is not None
    assert (client.verifies_chain, client.verifies_host, client.broken) == (
        verifies,
        verifies,
        broken,
    )


def test_smtp_ssl_context_unread_in_plaintext() -> None:
    """With both flags set the hook never builds a context: a bad ssl_context does not break
    it, and the client is plaintext."""
    client = smtp({"disable_ssl": True, "disable_tls": True, "ssl_context": "bogus"}).client
    assert client is not None
    assert (client.encrypts, client.broken) == (Encrypts.NO, False)


def test_smtp_uri_query_is_text() -> None:
    """In a URI every extra is text: disable_ssl=false disables SSL (bool("false")), and a
    note says so; ?starttls=True gets a note that the hook does not read it."""
    got = found("smtp://mail.example?disable_ssl=false&starttls=True")
    (only,) = got.targets
    assert (only.protocol, only.port) == ("smtp", 25)
    assert got.notes == [
        'AIRFLOW_CONN_X: connection x: the extra "starttls" is not read by Airflow\'s SMTP '
        'hook: it calls STARTTLS unless "disable_tls" is true, and speaks implicit TLS unless '
        '"disable_ssl" is true',
        'AIRFLOW_CONN_X: connection x: the extra "disable_ssl" is the text "false", which the '
        "hook reads as true (any text but an empty one is true): remove it instead",
    ]


def test_smtp_json_booleans_have_no_note() -> None:
    """The twin: JSON booleans read as written, and no note."""
    assert (
        found(json.dumps({"conn_type": "smtp", "host": "m", "extra": {"disable_ssl": True}})).notes
        == []
    )


def test_smtp_terms_name_the_connection() -> None:
    """Every kind of fix is worded with the extra to change and the conn_id."""
    terms = dict(smtp({"disable_ssl": True}).terms)
    there = "the extra of connection x"
    assert terms[Fix.IMPLICIT_TLS.value] == (
        f'this port speaks implicit TLS: remove "disable_ssl" from {there}, and set '
        '{"disable_tls": true} so that the hook does not also call STARTTLS'
    )
    assert terms[Fix.PLAINTEXT_FIRST.value] == (
        f'this port speaks plaintext first (STARTTLS): set {{"disable_ssl": true}} in {there}'
    )
    assert terms[Fix.TRUST.value] == (
        "give Airflow's workers the issuing root: the file SSL_CERT_FILE names in their "
        "environment (connection x verifies with Python's default store)"
    )


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({"conn_type": "http", "host": "api.example"}, "http://api.example/"),
        ({"conn_type": "https", "host": "api.example"}, "http://api.example/"),
        ({"conn_type": "http", "host": "api.example", "schema": "https"}, "https://api.example/"),
        (
            {"conn_type": "http", "host": "https://api.example", "port": 8443},
            "https://api.example:8443/",
        ),
        ({"conn_type": "http", "host": "https://api.example/v1"}, "https://api.example/v1"),
        (
            {"conn_type": "http", "host": "https://a.example", "schema": "http"},
            "https://a.example/",
        ),
    ],
)
def test_http_base_url(fields: dict[str, Any], url: str) -> None:
    """HttpHook's base URL: a host with a scheme wins, else the schema field (default http:
    the type https does not choose https), then the port."""
    assert target(json.dumps(fields)).display == url


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("http://https://db.example:8443", "https://db.example:8443/"),
        ("http://https://db.example%3A8443", "https://db.example:8443/"),
        ("https://https%3A%2F%2Fdb.example:8443", "https://db.example:8443/"),
        ("http://db.example:8443/https", "https://db.example:8443/"),
        ("http://db.example:8443", "http://db.example:8443/"),
    ],
)
def test_http_uri_with_a_scheme_in_the_host(uri: str, url: str) -> None:
    """The forms `airflow connections export` writes for a host holding a scheme read back as
    Airflow reads them (it was http://https/), and the schema in the path."""
    assert target(uri).display == url


def test_http_two_ports_refused() -> None:
    """A host with a port plus a port field: the hook's URL has two, and the run says so."""
    value = json.dumps({"conn_type": "http", "host": "https://a.example:1", "port": 2})
    with pytest.raises(UsageError, match="port field adds another"):
        found(value)


@pytest.mark.parametrize(
    ("extra", "verifies", "broken"),
    [
        ({}, True, False),
        ({"verify": True}, True, False),
        ({"verify": False}, False, False),
        ({"verify_ssl": False}, False, False),
        ({"verify": True, "verify_ssl": False}, True, False),
        ({"verify": "/etc/ca.pem"}, True, False),
        ({"verify": "false"}, True, True),
        ({"verify": "False"}, True, True),
    ],
)
def test_http_verify(extra: dict[str, Any], verifies: bool, broken: bool) -> None:
    """verify (else verify_ssl) is requests' verify: false does not verify, a path is the
    bundle, and the text "false" (a URI's) is a path that does not exist: broken."""
    fields = {"conn_type": "http", "host": "https://a.example", "extra": extra}
    client = target(json.dumps(fields)).client
    assert client is not None
    assert (client.verifies_chain, client.broken) == (verifies, broken)


def test_http_plain_and_cert() -> None:
    """http:// does not encrypt (the hint names the schema field); the extra cert is the
    client certificate."""
    plain = target(json.dumps({"conn_type": "https", "host": "a.example"}))
    assert plain.client is not None
    assert plain.client.encrypts is Encrypts.NO
    assert plain.client.hint.startswith("set the schema field of connection x to https")
    fields = {"conn_type": "http", "host": "https://a", "extra": {"cert": ["c.pem", "k.pem"]}}
    with_cert = target(json.dumps(fields))
    assert (with_cert.client_cert, with_cert.client_key) == ("c.pem", "k.pem")


def test_http_trust_terms() -> None:
    """Trust for http: the extra verify or REQUESTS_CA_BUNDLE; with a verify path, that file."""
    terms = dict(target(json.dumps({"conn_type": "http", "host": "https://a"})).terms)
    assert terms[Fix.TRUST.value] == (
        'give connection x the issuing root: set {"verify": "/path/to/ca.pem"} in its extra, '
        "or REQUESTS_CA_BUNDLE in the environment of Airflow's workers (requests does not "
        "read SSL_CERT_FILE)"
    )
    fields = {"conn_type": "http", "host": "https://a", "extra": {"verify": "/etc/b.pem"}}
    terms = dict(target(json.dumps(fields)).terms)
    assert terms[Fix.TRUST.value] == (
        'add the issuing root to the CA bundle "/etc/b.pem" that the extra of connection x names'
    )


def test_postgres_tls_extras_and_no_ca_file() -> None:
    """PostgresHook's TLS extras reach libpq (sslcrl too), others do not; the target is never
    given --ca-file; trust is worded as the extra sslrootcert."""
    extra = {"sslmode": "verify-full", "sslcrl": "/c.crl", "cursor": "dictcursor"}
    fields = {"conn_type": "postgres", "host": "db", "extra": extra}
    got = target(json.dumps(fields))
    assert dict(got.params) == {"sslmode": "verify-full", "sslcrl": "/c.crl"}
    assert got.takes_ca_file is False
    assert dict(got.terms)[Fix.TRUST.value] == (
        'set {"sslrootcert": "/path/to/root.crt"} in the extra of connection x'
    )
    assert target("postgresql://u@db/x?sslmode=require").takes_ca_file is False
