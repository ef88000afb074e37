"""Airflow connections: AIRFLOW_CONN_* variables (URI or JSON) and `airflow connections export`
files (JSON, YAML, env). Each becomes a target when its type is one tlsprobe probes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from tlsprobe.failures import UsageError
from tlsprobe.sources import Collected, read_text, userinfo
from tlsprobe.targets import (
    REDACTED,
    Target,
    client_tls,
    is_ip_literal,
    parse_target,
    urls,
)

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
        conn_id = variable[len(PREFIX) :].lower()
        connection = parse_connection(conn_id, env[variable], variable)
        add(found, connection, variable)
    return found


def from_file(path: Path) -> Collected:
    """A file written by `airflow connections export` (.json, .yaml/.yml or .env)."""
    entries = _entries(path, read_text(path, "Airflow connections export"))
    found = Collected()
    for conn_id, value in entries.items():
        where = f"{path.name}: {conn_id}"
        add(found, parse_connection(str(conn_id), value, where), where)
    return found


def _entries(path: Path, text: str) -> Mapping[str, Any]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = _yaml(text)
        elif suffix == ".env":
            data = dict(_env_line(line) for line in text.splitlines() if _is_entry(line))
        else:
            raise UsageError(f"{path}: unknown export format (expected .json, .yaml or .env)")
    except (json.JSONDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"{path}: not a valid connections export ({first})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of connection ids to connections")
    return data


def _yaml(text: str) -> Any:
    import yaml  # only for YAML exports: it costs 25 ms at start-up

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def _is_entry(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _env_line(line: str) -> tuple[str, str]:
    key, sep, value = line.partition("=")
    if not sep:
        raise ValueError(f"line without '=': {line.strip()[:40]!r}")
    return key.strip(), value.strip().strip("'\"")


def parse_connection(conn_id: str, value: Any, where: str) -> Connection:
    """A connection from Airflow's URI form, its JSON form, or an export's mapping."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise UsageError(f"{where}: not valid JSON") from None
    if isinstance(value, Mapping):
        return _from_mapping(conn_id, value, where)
    if isinstance(value, str):
        return _from_uri(conn_id, value, where)
    raise UsageError(f"{where}: expected a URI or a JSON object")


def _from_mapping(conn_id: str, data: Mapping[str, Any], where: str) -> Connection:
    def text(key: str) -> str:
        """A string field; a number (a port-like schema, say) is taken as written."""
        value = data.get(key)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise UsageError(f"{where}: {key}: expected a string, got {type(value).__name__}")
        return str(value)

    return Connection(
        conn_id=conn_id,
        conn_type=text("conn_type").lower().replace("-", "_"),
        host=text("host"),
        port=_port(data.get("port"), where),
        login=text("login") or None,
        password=text("password") or None,
        schema=text("schema"),
        extra=_extra(data.get("extra"), where),
    )


def _port(value: Any, where: str) -> int | None:
    """A port as Airflow stores it: a number, or a string of digits; absent or empty is none."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    raise UsageError(f"{where}: port: expected a number from 1 to 65535, got {value!r}")


def _extra(value: Any, where: str) -> Mapping[str, Any]:
    """`extra`: a JSON object, or a string holding one (as Airflow stores it); the extras
    decide how the client connects, so one that cannot be read stops the run."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise UsageError(f"{where}: extra is not valid JSON") from None
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: extra: expected a JSON object, got {type(value).__name__}")
    return {k: v for k, v in value.items() if v is not None}  # null: as if not given


def _from_uri(conn_id: str, uri: str, where: str) -> Connection:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise UsageError(f"{where}: not a valid connection URI{urls._encoding_hint(uri)}") from None
    if not parts.scheme:
        raise UsageError(f"{where}: not a connection URI (expected type://host...)")
    extra: Mapping[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "__extra__" in extra:
        extra = _extra(extra["__extra__"], f"{where}: __extra__")
    return Connection(
        conn_id=conn_id,
        conn_type=parts.scheme.lower().replace("-", "_"),
        host=unquote(parts.hostname or ""),
        port=_port(port, where),
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        schema=unquote(parts.path.lstrip("/")),
        extra=extra,
    )


def add(found: Collected, connection: Connection, where: str) -> None:
    """Turn a connection into a target (with how Airflow would connect), or a note."""
    kind = connection.conn_type
    if kind in POSTGRES_TYPES | SMTP_TYPES | HTTP_TYPES and not connection.host:
        found.notes.append(f"{where}: connection {connection.conn_id} has no host; not probed")
        return
    if kind in POSTGRES_TYPES:
        target = _postgres(connection, where)
    elif kind in SMTP_TYPES:
        target = _smtp(connection, where)
    elif kind in HTTP_TYPES:
        target = _http(connection, where)
    else:
        found.notes.append(
            f"{where}: connection {connection.conn_id} is of type {kind or '(none)'}: not probed "
            "(tlsprobe probes postgres, smtp/email and http/https connections)"
        )
        return
    found.targets.append(target)


def _authority(connection: Connection, where: str) -> str:
    return userinfo(connection.login, connection.password) + _hostport(connection, where)


def _hostport(connection: Connection, where: str) -> str:
    """host[:port] for a URL; only an IPv6 address is bracketed. A host with a port, a path or
    credentials in it would turn into another URL than the one meant, so it is refused."""
    host = connection.host.strip()
    if is_ip_literal(host) and ":" in host:
        host = f"[{host}]"
    elif any(c in host for c in ":/?#@[]") or any(c.isspace() for c in host):
        # What precedes an "@" may be a password.
        shown = f"{REDACTED}@{host.rpartition('@')[2]}" if "@" in host else host
        raise UsageError(
            f"{where}: host {shown!r} is not a host name or IP address "
            "(give the port, schema and login in their own fields)"
        )
    return f"{host}:{connection.port}" if connection.port else host


def _postgres(connection: Connection, where: str) -> Target:
    query = {k: str(v) for k, v in connection.extra.items() if k in POSTGRES_EXTRAS}
    suffix = f"?{urlencode(query)}" if query else ""
    url = f"postgresql://{_authority(connection, where)}/{connection.schema}{suffix}"
    return parse_target(url, name=connection.conn_id, source=where)


def _flag(extra: Mapping[str, Any], key: str) -> bool:
    value = extra.get(key, False)
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "t")


def _smtp(connection: Connection, where: str) -> Target:
    """The SMTP provider's hook: implicit TLS unless disable_ssl; then STARTTLS unless
    disable_tls (so a connection with neither flag speaks implicit TLS, even on port 587)."""
    ssl = not _flag(connection.extra, "disable_ssl")
    starttls = not ssl and not _flag(connection.extra, "disable_tls")
    verify = str(connection.extra.get("ssl_context", "default")).lower() != "none"
    scheme = "smtps" if ssl else "smtp"
    url = f"{scheme}://{_authority(connection, where)}"
    target = parse_target(url, name=connection.conn_id, source=where)
    return replace(target, client=client_tls.for_smtp(starttls, ssl, verify, where))


def _http(connection: Connection, where: str) -> Target:
    host = connection.host
    scheme = "https" if connection.conn_type == "https" or connection.schema == "https" else "http"
    if "://" in host:  # Airflow users often put the scheme in the host field
        scheme, _, host = host.partition("://")
        host = host.rstrip("/")
    hostport = f"{host}:{connection.port}" if connection.port else host
    url = f"{scheme}://{hostport}/"
    target = parse_target(url, name=connection.conn_id, source=where)
    return replace(target, client=client_tls.for_http(target.protocol, where))
