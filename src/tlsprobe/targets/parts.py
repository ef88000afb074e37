"""Targets from a source's fields (an Airflow connection's host, port, login and password; an
airflow.cfg's smtp_host and smtp_port): each field through the same door as a URL's part, with
no URL written only to be parsed again. Shown as a canonical URL, the password as ***."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from tlsprobe.failures import UsageError
from tlsprobe.targets import hosts
from tlsprobe.targets.target import Target
from tlsprobe.targets.vocabulary import DEFAULT_PORTS, LIBPQ_KEYWORDS, REDACTED, is_secret_key

# RFC 3986 characters a path may hold unescaped; "%" keeps escapes already made.
PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_VALUE_SAFE = "/:,"  # readable paths in query values (sslrootcert=/etc/ssl/root.pem)


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
    checked_host = hosts.field_host(_text("host", host) or "")
    number = DEFAULT_PORTS[protocol] if port in (None, "") else hosts.port_number(port)
    login, secret = _text("user", user) or None, _secret(password)
    _check_path(protocol, path)
    for key, value in params:
        _text(f"{key!r}", value)
        if protocol == "postgresql" and key not in LIBPQ_KEYWORDS:
            raise UsageError(f"{key!r} is not a libpq connection parameter")
    _text("the name", name)

    def url(hide: bool) -> str:
        shown_port = "" if port in (None, "") else f":{number}"
        where = f"{hosts.in_url(checked_host)}{shown_port}"
        return f"{protocol}://{_userinfo(protocol, login, secret, hide)}{where}" + _tail(
            protocol, path, params, hide
        )

    return Target(
        url=url(hide=False),
        protocol=protocol,
        host=checked_host,
        port=number,
        path=path or "/",
        user=login,
        password=secret,
        params=tuple(params),
        name=name,
        source=source,
        shown=url(hide=True),
    )


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


def _value(key: str, value: str, hide: bool) -> str:
    return REDACTED if hide and is_secret_key(key) else quote(value, safe=_VALUE_SAFE)
