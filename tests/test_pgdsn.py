"""PostgreSQL targets: libpq URIs, SQLAlchemy schemes, keyword strings and libpq's environment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.targets import parse_target, pgsettings

KEYWORDS = (
    "host=db.example port=6432 user=airflow password='s3 cret' dbname=meta sslmode=verify-full"
)


def test_keyword_string_parses_into_a_target() -> None:
    """A libpq keyword string becomes a postgresql target with its host, port, user and params."""
    target = parse_target(KEYWORDS)
    assert (target.protocol, target.host, target.port) == ("postgresql", "db.example", 6432)
    assert (target.user, target.password) == ("airflow", "s3 cret")
    assert dict(target.params).get("sslmode") == "verify-full"
    assert dict(target.params).get("dbname") == "meta"


def test_keyword_string_display_hides_the_password() -> None:
    """The keyword form is shown as written, with password=*** and nothing of the secret."""
    shown = parse_target(KEYWORDS).display
    assert (
        shown
        == "host=db.example port=6432 user=airflow password=*** dbname=meta sslmode=verify-full"
    )
    assert "cret" not in repr(parse_target(KEYWORDS))


def test_keyword_quoting_and_escapes() -> None:
    """Quoted values keep spaces, backslash escapes a quote, and spaces around = are allowed."""
    target = parse_target(r"host = db  password='it\'s a \\ pw' options=-c\ x=1")
    assert (target.host, target.password) == ("db", "it's a \\ pw")
    assert target.params == (("options", "-c x=1"),)
    assert target.display == r"host = db  password=*** options=-c\ x=1"


def test_unterminated_quote_is_a_usage_error_without_the_secret() -> None:
    """A broken keyword string is a usage error that still hides the password."""
    with pytest.raises(UsageError) as caught:
        parse_target("host=db password='hunter2")
    assert "hunter2" not in str(caught.value)
    assert "not a libpq connection string" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("host=db bogus=1", "'bogus' is not a libpq connection keyword"),
        ("port=5432 user=u", "no host="),
        ("host=/var/run/postgresql", "give one TCP host"),
        ("host=a,b", "give one TCP host"),
        ("host=db port=99999", "the port must be a number"),
        ("host=db hostaddr=not-an-ip", "is not an IP address"),
    ],
)
def test_bad_keyword_strings_name_the_problem(text: str, message: str) -> None:
    """Each malformed keyword string is refused with a message naming what is wrong."""
    with pytest.raises(UsageError, match=message):
        parse_target(text)


def test_hostaddr_is_where_to_connect() -> None:
    """hostaddr= opens the connection there while host= stays the name to verify."""
    target = parse_target("host=db.example hostaddr=10.0.0.5 sslmode=verify-full")
    assert (target.host, target.address) == ("db.example", "10.0.0.5")


@pytest.mark.parametrize(
    "scheme", ["postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"]
)
def test_uri_and_sqlalchemy_schemes(scheme: str) -> None:
    """libpq URIs and SQLAlchemy's driver-qualified forms all become postgresql targets."""
    target = parse_target(f"{scheme}://airflow:pw@db:6432/airflow?sslmode=require")
    assert (target.protocol, target.host, target.port, target.path) == (
        "postgresql",
        "db",
        6432,
        "/airflow",
    )
    assert dict(target.params).get("sslmode") == "require"
    assert target.display == f"{scheme}://airflow:***@db:6432/airflow?sslmode=require"


def test_unknown_driver_scheme_is_refused() -> None:
    """A SQLAlchemy dialect tlsprobe does not probe (mysql) is a usage error, not a guess."""
    with pytest.raises(UsageError, match="unknown scheme"):
        parse_target("mysql+pymysql://u:p@db/x")


def test_percent_encoded_password_decodes() -> None:
    """%40, %2F and %3A in the password decode to @, / and : and never show in the display."""
    target = parse_target("postgresql+psycopg2://u:p%40ss%2Fw%3Ard@db/x")
    assert target.password == "p@ss/w:rd"
    assert "ss" not in target.display.split("@")[0]


def resolve(url: str, env: dict[str, str], ca: Path | None = None) -> pgsettings.Settings:
    return pgsettings.resolve(parse_target(url), env, ca)


