"""tlsprobe.toml: defaults for a run and a list of named targets, strictly validated."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from tlsprobe.failures import UsageError
from tlsprobe.model import (
    MAX_TIMEOUT_S,
    MAX_WARN_DAYS,
    MinTls,
    warn_fraction,
)
from tlsprobe.records import record
from tlsprobe.sources import Collected, PolicyDefaults, ca_file_problem, named, read_text
from tlsprobe.sources.structured import toml_document
from tlsprobe.targets import Target, checked, connect_address, parse_status_ranges, parse_target

TARGET_KEYS = (
    "url",
    "name",
    "expect_status",
    "connect",
    "client_cert",
    "client_key",
    "password_env",
    "client_key_password_env",
)
# Keys naming an environment variable that holds a secret, and the Target field it fills.
SECRET_ENV_KEYS = {"password_env": "password", "client_key_password_env": "client_key_password"}
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
T = TypeVar("T")


def _seconds(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and 0 < value <= MAX_TIMEOUT_S else None  # nan and inf fail


def _count(minimum: int, maximum: int | None = None) -> Callable[[Any], int | None]:
    def check(value: Any) -> int | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        return int(value) if ok and (maximum is None or value <= maximum) else None

    return check


def _tls_version(value: Any) -> MinTls | None:
    return MinTls(value) if value in ("1.2", "1.3") else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and value.isprintable() else None


@record
class _Setting(Generic[T]):
    """A key of [defaults]: how its value is checked, and what a message says it must be."""

    key: str
    validate: Callable[[Any], T | None]
    expected: str
    text: bool = False  # a string is the right type: a wrong one is "another string"

    def read(self, where: str, table: Mapping[str, Any]) -> T | None:
        """The checked value, None when the table has none; UsageError when it is wrong."""
        if self.key not in table:
            return None
        raw = table[self.key]
        value = self.validate(raw)
        if value is None:
            text = self.text and isinstance(raw, str) and raw.strip()
            got = "another string" if text else _kind(raw)
            raise UsageError(f"{where}.{self.key}: expected {self.expected}, got {got}")
        return value


TIMEOUT = _Setting("timeout", _seconds, f"a positive number of seconds, at most {MAX_TIMEOUT_S:g}")
MIN_TLS = _Setting("min_tls", _tls_version, '"1.2" or "1.3" (a string)', text=True)
EXPIRY_WARN_DAYS = _Setting(
    "expiry_warn_days", _count(0, MAX_WARN_DAYS), f"a whole number of days, 0 to {MAX_WARN_DAYS}"
)
EXPIRY_WARN_FRACTION = _Setting(
    "expiry_warn_fraction",
    warn_fraction,
    'a number between 0 and 1, exclusive, or a text such as "1/3"',
)
EXPIRY_FAIL_DAYS = _Setting(
    "expiry_fail_days", _count(0, MAX_WARN_DAYS), f"a whole number of days, 0 to {MAX_WARN_DAYS}"
)
CA_FILE = _Setting("ca_file", _text, "a path to a PEM file", text=True)
CONCURRENCY = _Setting("concurrency", _count(1), "a whole number, 1 or more")
TLS_LEGACY = _Setting("tls_legacy", _flag, "true or false")
REVOCATION = _Setting("revocation", _flag, "true or false")
DEFAULT_KEYS = tuple(
    s.key
    for s in (
        TIMEOUT,
        MIN_TLS,
        EXPIRY_WARN_DAYS,
        CA_FILE,
        CONCURRENCY,
        TLS_LEGACY,
        EXPIRY_WARN_FRACTION,
        EXPIRY_FAIL_DAYS,
        REVOCATION,
    )
)


def load(path: Path, env: Mapping[str, str] | None = None) -> Collected:
    """Read and validate a tlsprobe.toml; every problem names the file, the key and the fix."""
    env = os.environ if env is None else env
    text = read_text(path, "the tlsprobe configuration")
    document = checked(named(path), toml_document, text)
    unknown = set(document) - {"defaults", "targets", "modules"}
    if unknown:
        key = sorted(unknown)[0]
        raise UsageError(
            f"{named(path)}: unknown key {_brief(key)} (expected defaults, targets, modules)"
        )
    found = Collected(
        defaults=_defaults(path, document.get("defaults", {})),
        modules=_modules(path, document.get("modules", {})),
    )
    targets = document.get("targets", [])
    if not isinstance(targets, list):
        raise UsageError(f"{named(path)}: targets must be an array of tables ([[targets]])")
    for index, entry in enumerate(targets):
        target = _target(path, index, entry, env)
        found.targets.append(target)
        if target.password and "password_env" not in entry:
            found.warnings.append(
                f"{named(path)}: targets[{index}] ({target.label}) has a plaintext password in "
                'the file; read it from the environment with password_env = "VARIABLE"'
            )
    return found


def _defaults(path: Path, table: Any) -> PolicyDefaults:
    if not isinstance(table, dict):
        raise UsageError(f"{named(path)}: defaults must be a table ([defaults])")
    return _settings(path, f"{named(path)}: defaults", table, DEFAULT_KEYS)


# A module is one scrape's options: concurrency belongs to a whole round, not to a scrape.
MODULE_KEYS = tuple(key for key in DEFAULT_KEYS if key != CONCURRENCY.key)


def _modules(path: Path, table: Any) -> dict[str, PolicyDefaults]:
    """[modules.NAME] tables: the options of a `tlsprobe serve` scrape that names the module
    (/probe?module=NAME), checked as [defaults] is, concurrency aside."""
    if not isinstance(table, dict):
        raise UsageError(f"{named(path)}: modules must be tables ([modules.NAME])")
    found: dict[str, PolicyDefaults] = {}
    for name, settings in table.items():
        where = f"{named(path)}: modules.{_key(name)}"
        if not isinstance(settings, dict):
            raise UsageError(f"{where}: expected a table ([modules.NAME])")
        found[name] = _settings(path, where, settings, MODULE_KEYS)
    return found


def _settings(
    path: Path, where: str, table: dict[str, Any], keys: tuple[str, ...]
) -> PolicyDefaults:
    for key in table:
        if key not in keys:
            allowed = ", ".join(keys)
            raise UsageError(f"{where}.{_key(key)}: unknown key (expected one of: {allowed})")
    ca_file = CA_FILE.read(where, table)
    return PolicyDefaults(
        timeout=TIMEOUT.read(where, table),
        min_tls=MIN_TLS.read(where, table),
        expiry_warn_days=EXPIRY_WARN_DAYS.read(where, table),
        ca_file=None if ca_file is None else _roots(path, ca_file, where),
        concurrency=CONCURRENCY.read(where, table),
        tls_legacy=TLS_LEGACY.read(where, table),
        expiry_warn_fraction=EXPIRY_WARN_FRACTION.read(where, table),
        expiry_fail_days=EXPIRY_FAIL_DAYS.read(where, table),
        revocation=REVOCATION.read(where, table),
    )


def _roots(path: Path, ca_file: str, where: str = "") -> Path:
    """A ca_file, relative to the file's directory, checked to be a PEM file of roots."""
    resolved = (path.parent / ca_file).resolve()
    if (problem := ca_file_problem(resolved)) is not None:
        where = where or f"{named(path)}: defaults"
        raise UsageError(f"{where}.ca_file: {named(resolved)}: {problem}")
    return resolved


