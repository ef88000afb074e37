"""airflow.cfg and its environment, read the way Airflow reads them: AIRFLOW__SECTION__KEY
overrides the file; *_cmd values run only with --allow-cmd; *_secret values are only reported."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tlsprobe.failures import UsageError
from tlsprobe.sources import Collected, read_text, userinfo
from tlsprobe.sources.connections import from_environment
from tlsprobe.targets import Target, client_tls, parse_target

CMD_TIMEOUT_S = 10
_TRUE = {"t", "true", "1", "yes", "on"}
_FALSE = {"f", "false", "0", "no", "off"}
_SCHEME = re.compile(r"[a-z][a-z0-9.-]*")


def default_path(env: Mapping[str, str]) -> Path:
    home = env.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser())
    return Path(home) / "airflow.cfg"


@dataclass(frozen=True)
class Value:
    text: str
    origin: str  # "airflow.cfg [smtp] smtp_host" or "AIRFLOW__SMTP__SMTP_HOST"
    from_file: bool


class AirflowConfig:
    """Look-ups with Airflow's precedence: environment variable, then _cmd, then the file."""

    def __init__(self, path: Path, env: Mapping[str, str], allow_cmd: bool) -> None:
        self.path, self.env, self.allow_cmd = path, env, allow_cmd
        # Airflow interpolates like ConfigParser: a "%" in a password is written "%%".
        self.parser = configparser.ConfigParser(strict=False)
        self.notes: list[str] = []
        text = read_text(path, "the Airflow configuration")
        try:
            self.parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            first = str(exc).splitlines()[0]
            raise UsageError(f"{path}: not a valid airflow.cfg ({first})") from None

    def get(self, section: str, key: str) -> Value | None:
        variable = f"AIRFLOW__{section.upper()}__{key.upper()}"
        if variable in self.env:
            return Value(self.env[variable], variable, False)
        for suffix in ("_cmd", "_secret"):
            if (found := self._variant(section, key + suffix)) is not None:
                return self._indirect(found, suffix)
        if self.parser.has_option(section, key):
            return Value(self._raw(section, key), f"{self.path.name} [{section}] {key}", True)
        return None

    def _raw(self, section: str, key: str) -> str:
        try:
            return self.parser.get(section, key)
        except configparser.InterpolationError:
            where = f"{self.path}: [{section}] {key}"
            raise UsageError(f"{where}: a lone '%' (write a literal % as %%)") from None

    def first(self, sections: tuple[str, ...], key: str) -> Value | None:
        return next((v for s in sections if (v := self.get(s, key)) is not None), None)

    def _variant(self, section: str, key: str) -> Value | None:
        variable = f"AIRFLOW__{section.upper()}__{key.upper()}"
        if variable in self.env:
            return Value(self.env[variable], variable, False)
        if self.parser.has_option(section, key):
            return Value(self._raw(section, key), f"{self.path.name} [{section}] {key}", True)
        return None

    def _indirect(self, found: Value, suffix: str) -> Value | None:
        if suffix == "_secret":
            self.notes.append(f"{found.origin}: read from a secrets backend; not probed")
            return None
        if not self.allow_cmd:
            self.notes.append(f"{found.origin}: a command, not run (pass --allow-cmd to run it)")
            return None
        try:
            done = subprocess.run(
                shlex.split(found.text),
                capture_output=True,
                text=True,
                timeout=CMD_TIMEOUT_S,
                check=True,
            )
        except (OSError, subprocess.SubprocessError, ValueError):
            raise UsageError(f"{found.origin}: the command failed") from None
        return Value(done.stdout.strip(), f"{found.origin} (command output)", False)

    def boolean(self, sections: tuple[str, ...], key: str, default: bool) -> bool:
        value = self.first(sections, key)
        if value is None:
            return default
        word = value.text.strip().lower()
        if word not in _TRUE | _FALSE:
            raise UsageError(f"{value.origin}: expected True or False, got {value.text!r}")
        return word in _TRUE


def read(path: Path, env: Mapping[str, str], *, allow_cmd: bool = False) -> Collected:
    """The metadata database, the web server, SMTP, and AIRFLOW_CONN_* connections."""
    config = AirflowConfig(path, env, allow_cmd)
    found = Collected()
    for part in (_metadata_db(config), _webserver(config), _smtp(config), from_environment(env)):
        found.extend(part)
    found.notes[:0] = config.notes
    return found


def _metadata_db(config: AirflowConfig) -> Collected:
    found = Collected()
    value = config.first(("database", "core"), "sql_alchemy_conn")
    if value is None:
        found.notes.append("no sql_alchemy_conn: Airflow's default SQLite database, not probed")
        return found
    scheme = value.text.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in ("postgresql", "postgres"):
        # Name the scheme only when it is one: text without "://" may be all password.
        what = f"a {scheme} database" if _SCHEME.fullmatch(scheme) else "not a database URL"
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


def _webserver(config: AirflowConfig) -> Collected:
    """Airflow 3's [api] or Airflow 2's [webserver]: https when a certificate is configured."""
    found = Collected()
    for section, prefix in (("api", ""), ("webserver", "web_server_")):
        cert = config.get(section, f"{prefix}ssl_cert")
        base_url = config.get(section, "base_url")
        if cert is None and base_url is None:
            continue
        if cert is not None and cert.text.strip():
            host = config.get(section, f"{prefix}host")
            port = config.get(section, f"{prefix}port")
            name = host.text.strip() if host else "localhost"
            name = "localhost" if name in ("0.0.0.0", "::", "") else name
            name = f"[{name}]" if ":" in name else name  # an IPv6 address, as URLs write it
            url = f"https://{name}:{port.text.strip() if port else '8080'}/"
            origin = cert.origin
        elif base_url is not None:
            url, origin = base_url.text.strip(), base_url.origin
        else:
            continue
        target = parse_target(url, name="webserver", source=origin)
        client = client_tls.for_http(target.protocol, origin)
        found.targets.append(replace(target, client=client))
        return found
    found.notes.append("no web server settings ([api] or [webserver]): web server not probed")
    return found


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
    credentials = userinfo(user.text if user else None, password.text if password else None)
    scheme = "smtps" if ssl else "smtp"
    url = f"{scheme}://{credentials}{host.text.strip()}:{port.text.strip() if port else 25}"
    target: Target = parse_target(url, name="smtp", source=host.origin)
    client = client_tls.for_smtp(starttls, ssl, verify, host.origin)
    found.targets.append(replace(target, client=client))
    if password is not None and password.from_file:
        found.warnings.append(
            f"{password.origin} holds a plaintext password: set AIRFLOW__SMTP__SMTP_PASSWORD "
            "in the environment, or use an Airflow connection with a secrets backend"
        )
    return found
