"""A distinct password in each place a password can be written, well or badly: none shows in
Target.display, Target.label, repr(Target) or a UsageError's message, in any of its forms (as
given, percent-decoded, percent-encoded), nor any part of it (its first and last letters). And
every value the display hides is recorded on the Target (Target.hidden), for the runner's scrub
to hide too: one rule for what a secret is."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.secrets import Secrets
from tlsprobe.sources import airflow, config, connections
from tlsprobe.targets import Target, from_parts, parse_target
from tlsprobe.targets.urls import ENCODING_HINT


def secret(case: str) -> str:
    """A password with the characters URLs and keyword strings treat specially; its ends are
    letters no other text in these tests holds (Zk, Qx), to catch a part of it showing."""
    return f"Zk{case}q/#?@%&= 'w\\Qx{case}z"


def ends(password: str) -> tuple[str, str]:
    return password[:4], password[-4:]


def forms(password: str) -> set[str]:
    return {password, quote(password, safe=""), quote(password, safe="@:/"), *ends(password)}


@dataclass(frozen=True)
class Refused:
    """The expected UsageError, its message exactly ({tmp}: the test's directory)."""

    message: str


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[str, Path], list[Target]]  # (password, tmp_path) -> targets, or UsageError
    expect: str | Refused  # the one target's display, or the refusal


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
        enc = quote(pw, safe="")
        path.write_text(
            body.format(enc=enc, cfg=pw.replace("%", "%%"), cfg_enc=enc.replace("%", "%%"))
        )
        environment = {k: v.format(enc=quote(pw, safe=""), raw=pw) for k, v in (env or {}).items()}
        ours = ("metadata-db", "smtp")  # the API server and execution API hold no secret
        return [t for t in airflow.read(path, environment).targets if t.name in ours]

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


