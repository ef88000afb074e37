"""`--web-config-file`: exporter-toolkit's web configuration (the file node_exporter,
blackbox_exporter and Prometheus take as --web.config.file), read into what the HTTP layer
applies: a TLS context per new connection, bcrypt basic-auth users, extra response headers.

Only the keys tlsprobe honours are accepted; a key it would have to ignore (client_allowed_sans,
cipher_suites, inline certificates, rate_limit, ...) refuses the file, since silently dropping a
restriction is worse than refusing to start. Relative paths are relative to the file, as in
exporter-toolkit. Every error is a UsageError of one line naming the file and the key.
"""

from __future__ import annotations

import os
import re
import ssl
import sys
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from tlsprobe.escaping import visible
from tlsprobe.failures import UsageError
from tlsprobe.records import record

# exporter-toolkit's own allow-list: these headers only, two of them with fixed values.
HEADERS: Mapping[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's client auth types as Python's ssl can have them. Python verifies every client
# certificate it asks for and cannot ask without verifying: RequestClientCert (asks, never
# checks) becomes "do not ask", and RequireAnyClientCert (any certificate, unchecked) becomes
# "require one that verifies" -- nobody is let in who Go would keep out; RequireAnyClientCert
# is stricter here, and README says so.
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}", re.ASCII)
_TOP = {"tls_server_config", "http_server_config", "basic_auth_users"}
_TLS = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version"}
_HTTP = {"headers", "http2"}


class ConfigError(Exception):
    """What is wrong with the file, in words that name no secret (no password hash)."""


@record
class WebConfig:
    """One valid reading of the file."""

    tls: ssl.SSLContext | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # name -> bcrypt hash
    headers: tuple[tuple[str, str], ...] = ()
    files: tuple[Path, ...] = ()  # the certificate files it read: a change to one is a change


def load(path: Path) -> WebConfig:
    """The file read and checked whole; UsageError (one line naming it) when it is not valid."""
    try:
        return _parse(path)
    except ConfigError as exc:
        raise UsageError(f"--web-config-file {visible(str(path))}: {exc}") from None


def _parse(path: Path) -> WebConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read it ({_why(exc)})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"not valid YAML{where}") from None
    data = {} if data is None else _mapping(data, "the file")
    _known(data, _TOP, "")
    base = path.parent
    tls, files = _tls(_mapping(data.get("tls_server_config") or {}, "tls_server_config"), base)
    http = _mapping(data.get("http_server_config") or {}, "http_server_config")
    _known(http, _HTTP, "http_server_config.")
    if not isinstance(http.get("http2", True), bool):
        raise ConfigError("http_server_config.http2 must be true or false")
    return WebConfig(
        tls=tls,
        users=_users(_mapping(data.get("basic_auth_users") or {}, "basic_auth_users")),
        headers=_headers(_mapping(http.get("headers") or {}, "http_server_config.headers")),
        files=files,
    )


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where} must be a mapping of names to values")
    return value


def _known(section: Mapping[str, object], allowed: set[str], prefix: str) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigError(f"{prefix}{visible(key)} is not a setting tlsprobe supports")


def _text(section: Mapping[str, object], key: str, where: str) -> str | None:
    value = section.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key} must be a string")
    return value


