"""Airflow 3's core email (airflow/utils/email.py send_mime_email): host, port, smtp_ssl and
smtp_starttls from [smtp] only; the TLS context from [email] ssl_context; the login from the
connection [email] email_conn_id names, never from airflow.cfg. It connects with SMTP_SSL when
smtp_ssl is true, else SMTP, and then calls starttls() whenever smtp_starttls is true -- also
inside SMTP_SSL, which an ordinary SMTPS server refuses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from tlsprobe.failures import UsageError
from tlsprobe.model import Fix
from tlsprobe.sources import Collected
from tlsprobe.sources.airflow.config import AirflowConfig, Value, setting, variable
from tlsprobe.sources.airflow_conn import Connection
from tlsprobe.sources.connections import find_connection
from tlsprobe.targets import Target, checked, client_trust, from_parts, hosts, redact
from tlsprobe.targets.client_tls import ClientTls, Encrypts
from tlsprobe.targets.text import quoted

SMTP_BACKEND = "airflow.utils.email.send_email_smtp"
DEFAULT_CONN_ID = "smtp_default"
# The [smtp] keys send_mime_email reads for where and how it connects, and their defaults.
READ = {"smtp_host": "localhost", "smtp_port": "25", "smtp_starttls": "True", "smtp_ssl": "False"}
# Keys users write that Airflow 3's core email never reads, by section.
NEVER_READ = {"smtp": ("smtp_user", "smtp_password", "ssl_context")}


def read(config: AirflowConfig, env: Mapping[str, str], connections_file: Path | None) -> Collected:
    found = Collected()
    backend = config.get("email", "email_backend")
    if backend is not None and backend.text.strip() != SMTP_BACKEND:
        found.notes.append(
            f"{backend.origin} = {backend.text.strip()!r}: not Airflow's SMTP sender "
            f"({SMTP_BACKEND}); [smtp] not probed"
        )
        return found
    ignored = _ignored(config)
    found.warnings.extend(_ignored_warning(value, config) for value in ignored)
    given = {key: config.get("smtp", key) for key in READ}
    if not any(given.values()) and not ignored:
        found.notes.append(
            "no [smtp] settings: core email not probed (Airflow would send to localhost:25 "
            "with STARTTLS)"
        )
        return found
    defaults = [f"{key} = {READ[key]}" for key, value in given.items() if value is None]
    if defaults:
        found.notes.append(f"[smtp]: Airflow's defaults assumed: {', '.join(defaults)}")
    target = _target(config, env, connections_file, found)
    found.targets.append(replace(target, terms=(*target.terms, _address(ignored))))
    return found


def _address(ignored: list[Value]) -> tuple[str, str]:
    """Where core email connects, in airflow.cfg's terms: a connect failure's hint."""
    words = (
        "core email connects to [smtp] smtp_host and smtp_port (AIRFLOW__SMTP__SMTP_HOST, "
        "AIRFLOW__SMTP__SMTP_PORT; defaults localhost and 25): check them, and that the "
        "server is running"
    )
    misplaced = sorted({v.key for v in ignored if v.key in READ and v.section == "email"})
    if misplaced:
        words += f"; {', '.join(misplaced)} under [email] are never read: move them to [smtp]"
    return Fix.ADDRESS.value, words


def _ignored(config: AirflowConfig) -> list[Value]:
    """smtp_* keys under [email] (no deprecated name maps them to [smtp]), and the [smtp]
    keys Airflow 3 no longer reads."""
    email = [v for v in config.present("email") if v.key.startswith("smtp_")]
    smtp = [v for v in config.present("smtp") if v.key in NEVER_READ["smtp"]]
    return email + smtp


def _ignored_warning(value: Value, config: AirflowConfig) -> str:
    conn_id = _conn_id(config)
    if value.key in ("smtp_user", "smtp_password"):
        fix = (
            f"Airflow 3 takes the login from connection {conn_id} ([email] email_conn_id): "
            f"put it there (AIRFLOW_CONN_{conn_id.upper()} or a secrets backend)"
        )
        if value.key == "smtp_password" and value.from_file:
            fix = "a plaintext password, and " + fix
    elif value.key == "ssl_context":
        fix = f"Airflow reads ssl_context from [email] only ({variable('email', 'ssl_context')})"
    else:
        new = f"[smtp] {value.key} ({variable('smtp', value.key)})"
        fix = f"core email reads {value.key} from [smtp] only: move it to {new}"
    return f"{value.origin}: never read by Airflow 3; {fix}"


def _conn_id(config: AirflowConfig) -> str:
    value = config.get("email", "email_conn_id")
    return value.text.strip() if value is not None and value.text.strip() else DEFAULT_CONN_ID


def _target(
    config: AirflowConfig, env: Mapping[str, str], connections_file: Path | None, found: Collected
) -> Target:
    host = config.get("smtp", "smtp_host")
    origin = host.origin if host is not None else "airflow.cfg [smtp] (defaults)"
    name = checked(host.origin, _smtp_host, host.text) if host is not None else "localhost"
    port = _port(config.get("smtp", "smtp_port"))
    ssl, _ = config.boolean("smtp", "smtp_ssl", default=False)
    starttls, _ = config.boolean("smtp", "smtp_starttls", default=True)
    user, password = _login(config, env, connections_file, found)
    try:
        target = from_parts(
            "smtps" if ssl else "smtp",
            name,
            port,
            user=user,
            password=password,
            name="smtp",
            source=origin,
        )
    except UsageError as exc:  # the connection's login or password
        where = f"connection {_conn_id(config)} ([email] email_conn_id)"
        raise UsageError(f"{where}: login, password: {exc}") from None
    client = client_for(starttls, ssl, config.get("email", "ssl_context"))
    trust = client_trust.for_airflow_smtp(env, "core email, [smtp]")
    return replace(target, client=client, terms=TERMS, trust=trust)


def _login(
    config: AirflowConfig, env: Mapping[str, str], connections_file: Path | None, found: Collected
) -> tuple[str | None, str | None]:
    """The login send_mime_email uses: the connection's login and password when both are set
    (Connection.get_connection_from_secrets: a secrets backend, AIRFLOW_CONN_<ID>, then the
    metadata database, which an export stands in for); else no login at all."""
    conn_id = _conn_id(config)
    connection: Connection | None = find_connection(conn_id, env, connections_file)
    if connection is None:
        where = f"AIRFLOW_CONN_{conn_id.upper()}"
        if connections_file is not None:
            where += f" or {connections_file.name}"
        found.notes.append(
            f"[email] email_conn_id: connection {conn_id} not in {where}: the [smtp] target "
            "does not log in (Airflow logs in only when it finds the connection, in a secrets "
            "backend or the metadata database too)"
        )
        return None, None
    if not (connection.login and connection.password):
        found.notes.append(
            f"connection {conn_id} has no login and password both: Airflow sends email "
            "without logging in, and so does the [smtp] target"
        )
        return None, None
    return connection.login, connection.password


def client_for(starttls: bool, ssl: bool, context: Value | None) -> ClientTls:
    """How send_mime_email connects, with the change to make in airflow.cfg's terms."""
    words = f"[smtp] smtp_ssl = {ssl}, smtp_starttls = {starttls}"
    if ssl and starttls:
        why = (
            f"{words}: Airflow calls STARTTLS inside implicit TLS, which an SMTPS server "
            "refuses (STARTTLS extension not supported by server)"
        )
        return ClientTls(
            why, Encrypts.YES, hint=_set(("smtp", "smtp_starttls", "False")), broken=True
        )
    if not (ssl or starttls):
        hint = _set(("smtp", "smtp_starttls", "True"))
        return ClientTls(words, Encrypts.NO, False, False, hint=hint)
    mode = "default" if context is None else context.text
    if mode == "default":
        return ClientTls(words, Encrypts.YES)
    if mode == "none":
        words += f"; {context.origin if context else ''} = none: no certificate check"
        hint = _set(("email", "ssl_context", "default"))
        return ClientTls(words, Encrypts.YES, False, False, hint=hint)
    origin = context.origin if context else "[email] ssl_context"
    why = f"{words}; {origin} = {mode!r}: Airflow raises, it takes only default or none"
    return ClientTls(why, Encrypts.YES, hint=_set(("email", "ssl_context", "default")), broken=True)


