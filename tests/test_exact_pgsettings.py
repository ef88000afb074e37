"""The settings a libpq client would use, exactly: every field of pgsettings.Settings for the
target's own settings, libpq's environment, --ca-file and a source's client certificate; libpq's
own PQconndefaults (which reads the environment) is the oracle for the environment's names."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from psycopg import pq

from tlsprobe.targets import from_parts, parse_target
from tlsprobe.targets.pgsettings import ENVIRONMENT, Settings, resolve

EVERY_VARIABLE = {
    "PGSSLMODE": "Verify-Full",
    "PGSSLROOTCERT": "/env/root.pem",
    "PGSSLCERT": "/env/client.pem",
    "PGSSLKEY": "/env/client.key",
    "PGCONNECT_TIMEOUT": "7",
    "PGSSLNEGOTIATION": "Direct",
    "PGDATABASE": "envdb",
    "PGPASSWORD": "envpw",
    "PGSSLMINPROTOCOLVERSION": "TLSv1.3",
    "PGSSLMAXPROTOCOLVERSION": "TLSv1.3",
    "PGCHANNELBINDING": "require",
    "PGSSLSNI": "0",
}


def fields_of(settings: Settings) -> dict[str, str | None]:
    """The settings by libpq keyword, as libpq would hold them (text)."""
    timeout = settings.connect_timeout
    return {
        "sslmode": settings.sslmode,
        "sslrootcert": settings.sslrootcert,
        "sslcert": settings.sslcert,
        "sslkey": settings.sslkey,
        "connect_timeout": None if timeout is None else str(int(timeout)),
        "sslnegotiation": settings.sslnegotiation,
        "dbname": settings.dbname,
        "password": settings.password,
        **dict(settings.extra),
    }


def test_environment_is_read_as_libpq_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the target silent, each setting comes from the variable libpq itself reads for it
    (PQconndefaults, under the same environment), named as its origin."""
    for name in [n for n in os.environ if n.startswith("PG")]:
        monkeypatch.delenv(name)
    lowered = {k: v.lower() for k, v in EVERY_VARIABLE.items()}
    for name, value in lowered.items():
        monkeypatch.setenv(name, value)
    libpq = {o.keyword.decode(): (o.val or b"").decode() for o in pq.Conninfo.get_defaults()}
    settings = resolve(parse_target("postgresql://u@db"), os.environ)
    assert {key: fields_of(settings)[key] for key in ENVIRONMENT} == {
        key: libpq[key] for key in ENVIRONMENT
    }
    assert dict(settings.origins) == ENVIRONMENT


def test_nothing_given() -> None:
    """No setting anywhere: libpq's defaults, the database named postgres, no origins."""
    assert resolve(parse_target("postgresql://db"), {}) == Settings(
        user=None,
        password=None,
        dbname="postgres",
        sslmode="prefer",
        sslrootcert=None,
        sslcert=None,
        sslkey=None,
        sslnegotiation="postgres",
        connect_timeout=None,
        extra=(),
        origins=(),
    )


def test_environment_fills_every_field() -> None:
    """Each variable fills its setting (sslmode and sslnegotiation lower-cased), libpq keywords
    the probe does not use pass on sorted, and variables libpq reads for nothing here do not."""
    env = EVERY_VARIABLE | {"PGUSER": "envuser", "PGHOST": "elsewhere", "PGFOO": "x"}
    settings = resolve(parse_target("postgresql://u@db"), env)
    assert settings == Settings(
        user="u",
        password="envpw",
        dbname="envdb",
        sslmode="verify-full",
        sslrootcert="/env/root.pem",
        sslcert="/env/client.pem",
        sslkey="/env/client.key",
        sslnegotiation="direct",
        connect_timeout=7.0,
        extra=(
            ("channel_binding", "require"),
            ("ssl_max_protocol_version", "TLSv1.3"),
            ("ssl_min_protocol_version", "TLSv1.3"),
            ("sslsni", "0"),
        ),
        origins=tuple(sorted((key, ENVIRONMENT[key]) for key in ENVIRONMENT)),
    )
    assert settings.direct is True
    assert settings.origin("sslmode") == "PGSSLMODE"


def test_target_wins_over_every_variable() -> None:
    """Each setting the target gives beats its variable, --ca-file and the source's files."""
    url = (
        "postgresql://u:own@db/owndb?sslmode=REQUIRE&sslrootcert=/t/root.pem&sslcert=/t/c.pem"
        "&sslkey=/t/c.key&connect_timeout=3&sslnegotiation=postgres&channel_binding=disable"
        "&application_name=probe&hostaddr=127.0.0.1"
    )
    target = dataclasses.replace(
        parse_target(url), client_cert="/src/c.pem", client_key="/src/c.key"
    )
    settings = resolve(target, EVERY_VARIABLE, Path("/ca.pem"))
    assert settings == Settings(
        user="u",
        password="own",
        dbname="owndb",
        sslmode="require",
        sslrootcert="/t/root.pem",
        sslcert="/t/c.pem",
        sslkey="/t/c.key",
        sslnegotiation="postgres",
        connect_timeout=3.0,
        extra=(
            ("application_name", "probe"),
            ("channel_binding", "disable"),
            ("ssl_max_protocol_version", "TLSv1.3"),
            ("ssl_min_protocol_version", "TLSv1.3"),
            ("sslsni", "0"),
        ),
        origins=(
            ("application_name", "target"),
            ("channel_binding", "target"),
            ("connect_timeout", "target"),
            ("dbname", "target"),
            ("hostaddr", "target"),
            ("password", "target"),
            ("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"),
            ("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION"),
            ("sslcert", "target"),
            ("sslkey", "target"),
            ("sslmode", "target"),
            ("sslnegotiation", "target"),
            ("sslrootcert", "target"),
            ("sslsni", "PGSSLSNI"),
        ),
    )
    assert settings.direct is False