def _tls(section: dict[str, Any], base: Path) -> tuple[ssl.SSLContext | None, tuple[Path, ...]]:
    _known(section, _TLS, "tls_server_config.")
    where = "tls_server_config"
    cert, key = _text(section, "cert_file", where), _text(section, "key_file", where)
    client_ca = _text(section, "client_ca_file", where)
    auth = _text(section, "client_auth_type", where) or "NoClientCert"
    if cert is None and key is None:
        if section:
            raise ConfigError(f"{where} needs cert_file and key_file")
        return None, ()
    if cert is None or key is None:
        raise ConfigError(f"{where} needs both cert_file and key_file")
    if auth not in CLIENT_AUTH:
        raise ConfigError(
            f"{where}.client_auth_type {visible(auth)!r} is not one of {_or(CLIENT_AUTH)}"
        )
    if client_ca is not None and auth in ("NoClientCert", "RequestClientCert"):
        raise ConfigError(
            f"{where}.client_ca_file is set but client_auth_type {auth} never uses it"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _version(section, "min_version", "TLS12")
    context.maximum_version = _version(section, "max_version", "TLS13")
    if context.minimum_version > context.maximum_version:
        raise ConfigError(f"{where}.min_version is above max_version")
    paths = [base / cert, base / key] + ([base / client_ca] if client_ca else [])
    try:
        context.load_cert_chain(paths[0], paths[1])
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: cannot load cert_file and key_file ({_why(exc)})") from None
    context.verify_mode = CLIENT_AUTH[auth]
    if context.verify_mode != ssl.CERT_NONE:
        _client_roots(context, paths[2] if client_ca else None)
    return context, tuple(paths)


def _client_roots(context: ssl.SSLContext, client_ca: Path | None) -> None:
    if client_ca is None:  # as Go: without client_ca_file, the system's roots
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        return
    try:
        context.load_verify_locations(cafile=client_ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"tls_server_config: cannot load client_ca_file ({_why(exc)})") from None


def _version(section: Mapping[str, object], key: str, default: str) -> ssl.TLSVersion:
    name = _text(section, key, "tls_server_config") or default
    if name not in VERSIONS:
        raise ConfigError(
            f"tls_server_config.{key} {visible(name)!r} is not one of {_or(VERSIONS)}"
        )
    return VERSIONS[name]


def _users(section: Mapping[str, object]) -> dict[str, bytes]:
    users = {}
    for name, hashed in section.items():
        # Named by the user, never by the hash: a hash is a secret.
        if not isinstance(hashed, str) or not _is_bcrypt(hashed):
            raise ConfigError(f"basic_auth_users.{visible(name)} is not a bcrypt hash")
        users[name] = hashed.encode("ascii")
    return users


def _is_bcrypt(hashed: str) -> bool:
    """A bcrypt hash as htpasswd -B and Python's bcrypt write it: $2a$/$2b$/$2y$, two digits
    of cost, 53 characters of salt and hash."""
    return _BCRYPT.fullmatch(hashed) is not None


def _headers(section: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    headers = []
    for name, value in section.items():
        where = f"http_server_config.headers.{visible(name)}"
        if name not in HEADERS:
            raise ConfigError(f"{where}: only {_or(HEADERS)} can be set")
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise ConfigError(f"{where} must be one line of text")
        if HEADERS[name] and value not in HEADERS[name]:
            raise ConfigError(f"{where} must be one of {_or(HEADERS[name])}")
        if value:  # blank: unset, as in exporter-toolkit
            headers.append((name, value))
    return tuple(headers)


def _or(names: object) -> str:
    return ", ".join(str(n) for n in names)  # type: ignore[attr-defined]


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


Stamp = tuple[tuple[int, int, int], ...]


def stamp(paths: tuple[Path, ...]) -> Stamp:
    """What tells a changed file from an unchanged one without reading it: inode, size, mtime."""
    found = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            found.append((0, -1, 0))
        else:
            found.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(found)


class Watched:
    """The web config of the moment: the file (and the certificate files it names) is looked at
    with stat() on each new connection and request, and read again only when one changed. A
    file that became invalid keeps the last good config and says so on stderr, once per change.
    TLS cannot be switched on or off without a restart: a scraper would silently go plaintext."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.config = load(path)
        self._stamp = self._now()

    def _now(self) -> Stamp:
        return stamp((self.path, *self.config.files))

    def current(self) -> WebConfig:
        now = self._now()
        if now == self._stamp:
            return self.config
        self._stamp = now
        try:
            config = load(self.path)
            if (config.tls is None) != (self.config.tls is None):
                raise UsageError(
                    f"--web-config-file {visible(str(self.path))}: tls_server_config cannot be "
                    "added or removed without a restart"
                )
        except UsageError as exc:
            print(f"tlsprobe serve: {exc}; keeping the last good config", file=sys.stderr)
            return self.config
        self.config = config
        self._stamp = self._now()
        return config
