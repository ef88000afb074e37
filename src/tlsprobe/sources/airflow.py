"""airflow.cfg and its environment, read the way Airflow reads them: AIRFLOW__SECTION__KEY
overrides the file; *_cmd values run only with --allow-cmd; *_secret values are only reported."""

from __future__ import annotations

import configparser
import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tlsprobe.failures import UsageError
from tlsprobe.sources import Collected, named, read_text
from tlsprobe.sources.airflow_backend import backend_notes
from tlsprobe.sources.connections import from_environment
from tlsprobe.targets import (
    Target,
    checked,
    client_tls,
    from_parts,
    hosts,
    parse_target,
    redact,
    urls,
)
from tlsprobe.targets.text import BLANKS, quoted

CMD_TIMEOUT_S = 10.0
_TRUE = {"t", "true", "1", "yes", "on"}
_FALSE = {"f", "false", "0", "no", "off"}
# The databases a sql_alchemy_conn's scheme may name (SQLAlchemy's own dialects and common
# third-party ones): only these are named in the note; any other word may be a password.
_DATABASES = """sqlite mysql mariadb mssql oracle cockroachdb redshift snowflake duckdb
    clickhouse trino presto hive databricks bigquery db2 ibm_db_sa firebird sybase teradatasql
    vertica hana exasol"""
DATABASES = frozenset(_DATABASES.split())
# Airflow runs *_cmd and reads *_secret only for its sensitive options (sensitive_config_values);
# for any other option it ignores them, and so does tlsprobe. These are the ones tlsprobe reads.
SENSITIVE = {
    ("database", "sql_alchemy_conn"),
    ("core", "sql_alchemy_conn"),
    ("smtp", "smtp_password"),
    ("core", "fernet_key"),  # read by --airflow-db (sources/airflow_db.py)
}
_UNKNOWN = object()  # a value Airflow would take from a command not run, or a secrets backend


def default_path(env: Mapping[str, str]) -> Path:
    home = env.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
    return Path(home) / "airflow.cfg"


@dataclass(frozen=True)
class Value:
    text: str
    origin: str  # "airflow.cfg [smtp] smtp_host" or "AIRFLOW__SMTP__SMTP_HOST"
    from_file: bool


class AirflowConfig:
    """Look-ups in Airflow's order (its configuration.py `get`): the environment (the variable,
    then _CMD, then _SECRET), then the file's key, then the file's _cmd, then its _secret; each
    step over the sections asked for, as Airflow tries an option's deprecated section."""

    def __init__(self, path: Path, env: Mapping[str, str], allow_cmd: bool) -> None:
        self.path, self.env, self.allow_cmd = path, env, allow_cmd
        # Airflow interpolates like ConfigParser: a "%" in a password is written "%%".
        self.parser = configparser.ConfigParser(strict=False)
        self.notes: list[str] = []
        self.unknown: set[str] = set()  # keys whose value a command or secrets backend holds
        text = read_text(path, "the Airflow configuration")
        try:
            self.parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            first = str(exc).splitlines()[0]
            raise UsageError(f"{named(path)}: not a valid airflow.cfg ({first!r})") from None

    def first(self, sections: tuple[str, ...], key: str) -> Value | None:
        """The value of `key`, from the first step and section that has it; None when none
        has it, or when a command not run (or a secrets backend) holds it."""
        steps = (self._environment, self._file, self._file_cmd, self._file_secret)
        for step in steps:
            for section in sections:
                found = step(section, key)
                if found is _UNKNOWN:
                    self.unknown.add(key)
                    return None
                if isinstance(found, Value):
                    return found
        return None

    def get(self, section: str, key: str) -> Value | None:
        return self.first((section,), key)

    def _environment(self, section: str, key: str) -> Value | object | None:
        variable = f"AIRFLOW__{section.upper()}__{key.upper()}"
        if variable in self.env:
            return Value(self.env[variable], variable, False)
        if (section, key) not in SENSITIVE:
            return None
        for suffix in ("_CMD", "_SECRET"):
            if variable + suffix in self.env:
                return self._indirect(Value(self.env[variable + suffix], variable + suffix, False))
        return None

    def _file_cmd(self, section: str, key: str) -> Value | object | None:
        return self._file_variant(section, key, "_cmd")

    def _file_secret(self, section: str, key: str) -> Value | object | None:
        return self._file_variant(section, key, "_secret")

    def _file_variant(self, section: str, key: str, suffix: str) -> Value | object | None:
        if (section, key) not in SENSITIVE:
            return None
        found = self._file(section, key + suffix)
        return None if found is None else self._indirect(found)

    def _file(self, section: str, key: str) -> Value | None:
        if not self.parser.has_option(section, key):
            return None
        try:
            text = self.parser.get(section, key)
        except configparser.InterpolationError:
            where = f"{named(self.path)}: [{section}] {key}"
            raise UsageError(f"{where}: a lone '%' (write a literal % as %%)") from None
        return Value(text, f"{self.path.name} [{section}] {key}", True)

    def _indirect(self, found: Value) -> Value | object:
        """A _cmd's output (with --allow-cmd), or _UNKNOWN and a note; a _secret is noted."""
        if found.origin.lower().endswith("_secret"):
            self.notes.append(f"{found.origin}: read from a secrets backend; not probed")
            return _UNKNOWN
        if not self.allow_cmd:
            self.notes.append(f"{found.origin}: a command, not run (pass --allow-cmd to run it)")
            return _UNKNOWN
        return Value(_command_output(found), f"{found.origin} (command output)", False)

    def boolean(self, sections: tuple[str, ...], key: str, default: bool) -> bool:
        value = self.first(sections, key)
        if value is None:
            return default
        word = value.text.strip().lower()
        if word not in _TRUE | _FALSE:
            raise UsageError(f"{value.origin}: expected True or False")  # the value may be a secret
        return word in _TRUE


