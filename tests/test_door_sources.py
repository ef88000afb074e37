"""The door behind each source: connection exports, AIRFLOW_CONN_* values, tlsprobe.toml,
airflow.cfg and the exporter's /probe. Each bad input is exit 2 (or a 400) with one line, beside
its good twin; and the two source bugs mended here (Airflow's lookup order, IPv6 http hosts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import one_line
from tlsprobe.cli import main
from tlsprobe.exporter import Exporter
from tlsprobe.failures import UsageError
from tlsprobe.model import Policy
from tlsprobe.sources import airflow, config, connections
from tlsprobe.targets.hosts import PORT_RULE

TOO_DEEP = "nested deeper than 32 levels"


def listed(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    """Run `tlsprobe targets argv`: exit 0, and its rows."""
    assert main(["targets", *argv]) == 0
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- ports everywhere ------------------------------------------------------------------------


def test_superscript_port_in_a_connection_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "port": "²" in an export names the file, the connection and the field."""
    text = json.dumps({"db": {"conn_type": "postgres", "host": "h", "port": "²"}})
    line = one_line(["targets", "--airflow-connections", write(tmp_path, "c.json", text)], capsys)
    assert line == f"tlsprobe: c.json: db: port: {PORT_RULE}"


def test_ascii_port_in_a_connection_file_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: "port": "6432" is the port."""
    text = json.dumps({"db": {"conn_type": "postgres", "host": "h", "port": "6432"}})
    rows = listed(["--airflow-connections", write(tmp_path, "c.json", text)], capsys)
    assert rows == [["db", "postgresql://h:6432/", "c.json: db"]]


def test_superscript_port_in_tlsprobe_toml_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A keyword string with port=² as a tlsprobe.toml url names the file and the entry."""
    path = write(tmp_path, "tlsprobe.toml", '[[targets]]\nurl = "host=localhost port=²"\n')
    line = one_line(["targets", "-c", path], capsys)
    assert line == f"tlsprobe: {path}: targets[0].url: 'host=localhost port=²': {PORT_RULE}"


def test_ascii_port_in_tlsprobe_toml_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: port=5432 in the same place."""
    path = write(tmp_path, "tlsprobe.toml", '[[targets]]\nurl = "host=localhost port=5432"\n')
    assert listed(["-c", path], capsys)[0][1] == "host=localhost port=5432"


@pytest.mark.parametrize(("key", "value"), [("smtp_port", "²"), ("smtp_port", "0x19")])
def test_bad_smtp_port_in_airflow_cfg_is_one_line(
    key: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """smtp_port that is no ASCII number names the setting."""
    cfg = write(tmp_path, "airflow.cfg", f"[smtp]\nsmtp_host = mail\n{key} = {value}\n")
    line = one_line(["targets", "--airflow-cfg", cfg], capsys)
    assert line == f"tlsprobe: airflow.cfg [smtp] {key}: {PORT_RULE}"


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    with Exporter([], Policy(timeout=2.0), allow_any=True, listen=("127.0.0.1", 0)) as running:
        yield running


def probe(exporter: Exporter, target: str) -> httpx.Response:
    host, port = exporter.address
    return httpx.get(f"http://{host}:{port}/probe", params={"target": target}, timeout=10)


def test_superscript_port_at_the_exporter_is_a_400(exporter: Exporter) -> None:
    """/probe?target=host=localhost port=² answers 400 with one line (it closed the connection
    with no answer before)."""
    answer = probe(exporter, "host=localhost port=²")
    assert answer.status_code == 400
    assert answer.text == f"bad target: 'host=localhost port=²': {PORT_RULE}\n"


def test_ascii_port_at_the_exporter_is_probed(exporter: Exporter) -> None:
    """The twin: port=1 is probed (and fails, nothing listens there) with a 200."""
    answer = probe(exporter, "host=127.0.0.1 port=1 sslmode=require")
    assert answer.status_code == 200
    shown = "host=127.0.0.1 port=1 sslmode=require"
    labels = f'name="{shown}",protocol="postgresql",target="{shown}"'
    assert f"tlsprobe_success{{{labels}}} 0.0" in answer.text.splitlines()


# --- nesting and size ------------------------------------------------------------------------

DEEP_JSON = "[" * 100_000 + "]" * 100_000
SHALLOW_EXTRA = {"sslmode": "require", "x": {"a": {"b": {"c": [1, [2, [3]]]}}}}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.json", DEEP_JSON),
        ("c.json", json.dumps({"db": {"conn_type": "postgres", "host": "h", "extra": DEEP_JSON}})),
        ("c.yaml", "[" * 100_000 + "]" * 100_000),
        ("c.yaml", "".join(f"{'  ' * i}k{i}:\n" for i in range(40)) + "  " * 40 + "v\n"),
        ("c.env", "db={" + '"a":{' * 50_000 + "\n"),
    ],
)
def test_deep_nesting_in_a_connections_export_is_one_line(
    name: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON, YAML (flow and block) and JSON inside extra or an .env line, nested past 32
    levels, are refused in one line (a RecursionError before)."""
    line = one_line(["targets", "--airflow-connections", write(tmp_path, name, text)], capsys)
    assert line.endswith(TOO_DEEP)
    assert line.startswith(f"tlsprobe: {tmp_path / name}: ") or line.startswith("tlsprobe: c.")


