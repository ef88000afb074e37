"""airflow.cfg read as Airflow 3.3 reads it: [smtp] only for core email, the login from
email_conn_id, the API server where it listens, the execution API, libpq's root."""

from __future__ import annotations

from pathlib import Path

from tlsprobe.sources import airflow
from tlsprobe.targets import Target
from tlsprobe.targets.client_tls import judge


def targets(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> dict[str, Target]:
    path = tmp_path / "airflow.cfg"
    path.write_text(text)
    return {t.name: t for t in airflow.read(path, env or {}).targets}


def test_smtp_ssl_with_default_starttls_is_broken(tmp_path: Path) -> None:
    """smtp_ssl = True with smtp_starttls at its default: client.encryption fails, hinting
    in airflow.cfg's terms."""
    smtp = targets(tmp_path, "[smtp]\nsmtp_host = mail\nsmtp_ssl = True\n")["smtp"]
    assert smtp.client is not None
    assert smtp.client.broken
    check = judge(smtp.client)
    assert check.status.value == "fail"
    assert check.hint == (
        "set smtp_starttls = False in [smtp] (AIRFLOW__SMTP__SMTP_STARTTLS=False)"
    )


def test_smtp_ssl_without_starttls_is_not_broken(tmp_path: Path) -> None:
    """The twin: smtp_starttls = False with smtp_ssl passes client.encryption."""
    text = "[smtp]\nsmtp_host = mail\nsmtp_ssl = True\nsmtp_starttls = False\n"
    smtp = targets(tmp_path, text)["smtp"]
    assert smtp.client is not None
    assert judge(smtp.client).status.value == "pass"
    assert (smtp.protocol, smtp.port) == ("smtps", 25)


def test_email_smtp_keys_are_ignored_and_defaults_apply(tmp_path: Path) -> None:
    """[email] smtp_host is never read: Airflow sends to localhost:25 with STARTTLS."""
    smtp = targets(tmp_path, "[email]\nsmtp_host = relay.example\nsmtp_port = 587\n")["smtp"]
    assert (smtp.protocol, smtp.host, smtp.port) == ("smtp", "localhost", 25)


def test_no_email_settings_no_smtp_target(tmp_path: Path) -> None:
    """The twin: nothing about email at all: core email is not probed."""
    assert "smtp" not in targets(tmp_path, "[core]\n")


def test_login_comes_from_email_conn_id(tmp_path: Path) -> None:
    """[email] email_conn_id names the connection whose login core email uses; [smtp]
    smtp_user is never read."""
    text = "[smtp]\nsmtp_host = mail\nsmtp_user = ignored\n[email]\nemail_conn_id = alerts\n"
    env = {"AIRFLOW_CONN_ALERTS": "smtp://bob:pw@elsewhere:1"}
    smtp = targets(tmp_path, text, env)["smtp"]
    assert (smtp.user, smtp.password, smtp.host) == ("bob", "pw", "mail")
    assert targets(tmp_path, text)["smtp"].user is None


def test_api_server_defaults_and_execution_url(tmp_path: Path) -> None:
    """No [api] settings: the API server at http://localhost:8080/ fails client.encryption,
    and the workers use http://localhost:8080/execution/."""
    found = targets(tmp_path, "[core]\n")
    api, execution = found["api-server"], found["execution-api"]
    assert api.display == "http://localhost:8080/"
    assert api.client is not None
    assert judge(api.client).status.value == "fail"
    assert execution.display == "http://localhost:8080/execution/"


def test_empty_api_ssl_cert_overrides_webserver(tmp_path: Path) -> None:
    """An explicitly empty [api] ssl_cert and ssl_key override [webserver]'s: plain HTTP; the
    [webserver] ones alone make it https on [api] port."""
    web = "[webserver]\nweb_server_ssl_cert = /c\nweb_server_ssl_key = /k\n"
    assert targets(tmp_path, web)["api-server"].protocol == "https"
    empty = web + "[api]\nssl_cert =\nssl_key =\nport = 9090\n"
    assert targets(tmp_path, empty)["api-server"].display == "http://localhost:9090/"


def test_execution_url_explicit_and_deprecated(tmp_path: Path) -> None:
    """[workers] execution_api_server_url (deprecated) is read as [core]'s."""
    text = "[workers]\nexecution_api_server_url = https://api.example/execution/\n"
    assert targets(tmp_path, text)["execution-api"].display == "https://api.example/execution/"


def test_connect_args_unknown_without_allow_cmd(tmp_path: Path) -> None:
    """sql_alchemy_connect_args is user code: not imported without --allow-cmd, so
    client.encryption warns instead of passing."""
    text = (
        "[database]\nsql_alchemy_conn = postgresql://u@db/x?sslmode=verify-full&sslrootcert=/r\n"
        "sql_alchemy_connect_args = mymod.ARGS\n"
    )
    db = targets(tmp_path, text)["metadata-db"]
    assert db.client is not None
    assert judge(db.client).status.value == "warn"


def imported_db(tmp_path: Path, args: str, url: str) -> Target:
    """The metadata-db target of an airflow.cfg whose sql_alchemy_connect_args names `args`
    (a dict in $AIRFLOW_HOME/config/dbargs.py), read with --allow-cmd."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dbargs.py").write_text(f"ARGS = {args}\n")
    path = tmp_path / "airflow.cfg"
    path.write_text(
        f"[database]\nsql_alchemy_conn = {url}\nsql_alchemy_connect_args = dbargs.ARGS\n"
    )
    found = airflow.read(path, {"AIRFLOW_HOME": str(tmp_path)}, allow_cmd=True)
    (db,) = [t for t in found.targets if t.name == "metadata-db"]
    return db


def test_connect_args_imported_with_allow_cmd(tmp_path: Path) -> None:
    """The twin: with --allow-cmd the dict is imported ($AIRFLOW_HOME/config on the path) and
    its sslmode=disable overrides the URL's: client.encryption fails, the hint on the dict."""
    url = "postgresql://u@db/x?sslmode=verify-full&sslrootcert=/r"
    db = imported_db(tmp_path, '{"sslmode": "disable"}', url)
    assert dict(db.params)["sslmode"] == "disable"
    assert db.client is not None
    verdict = judge(db.client)
    assert verdict.status.value == "fail"
    assert verdict.hint.startswith("[database] sql_alchemy_connect_args sets sslmode, which wins")


def test_connect_args_without_tls_keys_leave_the_url_hint(tmp_path: Path) -> None:
    """The twin of the twin: a dict that sets no TLS keyword leaves the hint on the URL."""
    db = imported_db(tmp_path, '{"connect_timeout": "5"}', "postgresql://u@db/x?sslmode=require")
    assert db.client is not None
    verdict = judge(db.client)
    assert verdict.status.value == "warn"
    assert verdict.hint.startswith("add sslmode=verify-full and sslrootcert=")
