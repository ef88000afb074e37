"""airflow.cfg and its environment, looked up as Airflow 3.3's configuration parser does
(airflow/_shared/configuration/parser.py `get`): for each step -- the environment variable
(then its _CMD, then its _SECRET), the file's key, the file's _cmd, the file's _secret -- the
option's own name first, then the deprecated name Airflow still reads for it. Values from the
environment and the file have $VARIABLES and ~ expanded, as Airflow's expand_env_var does."""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import TypeVar

from tlsprobe.failures import UsageError
from tlsprobe.records import record
from tlsprobe.sources import named, read_text

CMD_TIMEOUT_S = 10.0
# Airflow's getboolean: the words it accepts, after cutting an inline "# comment".
_TRUE = {"t", "true", "1"}
_FALSE = {"f", "false", "0"}
# Airflow runs *_cmd and reads *_secret only for its sensitive options (config.yml's
# `sensitive: true` and their deprecated names); for any other option it ignores them, and so
# does tlsprobe. These are the sensitive ones tlsprobe reads.
SENSITIVE = {
    ("database", "sql_alchemy_conn"),
    ("core", "sql_alchemy_conn"),
    ("core", "fernet_key"),  # read by --airflow-db (sources/airflow_db.py)
}
# parser.py's deprecated_options for the keys tlsprobe reads: (new) -> (old, since).
DEPRECATED = {
    ("api", "base_url"): ("webserver", "base_url", "3.0"),
    ("api", "host"): ("webserver", "web_server_host", "3.0"),
    ("api", "port"): ("webserver", "web_server_port", "3.0"),
    ("api", "ssl_cert"): ("webserver", "web_server_ssl_cert", "3.0"),
    ("api", "ssl_key"): ("webserver", "web_server_ssl_key", "3.0"),
    ("core", "execution_api_server_url"): ("workers", "execution_api_server_url", "3.0"),
    ("database", "sql_alchemy_conn"): ("core", "sql_alchemy_conn", "3.0"),
}
_UNKNOWN = object()  # a value Airflow would take from a command not run, or a secrets backend
_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)  # what os.path.expandvars expands
_EXPANSIONS = 20  # Airflow expands until nothing changes; a value that grows forever stops here
T = TypeVar("T")


def default_path(env: Mapping[str, str]) -> Path:
    return home(env) / "airflow.cfg"


def home(env: Mapping[str, str]) -> Path:
    return Path(env.get("AIRFLOW_HOME") or str(Path("~/airflow").expanduser()))


def variable(section: str, key: str) -> str:
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def setting(section: str, key: str, value: str) -> str:
    """In airflow.cfg's terms: "smtp_ssl = True in [smtp] (AIRFLOW__SMTP__SMTP_SSL=True)"."""
    return f"{key} = {value} in [{section}] ({variable(section, key)}={value})"


@record
class Value:
    text: str = field(repr=False)  # sql_alchemy_conn's, say, holds a password
    origin: str  # "airflow.cfg [smtp] smtp_host" or "AIRFLOW__SMTP__SMTP_HOST"
    from_file: bool
    section: str = ""  # where it was found: the deprecated name when Airflow fell back to it
    key: str = ""