def test_moderate_nesting_in_extra_is_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: an extra nested six levels deep is read (and its sslmode used)."""
    text = json.dumps({"db": {"conn_type": "postgres", "host": "h", "extra": SHALLOW_EXTRA}})
    rows = listed(["--airflow-connections", write(tmp_path, "c.json", text)], capsys)
    assert rows[0][1] == "postgresql://h/?sslmode=require"


def test_yaml_aliases_that_expand_to_billions_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nine levels of ten aliases each (a billion values, a few lines) are refused quickly."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = write(tmp_path, "c.yaml", "\n".join(lines) + "\n")
    line = one_line(["targets", "--airflow-connections", path], capsys)
    assert line.endswith("more than 100000 values (YAML aliases repeated too often?)")


def test_yaml_aliases_used_a_few_times_are_taken(tmp_path: Path) -> None:
    """The twin: an anchor shared by two connections is read."""
    text = (
        "base: &base {conn_type: postgres, host: db, port: 5432}\n"
        "one: *base\n"
        "two: {<<: *base, host: db2}\n"
    )
    found = connections.from_file(Path(write(tmp_path, "c.yaml", text)))
    assert [t.host for t in found.targets] == ["db", "db", "db2"]


@pytest.mark.parametrize(
    "toml",
    [
        "x = " + "[" * 10_000 + "]" * 10_000 + "\n",
        "x = " + "{a = " * 50 + "1" + "}" * 50 + "\n",
        "x" + ".a" * 1000 + " = 1\n",
    ],
)
def test_deep_nesting_in_tlsprobe_toml_is_one_line(
    toml: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Arrays, inline tables or dotted keys nested past 32 levels are refused in one line."""
    path = write(tmp_path, "tlsprobe.toml", toml)
    assert one_line(["targets", "-c", path], capsys) == f"tlsprobe: {path}: {TOO_DEEP}"


def test_deep_json_in_an_airflow_conn_variable_is_refused() -> None:
    """An AIRFLOW_CONN_* value of deep JSON is refused naming the variable."""
    with pytest.raises(UsageError) as caught:
        connections.from_environment({"AIRFLOW_CONN_X": "{" + '"a":{' * 50_000})
    assert str(caught.value) == f"AIRFLOW_CONN_X: {TOO_DEEP}"