def _set(*settings: tuple[str, str, str]) -> str:
    return "set " + " and ".join(setting(*each) for each in settings)


TERMS = (
    (
        Fix.IMPLICIT_TLS.value,
        "this port speaks implicit TLS: "
        + _set(("smtp", "smtp_ssl", "True"), ("smtp", "smtp_starttls", "False")),
    ),
    (
        Fix.PLAINTEXT_FIRST.value,
        "this port speaks plaintext first: "
        + _set(("smtp", "smtp_ssl", "False"), ("smtp", "smtp_starttls", "True")),
    ),
    (
        Fix.TRUST.value,
        "give Airflow's processes that send email the issuing root: SSL_CERT_FILE=/path/to/"
        "root.pem in their environment (core email verifies with Python's default context)",
    ),
)


def _port(value: Value | None) -> int:
    """Airflow's getint (a whole float counts), then a port number."""
    if value is None:
        return 25
    try:
        number = float(value.text)
        whole = str(int(number)) if number == int(number) else value.text
    except (ValueError, OverflowError):
        whole = value.text
    return checked(value.origin, hosts.port_number, whole.strip())


def _smtp_host(text: str) -> str:
    """smtp_host is a host: Airflow hands it to smtplib as one (a URL there is a typo)."""
    host = text.strip()
    if "://" in host:
        raise UsageError(
            f"{quoted(redact(host))} is a URL: smtp_host is a host name or address (Airflow "
            "passes it to smtplib as a host; the port has a key of its own)"
        )
    return hosts.field_host(host)
