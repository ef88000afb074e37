"""A distinct password in each place a password can be written, well or badly: none shows in
Target.display, Target.label, repr(Target) or a UsageError's message, in any of its forms (as
given, percent-decoded, percent-encoded), nor any part of it (its first and last letters)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.sources import airflow, config, connections
from tlsprobe.targets import Target, parse_target


def secret(case: str) -> str:
    """A password with the characters URLs and keyword strings treat specially; its ends are
    letters no other text in these tests holds (Zk, Qx), to catch a part of it showing."""
    return f"Zk{case}q/#?@%&= 'w\\Qx{case}z"


def ends(password: str) -> tuple[str, str]:
    return password[:4], password[-4:]


def forms(password: str) -> set[str]:
    return {password, quote(password, safe=""), quote(password, safe="@:/"), *ends(password)}


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[str, Path], list[Target]]  # (password, tmp_path) -> targets, or UsageError


def url(template: str) -> Callable[[str, Path], list[Target]]:
    """A target written with `template`, {enc} the password percent-encoded, {raw} as is."""
    return lambda pw, _: [parse_target(template.format(enc=quote(pw, safe=""), raw=pw))]


def keywords(template: str) -> Callable[[str, Path], list[Target]]:
    """A keyword string; {q} the password quoted as libpq reads quotes, {raw} as is."""

    def make(pw: str, _: Path) -> list[Target]:
        quoted = "'" + pw.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return [parse_target(template.format(q=quoted, raw=pw))]

    return make


def toml(body: str, env_name: str = "") -> Callable[[str, Path], list[Target]]:
    def make(pw: str, tmp: Path) -> list[Target]:
        path = tmp / "tlsprobe.toml"
        path.write_text(body.format(enc=quote(pw, safe=""), json=json.dumps(pw)))
        return config.load(path, {env_name: pw} if env_name else {}).targets

    return make


def airflow_cfg(
    body: str, env: dict[str, str] | None = None
) -> Callable[[str, Path], list[Target]]:
    def make(pw: str, tmp: Path) -> list[Target]:
        path = tmp / "airflow.cfg"
        path.write_text(body.format(enc=quote(pw, safe=""), cfg=pw.replace("%", "%%")))
        environment = {k: v.format(enc=quote(pw, safe=""), raw=pw) for k, v in (env or {}).items()}
        return airflow.read(path, environment).targets

    return make


def export(name: str, body: Callable[[str], str]) -> Callable[[str, Path], list[Target]]:
    def make(pw: str, tmp: Path) -> list[Target]:
        path = tmp / name
        path.write_text(body(pw))
        return connections.from_file(path).targets

    return make


def conn_env(value: Callable[[str], str]) -> Callable[[str, Path], list[Target]]:
    return lambda pw, _: connections.from_environment({"AIRFLOW_CONN_X": value(pw)}).targets


def yaml_text(pw: str) -> str:
    return f"db:\n  conn_type: postgres\n  host: db\n  login: u\n  password: {json.dumps(pw)}\n"


CASES = [
    Case("https userinfo", url("https://u:{enc}@h/")),
    Case("smtp userinfo", url("smtp://u:{enc}@mail:587")),
    Case("smtps userinfo, user with @", url("smtps://a@b.example:{enc}@mail")),
    Case("postgresql userinfo", url("postgresql://u:{enc}@db/x")),
    Case("sqlalchemy userinfo", url("postgresql+psycopg2://u:{enc}@db/x")),
    Case("query password", url("postgresql://u@db/x?password={enc}")),
    Case("encoded query key", url("postgresql://u@db/x?pass%77ord={enc}&sslmode=require")),
    Case("query sslpassword", url("postgresql://u@db/x?sslpassword={enc}")),
    Case("misspelt driver option", url("postgresql+psycopg2://u@db/x?pasword={enc}")),
    Case("unknown libpq parameter", url("postgresql://u@db/x?pasword={enc}")),
    Case("https query token", url("https://h/?token={enc}&x=1")),
    Case("raw / # ? in smtp userinfo", url("smtp://alerts:{raw}@mail:587")),
    Case("raw in libpq userinfo", url("postgresql://u:{raw}@db/x")),
    Case("raw in https userinfo", url("https://u:{raw}@h/")),
    Case("raw in a query", url("postgresql+psycopg2://u@db/x?password={raw}&sslmode=require")),
    Case("raw in a libpq query", url("postgresql://u@db/x?sslmode=require&password={raw}")),
    Case("raw in an https query", url("https://h/?x=1&token={raw}")),
    Case("password where the port goes", url("https://admin:{enc}")),
    Case("no scheme", url("u:{enc}@host")),
    Case("keyword password", keywords("host=db password={q} sslmode=require")),
    Case("keyword sslpassword", keywords("host=db sslpassword={q}")),
    Case("mistyped keyword", keywords("host=db passWord={q}")),
    Case("unquoted keyword", keywords("host=db password={raw}")),
    Case("value skipped", keywords("host= password={q}")),
    Case("unclosed quote", keywords("host=db password='{raw}")),
    Case("toml url", toml('[[targets]]\nurl = "smtp://u:{enc}@mail"\n')),
    Case(
        "toml password_env", toml('[[targets]]\nurl = "smtp://u@mail"\npassword_env = "P"\n', "P")
    ),
    Case(
        "toml client key password",
        toml('[[targets]]\nurl = "https://h/"\nclient_key_password_env = "K"\n', "K"),
    ),
    Case("toml bad url", toml('[[targets]]\nurl = "smtp://u:{enc}@exa mple"\n')),
    Case(
        "airflow.cfg sql_alchemy_conn",
        airflow_cfg("[database]\nsql_alchemy_conn = postgresql+psycopg2://u:{enc}@db/x\n"),
    ),
    Case(
        "airflow.cfg smtp_password",
        airflow_cfg("[smtp]\nsmtp_host = mail\nsmtp_user = u\nsmtp_password = {cfg}\n"),
    ),
    Case("airflow.cfg smtp_host URL", airflow_cfg("[smtp]\nsmtp_host = smtp://u:{enc}@mail:25\n")),
    Case(
        "airflow environment",
        airflow_cfg(
            "[core]\n", {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://u:{enc}@db/"}
        ),
    ),
    Case(
        "export json",
        export(
            "c.json",
            lambda pw: json.dumps(
                {"db": {"conn_type": "smtp", "host": "m", "login": "u", "password": pw}}
            ),
        ),
    ),
    Case("export yaml", export("c.yaml", yaml_text)),
    Case("export env", export("c.env", lambda pw: f"db=postgres://u:{quote(pw, safe='')}@db/x\n")),
    Case(
        "host field with credentials",
        export(
            "c.json", lambda pw: json.dumps({"db": {"conn_type": "postgres", "host": f"u:{pw}@db"}})
        ),
    ),
    Case("AIRFLOW_CONN uri", conn_env(lambda pw: f"postgres://u:{quote(pw, safe='')}@db/x")),
    Case("AIRFLOW_CONN raw uri", conn_env(lambda pw: f"postgres://u:{pw}@db/x")),
    Case(
        "AIRFLOW_CONN json",
        conn_env(
            lambda pw: json.dumps({"conn_type": "https", "host": "h", "login": "u", "password": pw})
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_form_of_a_password_shows(case: Case, tmp_path: Path) -> None:
    """Display, label, repr and any UsageError hold no form of the password, nor its ends."""
    index = CASES.index(case)
    password = secret(f"{index:02d}")
    try:
        targets = case.make(password, tmp_path)
    except UsageError as exc:
        said = [str(exc)]
    else:
        assert targets, case.name
        said = [text for t in targets for text in (t.display, t.label, repr(t))]
    for text in said:
        for form in forms(password):
            assert form not in text, (case.name, form, text)


def test_the_passwords_are_read_where_the_input_is_well_formed(tmp_path: Path) -> None:
    """The twin: where the form is right, the password is read whole (so the test above
    looked at targets that hold it), and its target's display shows ***."""
    readable = [c for c in CASES if c.name in ("https userinfo", "query password", "export yaml")]
    for case in readable:
        password = secret("99")
        (target,) = case.make(password, tmp_path)
        assert target.password == password
        assert "***" in target.display