def test_oversized_export_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 3 MiB export is refused by size, before any parser sees it."""
    path = write(tmp_path, "c.json", '{"a": "' + "x" * 3 * 2**20 + '"}')
    line = one_line(["targets", "--airflow-connections", path], capsys)
    assert line == f"tlsprobe: {path}: larger than 2 MiB (Airflow connections export)"


# --- field types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("login", 42, "int"),
        ("password", ["pw"], "list"),
        ("host", True, "bool"),
        ("schema", 2024, "int"),
        ("conn_type", {"a": 1}, "dict"),
    ],
)
def test_non_string_field_in_a_connection_is_one_line(
    field: str, value: object, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """login, password, host, schema and conn_type must be strings; the field is named."""
    entry = {"conn_type": "postgres", "host": "h", field: value}
    path = write(tmp_path, "c.json", json.dumps({"db": entry}))
    line = one_line(["targets", "--airflow-connections", path], capsys)
    assert line == f"tlsprobe: c.json: db: {field}: expected a string, got {kind} (quote it)"


def test_string_fields_in_a_connection_are_taken(tmp_path: Path) -> None:
    """The twin: the same fields as strings make a target."""
    entry = {"conn_type": "postgres", "host": "h", "login": "42", "password": "pw"}
    entry["schema"] = "2024"
    found = connections.from_file(Path(write(tmp_path, "c.json", json.dumps({"db": entry}))))
    (target,) = found.targets
    assert (target.user, target.password, target.path) == ("42", "pw", "/2024")


# --- Airflow's lookup order ------------------------------------------------------------------

DB = "postgresql://u@plain.example/x"


def db_host(cfg: str, env: dict[str, str], *, allow_cmd: bool = False) -> str | None:
    found = airflow.read(Path(cfg), env, allow_cmd=allow_cmd)
    return next((t.host for t in found.targets if t.name == "metadata-db"), None)


def test_plain_key_wins_over_the_files_cmd(tmp_path: Path) -> None:
    """sql_alchemy_conn and sql_alchemy_conn_cmd both in the file: Airflow reads the plain key
    first (the database was dropped without --allow-cmd before)."""
    cfg = write(
        tmp_path,
        "airflow.cfg",
        f"[database]\nsql_alchemy_conn = {DB}\nsql_alchemy_conn_cmd = echo postgresql://cmd/x\n",
    )
    assert db_host(cfg, {}) == "plain.example"
    assert db_host(cfg, {}, allow_cmd=True) == "plain.example"


def test_the_files_cmd_alone_is_run_only_when_allowed(tmp_path: Path) -> None:
    """The twin: with only the _cmd, it is noted, or run with --allow-cmd."""
    cfg = write(
        tmp_path, "airflow.cfg", "[database]\nsql_alchemy_conn_cmd = echo postgresql://cmd/x\n"
    )
    found = airflow.read(Path(cfg), {})
    assert [t.name for t in found.targets if t.name == "metadata-db"] == []
    assert found.notes[0] == (
        "airflow.cfg [database] sql_alchemy_conn_cmd: a command, not run "
        "(pass --allow-cmd to run it)"
    )
    assert db_host(cfg, {}, allow_cmd=True) == "cmd"


def test_environment_cmd_wins_over_the_files_plain_key(tmp_path: Path) -> None:
    """AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD comes before the file, as in Airflow."""
    cfg = write(tmp_path, "airflow.cfg", f"[database]\nsql_alchemy_conn = {DB}\n")
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": "echo postgresql://envcmd/x"}
    assert db_host(cfg, env, allow_cmd=True) == "envcmd"
    assert db_host(cfg, env) is None  # the command would decide, and it was not run


def test_environment_plain_wins_over_the_environment_cmd(tmp_path: Path) -> None:
    """The variable itself comes before its _CMD."""
    cfg = write(tmp_path, "airflow.cfg", "[core]\n")
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://env/x",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": "echo postgresql://envcmd/x",
    }
    assert db_host(cfg, env, allow_cmd=True) == "env"


def test_deprecated_section_in_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    """AIRFLOW__CORE__SQL_ALCHEMY_CONN (the old section) still comes before the file's
    [database] key: Airflow reads every environment variant first."""
    cfg = write(tmp_path, "airflow.cfg", f"[database]\nsql_alchemy_conn = {DB}\n")
    assert db_host(cfg, {"AIRFLOW__CORE__SQL_ALCHEMY_CONN": "postgresql://old/x"}) == "old"


def test_cmd_of_an_option_airflow_does_not_run_is_ignored(tmp_path: Path) -> None:
    """smtp_host_cmd is ignored (Airflow runs _cmd only for sensitive options): smtp_host is
    read, and no note speaks of a command."""
    cfg = write(
        tmp_path, "airflow.cfg", "[smtp]\nsmtp_host = mail.example\nsmtp_host_cmd = echo other\n"
    )
    found = airflow.read(Path(cfg), {}, allow_cmd=True)
    assert [t.host for t in found.targets if t.name == "smtp"] == ["mail.example"]
    assert not any("command" in note for note in found.notes)


# --- hosts in sources ------------------------------------------------------------------------


def test_https_connection_to_an_ipv6_address_is_bracketed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An http connection with schema https, host ::1 and a port is https://[::1]:8443/ (it
    was a port error: host:port without brackets)."""
    text = json.dumps(
        {"web": {"conn_type": "http", "schema": "https", "host": "::1", "port": 8443}}
    )
    rows = listed(["--airflow-connections", write(tmp_path, "c.json", text)], capsys)
    assert rows == [["web", "https://[::1]:8443/", "c.json: web"]]


