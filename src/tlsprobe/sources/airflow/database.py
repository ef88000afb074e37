"""The metadata database: [database] sql_alchemy_conn (deprecated: [core]), whose query's libpq
parameters psycopg2 passes on, and [database] sql_alchemy_connect_args, an import path to a dict
that airflow/settings.py passes to create_engine as connect_args: its keys override the URL's
(psycopg2.connect(dsn, **connect_args)). Importing it runs user code, so tlsprobe imports it
only with --allow-cmd, in a child process, like a *_cmd."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import replace

from tlsprobe.failures import UsageError
from tlsprobe.model import Fix
from tlsprobe.sources import Collected
from tlsprobe.sources.airflow.config import AirflowConfig, Value, command_output, home
from tlsprobe.targets import Target, client_tls, client_trust, parse_target, urls
from tlsprobe.targets.client_tls import ClientTls, Encrypts
from tlsprobe.targets.text import BLANKS
from tlsprobe.targets.vocabulary import LIBPQ_KEYWORDS

# The databases a sql_alchemy_conn's scheme may name (SQLAlchemy's own dialects and common
# third-party ones): only these are named in the note; any other word may be a password.
_DATABASES = """sqlite mysql mariadb mssql oracle cockroachdb redshift snowflake duckdb
    clickhouse trino presto hive databricks bigquery db2 ibm_db_sa firebird sybase teradatasql
    vertica hana exasol"""
DATABASES = frozenset(_DATABASES.split())
# Imports the dict in a child, as Airflow's import_string does, and prints its libpq settings.
_IMPORT = """
import importlib, json, sys
sys.path[:0] = sys.argv[2:]
module, _, name = sys.argv[1].rpartition(".")
value = getattr(importlib.import_module(module), name)
if not isinstance(value, dict):
    sys.exit(3)