def test_environment_fills_in_what_the_target_leaves_out() -> None:
    """PGSSLMODE, PGSSLROOTCERT, PGSSLNEGOTIATION and PGCONNECT_TIMEOUT apply when unset."""
    env = {
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": "/etc/root.pem",
        "PGSSLNEGOTIATION": "direct",
        "PGCONNECT_TIMEOUT": "7",
        "PGPASSWORD": "from-env",
    }
    settings = resolve("postgresql://u@db/x", env)
    assert settings.sslmode == "verify-full"
    assert settings.sslrootcert == "/etc/root.pem"
    assert settings.direct
    assert settings.connect_timeout == 7.0
    assert settings.password == "from-env"
    assert settings.origin("sslmode") == "PGSSLMODE"


def test_the_target_wins_over_the_environment() -> None:
    """A setting in the target beats libpq's environment variable for it."""
    env = {"PGSSLMODE": "disable", "PGSSLROOTCERT": "/env.pem", "PGPASSWORD": "env"}
    settings = resolve("postgresql://u:own@db/x?sslmode=verify-ca&sslrootcert=/own.pem", env)
    assert (settings.sslmode, settings.sslrootcert, settings.password) == (
        "verify-ca",
        "/own.pem",
        "own",
    )
    assert settings.origin("sslmode") == "target"


def test_defaults_are_libpqs() -> None:
    """Without target or environment: sslmode prefer, SSLRequest negotiation, dbname = user."""
    settings = resolve("postgresql://airflow@db", {})
    assert (settings.sslmode, settings.sslnegotiation, settings.dbname) == (
        "prefer",
        "postgres",
        "airflow",
    )
    assert settings.sslrootcert is None
    assert settings.connect_timeout is None


def test_ca_file_is_the_last_resort_root() -> None:
    """--ca-file is the root only when neither the target nor PGSSLROOTCERT names one."""
    ca = Path("/lab/ca.pem")
    assert resolve("postgresql://u@db", {}, ca).sslrootcert == str(ca)
    assert resolve("postgresql://u@db", {}, ca).origin("sslrootcert") == "--ca-file"
    assert resolve("postgresql://u@db", {"PGSSLROOTCERT": "/e.pem"}, ca).sslrootcert == "/e.pem"


def test_other_libpq_keywords_pass_through_and_driver_options_do_not() -> None:
    """libpq keywords (channel_binding) go to psycopg; SQLAlchemy-only options do not."""
    url = "postgresql+psycopg2://u@db/x?channel_binding=require&client_encoding=utf8&pool_size=5"
    extra = dict(resolve(url, {}).extra)
    assert extra == {"channel_binding": "require", "client_encoding": "utf8"}


def test_nonsense_connect_timeout_means_none() -> None:
    """connect_timeout=0 or garbage means no timeout, as libpq reads it."""
    assert resolve("postgresql://u@db?connect_timeout=0", {}).connect_timeout is None
    assert resolve("postgresql://u@db?connect_timeout=soon", {}).connect_timeout is None


def test_client_certificate_from_params_or_source() -> None:
    """sslcert/sslkey come from the target, else PGSSLCERT, else the source's client cert."""
    base = dataclasses.replace(
        parse_target("postgresql://u@db"), client_cert="/src.pem", client_key="/src.key"
    )
    assert (pgsettings.resolve(base, {}).sslcert, pgsettings.resolve(base, {}).sslkey) == (
        "/src.pem",
        "/src.key",
    )
    assert pgsettings.resolve(base, {"PGSSLCERT": "/env.pem"}).sslcert == "/env.pem"
    own = parse_target("postgresql://u@db?sslcert=/own.pem&sslkey=/own.key")
    assert pgsettings.resolve(own, {"PGSSLCERT": "/env.pem"}).sslcert == "/own.pem"


def test_client_key_password_from_the_source_is_sslpassword() -> None:
    """tlsprobe.toml's client_key_password_env reaches libpq as sslpassword; a target's own
    sslpassword wins over it."""
    base = dataclasses.replace(parse_target("postgresql://u@db"), client_key_password="k3y")
    settings = pgsettings.resolve(base, {})
    assert dict(settings.extra)["sslpassword"] == "k3y"
    assert settings.origin("sslpassword") == "client_key_password_env"
    own = dataclasses.replace(
        parse_target("postgresql://u@db?sslpassword=mine"), client_key_password="k3y"
    )
    assert dict(pgsettings.resolve(own, {}).extra)["sslpassword"] == "mine"
    assert "sslpassword" not in dict(
        pgsettings.resolve(parse_target("postgresql://u@db"), {}).extra
    )