def test_password_field_wins_over_a_password_parameter() -> None:
    """A source's password field beats a password= among its parameters, which beats
    PGPASSWORD; with neither, PGPASSWORD is used."""
    env = {"PGPASSWORD": "envpw"}

    def password(field: str | None) -> str | None:
        target = from_parts(
            "postgresql", "db", password=field, params=[("password", "param")], source="s"
        )
        return resolve(target, env).password

    assert (password("field"), password(None)) == ("field", "param")
    assert resolve(from_parts("postgresql", "db", source="s"), env).password == "envpw"


def test_database_name_from_parameter_path_environment_or_user() -> None:
    """dbname= beats the path, which beats PGDATABASE, which beats the user name, then postgres."""
    env = {"PGDATABASE": "envdb"}

    def dbname(
        path: str, params: list[tuple[str, str]], user: str | None, env: dict[str, str]
    ) -> str:
        target = from_parts("postgresql", "db", user=user, path=path, params=params, source="s")
        return resolve(target, env).dbname

    assert dbname("/pathdb", [("dbname", "paramdb")], "u", env) == "paramdb"
    assert dbname("/pathdb", [], "u", env) == "pathdb"
    assert dbname("/", [], "u", env) == "envdb"
    assert dbname("/", [], "u", {}) == "u"
    assert dbname("/", [], None, {}) == "postgres"
    assert dbname("/", [("dbname", "")], "u", env) == "u"  # empty: as if none was given


def test_ca_file_only_when_nothing_names_a_root() -> None:
    """--ca-file is the root certificate (origin --ca-file) only when neither the target nor
    PGSSLROOTCERT names one."""
    ca = Path("/ca.pem")
    target = parse_target("postgresql://db")
    alone = resolve(target, {}, ca)
    assert (alone.sslrootcert, alone.origins) == ("/ca.pem", (("sslrootcert", "--ca-file"),))
    from_env = resolve(target, {"PGSSLROOTCERT": "/env.pem"}, ca)
    assert (from_env.sslrootcert, from_env.origin("sslrootcert")) == ("/env.pem", "PGSSLROOTCERT")
    own = resolve(parse_target("postgresql://db?sslrootcert=/own.pem"), {}, ca)
    assert (own.sslrootcert, own.origin("sslrootcert")) == ("/own.pem", "target")


def test_empty_root_certificate_is_none() -> None:
    """An empty sslrootcert= is no root certificate (and not replaced by --ca-file)."""
    settings = resolve(parse_target("postgresql://db?sslrootcert="), {}, Path("/ca.pem"))
    assert (settings.sslrootcert, settings.origin("sslrootcert")) == (None, "target")


def test_source_client_certificate_when_libpq_names_none() -> None:
    """A source's client certificate and key stand in for empty or missing sslcert/sslkey."""
    base = parse_target("postgresql://db?sslcert=&sslkey=")
    target = dataclasses.replace(base, client_cert="/src/c.pem", client_key="/src/c.key")
    settings = resolve(target, {})
    assert (settings.sslcert, settings.sslkey) == ("/src/c.pem", "/src/c.key")
    env = resolve(target, {"PGSSLCERT": "/env/c.pem", "PGSSLKEY": "/env/c.key"})
    assert (env.sslcert, env.sslkey) == ("/src/c.pem", "/src/c.key")  # the target said "none"
    silent = dataclasses.replace(parse_target("postgresql://db"), client_key="/src/c.key")
    assert resolve(silent, {"PGSSLKEY": "/env/c.key"}).sslkey == "/env/c.key"


def test_client_key_password_is_sslpassword() -> None:
    """client_key_password_env's password becomes sslpassword, named as its origin, unless the
    target gives sslpassword itself."""
    target = dataclasses.replace(parse_target("postgresql://db"), client_key_password="k3y")
    settings = resolve(target, {})
    assert (settings.extra, settings.origins) == (
        (("sslpassword", "k3y"),),
        (("sslpassword", "client_key_password_env"),),
    )
    own = dataclasses.replace(
        parse_target("postgresql://db?sslpassword=mine"), client_key_password="k3y"
    )
    assert (resolve(own, {}).extra, resolve(own, {}).origin("sslpassword")) == (
        (("sslpassword", "mine"),),
        "target",
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("10", 10.0), ("1", 1.0), ("0", None), ("-3", None), ("soon", None)],
)
def test_connect_timeout(value: str, seconds: float | None) -> None:
    """connect_timeout in seconds; zero, negative or not a number means waiting for ever."""
    settings = resolve(parse_target("postgresql://db"), {"PGCONNECT_TIMEOUT": value})
    assert settings.connect_timeout == seconds


def test_origin_of_a_setting_nobody_gave() -> None:
    """A setting that nothing gave has the origin "default"."""
    assert resolve(parse_target("postgresql://db"), {}).origin("sslmode") == "default"


def test_database_name_is_the_whole_path() -> None:
    """The database is the path without its slashes, whatever letters it ends with."""
    target = from_parts("postgresql", "db", path="/X", source="s")
    assert resolve(target, {"PGDATABASE": "envdb"}).dbname == "X"


def test_settings_the_probe_sets_itself_are_no_extra() -> None:
    """user, host, port, hostaddr, dbname and password among a source's parameters are the
    probe's own settings, never passed on again as extra keywords."""
    params = [("user", "u2"), ("host", "h2"), ("port", "6000"), ("hostaddr", "10.0.0.9")]
    params += [("dbname", "d"), ("password", "p"), ("application_name", "a")]
    target = from_parts("postgresql", "db", params=params, source="s")
    assert resolve(target, {}).extra == (("application_name", "a"),)
