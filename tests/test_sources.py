"""Targets from tlsprobe.toml, airflow.cfg, the Airflow environment and connection exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tlsprobe.cli import main
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.model import MinTls
from tlsprobe.sources import PolicyDefaults, airflow, config, connections
from tlsprobe.targets.client_tls import Encrypts

FIXTURES = Path(__file__).parent.parent / "fixtures"
AIRFLOW = FIXTURES / "airflow"
BROKEN = FIXTURES / "broken"
SECRETS = ("securepassword", "emailpassword", "json-secret-pw", "json-smtp-pw", "yaml-secret-pw")


def by_name(found: object) -> dict[str, object]:
    return {t.name: t for t in found.targets}  # type: ignore[attr-defined]


def test_seed_file_names_three_connections() -> None:
    """The seed's airflow.cfg as Airflow 3 reads it: the metadata DB, the HTTPS API server, the
    workers' plain-HTTP execution API, and core email on Airflow's defaults (its [email] smtp_*
    keys are never read), with a warning for each ignored key."""
    found = airflow.read(AIRFLOW / "seed-airflow.cfg", {})
    targets = {t.name: t for t in found.targets}
    assert list(targets) == ["metadata-db", "api-server", "execution-api", "smtp"]
    db, web, smtp = targets["metadata-db"], targets["api-server"], targets["smtp"]
    assert (db.protocol, db.host, db.port, db.user) == (
        "postgresql",
        "dbserver.example.com",
        5432,
        "airflow_user",
    )
    assert db.source == "seed-airflow.cfg [core] sql_alchemy_conn"
    assert web.display == "https://localhost:8080/"
    assert web.source == "seed-airflow.cfg [webserver] web_server_ssl_cert"
    assert targets["execution-api"].display == "http://localhost:8080/execution/"
    assert (smtp.protocol, smtp.host, smtp.port) == ("smtp", "localhost", 25)
    assert (smtp.user, smtp.password) == (None, None)
    assert smtp.client is not None
    assert smtp.client.encrypts is Encrypts.YES
    ignored = [w for w in found.warnings if "never read by Airflow 3" in w]
    assert len(ignored) == 6
    assert sum("plaintext password" in w for w in found.warnings) == 2
    assert sum("deprecated since Airflow 3.0" in w for w in found.warnings) == 3


def test_airflow2_plaintext_settings_are_caught() -> None:
    """An Airflow 2 file with no certificate and SMTP without TLS: client.encryption will fail."""
    found = airflow.read(AIRFLOW / "airflow2.cfg", {})
    targets = {t.name: t for t in found.targets}
    web, smtp = targets["api-server"], targets["smtp"]
    assert web.protocol == "http"
    assert web.client is not None
    assert web.client.encrypts is Encrypts.NO
    assert smtp.client is not None
    assert smtp.client.encrypts is Encrypts.NO
    assert dict(targets["metadata-db"].params).get("sslmode") == "disable"
    assert targets["metadata-db"].password == "pa%ss"  # "%%" is Airflow's escape for "%"


def test_airflow3_secret_and_api_section() -> None:
    """Airflow 3: a *_secret DB URL is reported, not read; the API server is probed where it
    listens (no ssl_cert: http), base_url leads the workers; smtp_ssl with smtp_starttls at its
    default True is a client that cannot connect; smtp_user is never read."""
    found = airflow.read(AIRFLOW / "airflow3.cfg", {})
    targets = {t.name: t for t in found.targets}
    assert "metadata-db" not in targets
    assert any("sql_alchemy_conn_secret" in n and "secrets backend" in n for n in found.notes)
    assert targets["api-server"].display == "http://localhost:8080/"
    assert targets["execution-api"].display == "https://airflow.example.com/execution/"
    smtp = targets["smtp"]
    assert (smtp.protocol, smtp.port, smtp.user, smtp.password) == ("smtps", 465, None, None)
    assert smtp.client is not None
    assert smtp.client.broken
    assert found.warnings == [
        "airflow3.cfg [smtp] smtp_user: never read by Airflow 3; Airflow 3 takes the login from "
        "connection smtp_default ([email] email_conn_id): put it there (AIRFLOW_CONN_SMTP_DEFAULT "
        "or a secrets backend)"
    ]


def test_environment_overrides_the_file() -> None:
    """AIRFLOW__SECTION__KEY wins over airflow.cfg, as in Airflow, and the source says so."""
    env = {"AIRFLOW__SMTP__SMTP_HOST": "relay.example.net", "AIRFLOW__SMTP__SMTP_SSL": "true"}
    smtp = by_name(airflow.read(AIRFLOW / "seed-airflow.cfg", env))["smtp"]
    assert (smtp.host, smtp.protocol, smtp.source) == (  # type: ignore[attr-defined]
        "relay.example.net",
        "smtps",
        "AIRFLOW__SMTP__SMTP_HOST",
    )


def test_cmd_runs_only_when_allowed(tmp_path: Path) -> None:
    """A *_cmd value is reported and not run by default, and run with --allow-cmd."""
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text("[database]\nsql_alchemy_conn_cmd = echo postgresql://u@db.example:5433/x\n")
    quiet = airflow.read(cfg, {})
    assert "metadata-db" not in by_name(quiet)
    assert any("not run (pass --allow-cmd" in note for note in quiet.notes)
    db = by_name(airflow.read(cfg, {}, allow_cmd=True))["metadata-db"]
    assert (db.host, db.port) == ("db.example", 5433)  # type: ignore[attr-defined]


def test_airflow_conn_variables_uri_and_json() -> None:
    """AIRFLOW_CONN_* in URI and JSON form become targets; other types are listed as skipped."""
    env = {
        "AIRFLOW_CONN_WAREHOUSE": "postgres://etl:pw1@wh.example:5432/dw?sslmode=verify-ca",
        "AIRFLOW_CONN_ALERTS": json.dumps(
            {
                "conn_type": "smtp",
                "host": "smtp.example",
                "port": 587,
                "login": "a@b.c",
                "password": "pw2",
                "extra": {"disable_ssl": True},
            }
        ),
        "AIRFLOW_CONN_S3": "postgres://?sslmode=require",
        "AIRFLOW_CONN_BUCKET": "aws://key:secret@s3.example/",
    }
    found = connections.from_environment(env)
    targets = {t.name: t for t in found.targets}
    assert set(targets) == {"warehouse", "alerts"}
    assert dict(targets["warehouse"].params).get("sslmode") == "verify-ca"
    alerts = targets["alerts"]
    assert (alerts.protocol, alerts.user, alerts.password) == ("smtp", "a@b.c", "pw2")
    assert any("has no host" in n for n in found.notes)
    assert any("bucket is of type aws: not probed" in n for n in found.notes)


def test_an_empty_connection_variable_is_a_note_not_an_error() -> None:
    """AIRFLOW_CONN_X="" is skipped with a note, as Airflow skips it; the one beside it that is
    set is probed (tests_airflow/test_connection_lookup.py asks real Airflow)."""
    env = {"AIRFLOW_CONN_EMPTY": "", "AIRFLOW_CONN_DB": "postgres://db.example/app"}
    found = connections.from_environment(env)
    assert [t.name for t in found.targets] == ["db"]
    assert found.notes == ["AIRFLOW_CONN_EMPTY is empty: Airflow ignores it, and so does tlsprobe"]


def test_an_empty_variable_is_not_the_connection_core_email_logs_in_with() -> None:
    """find_connection (core email's email_conn_id) skips an empty AIRFLOW_CONN_SMTP_DEFAULT as
    Airflow does; a set one is used."""
    assert (
        connections.find_connection("smtp_default", {"AIRFLOW_CONN_SMTP_DEFAULT": ""}, None) is None
    )
    found = connections.find_connection(
        "smtp_default", {"AIRFLOW_CONN_SMTP_DEFAULT": "smtp://u:p@mx.example:587"}, None
    )
    assert found is not None
    assert found.host == "mx.example"


def test_only_what_could_be_a_secret_is_hidden_from_an_extra() -> None:
    """A value under a secret-looking key is hidden when it could be a secret (6 characters or
    more, not a number); "1" under token_ttl is not, or every "1" of the result would go."""
    extra = {"token_ttl": "1", "auth_type": "basic", "api_key": "k-29fQ7x", "token": "3600"}
    assert list(connections.secret_values(extra)) == ["k-29fQ7x"]
    value = json.dumps({"conn_type": "http", "host": "web.example", "port": 1, "extra": extra})
    (target,) = connections.from_environment({"AIRFLOW_CONN_WEB": value}).targets
    assert "k-29fQ7x" in target.hidden
    assert "1" not in target.hidden


def test_smtp_connection_defaults_to_implicit_tls() -> None:
    """The SMTP provider speaks implicit TLS unless disable_ssl, STARTTLS unless disable_tls."""
    cases = {
        "{}": ("smtps", Encrypts.YES),
        '{"disable_ssl": true}': ("smtp", Encrypts.YES),
        '{"disable_ssl": true, "disable_tls": true}': ("smtp", Encrypts.NO),
    }
    for extra, (scheme, encrypts) in cases.items():
        value = json.dumps({"conn_type": "smtp", "host": "mx.example", "extra": extra})
        (target,) = connections.from_environment({"AIRFLOW_CONN_M": value}).targets
        assert target.protocol == scheme
        assert target.client is not None
        assert target.client.encrypts is encrypts


@pytest.mark.parametrize("name", ["connections.json", "connections.yaml", "connections.env"])
def test_connection_exports(name: str) -> None:
    """Every export format yields the reporting database with its sslmode."""
    found = connections.from_file(AIRFLOW / name)
    db = {t.name: t for t in found.targets}["reporting_db"]
    assert (db.host, db.port, db.user) == ("reports.example.com", 5432, "reader")
    assert dict(db.params).get("sslmode") in ("verify-full", "require", "prefer")


def test_json_export_maps_http_and_skips_aws() -> None:
    """An http connection whose host carries https:// is probed over https; aws is a note."""
    found = connections.from_file(AIRFLOW / "connections.json")
    targets = {t.name: t for t in found.targets}
    assert targets["partner_api"].display == "https://api.partner.example/"
    assert targets["smtp_default"].protocol == "smtp"
    assert any("aws_default is of type aws" in n for n in found.notes)


def test_toml_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """tlsprobe.toml gives defaults and named targets with their options."""
    found = config.load(FIXTURES / "config" / "tlsprobe.toml", {"TLSPROBE_SMTP_PASSWORD": "pw"})
    assert found.defaults == PolicyDefaults(
        timeout=5.0, min_tls=MinTls.TLS12, expiry_warn_days=30, concurrency=20
    )
    targets = {t.name: t for t in found.targets}
    api = targets["api-behind-lb"]
    assert api.connect_host == "10.0.0.7"
    assert 204 in api.expect_status[0]
    assert 304 in api.expect_status[1]
    assert targets["mail"].password == "pw"
    assert found.warnings == []


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (BROKEN / "wrong-type.toml", "defaults.timeout: expected a positive number"),
        (BROKEN / "unknown-key.toml", "defaults.retries: unknown key"),
        (BROKEN / "bad-syntax.toml", "not valid TOML"),
        (BROKEN / "malformed-url.toml", "targets[0]"),
        (FIXTURES / "missing.toml", "no such file"),
        (FIXTURES / "config", "cannot read it"),
    ],
)
def test_broken_toml_names_file_and_key(path: Path, message: str) -> None:
    """Each broken config file is a UsageError naming the file and the problem."""
    with pytest.raises(UsageError) as caught:
        config.load(path, {})
    assert str(path) in str(caught.value) or path.name in str(caught.value)
    assert message in str(caught.value)