def _target(path: Path, index: int, entry: Any, env: Mapping[str, str]) -> Target:
    where = f"{named(path)}: targets[{index}]"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected a table with url = ...")
    for key, value in entry.items():
        if key not in TARGET_KEYS:
            allowed = ", ".join(TARGET_KEYS)
            raise UsageError(f"{where}.{_key(key)}: unknown key (expected one of: {allowed})")
        if key != "expect_status" and not (isinstance(value, str) and value.strip()):
            raise UsageError(f"{where}.{key}: expected a non-empty string, got {_kind(value)}")
    if "url" not in entry:
        raise UsageError(f"{where}: missing url")
    source = f"{named(Path(path.name))} targets[{index}]"
    name = entry.get("name", "")
    target = parse_target(entry["url"], name=name, source=source, where=f"{where}.url")
    changes: dict[str, Any] = {}
    if "expect_status" in entry:
        changes["expect_status"] = _status(f"{where}.expect_status", entry["expect_status"])
    if "connect" in entry:
        changes["connect_host"] = checked(f"{where}.connect", connect_address, entry["connect"])
    for key in ("client_cert", "client_key"):
        if key in entry:
            file = checked(f"{where}.{key}", _printable, entry[key])
            changes[key] = str((path.parent / file).resolve())
    for key, attribute in SECRET_ENV_KEYS.items():
        if key in entry:
            changes[attribute] = _secret_from(f"{where}.{key}", entry[key], env)
    return dataclasses.replace(target, **changes)


def _status(where: str, value: Any) -> tuple[range, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, int | str) and not isinstance(i, bool) for i in items):
        raise UsageError(f'{where}: expected 200, "2xx" or a list of them')
    return checked(where, parse_status_ranges, ",".join(str(i) for i in items))


def _secret_from(where: str, variable: str, env: Mapping[str, str]) -> str:
    """A secret from the environment variable a *_env key names (never from the file). Only
    a variable's name is quoted: anything else may be the secret itself, written here."""
    if not _VARIABLE.fullmatch(variable):
        raise UsageError(f"{where}: must name an environment variable (letters, digits and _)")
    if variable not in env:
        raise UsageError(f"{where}: the environment variable {variable} is not set")
    value = env[variable]
    if "\x00" in value:  # os.environ cannot hold one; a mapping passed in might
        raise UsageError(f"{where}: the value of {variable} holds a NUL character")
    return value


def _printable(value: str) -> str:
    if not value.isprintable():
        raise UsageError("contains a control character")
    return value


def _key(key: str) -> str:
    """A TOML key for a message: as written, or repr'd if it holds a line break (TOML's quoted
    keys can), and cut short."""
    return key if key.isprintable() and len(key) <= 40 else _brief(key)


def _brief(key: str) -> str:
    """A key for a message: its repr, cut short."""
    text = repr(key)
    return text if len(text) <= 40 else text[:39] + "…"


def _kind(value: Any) -> str:
    """A wrong value for a message: a number or a boolean as written, anything else by its
    type alone. A string is never quoted: it may be a password written in the wrong place."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else f"a number of {len(text)} digits"
    if isinstance(value, str):
        return "a string" if value.strip() else "an empty string"
    kinds = {list: "an array", dict: "a table", dt.datetime: "a date-time", dt.date: "a date"}
    return next((word for kind, word in kinds.items() if isinstance(value, kind)), "a time")
