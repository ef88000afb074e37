"""Passwords never leak: not from a password with an unencoded "?", not from libpq's
`?password=` / `sslpassword=` parameters, not from notes about an airflow.cfg or a connection
export; and redaction does not mangle what it should leave alone."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tlsprobe.cli import main
from tlsprobe.exporter import Exporter
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.model import Policy
from tlsprobe.report import FORMATS
from tlsprobe.targets import parse_target

SECRET = "Hunter?2x"


def forms(secret: str) -> list[str]:
    """The password raw, percent-encoded and base64-encoded."""
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


def assert_hidden(text: str, secret: str = SECRET) -> None:
    for form in forms(secret):
        assert form not in text


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code, and stdout and stderr together."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize(
    "url",
    [
        f"smtp://u:{SECRET}@mail.example",
        f"postgresql://u:{SECRET}@db.example/app",
        f"https://u:{SECRET}@web.example/",
    ],
)
def test_unencoded_question_mark_in_password_is_not_echoed(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password with an unencoded ? breaks URL parsing; the error names the URL with ***."""
    code, said = run(["targets", url], capsys)
    assert code == 2
    assert "***" in said
    assert_hidden(said)


def test_encoded_question_mark_in_password_is_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    """The twin: percent-encoded, the same password parses and is shown as ***."""
    code, said = run(["targets", f"smtp://u:{quote(SECRET, safe='')}@mail.example"], capsys)
    assert code == 0
    assert "smtp://u:***@mail.example" in said
    assert_hidden(said)


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    with Exporter([], Policy(timeout=1.0), allow_any=True, listen=("127.0.0.1", 0)) as running:
        yield running


def test_serve_400_hides_a_password_with_question_mark(exporter: Exporter) -> None:
    """/probe with such a malformed target answers 400 without the password."""
    host, port = exporter.address
    url = f"http://{host}:{port}/probe"
    answer = httpx.get(url, params={"target": f"smtp://u:{SECRET}@h"}, timeout=10)
    assert answer.status_code == 400
    assert "***" in answer.text
    assert_hidden(answer.text)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@h/", "https://u:***@h/"),
        ("https://u:s@host.example/status", "https://u:***@host.example/status"),
        ("smtp://alerts@example.com:t@smtp.example.com", "smtp://alerts@example.com:***@smtp"),
    ],
)
def test_short_password_does_not_mangle_the_url(url: str, shown: str) -> None:
    """A one-letter password is hidden where it is, not wherever its letter occurs (it used
    to turn https://u:p@h/ into htt***s://u:***@h/)."""
    assert parse_target(url).display.startswith(shown)


def test_password_outside_the_userinfo_is_still_hidden() -> None:
    """The twin: a password the URL holds elsewhere than its userinfo (set from the
    environment, as password_env does) is still replaced wherever it appears."""
    import dataclasses

    target = dataclasses.replace(parse_target("https://h/x-Pw0rd"), password="x-Pw0rd")
    assert target.display == "https://h/***"


@pytest.mark.parametrize(
    "target",
    [
        f"postgresql://db.example/app?sslmode=require&password={SECRET}",
        f"postgresql://db.example/app?sslpassword={SECRET}&sslmode=require",
        f"host=db.example sslpassword={SECRET} sslmode=require",
    ],
)
def test_libpq_secret_parameters_are_hidden(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """libpq's password (a URI query parameter) and sslpassword (the client key's passphrase)
    are secrets: `targets` shows them as ***."""
    code, said = run(["targets", target], capsys)
    assert code == 0
    assert "password=***" in said
    assert_hidden(said)


def test_other_libpq_parameters_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    """The twin: sslmode and sslrootcert are no secrets and are shown as given."""
    code, said = run(["targets", "postgresql://db/app?sslmode=verify-ca&sslrootcert=r.pem"], capsys)
    assert code == 0
    assert "postgresql://db/app?sslmode=verify-ca&sslrootcert=r.pem" in said


@pytest.mark.parametrize("fmt", FORMATS)
def test_sslpassword_never_in_any_format(
    fmt: str, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real login with sslpassword set: no format, transcript included, shows it."""
    port = urlsplit(lab.url("pg-login")).port
    url = (
        f"postgresql://probe:s3cret-pw@localhost:{port}/postgres"
        f"?sslmode=verify-full&sslpassword={quote(SECRET, safe='')}"
    )
    argv = ["check", "-vv", "--timeout", "5", "--ca-file", str(lab.ca_file), "--format", fmt]
    _, said = run([*argv, url], capsys)
    assert "sslpassword=***" in said
    assert_hidden(said)
    assert_hidden(said, "s3cret-pw")


def airflow_db(conn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `targets` says about an airflow.cfg whose sql_alchemy_conn is `conn`."""
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(f"[database]\nsql_alchemy_conn = {conn}\n")
    code, said = run(["targets", "--airflow-cfg", str(cfg), "https://h/"], capsys)
    assert code == 0
    return said


@pytest.mark.parametrize(
    "conn",
    ["host=db user=airflow password=Hunter2x", "airflow:Hunter2x@db/airflow"],
)
def test_sql_alchemy_conn_that_is_no_url_is_not_echoed(
    conn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sql_alchemy_conn written as a keyword string or without a scheme is noted as "not a
    database URL", not quoted as if its text were a database type."""
    said = airflow_db(conn, tmp_path, capsys)
    assert "sql_alchemy_conn: not a database URL, not probed" in said
    assert_hidden(said, "Hunter2x")


def test_sql_alchemy_conn_of_another_database_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a MySQL URL is named as a mysql database, its password still hidden."""
    said = airflow_db("mysql://airflow:Hunter2x@db/airflow", tmp_path, capsys)
    assert "a mysql database, not probed" in said
    assert_hidden(said, "Hunter2x")


def connection(fields: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `targets` says about an export holding one postgres connection with `fields`."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"db": {"conn_type": "postgres", **fields}}))
    return run(["targets", "--airflow-connections", str(path)], capsys)[1]


def test_credentials_in_a_connection_host_are_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A connection whose host field holds user:password@host is refused without the password."""
    said = connection({"host": "u:Hunter2x@db"}, tmp_path, capsys)
    assert "host '***@db' is not a host name" in said
    assert_hidden(said, "Hunter2x")


def test_connection_password_field_is_hidden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: the same password in its own field makes a target shown with ***."""
    said = connection({"host": "db", "login": "u", "password": "Hunter2x"}, tmp_path, capsys)
    assert "postgresql://u:***@db/" in said
    assert_hidden(said, "Hunter2x")


def test_usage_error_for_keyword_string_hides_sslpassword() -> None:
    """An unparseable keyword string is hidden from its first password keyword on."""
    with pytest.raises(UsageError) as caught:
        parse_target(f"host=db sslpassword='{SECRET}")
    assert_hidden(str(caught.value))
