"""postgresql:// URIs as libpq reads them, and SQLAlchemy's postgresql+driver:// forms as
SQLAlchemy hands them to the driver. Where libpq differs from a generic URL (tests compare with
psycopg's conninfo_to_dict, which is libpq's parser): a query parameter overrides the part of
the URI it names (`?password=` wins over the userinfo's, `?host=` over the authority's), keys
are percent-decoded too (`pass%77ord` is `password`), "+" is no space, `ssl=true` means
sslmode=require, an empty password is none, and the user name ends at the first "@"."""

from __future__ import annotations

from tlsprobe.failures import UsageError
from tlsprobe.targets import hosts
from tlsprobe.targets.target import Target
from tlsprobe.targets.text import Span, checked, decode
from tlsprobe.targets.urls import (
    Parts,
    credentials,
    hidden_values,
    host_of,
    in_error,
    options_of,
    port_of,
    refuse,
    shown,
)
from tlsprobe.targets.vocabulary import (
    LIBPQ_KEYWORDS,
    LIBPQ_SCHEMES,
    NESTED_DBNAME,
    holds_conninfo,
    is_secret_key,
)

_FIRST_AT = (
    "an @ in a user name or password must be written %40 (libpq ends the user name at the first @)"
)


def pg_target(parts: Parts, *, name: str, source: str) -> Target:
    by_libpq = parts[parts.scheme].lower() in LIBPQ_SCHEMES
    if by_libpq and " " in parts.text:  # libpq refuses most; the rest it trims away
        raise refuse(parts, "a blank in a postgresql:// URI (write it %20)")
    if (
        by_libpq
        and parts.user is not None
        and "@" in parts.text[parts.user[0] : _at(parts, parts.user)]
    ):
        raise refuse(parts, _FIRST_AT)
    user, password = credentials(parts, strict=by_libpq)
    values = _settings(parts, by_libpq)
    host = _host(parts, values.pop("host", None))
    port = _port(parts, values.pop("port", None))
    user = values.pop("user", user) or None
    password = values.pop("password", password) or None  # libpq: empty is none
    connect, expect_status = options_of(parts)
    hostaddr = _hostaddr(parts, values.get("hostaddr"))
    return Target(
        url=parts.text,
        protocol="postgresql",
        host=host,
        port=port,
        path="/" + values.get("dbname", ""),
        user=user,
        password=password,
        params=tuple(values.items()),
        connect_host=connect or hostaddr,
        expect_status=expect_status,
        name=name,
        source=source,
        shown=shown(parts),
        hidden=hidden_values(parts),
    )


def _at(parts: Parts, user: Span) -> int:
    """Where the userinfo ends (the last "@" of the authority)."""
    return (parts.password or user)[1]


def _settings(parts: Parts, by_libpq: bool) -> dict[str, str]:
    """dbname from the path, then the query's parameters, decoded; a later one wins."""
    values: dict[str, str] = {}
    path_start, path_end = parts.path[0] + 1, parts.path[1]
    if dbname := _decoded(parts, (path_start, path_end), "the database name", by_libpq, False):
        values["dbname"] = dbname
    items = parts.query_items() if parts.query and parts.query[0] < parts.query[1] else []
    for key_span, value_span in items:
        if value_span is None:
            raise refuse(parts, "a query parameter without = (write key=value, joined by &)")
        plus = not by_libpq  # SQLAlchemy reads the query as parse_qsl does, + as a space
        key = _decoded(parts, key_span, "a query parameter's name", by_libpq, plus)
        value = _decoded(parts, value_span, f"the value of {key!r}", by_libpq, plus)
        if not (key.isprintable() and (value.isprintable() or is_secret_key(key))):
            raise refuse(parts, f"{key!r}: a control character once decoded", [value_span])
        if by_libpq:
            key, value = _libpq_parameter(parts, key, value, value_span)
        values[key] = value
    if not values.get("dbname", "x"):
        del values["dbname"]  # ?dbname= (empty): libpq's default, as with no dbname at all
    if holds_conninfo(values.get("dbname", "")):
        raise refuse(parts, NESTED_DBNAME, [parts.path])
    return values


def _libpq_parameter(parts: Parts, key: str, value: str, span: Span) -> tuple[str, str]:
    if "=" in parts[span]:
        raise refuse(parts, f"a second = in the value of {key!r} (write it %3D)", [span])
    if key == "ssl" and value == "true":  # libpq's one alias, kept for JDBC-style URIs
        return "sslmode", "require"
    if key not in LIBPQ_KEYWORDS:
        hint = " (libpq keywords are lower case)" if key.lower() in LIBPQ_KEYWORDS else ""
        raise refuse(parts, f"{key!r} is not a libpq connection parameter{hint}", [span])
    return key, value


def _decoded(parts: Parts, span: Span, what: str, strict: bool, plus: bool) -> str:
    try:
        return decode(parts[span], what, strict=strict, plus=plus)
    except UsageError as exc:
        raise refuse(parts, str(exc), [span]) from None


def _host(parts: Parts, given: str | None) -> str:
    """The authority's host, or `?host=` (which libpq takes without brackets)."""
    text = parts[parts.host] if given is None else given
    if "," in parts[parts.host]:  # libpq's host list, even when ?host= overrides it
        text = parts[parts.host]
    if not text:
        raise refuse(parts, "no host name (tlsprobe connects over TCP: give host or ?host=)")
    if "," in text:
        raise refuse(parts, f"several hosts ({text!r}): give one TCP host name or address")
    if text.startswith("/"):
        raise refuse(parts, f"host {text!r} is a Unix socket: give a TCP host name or address")
    if given is None:
        return host_of(parts)
    return checked(in_error(parts), hosts.field_host, given)


def _port(parts: Parts, given: str | None) -> int:
    if given is None:
        return port_of(parts, "postgresql")
    return checked(in_error(parts), hosts.port_number, given) if given else 5432


def _hostaddr(parts: Parts, given: str | None) -> str | None:
    """libpq's hostaddr: where to connect, while host stays the name to verify."""
    return checked(in_error(parts), hosts.ip_literal, given) if given else None
