"""Airflow connections: AIRFLOW_CONN_* variables (URI or JSON) and `airflow connections export`
files (JSON, YAML, env). Each becomes a target when its type is one tlsprobe probes; its fields
go through the targets' door one by one (targets.from_parts), never as a URL written to be
parsed again."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from tlsprobe.failures import UsageError
from tlsprobe.model import Fix
from tlsprobe.sources import Collected, airflow_hooks, named, read_text
from tlsprobe.sources.airflow_conn import Connection, label
from tlsprobe.sources.structured import json_value, yaml_value
from tlsprobe.targets import checked, hosts, is_secret_key, text, urls

PREFIX = "AIRFLOW_CONN_"
POSTGRES_TYPES = {"postgres", "postgresql"}
SMTP_TYPES = {"smtp", "email"}
HTTP_TYPES = {"http", "https"}
TEXT_FIELDS = ("conn_type", "host", "login", "password", "schema")


def from_environment(env: Mapping[str, str]) -> Collected:
    found = Collected()
    for variable in sorted(v for v in env if v.startswith(PREFIX)):
        conn_id, where = variable[len(PREFIX) :].lower(), label(variable)
        if not env[variable]:
            # Airflow takes only a variable that is set and not empty, and looks further
            # (the metadata database) for one that is empty: so does tlsprobe (see shadowed).
            found.notes.append(f"{where} is empty: Airflow ignores it, and so does tlsprobe")
            continue
        add(found, parse_connection(conn_id, env[variable], where), where, env)
    return found


def from_file(
    path: Path, env: Mapping[str, str] | None = None, *, env_first: bool = False
) -> Collected:
    """A file written by `airflow connections export` (.json, .yaml/.yml or .env); `env` is
    the environment Airflow's workers run with (tlsprobe's own when not given). The export
    stands in for the metadata database: with `env_first` (the AIRFLOW_CONN_* variables are
    probed too), a connection one of them defines as well is noted as shadowed, not probed."""
    entries = _entries(path, read_text(path, "Airflow connections export"))
    workers = os.environ if env is None else env
    found = Collected()
    for conn_id, value in entries.items():
        where = f"{named(Path(path.name))}: {label(conn_id)}"
        if env_first and (note := shadowed(str(conn_id), workers, where)):
            found.notes.append(note)
            continue
        add(found, parse_connection(str(conn_id), value, where), where, workers)
    return found


def shadowed(conn_id: str, env: Mapping[str, str], where: str) -> str | None:
    """The note for a connection of the metadata database (or an export) that an AIRFLOW_CONN_*
    variable defines too; None when none does. Airflow's default secrets search path
    (airflow/secrets/base_secrets.py) asks the environment variables before the metastore, and
    takes a variable that is set and not empty (EnvironmentVariablesBackend.get_conn_value)."""
    variable = PREFIX + conn_id.upper()
    if not env.get(variable):
        return None
    return (
        f"{where}: shadowed by {label(variable)}, which Airflow looks up first (environment "
        "variables before the metadata database): not probed, the variable's connection is"
    )


def _entries(path: Path, content: str) -> Mapping[Any, Any]:
    suffix = path.suffix.lower()
    readers = {".json": json_value, ".yaml": yaml_value, ".yml": yaml_value, ".env": _env_file}
    if suffix not in readers:
        raise UsageError(f"{named(path)}: unknown export format (expected .json, .yaml or .env)")
    data = checked(named(path), readers[suffix], content)
    if data is None and suffix in (".yaml", ".yml"):
        return {}  # an empty YAML file
    if not isinstance(data, dict):
        raise UsageError(f"{named(path)}: expected a mapping of connection ids to connections")
    return data


def _env_file(content: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise UsageError(f"line {number} has no '='")
        entries[key.strip()] = value.strip().strip("'\"")
    return entries


def parse_connection(conn_id: str, value: Any, where: str) -> Connection:
    """A connection from Airflow's URI form, its JSON form, or an export's mapping."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = checked(where, json_value, value)
    if isinstance(value, Mapping):
        return _from_mapping(conn_id, value, where)
    if isinstance(value, str):
        return _from_uri(conn_id, value, where)
    raise UsageError(f"{where}: expected a URI or a JSON object, got {type(value).__name__}")