def read(path: Path, env: Mapping[str, str], *, allow_cmd: bool = False) -> Collected:
    """The metadata database, the web server, SMTP, and AIRFLOW_CONN_* connections."""
    config = AirflowConfig(path, env, allow_cmd)
    found = Collected()
    for part in (_metadata_db(config), _webserver(config), _smtp(config), from_environment(env)):
        found.extend(part)
    found.notes.extend(backend_notes(config.get("secrets", "backend")))
    found.notes[:0] = config.notes
    return found


def _metadata_db(config: AirflowConfig) -> Collected:
    found = Collected()
    value = config.first(("database", "core"), "sql_alchemy_conn")
    if value is None:
        if "sql_alchemy_conn" not in config.unknown:
            found.notes.append("no sql_alchemy_conn: Airflow's default SQLite database, not probed")
        return found
    dialect = _dialect(value.text)
    if dialect not in ("postgresql", "postgres"):
        # Name the database only when the word is one: any other text may be all password.
        what = f"a {dialect} database" if dialect in DATABASES else "not a database URL"
        found.notes.append(f"{value.origin}: {what}, not probed")
        return found
    target = parse_target(value.text, name="metadata-db", source=value.origin)
    found.targets.append(target)
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


def _command_output(found: Value) -> str:
    """What a *_cmd prints, run as Airflow runs it (split as a shell would, but no shell), with
    no terminal to prompt on: stdin is /dev/null, and a session of its own leaves it without a
    controlling terminal, so that a `read </dev/tty` fails at once instead of waiting for a
    password nobody types. Its stderr is dropped: it may quote the secret."""
    where = f"{found.origin}: the command"
    try:
        process = subprocess.Popen(
            shlex.split(found.text),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except (OSError, ValueError):  # no such program; unbalanced quotes
        raise UsageError(f"{where} could not be started") from None
    with process:
        try:
            output, _ = process.communicate(timeout=CMD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):  # the group may have just ended
                os.killpg(process.pid, signal.SIGKILL)  # the command and what it started
            raise UsageError(f"{where} did not finish within {CMD_TIMEOUT_S:g} s") from None
    if process.returncode != 0:
        raise UsageError(f"{where} failed (exit status {process.returncode})")
    try:
        return output.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise UsageError(f"{where} printed no UTF-8 text") from None


def _webserver(config: AirflowConfig) -> Collected:
    """Airflow 3's [api] or Airflow 2's [webserver]: https when a certificate is configured."""
    found = Collected()
    for section, prefix in (("api", ""), ("webserver", "web_server_")):
        cert = config.get(section, f"{prefix}ssl_cert")
        base_url = config.get(section, "base_url")
        if cert is not None and cert.text.strip():
            target = _listening(config, section, prefix, cert.origin)
        elif base_url is not None:
            target = parse_target(base_url.text, name="webserver", source=base_url.origin)
        else:
            continue
        client = client_tls.for_http(target.protocol, target.source)
        found.targets.append(replace(target, client=client))
        return found
    found.notes.append("no web server settings ([api] or [webserver]): web server not probed")
    return found


def _listening(config: AirflowConfig, section: str, prefix: str, origin: str) -> Target:
    """The web server where it listens: its host (a wildcard address means this machine) and
    port, each checked as a field on its own."""
    host = config.get(section, f"{prefix}host")
    port = config.get(section, f"{prefix}port")
    name = host.text.strip() if host else ""
    name = "localhost" if name in ("0.0.0.0", "::", "") else name
    number = port.text.strip() if port else 8080
    try:
        return from_parts("https", name, number, name="webserver", source=origin)
    except UsageError as exc:
        raise UsageError(f"{origin}: {exc}") from None


def _port(text: str) -> int:
    return hosts.port_number(text.strip())


def _smtp(config: AirflowConfig) -> Collected:
    found = Collected()
    sections = ("smtp", "email")
    host = config.first(sections, "smtp_host")
    if host is None:
        found.notes.append("no smtp_host in [smtp] or [email]: SMTP not probed")
        return found
    ssl = config.boolean(sections, "smtp_ssl", default=False)
    starttls = config.boolean(sections, "smtp_starttls", default=True)
    port = config.first(sections, "smtp_port")
    user = config.first(sections, "smtp_user")
    password = config.first(sections, "smtp_password")
    context = config.first(("email", "smtp"), "ssl_context")
    verify = context is None or context.text.strip().lower() != "none"
    name = checked(host.origin, _smtp_host, host.text)
    number = checked(port.origin, _port, port.text) if port else 25
    try:
        target = from_parts(
            "smtps" if ssl else "smtp",
            name,
            number,
            user=user.text if user else None,
            password=password.text if password else None,
            name="smtp",
            source=host.origin,
        )
    except UsageError as exc:  # smtp_user or smtp_password
        raise UsageError(f"{host.origin} (smtp_user, smtp_password): {exc}") from None
    client = client_tls.for_smtp(starttls, ssl, verify, host.origin)
    found.targets.append(replace(target, client=client))
    if password is not None and password.from_file:
        found.warnings.append(
            f"{password.origin} holds a plaintext password: set AIRFLOW__SMTP__SMTP_PASSWORD "
            "in the environment, or use an Airflow connection with a secrets backend"
        )
    return found


def _smtp_host(text: str) -> str:
    """smtp_host is a host: Airflow hands it to smtplib as one (a URL there is a typo)."""
    host = text.strip()
    if "://" in host:
        raise UsageError(
            f"{quoted(redact(host))} is a URL: smtp_host is a host name or address (Airflow "
            "passes it to smtplib as a host; the port, user and password have keys of their own)"
        )
    return hosts.field_host(host)
