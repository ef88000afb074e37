"""Airflow connections: AIRFLOW_CONN_* variables (URI or JSON) and `airflow connections export`
files (JSON, YAML, env). Each becomes a target when its type is one tlsprobe probes; its fields
go through the targets' door one by one (targets.from_parts), never as a URL written to be
parsed again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from tlsprobe.failures import UsageError
from tlsprobe.sources import Collected, named, read_text
from tlsprobe.sources.structured import json_value, yaml_value
from tlsprobe.targets import Target, checked, client_tls, from_parts, hosts, text, urls

PREFIX = "AIRFLOW_CONN_"
POSTGRES_TYPES = {"postgres", "postgresql"}
SMTP_TYPES = {"smtp", "email"}
HTTP_TYPES = {"http", "https"}
# Extras that change how the client connects; others are ignored.
POSTGRES_EXTRAS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslnegotiation",
    "connect_timeout",
)
TEXT_FIELDS = ("conn_type", "host", "login", "password", "schema")


@dataclass(frozen=True)
class Connection:
    conn_id: str
    conn_type: str
    host: str = ""
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def from_environment(env: Mapping[str, str]) -> Collected:
    found = Collected()
    for variable in sorted(v for v in env if v.startswith(PREFIX)):
        conn_id, where = variable[len(PREFIX) :].lower(), _label(variable)
        add(found, parse_connection(conn_id, env[variable], where), where)
    return found


def from_file(path: Path) -> Collected:
    """A file written by `airflow connections export` (.json, .yaml/.yml or .env)."""
    entries = _entries(path, read_text(path, "Airflow connections export"))
    found = Collected()
    for conn_id, value in entries.items():
        where = f"{named(Path(path.name))}: {_label(conn_id)}"
        add(found, parse_connection(str(conn_id), value, where), where)
    return found


def _label(conn_id: object) -> str:
    name = str(conn_id)
    return name if name.isprintable() and len(name) <= 200 else repr(name[:200])


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
    path is the schema, and the query is the extra (or its __extra__ parameter, as JSON)."""
    parts = urls.split(uri.strip(text.BLANKS))
    if parts is None:
        raise UsageError(f"{where}: not a connection URI (expected type://host...)")
    try:
        if why := text.problem(parts.text):
            raise urls.refuse(parts, why)
        if parts.late_at >= 0 and parts.user is None:
            raise urls.refuse(parts, f"an @ after the host: {urls.ENCODING_HINT}")
        login, password = urls.credentials(parts)
        host = urls.host_of(parts) if parts[parts.host] else ""
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
        conn_type=_conn_type(parts[parts.scheme]),
        host=host,
        port=port,
        login=login,
        password=password or None,
        schema=schema,
        extra=extra,
    )


def add(found: Collected, connection: Connection, where: str) -> None:
    """Turn a connection into a target (with how Airflow would connect), or a note."""
    kind, label = connection.conn_type, _label(connection.conn_id)
    if kind in POSTGRES_TYPES | SMTP_TYPES | HTTP_TYPES and not connection.host:
        found.notes.append(f"{where}: connection {label} has no host; not probed")
        return
    makers = dict.fromkeys(POSTGRES_TYPES, _postgres) | dict.fromkeys(SMTP_TYPES, _smtp)
    make = (makers | dict.fromkeys(HTTP_TYPES, _http)).get(kind)
    if make is None:
        found.notes.append(
            f"{where}: connection {label} is of type {_label(kind or '(none)')}: not probed "
            "(tlsprobe probes postgres, smtp/email and http/https connections)"
        )
        return
    try:
        found.targets.append(make(connection, where))
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def _postgres(connection: Connection, where: str) -> Target:
    params = [(k, _scalar(k, v)) for k, v in connection.extra.items() if k in POSTGRES_EXTRAS]
    return from_parts(
        "postgresql",
        connection.host,
        connection.port,
        user=connection.login,
        password=connection.password,
        path="/" + connection.schema,
        params=params,
        name=connection.conn_id,
        source=where,
    )


def _scalar(key: str, value: Any) -> str:
    """An extra's value as libpq takes it: text, a number or a boolean, written as text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    raise UsageError(f"extra {key}: expected a string, got {type(value).__name__}")


def _flag(extra: Mapping[str, Any], key: str) -> bool:
    value = extra.get(key, False)
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "t")


def _smtp(connection: Connection, where: str) -> Target:
    """The SMTP provider's hook: implicit TLS unless disable_ssl; then STARTTLS unless
    disable_tls (so a connection with neither flag speaks implicit TLS, even on port 587)."""
    ssl = not _flag(connection.extra, "disable_ssl")
    starttls = not ssl and not _flag(connection.extra, "disable_tls")
    verify = str(connection.extra.get("ssl_context", "default")).lower() != "none"
    target = from_parts(
        "smtps" if ssl else "smtp",
        connection.host,
        connection.port,
        user=connection.login,
        password=connection.password,
        name=connection.conn_id,
        source=where,
    )
    return replace(target, client=client_tls.for_smtp(starttls, ssl, verify, where))


def _http(connection: Connection, where: str) -> Target:
    """The HTTP provider's base URL: schema://host[:port], or the host as it stands when it
    holds a scheme (Airflow users often write https://host in the host field)."""
    scheme = "https" if "https" in (connection.conn_type, connection.schema) else "http"
    host, port, path = connection.host, connection.port, "/"
    if "://" in host:
        scheme, host, given_port, path = _base_url(host)
        port = port or given_port
    target = from_parts(scheme, host, port, path=path, name=connection.conn_id, source=where)
    return replace(target, client=client_tls.for_http(target.protocol, where))


def _base_url(text_given: str) -> tuple[str, str, int | None, str]:
    """scheme, host, port and path of a host field written as a URL (http or https only, with
    no credentials: those go in the login and password fields)."""
    parts = urls.split(text_given)
    if parts is None:
        raise UsageError("host: not a URL and not a host name")
    scheme = parts[parts.scheme].lower()
    if scheme not in ("http", "https"):
        raise urls.refuse(parts, "host: an http:// or https:// URL, or a host name, expected")
    if parts.user is not None or parts.late_at >= 0:
        raise urls.refuse(parts, "host: give the login and password in their own fields")
    port = urls.port_of(parts, scheme) if parts.port and parts[parts.port] else None
    return scheme, urls.host_of(parts), port, parts[parts.path] or "/"


def find_connection(conn_id: str, env: Mapping[str, str], export: Path | None) -> Connection | None:
    """The connection `conn_id` as Airflow's get_connection_from_secrets would find it without
    a secrets backend: AIRFLOW_CONN_<ID>, then the metadata database (an export stands in)."""
    variable = PREFIX + conn_id.upper()
    if variable in env:
        return parse_connection(conn_id, env[variable], _label(variable))
    if export is None:
        return None
    entries = _entries(export, read_text(export, "Airflow connections export"))
    if conn_id not in entries:
        return None
    where = f"{named(Path(export.name))}: {_label(conn_id)}"
    return parse_connection(conn_id, entries[conn_id], where)