def _from_mapping(conn_id: str, data: Mapping[str, Any], where: str) -> Connection:
    fields: dict[str, str] = {}
    for key in TEXT_FIELDS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            kind = type(value).__name__
            raise UsageError(f"{where}: {key}: expected a string, got {kind} (quote it)")
        fields[key] = value or ""
    return Connection(
        conn_id=conn_id,
        conn_type=_conn_type(fields["conn_type"]),
        host=fields["host"],
        port=_port(data.get("port"), where),
        login=fields["login"] or None,
        password=fields["password"] or None,
        schema=fields["schema"],
        extra=_extra(data.get("extra"), where),
    )


def _conn_type(text: str) -> str:
    """Airflow's normalisation: postgresql is postgres, and "-" is "_"."""
    kind = text.lower().replace("-", "_")
    return "postgres" if kind == "postgresql" else kind


def _port(value: Any, where: str) -> int | None:
    """A port as Airflow stores it: a number, or a string of digits; absent or empty is none."""
    if value is None or value == "":
        return None
    return checked(f"{where}: port", hosts.port_number, value)


def _extra(value: Any, where: str, what: str = "extra") -> Mapping[str, Any]:
    """`extra`: a JSON object, or a string holding one (as Airflow stores it); the extras
    decide how the client connects, so one that cannot be read stops the run."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        value = checked(f"{where}: {what}", json_value, value)
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: {what}: expected a JSON object, got {type(value).__name__}")
    return {k: v for k, v in value.items() if v is not None}  # null: as if not given


def _from_uri(conn_id: str, uri: str, where: str) -> Connection:
    """Airflow's URI form, read as Airflow reads it: the user name ends at the last "@", the
    path is the schema, and the query is the extra (or its __extra__ parameter, as JSON),
    every value of a query being text. A second scheme after the type's
    (http://https://host:8443, as `airflow connections export` writes a host that holds a
    scheme) belongs to the host; so does a host that decodes to one (https%3A%2F%2Fhost)."""
    given = uri.strip(text.BLANKS)
    if given.count("://") > 2:
        raise UsageError(f"{where}: not a connection URI (more than two '://')")
    outer = urls.split(given)
    if outer is None:
        raise UsageError(f"{where}: not a connection URI (expected type://host...)")
    conn_type = outer[outer.scheme]
    protocol, parts = _inner(given, conn_type, outer)
    try:
        if why := text.problem(parts.text):
            raise urls.refuse(parts, why)
        if parts.late_at >= 0 and parts.user is None:
            raise urls.refuse(parts, f"an @ after the host: {urls.ENCODING_HINT}")
        login, password = urls.credentials(parts)
        host = _host(parts, protocol)
        port = urls.port_of(parts, "https") if parts.port and parts[parts.port] else None
        schema = text.decode(parts[parts.path][1:], "the schema")
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    query = parse_qsl(parts[parts.query], keep_blank_values=True) if parts.query else []
    extra: Mapping[str, Any] = dict(query)
    if "__extra__" in extra:
        extra = _extra(extra["__extra__"], where, "__extra__")
    return Connection(
        conn_id=conn_id,
        conn_type=_conn_type(conn_type),
        host=host,
        port=port,
        login=login,
        password=password or None,
        schema=schema,
        extra=extra,
    )


def _inner(given: str, conn_type: str, outer: urls.Parts) -> tuple[str | None, urls.Parts]:
    """The host's own protocol and the URI after the type's scheme, when the host holds one;
    else None and the URI as it stands."""
    if given.count("://") != 2:
        return None, outer
    rest = given[len(conn_type) + 3 :]
    inner = urls.split(rest)
    if inner is None or inner[inner.scheme] == conn_type:
        # Airflow removes every "type://" and finds no host: so does tlsprobe (no host).
        return None, urls.split(f"{conn_type}:///") or outer
    return inner[inner.scheme], inner


def _host(parts: urls.Parts, protocol: str | None) -> str:
    """The host field as Airflow keeps it: the protocol in front when the URI held one, and
    percent-decoded as it stands when it decodes to a URL (Airflow keeps its "/")."""
    raw = parts[parts.host]
    if not raw:
        return ""
    if protocol is not None:
        return f"{protocol}://{unquote(raw)}"
    decoded = unquote(raw)
    return decoded if "/" in decoded else urls.host_of(parts)


def add(found: Collected, connection: Connection, where: str, env: Mapping[str, str]) -> None:
    """Turn a connection into the target its hook opens (with how the hook connects), or a
    note; notes on extras the hook reads otherwise than written."""
    kind, called = connection.conn_type, connection.label
    if kind in POSTGRES_TYPES | SMTP_TYPES | HTTP_TYPES and not connection.host:
        found.notes.append(f"{where}: connection {called} has no host; not probed")
        return
    makers = dict.fromkeys(POSTGRES_TYPES, airflow_hooks.postgres)
    makers |= dict.fromkeys(SMTP_TYPES, airflow_hooks.smtp)
    make = (makers | dict.fromkeys(HTTP_TYPES, airflow_hooks.http)).get(kind)
    if make is None:
        found.notes.append(
            f"{where}: connection {called} is of type {label(kind or '(none)')}: not probed "
            "(tlsprobe probes postgres, smtp/email and http/https connections)"
        )
        return
    try:
        target, notes = make(connection, where)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    trust = airflow_hooks.trust_for(connection, env)
    address = (
        Fix.ADDRESS.value,
        f"Airflow connects to the host and port fields of connection {called}: check them, "
        "and that the server is running",
    )
    # The extra's secrets (a token, an API key, an Authorization header), whatever the source:
    # the scrub hides them should they ever come back.
    hidden = tuple(dict.fromkeys([*target.hidden, *secret_values(connection.extra)]))
    changed = replace(target, trust=trust, terms=(*target.terms, address), hidden=hidden)
    found.targets.append(changed)
    found.notes.extend(f"{where}: {note}" for note in notes)


def secret_values(data: Any, *, secret: bool = False) -> Iterator[str]:
    """The values in an extra that its keys say are secrets, at any depth (a value under a
    secret key is secret all the way down)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from secret_values(value, secret=secret or is_secret_key(str(key)))
    elif isinstance(data, list):
        for value in data:
            yield from secret_values(value, secret=secret)
    elif secret and isinstance(data, str) and _could_be_a_secret(data):
        yield data


# Known by a key's name alone ("token_ttl", "auth_type" look secret too): a short or numeric
# value would be hidden wherever it appears (a port "1", a "TLSv1.2"), so only what could be a
# secret is. A connection's password is hidden whatever its length (secrets.py).
_MIN_SECRET = 6


def _could_be_a_secret(value: str) -> bool:
    return len(value) >= _MIN_SECRET and not value.isdigit()


def find_connection(conn_id: str, env: Mapping[str, str], export: Path | None) -> Connection | None:
    """The connection `conn_id` as Airflow's get_connection_from_secrets would find it without
    a secrets backend: AIRFLOW_CONN_<ID>, then the metadata database (an export stands in)."""
    variable = PREFIX + conn_id.upper()
    if env.get(variable):  # an empty one Airflow ignores (see from_environment)
        return parse_connection(conn_id, env[variable], label(variable))
    if export is None:
        return None
    entries = _entries(export, read_text(export, "Airflow connections export"))
    if conn_id not in entries:
        return None
    where = f"{named(Path(export.name))}: {label(conn_id)}"
    return parse_connection(conn_id, entries[conn_id], where)