def test_password_env_must_be_set() -> None:
    """A password_env naming an unset variable is an error, not an empty password."""
    with pytest.raises(UsageError, match="TLSPROBE_SMTP_PASSWORD is not set"):
        config.load(FIXTURES / "config" / "tlsprobe.toml", {})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--airflow-cfg", str(BROKEN / "not-ini.cfg")], "not a valid airflow.cfg"),
        (["--airflow-cfg", str(BROKEN / "malformed-uri.cfg")], "sql_alchemy_conn"),
        (["--airflow-cfg", "/nonexistent/airflow.cfg"], "no such file"),
        (
            ["--airflow-connections", str(BROKEN / "connections.json")],
            "connections.json: not valid JSON (",
        ),
        (["-c", str(BROKEN / "unknown-key.toml")], "unknown key"),
    ],
)
def test_broken_sources_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken source stops the run before any probe: exit 2, one stderr line naming it."""
    assert main(["check", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_targets_command_lists_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    """`tlsprobe targets` lists every target and source, and never a password."""
    code = main(
        [
            "targets",
            "--airflow-cfg",
            str(AIRFLOW / "seed-airflow.cfg"),
            "--airflow-connections",
            str(AIRFLOW / "connections.json"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    for expected in ("metadata-db", "api-server", "smtp", "reporting_db", "partner_api"):
        assert expected in captured.out
    assert "airflow.cfg [smtp] (defaults)" in captured.out
    for secret in SECRETS:
        assert secret not in captured.out + captured.err


def test_airflow_cfg_against_the_lab(lab: Lab, tmp_path: Path) -> None:
    """An airflow.cfg whose API server listens on a lab port: with ssl_cert and ssl_key (the
    deprecated [webserver] names) https passes; with an empty [api] ssl_cert, which overrides
    them, the API server speaks plain HTTP: client.encryption fails, and the run exits 1."""
    cfg = tmp_path / "airflow.cfg"
    good = lab_port(lab, "https-good")
    plain_port = lab_port(lab, "https-plaintext")
    web = "[webserver]\nweb_server_ssl_cert = /c.pem\nweb_server_ssl_key = /k.pem\n"
    cfg.write_text(
        f"{web}[api]\nhost = localhost\nport = {good}\nbase_url = {lab.url('https-good')}\n"
    )
    out = tmp_path / "good.json"
    argv = ["check", "--ca-file", str(lab.ca_file), "--format", "json", "-o", str(out)]
    assert main([*argv, "--airflow-cfg", str(cfg)]) == 0
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    assert {c["id"]: c["status"] for c in results["api-server"]["checks"]}[
        "client.encryption"
    ] == "pass"
    cfg.write_text(
        f"{web}[api]\nssl_cert =\nssl_key =\nhost = localhost\nport = {plain_port}\n"
        f"base_url = {lab.url('https-good')}\n"
    )
    assert main([*argv, "--airflow-cfg", str(cfg)]) == 1
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    verdicts = {c["id"]: c["status"] for c in results["api-server"]["checks"]}
    assert verdicts == {"connect": "pass", "http.status": "fail", "client.encryption": "fail"}


def lab_port(lab: Lab, name: str) -> str:
    return lab.url(name).rstrip("/").rsplit(":", 1)[1]


def lab_airflow_cfg(lab: Lab, tmp_path: Path, *, starttls: bool) -> Path:
    """An airflow.cfg whose metadata DB, web server and SMTP are the lab's good servers."""
    db = lab.url("pg-login").replace("postgresql://", "postgresql+psycopg2://")
    # verify-full: libpq (so Airflow) needs the root in sslrootcert, not in --ca-file.
    db += ("&" if "?" in db else "?") + f"sslrootcert={lab.ca_file}"
    smtp_port = lab.url("smtp-good").rsplit(":", 1)[1]
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(
        f"[database]\nsql_alchemy_conn = {db}\n\n"
        f"[api]\nhost = localhost\nport = {lab_port(lab, 'https-good')}\nssl_cert = /c.pem\n"
        f"ssl_key = /k.pem\nbase_url = {lab.url('https-good')}\nssl_ca_file = {lab.ca_file}\n\n"
        f"[smtp]\nsmtp_host = localhost\nsmtp_port = {smtp_port}\n"
        f"smtp_starttls = {starttls}\nsmtp_ssl = False\n"
    )
    return cfg