print(json.dumps({str(k): str(v) for k, v in value.items() if isinstance(v, (str, int))}))
"""


def read(config: AirflowConfig, env: Mapping[str, str]) -> Collected:
    found = Collected()
    value = config.get("database", "sql_alchemy_conn")
    if value is None:
        if "sql_alchemy_conn" not in config.unknown:
            found.notes.append("no sql_alchemy_conn: Airflow's default SQLite database, not probed")
        return found
    dialect = _dialect(value.text)
    if not is_postgres(value.text):
        # Name the database only when the word is one: any other text may be all password.
        what = f"a {dialect} database" if dialect in DATABASES else "not a database URL"
        found.notes.append(f"{value.origin}: {what}, not probed")
        return found
    target = parse_target(value.text, name="metadata-db", source=value.origin)
    connect_args = libpq_connect_args(config, found)
    overridden = frozenset(connect_args or ())
    if connect_args:
        target = replace(target, params=tuple((dict(target.params) | connect_args).items()))
    client = _client(target, env, value, unknown=connect_args is None)
    if client is not None and client.hint and overridden & {"sslmode", "sslrootcert"}:
        client = replace(client, hint=_args_hint(overridden))
    trust = client_trust.for_airflow_postgres(value.origin)
    # Airflow's libpq is never given --ca-file: its root is sslrootcert or ~/.postgresql/root.crt.
    changed = replace(target, client=client, terms=TERMS, trust=trust, takes_ca_file=False)
    found.targets.append(changed)
    if value.from_file and target.password:
        found.warnings.append(
            f"{value.origin} holds a plaintext password: set AIRFLOW__DATABASE__SQL_ALCHEMY_CONN "
            "in the environment, or use sql_alchemy_conn_secret"
        )
    return found


def _dialect(text: str) -> str | None:
    """The database of an SQLAlchemy URL (postgresql+psycopg2:// is postgresql), or None."""
    parts = urls.split(text.strip(BLANKS))
    return None if parts is None else parts[parts.scheme].lower().partition("+")[0]


def is_postgres(text: str) -> bool:
    """Whether an SQLAlchemy URL is PostgreSQL's (libpq's), whatever its driver."""
    return _dialect(text) in ("postgresql", "postgres")


def libpq_connect_args(config: AirflowConfig, found: Collected) -> dict[str, str] | None:
    """The libpq keywords of sql_alchemy_connect_args's dict, which win over the URL's query
    ({} when unset, None when not imported), imported once a run: the import runs user code."""

    def imported() -> dict[str, str] | None:
        found_args = _connect_args(config, found)
        if found_args is None:
            return None
        return {k: v for k, v in found_args.items() if k in LIBPQ_KEYWORDS}

    return config.once(("database", "sql_alchemy_connect_args"), imported)


def _connect_args(config: AirflowConfig, found: Collected) -> dict[str, str] | None:
    """The dict [database] sql_alchemy_connect_args names: {} when unset, None when it is set
    and not imported (without --allow-cmd)."""
    value = config.get("database", "sql_alchemy_connect_args")
    if value is None or not value.text.strip():
        return {}
    if not config.allow_cmd:
        found.notes.append(
            f"{value.origin}: user code, not imported (pass --allow-cmd to import it): the "
            "sslmode it may set is unknown"
        )
        return None
    return _imported(value, config)


def _imported(value: Value, config: AirflowConfig) -> dict[str, str]:
    """The dict, imported in a child process with the paths Airflow adds to sys.path."""
    airflow_home = home(config.env) if "AIRFLOW_HOME" in config.env else config.path.parent
    paths = [str(airflow_home / "config"), str(airflow_home / "plugins")]
    argv = [sys.executable, "-c", _IMPORT, value.text.strip(), *paths]
    output = command_output(argv, f"{value.origin} (import {value.text.strip()!r})")
    try:
        data = json.loads(output)
    except ValueError:
        raise UsageError(f"{value.origin}: the import printed no dict") from None
    return {str(k): str(v) for k, v in data.items()}


def _client(
    target: Target, env: Mapping[str, str], value: Value, *, unknown: bool
) -> ClientTls | None:
    origin = "[database] sql_alchemy_conn"
    if unknown:
        return ClientTls(
            f"{origin}: sslmode unknown: [database] sql_alchemy_connect_args may set it "
            "(not imported)",
            Encrypts.MAYBE,
            False,
            False,
            hint="pass --allow-cmd to import [database] sql_alchemy_connect_args",
        )
    params = dict(target.params)
    client = client_tls.for_postgres_params(params, env)
    if client is None:
        return None
    # A verifying sslmode without a root file: the PostgreSQL probe says libpq refuses to
    # start, from the one resolution of libpq's roots (probes/postgres/roots.py).
    if client.encrypts is not Encrypts.YES or not client.verifies_host:
        hint = (
            f"add sslmode=verify-full and sslrootcert=/path/to/root.crt to the query of {origin} "
            "(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)"
        )
        return replace(client, hint=hint)
    return client


def _args_hint(overridden: frozenset[str]) -> str:
    """The hint when sql_alchemy_connect_args sets the TLS keywords: its dict wins over the
    URL's query, so that is where to change them."""
    keys = ", ".join(sorted(overridden & {"sslmode", "sslrootcert"}))
    return (
        f"[database] sql_alchemy_connect_args sets {keys}, which wins over the query of "
        "sql_alchemy_conn: set 'sslmode': 'verify-full' and 'sslrootcert': '/path/to/root.crt' "
        "in the dict it names (or drop them there and set them in sql_alchemy_conn)"
    )


TERMS = (
    (
        Fix.ADDRESS.value,
        "Airflow connects to the host and port in [database] sql_alchemy_conn "
        "(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN): check them, and that the server is running",
    ),
    (
        Fix.TRUST.value,
        "give libpq the issuing root: add sslrootcert=/path/to/root.crt to the query of "
        "[database] sql_alchemy_conn (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)",
    ),
)