def test_https_connection_to_a_name_is_unbracketed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a host name with a port, and a host written as a URL with a path."""
    text = json.dumps(
        {
            "web": {"conn_type": "http", "schema": "https", "host": "api.example", "port": 8443},
            "api": {"conn_type": "http", "host": "https://api.example/v1"},
        }
    )
    rows = listed(["--airflow-connections", write(tmp_path, "c.json", text)], capsys)
    assert [row[1] for row in rows] == ["https://api.example:8443/", "https://api.example/v1"]


def test_smtp_host_written_as_a_url_is_refused_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """smtp_host = smtp://u:S3CRET@mail:25 is refused (Airflow hands smtp_host to smtplib as a
    host), the password hidden."""
    cfg = write(tmp_path, "airflow.cfg", "[smtp]\nsmtp_host = smtp://u:S3CRET@mail:25\n")
    line = one_line(["targets", "--airflow-cfg", cfg], capsys)
    assert line == (
        "tlsprobe: airflow.cfg [smtp] smtp_host: 'smtp://u:***@mail:25' is a URL: smtp_host is "
        "a host name or address (Airflow passes it to smtplib as a host; the port has a key of "
        "its own)"
    )


def test_smtp_host_that_is_a_host_is_taken(tmp_path: Path) -> None:
    """The twin: smtp_host = mail, the login from connection smtp_default (Airflow 3)."""
    cfg = write(tmp_path, "airflow.cfg", "[smtp]\nsmtp_host = mail\nsmtp_port = 25\n")
    env = {"AIRFLOW_CONN_SMTP_DEFAULT": "smtp://u:S3CRET@elsewhere:1"}
    (smtp,) = [t for t in airflow.read(Path(cfg), env).targets if t.name == "smtp"]
    assert (smtp.host, smtp.port, smtp.password, smtp.display) == (
        "mail",
        25,
        "S3CRET",
        "smtp://u:***@mail:25",
    )


# --- client_key_password_env -----------------------------------------------------------------

KEYED = '[[targets]]\nurl = "https://h/"\nclient_key = "k.pem"\nclient_key_password_env = "KP"\n'


def test_client_key_password_comes_from_the_environment(tmp_path: Path) -> None:
    """client_key_password_env fills Target.client_key_password, shown nowhere."""
    (target,) = config.load(Path(write(tmp_path, "tlsprobe.toml", KEYED)), {"KP": "k3y-pw"}).targets
    assert target.client_key_password == "k3y-pw"
    assert "k3y-pw" not in repr(target) + target.display


@pytest.mark.parametrize(
    ("env", "value", "says"),
    [
        ({}, '"KP"', "targets[0].client_key_password_env: the environment variable KP is not set"),
        (
            {"KP": "x"},
            "5",
            "targets[0].client_key_password_env: expected a non-empty string, got 5",
        ),
        ({"KP": "x"}, '""', "targets[0].client_key_password_env: expected a non-empty string"),
    ],
)
def test_client_key_password_env_is_checked_like_password_env(
    env: dict[str, str], value: str, says: str, tmp_path: Path
) -> None:
    """An unset variable, a number or an empty name is a UsageError naming the key."""
    path = Path(write(tmp_path, "tlsprobe.toml", KEYED.replace('"KP"', value)))
    with pytest.raises(UsageError, match=says.replace("[", r"\[").replace("]", r"\]")):
        config.load(path, env)


def test_control_character_in_smtp_user_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ESC in the login of connection smtp_default, which core email logs in with, is
    refused naming the connection (it would reach a transcript)."""
    cfg = write(tmp_path, "airflow.cfg", "[smtp]\nsmtp_host = mail\n")
    text = '{"smtp_default": {"conn_type": "smtp", "login": "a\\u001bb", "password": "p"}}'
    conns = write(tmp_path, "c.json", text)
    line = one_line(["targets", "--airflow-cfg", cfg, "--airflow-connections", conns], capsys)
    assert line == (
        "tlsprobe: connection smtp_default ([email] email_conn_id): login, password: "
        "user: contains a control character"
    )