class AirflowConfig:
    """Look-ups in Airflow's order; `notes` and `warnings` collect what the reading found
    (commands not run, deprecated names used)."""

    def __init__(
        self, path: Path, env: Mapping[str, str], allow_cmd: bool, read: bool = True
    ) -> None:
        self.path, self.env, self.allow_cmd = path, env, allow_cmd
        # Airflow interpolates like ConfigParser: a "%" in a password is written "%%".
        self.parser = configparser.ConfigParser(strict=False)
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.unknown: set[str] = set()  # keys whose value a command or secrets backend holds
        # What has been looked up: a *_cmd (or an imported module) runs once a run, however
        # many parts of tlsprobe read its value (Airflow, too, reads it once a process).
        self._found: dict[object, object] = {}
        if not read:
            return
        text = read_text(path, "the Airflow configuration")
        try:
            self.parser.read_string(text, source=str(path))
        except configparser.Error as exc:
            first = str(exc).splitlines()[0]
            raise UsageError(f"{named(path)}: not a valid airflow.cfg ({first!r})") from None

    def once(self, key: object, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked for, the same answer after."""
        if key not in self._found:
            self._found[key] = compute()
        found: T = self._found[key]  # type: ignore[assignment]
        return found

    def get(self, section: str, key: str) -> Value | None:
        """The value Airflow's conf.get(section, key) finds, without the built-in default:
        None when nothing sets it, or when a command not run (or a secrets backend) holds it."""
        return self.once(("get", section, key), lambda: self._look_up(section, key))

    def _look_up(self, section: str, key: str) -> Value | None:
        names = [(section, key)]
        old_section, old_key, since = DEPRECATED.get((section, key), ("", "", ""))
        if old_key:
            names.append((old_section, old_key))
        steps = (self._environment, self._file, self._file_cmd, self._file_secret)
        for step in steps:
            for where in names:
                found = step(*where)
                if found is _UNKNOWN:
                    self.unknown.add(key)
                    return None
                if isinstance(found, Value):
                    if where != (section, key):
                        self._deprecated(found, section, key, since)
                    return found
        return None

    def _deprecated(self, found: Value, section: str, key: str, since: str) -> None:
        new = f"[{section}] {key} ({variable(section, key)})"
        note = f"{found.origin}: deprecated since Airflow {since}, read as {new}: rename it"
        if note not in self.warnings:
            self.warnings.append(note)

    def present(self, section: str) -> list[Value]:
        """Every key of `section` that the file or the environment sets, as written there."""
        found: list[Value] = []
        if self.parser.has_section(section):
            for key in self.parser.options(section):
                if key not in self.parser.defaults():
                    found.append(
                        Value("", f"{self.path.name} [{section}] {key}", True, section, key)
                    )
        prefix = variable(section, "")
        for name in sorted(self.env):
            if name.startswith(prefix) and len(name) > len(prefix):
                found.append(Value("", name, False, section, name[len(prefix) :].lower()))
        return found

    def _environment(self, section: str, key: str) -> Value | object | None:
        name = variable(section, key)
        if name in self.env:
            return Value(self._expand(self.env[name]), name, False, section, key)
        if (section, key) not in SENSITIVE:
            return None
        for suffix in ("_CMD", "_SECRET"):
            if name + suffix in self.env:
                return self._indirect(
                    Value(self.env[name + suffix], name + suffix, False, section, key)
                )
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
        return Value(self._expand(text), f"{self.path.name} [{section}] {key}", True, section, key)

    def _expand(self, text: str) -> str:
        """Airflow's expand_env_var: $NAME, ${NAME} and a leading ~, until nothing changes."""
        for _ in range(_EXPANSIONS):
            done = _VARIABLE.sub(self._variable, text)
            if (done == "~" or done.startswith("~/")) and self.env.get("HOME"):
                done = self.env["HOME"] + done[1:]
            if done == text:
                return done
            text = done
        return text

    def _variable(self, match: re.Match[str]) -> str:
        name = match.group(1).strip("{}")
        return self.env.get(name, match.group(0))

    def _indirect(self, found: Value) -> Value | object:
        """A _cmd's output (with --allow-cmd), or _UNKNOWN and a note; a _secret is noted."""
        if found.origin.lower().endswith("_secret"):
            self.notes.append(f"{found.origin}: read from a secrets backend; not probed")
            return _UNKNOWN
        if not self.allow_cmd:
            self.notes.append(f"{found.origin}: a command, not run (pass --allow-cmd to run it)")
            return _UNKNOWN
        output = command_output(shlex_split(found), found.origin)
        if not output:  # Airflow takes an empty output as no value and looks further
            return None
        return Value(output, f"{found.origin} (command output)", False, found.section, found.key)

    def boolean(self, section: str, key: str, default: bool) -> tuple[bool, Value | None]:
        """Airflow's getboolean; a word it does not accept fails there, and here."""
        value = self.get(section, key)
        if value is None:
            return default, None
        word = value.text.lower().strip().split("#")[0].strip()
        if word not in _TRUE | _FALSE:
            raise UsageError(
                f"{value.origin}: expected True or False (Airflow reads t, true, 1, f, false, 0)"
            )
        return word in _TRUE, value


def shlex_split(found: Value) -> list[str]:
    try:
        return shlex.split(found.text)
    except ValueError:  # unbalanced quotes
        raise UsageError(f"{found.origin}: the command could not be started") from None


def command_output(argv: list[str], origin: str) -> str:
    """What a command prints, run as Airflow runs a *_cmd (split as a shell would, but no
    shell), with no terminal to prompt on: stdin is /dev/null, and a session of its own leaves
    it without a controlling terminal, so that a `read </dev/tty` fails at once instead of
    waiting for a password nobody types. Its stderr is dropped: it may quote the secret."""
    where = f"{origin}: the command"
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except (OSError, ValueError, IndexError):  # no such program; an empty command
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
