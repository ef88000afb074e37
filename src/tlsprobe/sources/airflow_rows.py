"""The rows of Airflow's `connection` table, read where `sql_alchemy_conn` says: PostgreSQL
through psycopg (libpq, with the URL's settings and libpq's environment, as Airflow's driver
would connect), SQLite through the standard library, read-only. Rows stay in memory; nothing
here writes anything. Every failure is one UsageError line naming the setting, no secret."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tlsprobe.failures import UsageError
from tlsprobe.records import record
from tlsprobe.targets import Target, parse_target

DB_TIMEOUT_S = 10.0  # libpq's connect_timeout when the URL sets none: never wait forever
# libpq asks on the terminal for the passphrase of an encrypted client key unless given one;
# with a passphrase that cannot be right it fails at once instead (as the probe does).
NO_SSLPASSWORD = "tlsprobe: no sslpassword given"
COLUMNS = (
    "conn_id",
    "conn_type",
    "host",
    "schema",
    "login",
    "password",
    "port",
    "is_encrypted",
    "is_extra_encrypted",
    "extra",
)
NOT_AIRFLOW = "not an Airflow metadata database"


@record
class Row:
    """One row of `connection`, as stored: password and extra may be Fernet tokens."""

    conn_id: str
    conn_type: str | None
    host: str | None
    schema: str | None
    login: str | None
    password: str | None = field(repr=False)
    port: int | None
    is_encrypted: bool
    is_extra_encrypted: bool
    extra: str | None = field(repr=False)


@record
class Database:
    """Where the metadata database is: its URL's text and the setting it came from."""

    url: str = field(repr=False)
    origin: str
    schema: str = ""  # [database] sql_alchemy_schema: the PostgreSQL schema of the tables
    # [database] sql_alchemy_connect_args' libpq keywords: they win over the URL's, as in Airflow.
    connect_args: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def rows(database: Database, env: Mapping[str, str]) -> list[Row]:
    """Every row of the connection table, ordered by conn_id."""
    dialect = database.url.partition(":")[0].partition("+")[0].strip().lower()
    if dialect == "sqlite":
        return _sqlite_rows(database)
    if dialect in ("postgresql", "postgres"):
        return _postgres_rows(database, env)
    raise UsageError(
        f"{database.origin}: --airflow-db reads PostgreSQL and SQLite metadata databases only"
    )


def _row(values: Sequence[Any], where: str) -> Row:
    conn_id, conn_type, host, schema, login, password, port, encrypted, extra_encrypted, extra = (
        values
    )
    texts = (conn_id, conn_type, host, schema, login, password, extra)
    if not isinstance(conn_id, str) or not all(v is None or isinstance(v, str) for v in texts):
        raise UsageError(f"{where}: {NOT_AIRFLOW} (a text column holds something else)")
    if port is not None and not isinstance(port, int):
        raise UsageError(f"{where}: {NOT_AIRFLOW} (a port that is not a number)")
    return Row(
        conn_id=conn_id,
        conn_type=conn_type,
        host=host,
        schema=schema,
        login=login,
        password=password,
        port=port,
        is_encrypted=bool(encrypted),
        is_extra_encrypted=bool(extra_encrypted),
        extra=extra,
    )


def sqlite_path(url: str, origin: str) -> Path:
    """The file of an SQLAlchemy SQLite URL: sqlite:////absolute or sqlite:///relative (to the
    working directory, as SQLAlchemy has it); its query (driver options) is not a path."""
    rest = url.strip().partition(":")[2].partition("?")[0]
    if not rest.startswith("///") or rest == "///" or rest.endswith(":memory:"):
        raise UsageError(f"{origin}: an SQLite database in memory or without a file to read")
    return Path(unquote(rest[3:])).resolve()


def _sqlite_rows(database: Database) -> list[Row]:
    path = sqlite_path(database.url, database.origin)
    # mode=ro: tlsprobe never writes to Airflow's database, not even a journal.
    uri = path.as_uri() + "?mode=ro"
    query = f"SELECT {', '.join(COLUMNS)} FROM connection ORDER BY conn_id"
    try:
        # closing(): a sqlite3 connection's own `with` ends a transaction but leaves it open.
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=DB_TIMEOUT_S)) as db:
            found = db.execute(query).fetchall()
    except sqlite3.DatabaseError as exc:  # OperationalError: missing file, table or column
        raise UsageError(f"{database.origin}: {_sqlite_problem(path, exc)}") from None
    return [_row(values, database.origin) for values in found]


def _sqlite_problem(path: Path, exc: sqlite3.DatabaseError) -> str:
    said = str(exc)
    if said.startswith(("no such table", "no such column")):
        return f"{NOT_AIRFLOW} ({said})"
    if said == "file is not a database":
        return f"{path}: {said}"
    if not path.is_file():
        return f"{path}: no such file (Airflow's SQLite database)"
    return f"{path}: cannot read it ({said})"


def postgres_keywords(target: Target, env: Mapping[str, str]) -> dict[str, str]:
    """libpq's keywords for the metadata database: the URL's settings, then libpq's environment
    (PGSSLMODE, PGSSLROOTCERT, ...) for what the URL leaves unsaid, as psycopg2 would under
    Airflow; nothing of tlsprobe's own (no --ca-file: Airflow has none)."""
    from tlsprobe.targets import pgsettings

    settings = pgsettings.resolve(target, env)
    keywords = {
        "host": target.host,
        "port": str(target.port),
        "dbname": settings.dbname,
        "sslmode": settings.sslmode,
        "connect_timeout": str(round(settings.connect_timeout or DB_TIMEOUT_S)),
        "application_name": "tlsprobe",
    }
    optional = {
        "user": settings.user,
        "hostaddr": target.connect_host,
        "password": settings.password,
        "sslrootcert": settings.sslrootcert,
        "sslcert": settings.sslcert,
        "sslkey": settings.sslkey,
    }
    if settings.origin("sslnegotiation") != "default":
        optional["sslnegotiation"] = settings.sslnegotiation
    keywords |= {k: v for k, v in optional.items() if v}
    keywords |= dict(settings.extra)
    return keywords if keywords.get("sslpassword") else keywords | {"sslpassword": NO_SSLPASSWORD}


def _postgres_rows(database: Database, env: Mapping[str, str]) -> list[Row]:
    import psycopg
    from psycopg import sql

    from tlsprobe.secrets import Secrets

    target = parse_target(database.url, name="metadata-db", source=database.origin)
    if database.connect_args:
        params = dict(target.params) | dict(database.connect_args)
        target = replace(target, params=tuple(params.items()))
    table = sql.Identifier(*([database.schema] if database.schema else []), "connection")
    query = sql.SQL("SELECT {} FROM {} ORDER BY conn_id").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS), table
    )
    try:
        dsn = psycopg.conninfo.make_conninfo("", **postgres_keywords(target, env))
        with psycopg.connect(dsn) as connection:
            connection.read_only = True  # the SELECT runs in BEGIN READ ONLY: nothing written
            found = connection.execute(query).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
        said = str(exc).splitlines()[0]
        raise UsageError(f"{database.origin}: {NOT_AIRFLOW} ({said})") from None
    except psycopg.Error as exc:
        # libpq's words may quote the connection string: its secrets are scrubbed.
        said = Secrets.of(target, env).scrub(" ".join(str(exc).split()))
        raise UsageError(f"{database.origin}: cannot read the metadata database ({said})") from None
    return [_row(values, database.origin) for values in found]
