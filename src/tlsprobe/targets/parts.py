"""Targets from a source's fields (an Airflow connection's host, port, login and password; an
airflow.cfg's smtp_host and smtp_port): each field through the same door as a URL's part, with
no URL written only to be parsed again. Shown as a canonical URL, the password as ***."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from tlsprobe.failures import UsageError
from tlsprobe.records import record
from tlsprobe.targets import hosts
from tlsprobe.targets.target import Target
from tlsprobe.targets.vocabulary import (
    DEFAULT_PORTS,
    LIBPQ_KEYWORDS,
    PATH_SAFE,
    REDACTED,
    is_secret_key,
)

_VALUE_SAFE = "/:,"  # readable paths in query values (sslrootcert=/etc/ssl/root.pem)


@record
class _Fields:
    """A source's fields once each has passed the door; `port` None for the scheme's default
    (left out of the URL)."""

    protocol: str
    host: str
    port: int | None
    user: str | None
    password: str | None
    path: str
    params: tuple[tuple[str, str], ...]

    def url(self, *, hide: bool) -> str:
        """The canonical URL of the fields, with the secrets as *** when `hide`."""
        where = hosts.in_url(self.host) + ("" if self.port is None else f":{self.port}")
        userinfo = _userinfo(self.protocol, self.user, self.password, hide)
        tail = _tail(self.protocol, self.path, self.params, hide)
        return f"{self.protocol}://{userinfo}{where}{tail}"


def from_parts(
    protocol: str,
    host: str,
    port: object = None,
    *,
    user: object = None,
    password: object = None,
    path: str = "/",
    params: Sequence[tuple[str, str]] = (),
    name: str = "",
    source: str,
) -> Target:
    """A Target from separate fields; UsageError with a short phrase naming the bad field (the
    caller names the source). `port` None or "" means the scheme's default (left out of the
    display); for postgresql, `path` is "/" and the database name."""
    fields = _fields(
        protocol, host, port, user=user, password=password, path=path, params=tuple(params)
    )
    _text("the name", name)
    return Target(
        url=fields.url(hide=False),
        protocol=protocol,
        host=fields.host,
        port=DEFAULT_PORTS[protocol] if fields.port is None else fields.port,
        path=path,
        user=fields.user,
        password=fields.password,
        params=fields.params,
        name=name,
        source=source,
        shown=fields.url(hide=True),
        hidden=_hidden_values(fields.params),
    )


def _fields(
    protocol: str,
    host: object,
    port: object,
    *,
    user: object,
    password: object,
    path: str,
    params: tuple[tuple[str, str], ...],
) -> _Fields:
    """Each field through its door, in the order a message names the first bad one."""
    checked_host = hosts.field_host(_text("host", host) or "")
    number = None if port in (None, "") else hosts.port_number(port)
    login, secret = _text("user", user) or None, _secret(password)
    _check_path(protocol, path)
    for key, value in params:
        _text(f"{key!r}", value)
        if protocol == "postgresql" and key not in LIBPQ_KEYWORDS:
            raise UsageError(f"{key!r} is not a libpq connection parameter")
    return _Fields(protocol, checked_host, number, login, secret, path, params)


def _text(what: str, value: object) -> str | None:
    """A field that must be text, if given, without control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{what}: expected a string, got {type(value).__name__}")
    if not value.isprintable():
        raise UsageError(f"{what}: contains a control character")
    return value


def _secret(value: object) -> str | None:
    """A password: any text but NUL (no client can send one); empty is none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"password: expected a string, got {type(value).__name__}")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise UsageError("password: contains a NUL character or a lone surrogate")
    return value or None


def _check_path(protocol: str, path: str) -> None:
    if not path.startswith("/") or not path.isprintable():
        raise UsageError(f"path {path!r}: expected one that starts with /")
    if protocol in ("smtp", "smtps") and path != "/":
        raise UsageError(f"{protocol} takes no path")


def _userinfo(protocol: str, user: str | None, password: str | None, hide: bool) -> str:
    """user:password@, percent-encoded; an "@" stays in a user name, as Airflow writes them,
    except where libpq reads the URL (it ends the user name at the first "@")."""
    if user is None and password is None:
        return ""
    info = quote(user or "", safe="" if protocol == "postgresql" else "@")
    if password is not None:
        info += ":" + (REDACTED if hide else quote(password, safe=""))
    return info + "@"


def _tail(protocol: str, path: str, params: Sequence[tuple[str, str]], hide: bool) -> str:
    if protocol == "postgresql":
        rendered = "/" + quote(path[1:], safe="")
    elif protocol in ("smtp", "smtps"):
        rendered = ""  # SMTP URLs have no path
    else:
        rendered = quote(path, safe=PATH_SAFE)
    query = "&".join(f"{quote(k, safe='')}={_value(k, v, hide)}" for k, v in params)
    return rendered + (f"?{query}" if query else "")


def _hidden_values(params: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The values the display hides, as given and as the URL writes them."""
    secret = [value for key, value in params if is_secret_key(key) and value]
    return tuple(dict.fromkeys([*secret, *(quote(v, safe=_VALUE_SAFE) for v in secret)]))


def _value(key: str, value: str, hide: bool) -> str:
    return REDACTED if hide and is_secret_key(key) else quote(value, safe=_VALUE_SAFE)