AT_AFTER_HOST = f"an @ after the host: {ENCODING_HINT}"
NO_EQUALS = (
    "not a libpq connection string: a word without = "
    "(quote a value that holds blanks: password='a b')"
)
CASES = [
    Case("https userinfo", url("https://u:{enc}@h/"), "https://u:***@h/"),
    Case("smtp userinfo", url("smtp://u:{enc}@mail:587"), "smtp://u:***@mail:587"),
    Case(
        "smtps userinfo, user with @",
        url("smtps://a@b.example:{enc}@mail"),
        "smtps://a@b.example:***@mail",
    ),
    Case("postgresql userinfo", url("postgresql://u:{enc}@db/x"), "postgresql://u:***@db/x"),
    Case(
        "sqlalchemy userinfo",
        url("postgresql+psycopg2://u:{enc}@db/x"),
        "postgresql+psycopg2://u:***@db/x",
    ),
    Case(
        "query password",
        url("postgresql://u@db/x?password={enc}"),
        "postgresql://u@db/x?password=***",
    ),
    Case(
        "encoded query key",
        url("postgresql://u@db/x?pass%77ord={enc}&sslmode=require"),
        "postgresql://u@db/x?pass%77ord=***&sslmode=require",
    ),
    Case(
        "query sslpassword",
        url("postgresql://u@db/x?sslpassword={enc}"),
        "postgresql://u@db/x?sslpassword=***",
    ),
    Case(
        "misspelt driver option",
        url("postgresql+psycopg2://u@db/x?pasword={enc}"),
        "postgresql+psycopg2://u@db/x?pasword=***",
    ),
    Case(
        "unknown libpq parameter",
        url("postgresql://u@db/x?pasword={enc}"),
        Refused("'postgresql://u@db/x?pasword=***': 'pasword' is not a libpq connection parameter"),
    ),
    Case("https query token", url("https://h/?token={enc}&x=1"), "https://h/?token=***&x=1"),
    Case(
        "raw / # ? in smtp userinfo",
        url("smtp://alerts:{raw}@mail:587"),
        Refused(f"'smtp://***@mail:587': {AT_AFTER_HOST}"),
    ),
    Case(
        "raw in libpq userinfo",
        url("postgresql://u:{raw}@db/x"),
        Refused(f"'postgresql://***@db/x': {AT_AFTER_HOST}"),
    ),
    Case(
        "raw in https userinfo",
        url("https://u:{raw}@h/"),
        Refused(f"'https://***@h/': {AT_AFTER_HOST}"),
    ),
    Case(
        "raw in a query",
        url("postgresql+psycopg2://u@db/x?password={raw}&sslmode=require"),
        Refused(
            "'postgresql+psycopg2://***': an unknown option after # (expected one of: "
            "expect_status, connect; a # in a password is %23)"
        ),
    ),
    Case(
        "raw in a libpq query",
        url("postgresql://u@db/x?sslmode=require&password={raw}"),
        Refused("'postgresql://***': a blank in a postgresql:// URI (write it %20)"),
    ),
    Case(
        "raw in an https query",
        url("https://h/?x=1&token={raw}"),
        Refused(f"'https://***': {AT_AFTER_HOST}"),
    ),
    Case(
        "password where the port goes",
        url("https://admin:{enc}"),
        Refused("'https://admin:***': the port must be a number from 1 to 65535"),
    ),
    Case(
        "no scheme",
        url("u:{enc}@host"),
        Refused("'***@host': not a URL (expected scheme://host[:port], e.g. https://host)"),
    ),
    Case(
        "keyword password",
        keywords("host=db password={q} sslmode=require"),
        "host=db password=*** sslmode=require",
    ),
    Case("keyword sslpassword", keywords("host=db sslpassword={q}"), "host=db sslpassword=***"),
    Case(
        "mistyped keyword",
        keywords("host=db passWord={q}"),
        Refused(
            "'host=db passWord=***': 'passWord' is not a libpq connection keyword "
            "(libpq keywords are lower case)"
        ),
    ),
    Case(
        "unquoted keyword",
        keywords("host=db password={raw}"),
        Refused(f"'host=db password=***': {NO_EQUALS}"),
    ),
    Case("value skipped", keywords("host= password={q}"), Refused(f"'host= ***': {NO_EQUALS}")),
    Case(
        "unclosed quote",
        keywords("host=db password='{raw}"),
        Refused(f"'host=db password=***': {NO_EQUALS}"),
    ),
    Case("toml url", toml('[[targets]]\nurl = "smtp://u:{enc}@mail"\n'), "smtp://u:***@mail"),
    Case(
        "toml password_env",
        toml('[[targets]]\nurl = "smtp://u@mail"\npassword_env = "P"\n', "P"),
        "smtp://u@mail",
    ),
    Case(
        "toml client key password",
        toml('[[targets]]\nurl = "https://h/"\nclient_key_password_env = "K"\n', "K"),
        "https://h/",
    ),
    Case(
        "toml bad url",
        toml('[[targets]]\nurl = "smtp://u:{enc}@exa mple"\n'),
        Refused(
            "{tmp}/tlsprobe.toml: targets[0].url: 'smtp://u:***@exa mple': "
            "host name 'exa mple' is not a valid DNS name"
        ),
    ),
    Case(
        "airflow.cfg sql_alchemy_conn",
        airflow_cfg("[database]\nsql_alchemy_conn = postgresql+psycopg2://u:{cfg_enc}@db/x\n"),
        "postgresql+psycopg2://u:***@db/x",
    ),
    Case(
        "airflow.cfg lone %",
        airflow_cfg("[database]\nsql_alchemy_conn = postgresql+psycopg2://u:{enc}@db/x\n"),
        Refused(
            "{tmp}/airflow.cfg: [database] sql_alchemy_conn: a lone '%' (write a literal % as %%)"
        ),
    ),
    Case(
        "airflow.cfg smtp_password",
        airflow_cfg(
            "[smtp]\nsmtp_host = mail\n",
            {"AIRFLOW_CONN_SMTP_DEFAULT": "smtp://u:{enc}@mail:25"},
        ),
        "smtp://u:***@mail:25",
    ),
    Case(
        "airflow.cfg smtp_host URL",
        airflow_cfg("[smtp]\nsmtp_host = smtp://u:{cfg_enc}@mail:25\n"),
        Refused(
            "airflow.cfg [smtp] smtp_host: 'smtp://u:***@mail:25' is a URL: smtp_host is a host "
            "name or address (Airflow passes it to smtplib as a host; the port has a key of its "
            "own)"
        ),
    ),
    Case(
        "airflow environment",
        airflow_cfg(
            "[core]\n", {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://u:{enc}@db/"}
        ),
        "postgresql://u:***@db/",
    ),
    Case(
        "export json",
        export(
            "c.json",
            lambda pw: json.dumps(
                {"db": {"conn_type": "smtp", "host": "m", "login": "u", "password": pw}}
            ),
        ),
        "smtps://u:***@m",
    ),
    Case("export yaml", export("c.yaml", yaml_text), "postgresql://u:***@db/"),
    Case(
        "export env",
        export("c.env", lambda pw: f"db=postgres://u:{quote(pw, safe='')}@db/x\n"),
        "postgresql://u:***@db/x",
    ),
    Case(
        "host field with credentials",
        export(
            "c.json", lambda pw: json.dumps({"db": {"conn_type": "postgres", "host": f"u:{pw}@db"}})
        ),
        Refused(
            "c.json: db: host '***@db' is not a host name or IP address (give the port, the "
            "user and the path apart from the host)"
        ),
    ),
    Case(
        "AIRFLOW_CONN uri",
        conn_env(lambda pw: f"postgres://u:{quote(pw, safe='')}@db/x"),
        "postgresql://u:***@db/x",
    ),
    Case(
        "AIRFLOW_CONN raw uri",
        conn_env(lambda pw: f"postgres://u:{pw}@db/x"),
        Refused(f"AIRFLOW_CONN_X: 'postgres://***@db/x': {AT_AFTER_HOST}"),
    ),
    Case(
        "AIRFLOW_CONN json",
        conn_env(
            lambda pw: json.dumps(
                {"conn_type": "http", "schema": "https", "host": "h", "login": "u", "password": pw}
            )
        ),
        "https://h/",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_form_of_a_password_shows(case: Case, tmp_path: Path) -> None:
    """Each case ends as expected, one target with its display or the exact refusal, and
    display, label, repr and the refusal hold no form of the password, nor its ends."""
    index = CASES.index(case)
    password = secret(f"{index:02d}")
    if isinstance(case.expect, Refused):
        with pytest.raises(UsageError) as caught:
            case.make(password, tmp_path)
        said = [str(caught.value)]
        assert said == [case.expect.message.format(tmp=tmp_path)]
    else:
        targets = case.make(password, tmp_path)
        assert [t.display for t in targets] == [case.expect]
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


# --- what the door records, unit by unit -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        ("https://h/?token=a%2Fb+c&x=1", "https://h/?token=***&x=1", ("a%2Fb+c", "a/b+c", "a/b c")),
        ("https://h/?x=1", "https://h/?x=1", ()),
        ("https://u:p%40ss@h/", "https://u:***@h/", ("p%40ss", "p@ss")),
        (
            "postgresql+psycopg2://u@db/x?pasword=Zq9w",
            "postgresql+psycopg2://u@db/x?pasword=***",
            ("Zq9w",),
        ),
        (
            "postgresql+psycopg2://u@db/x?application_name=etl",
            "postgresql+psycopg2://u@db/x?application_name=etl",
            (),
        ),
        ("host=db password='a b\\'c'", "host=db password=***", ("'a b\\'c'", "a b'c")),
        ("host=db sslmode=require", "host=db sslmode=require", ()),
    ],
)
def test_the_door_records_every_value_it_hides(
    text: str, shown: str, hidden: tuple[str, ...]
) -> None:
    """Target.hidden holds each value the display hides, as written and decoded; a target
    with nothing hidden records nothing."""
    target = parse_target(text)
    assert target.display == shown
    assert target.hidden == hidden


def test_a_source_s_secret_parameter_is_recorded() -> None:
    """A field-built target's secret parameter is hidden in the display and recorded, as given
    and as its URL writes it; a plain one is neither."""
    target = from_parts(
        "postgresql", "db", params=[("sslpassword", "k/y z"), ("sslmode", "require")], source="s"
    )
    assert target.display == "postgresql://db/?sslpassword=***&sslmode=require"
    assert target.hidden == ("k/y z", "k/y%20z")


@pytest.mark.parametrize(
    "text",
    ["https://h/?api_key=Zq9wKey", "postgresql+psycopg2://u@db/x?pasword=Zq9wKey"],
)
def test_the_scrub_hides_what_the_door_hid(text: str) -> None:
    """A value the door hid is hidden by the runner's scrub too, which knew only libpq's
    secret keywords before."""
    scrub = Secrets.of(parse_target(text), {}).scrub
    assert scrub("the server said Zq9wKey, twice: Zq9wKey") == "the server said ***, twice: ***"


def test_the_scrub_leaves_a_value_the_door_showed() -> None:
    """The twin: a query value the display shows is not a secret to the scrub either."""
    scrub = Secrets.of(parse_target("https://h/?page=Zq9wKey"), {}).scrub
    assert scrub("the server said Zq9wKey") == "the server said Zq9wKey"
