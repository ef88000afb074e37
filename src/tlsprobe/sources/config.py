"""tlsprobe.toml: defaults for a run and a list of named targets, strictly validated."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tlsprobe.failures import UsageError
from tlsprobe.model import MAX_TIMEOUT_S, MAX_WARN_DAYS
from tlsprobe.sources import Collected, ca_file_problem, read_text
from tlsprobe.targets import Target, parse_status_ranges, parse_target
from tlsprobe.targets.urls import _connect_host

TARGET_KEYS = (
    "url",
    "name",
    "expect_status",
    "connect",
    "client_cert",
    "client_key",
    "password_env",
)


def _seconds(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok and 0 < value <= MAX_TIMEOUT_S else None  # nan and inf fail


def _count(minimum: int, maximum: int | None = None) -> Callable[[Any], int | None]:
    def check(value: Any) -> int | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        return int(value) if ok and (maximum is None or value <= maximum) else None

    return check


def _tls_version(value: Any) -> str | None:
    return value if value in ("1.2", "1.3") else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# key: (validator returning the value or None, what was expected)
DEFAULT_KEYS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "timeout": (_seconds, f"a positive number of seconds, at most {MAX_TIMEOUT_S:g}"),
    "min_tls": (_tls_version, 'a string, "1.2" or "1.3"'),
    "expiry_warn_days": (_count(0, MAX_WARN_DAYS), f"a whole number of days, 0 to {MAX_WARN_DAYS}"),
    "ca_file": (_text, "a path to a PEM file"),
    "concurrency": (_count(1), "a whole number, 1 or more"),
}


def load(path: Path, env: Mapping[str, str] | None = None) -> Collected:
    """Read and validate a tlsprobe.toml; every problem names the file, the key and the fix."""
    env = os.environ if env is None else env
    text = read_text(path, "the tlsprobe configuration")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(document) - {"defaults", "targets"}
    if unknown:
        raise UsageError(f"{path}: unknown key {sorted(unknown)[0]!r} (expected defaults, targets)")
    found = Collected(defaults=_defaults(path, document.get("defaults", {})))
    targets = document.get("targets", [])
    if not isinstance(targets, list):
        raise UsageError(f"{path}: targets must be an array of tables ([[targets]])")
    for index, entry in enumerate(targets):
        target = _target(path, index, entry, env)
        found.targets.append(target)
        if target.password and "password_env" not in entry:
            found.warnings.append(
                f"{path}: targets[{index}] ({target.label}) has a plaintext password in the "
                'file; read it from the environment with password_env = "VARIABLE"'
            )
    return found


def _defaults(path: Path, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise UsageError(f"{path}: defaults must be a table ([defaults])")
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in DEFAULT_KEYS:
            allowed = ", ".join(DEFAULT_KEYS)
            raise UsageError(f"{path}: defaults.{key}: unknown key (expected one of: {allowed})")
        validate, expected = DEFAULT_KEYS[key]
        value = validate(raw)
        if value is None:
            raise UsageError(f"{path}: defaults.{key}: expected {expected}, got {raw!r}")
        values[key] = value
    if "ca_file" in values:
        ca_file = (path.parent / values["ca_file"]).resolve()
        if (problem := ca_file_problem(ca_file)) is not None:
            raise UsageError(f"{path}: defaults.ca_file: {ca_file}: {problem}")
        values["ca_file"] = str(ca_file)
    return values


def _target(path: Path, index: int, entry: Any, env: Mapping[str, str]) -> Target:
    where = f"{path}: targets[{index}]"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected a table with url = ...")
    for key, value in entry.items():
        if key not in TARGET_KEYS:
            raise UsageError(
                f"{where}.{key}: unknown key (expected one of: {', '.join(TARGET_KEYS)})"
            )
        if key != "expect_status" and not (isinstance(value, str) and value.strip()):
            raise UsageError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    if "url" not in entry:
        raise UsageError(f"{where}: missing url")
    name = entry.get("name", "")
    target = parse_target(entry["url"], name=name, source=f"{path.name} targets[{index}]")
    changes: dict[str, Any] = {}
    if "expect_status" in entry:
        changes["expect_status"] = _status(where, entry["expect_status"])
    if "connect" in entry:
        changes["connect_host"] = _connect_host(entry["connect"], f"{where}.connect")
    for key in ("client_cert", "client_key"):
        if key in entry:
            changes[key] = str((path.parent / entry[key]).resolve())
    if "password_env" in entry:
        changes["password"] = _password_from(where, entry["password_env"], env)
    return dataclasses.replace(target, **changes)


def _status(where: str, value: Any) -> tuple[range, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, int | str) and not isinstance(i, bool) for i in items):
        raise UsageError(f'{where}.expect_status: expected 200, "2xx" or a list of them')
    return parse_status_ranges(",".join(str(i) for i in items), f"{where}.expect_status")


def _password_from(where: str, variable: str, env: Mapping[str, str]) -> str:
    if variable not in env:
        raise UsageError(f"{where}.password_env: the environment variable {variable} is not set")
    return env[variable]
