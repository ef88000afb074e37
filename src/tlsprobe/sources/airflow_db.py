"""--airflow-db: the connections kept in Airflow's metadata database, read through the configured
`sql_alchemy_conn` (airflow_rows.py), their password and extra decrypted with `[core]
fernet_key` as Airflow does (cryptography's MultiFernet over the comma-separated keys, the
first encrypting, any decrypting), each then made a target by the same code as an export's
connection (connections.parse_connection and add). Decrypted values live only in memory, in
the targets: the runner's scrub hides a target's password and the secret values it carries."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tlsprobe.failures import UsageError
from tlsprobe.sources import Collected
from tlsprobe.sources.airflow import database
from tlsprobe.sources.airflow.config import AirflowConfig, Value
from tlsprobe.sources.airflow_conn import label
from tlsprobe.sources.airflow_rows import Database, Row, rows
from tlsprobe.sources.connections import add, parse_connection, shadowed

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

SOURCE = "Airflow metadata database"
FERNET_KEY = "[core] fernet_key"


def read(
    source: Path | AirflowConfig, env: Mapping[str, str], *, allow_cmd: bool = False
) -> Collected:
    """Every connection in the metadata database that airflow.cfg (at a path, or read already:
    one AirflowConfig a run, so that a *_cmd runs once) and the AIRFLOW__* environment
    configure: targets, and a note for each row not probed."""
    config = source if isinstance(source, AirflowConfig) else AirflowConfig(source, env, allow_cmd)
    found = Collected()
    where = _database(config, env, found)
    if where is None:
        return found
    stored = rows(where, env)
    keys = None
    if any(row.is_encrypted or row.is_extra_encrypted for row in stored):
        keys = _fernet(config, found)
    for row in stored:
        _add_row(found, row, keys, env)
    return found


def _database(config: AirflowConfig, env: Mapping[str, str], found: Collected) -> Database | None:
    """Where the metadata database is; Airflow's default SQLite file when nothing says."""
    value = config.get("database", "sql_alchemy_conn")
    if value is None and "sql_alchemy_conn" in config.unknown:
        found.notes.append(
            "--airflow-db: sql_alchemy_conn comes from a command not run or a secrets "
            "backend: the metadata database is not read"
        )
        return None
    if value is None:
        home = env.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
        value = Value(f"sqlite:///{home}/airflow.db", "Airflow's default sql_alchemy_conn", False)
    schema = config.get("database", "sql_alchemy_schema")
    # Airflow connects to PostgreSQL with sql_alchemy_connect_args too (its keys win over the
    # URL's); for any other database they are no libpq keywords, and nothing is imported.
    postgres = database.is_postgres(value.text)
    args = (database.libpq_connect_args(config, found) or {}) if postgres else {}
    return Database(
        value.text, value.origin, schema.text.strip() if schema else "", tuple(args.items())
    )


def _fernet(config: AirflowConfig, found: Collected) -> MultiFernet | None:
    """[core] fernet_key as Airflow's get_fernet reads it: comma-separated keys, none when
    empty; a key that is not one is a UsageError (Airflow cannot decrypt anything either)."""
    from cryptography.fernet import Fernet, MultiFernet

    before = len(config.notes)
    value = config.get("core", "fernet_key")
    found.notes.extend(config.notes[before:])  # a _cmd not run, a _secret
    if value is None or not value.text.strip():
        return None
    try:
        return MultiFernet([Fernet(part.encode("utf-8")) for part in value.text.split(",")])
    except (ValueError, TypeError):  # binascii.Error is a ValueError; the key is never quoted
        raise UsageError(
            f"{value.origin}: not a Fernet key (each of its comma-separated keys is 32 bytes "
            "in URL-safe base64, as `airflow` or cryptography's Fernet.generate_key() makes one)"
        ) from None


class _Undecryptable(Exception):
    """A row whose password or extra cannot be decrypted; the message names no secret."""


def _add_row(found: Collected, row: Row, keys: MultiFernet | None, env: Mapping[str, str]) -> None:
    """The row as a target (with its decrypted secrets for the scrub), or one note."""
    called = label(row.conn_id)
    where = f"{SOURCE}: {called}"
    if note := shadowed(row.conn_id, env, where):
        found.notes.append(note)
        return
    try:
        password = _plain(row.password, row.is_encrypted, keys, "password")
        extra = _plain(row.extra, row.is_extra_encrypted, keys, "extra")
    except _Undecryptable as exc:
        found.notes.append(f"{where}: {exc}; not probed")
        return
    fields = {
        "conn_type": row.conn_type,
        "host": row.host,
        "login": row.login,
        "password": password,
        "schema": row.schema,
        "port": row.port,
        "extra": extra,
    }
    try:
        add(found, parse_connection(row.conn_id, fields, where), where, env)
    except UsageError as exc:  # one bad row is not the whole table's fault
        found.notes.append(f"{exc}; not probed")


def _plain(stored: str | None, encrypted: bool, keys: MultiFernet | None, what: str) -> str | None:
    """A field as Airflow's get_password / get_extra return it (an empty one is never
    decrypted)."""
    from cryptography.fernet import InvalidToken

    if not stored or not encrypted:
        return stored
    if keys is None:
        raise _Undecryptable(f"its {what} is encrypted and no {FERNET_KEY} is set")
    try:
        return keys.decrypt(stored.encode("utf-8")).decode("utf-8")
    except InvalidToken:
        raise _Undecryptable(
            f"its {what} cannot be decrypted with {FERNET_KEY} (encrypted with another key: "
            "list the old key after the new one, comma-separated, as Airflow's key rotation "
            "does)"
        ) from None
    except UnicodeError:
        raise _Undecryptable(f"its {what} decrypts to bytes that are not UTF-8") from None