def test_airflow_cfg_probes_all_three_lab_servers(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An airflow.cfg naming the lab's PostgreSQL, HTTPS and SMTP servers: all probed (the API
    server and the execution API on the HTTPS one), the DB login included, every check passing
    when Airflow's processes have the root (SSL_CERT_FILE for email, [api] ssl_ca_file for the
    workers, sslrootcert for the DB), and the password in no output."""
    monkeypatch.setenv("SSL_CERT_FILE", str(lab.ca_file))
    cfg = lab_airflow_cfg(lab, tmp_path, starttls=True)
    out = tmp_path / "report.json"
    argv = ["check", "--ca-file", str(lab.ca_file), "--airflow-cfg", str(cfg)]
    assert main([*argv, "--format", "json", "-o", str(out)]) == 0
    text = out.read_text()
    results = {r["name"]: r for r in json.loads(text)["results"]}
    assert set(results) == {"metadata-db", "api-server", "execution-api", "smtp"}
    for result in results.values():
        assert {c["status"] for c in result["checks"]} <= {"pass", "skip"}, (
            result["name"],
            [c for c in result["checks"] if c["status"] == "warn"],
        )
    assert {c["id"] for c in results["metadata-db"]["checks"]} >= {"pg.login", "client.encryption"}
    assert {c["id"] for c in results["smtp"]["checks"]} >= {"client.encryption"}
    assert "s3cret-pw" not in text


def test_airflow_cfg_email_root_only_in_ca_file_warns(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file while the root is only in --ca-file, not in SSL_CERT_FILE: smtplib in
    Airflow would refuse the chain, so the smtp target's cert.chain warns, naming SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    cfg = lab_airflow_cfg(lab, tmp_path, starttls=True)
    out = tmp_path / "report.json"
    argv = ["check", "--ca-file", str(lab.ca_file), "--airflow-cfg", str(cfg)]
    assert main([*argv, "--format", "json", "-o", str(out)]) == 0
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    chain = next(c for c in results["smtp"]["checks"] if c["id"] == "cert.chain")
    assert chain["status"] == "warn"
    assert "SSL_CERT_FILE" in chain["hint"]
    assert results["smtp"]["trust"]["ca_file_needed"] is True


def test_airflow_cfg_without_starttls_fails_client_encryption(lab: Lab, tmp_path: Path) -> None:
    """The same file with smtp_starttls = False: the server still offers TLS, but Airflow would
    send mail in plaintext, so client.encryption fails and the run exits 1."""
    cfg = lab_airflow_cfg(lab, tmp_path, starttls=False)
    out = tmp_path / "report.json"
    argv = ["check", "--ca-file", str(lab.ca_file), "--airflow-cfg", str(cfg)]
    assert main([*argv, "--format", "json", "-o", str(out)]) == 1
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    smtp = {c["id"]: c["status"] for c in results["smtp"]["checks"]}
    assert smtp["client.encryption"] == "fail"
    assert smtp["smtp.starttls"] == "pass"
    assert results["metadata-db"]["status"] == "pass"


def test_reprs_of_what_sources_read_hold_no_secret() -> None:
    """A Value of airflow.cfg (sql_alchemy_conn with its password) and a Connection (a token
    in its extra) show neither in their repr, should one reach a log or a traceback."""
    from tlsprobe.sources.airflow.config import Value
    from tlsprobe.sources.airflow_conn import Connection

    value = Value("postgresql://u:pw-Zq1@db/airflow", "airflow.cfg [database]", True)
    connection = Connection("web", "http", extra={"Authorization": "Bearer tok-Zq2"})
    assert "pw-Zq1" not in repr(value)
    assert "tok-Zq2" not in repr(connection)
    assert repr(value).startswith("Value(origin='airflow.cfg [database]'")
