"""URLs, split by hand: scheme, userinfo, host, port, path, query and fragment, each with its
span in the text as written. urllib's urlsplit is lenient where a door must not be (it takes
`[::1]]`, non-ASCII digits in ports, and parses on after a malformed authority), and it keeps no
spans: the display form replaces the secrets' spans of the text as given, by structure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, unquote, unquote_plus

from tlsprobe.failures import UsageError
from tlsprobe.records import record
from tlsprobe.targets import hosts
from tlsprobe.targets.target import Target
from tlsprobe.targets.text import Span, checked, decode, quoted, render
from tlsprobe.targets.vocabulary import (
    DEFAULT_PORTS,
    LIBPQ_KEYWORDS,
    SCHEME_ALIASES,
    assigns_a_secret,
    is_secret_key,
)

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://", re.ASCII)
_DIGITS = re.compile(r"[0-9]*", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
# Options that ride in the URL fragment (never sent to a server): per-target settings on the
# command line without a config file.
FRAGMENT_OPTIONS = ("expect_status", "connect")
ENCODING_HINT = (
    "a / ? or # in a user name or password must be percent-encoded (%2F %3F %23), "
    "and an @ meant for the path or query written %40"
)


@record
class Parts:
    """A URL's parts as spans of `text`; None where the URL has no such part (no userinfo, no
    ":" before a password or a port, no "?", no "#")."""

    text: str
    scheme: Span
    authority: Span
    user: Span | None
    password: Span | None
    host: Span
    port: Span | None
    path: Span
    query: Span | None
    fragment: Span | None

    def __getitem__(self, span: Span) -> str:
        return self.text[span[0] : span[1]]

    @property
    def late_at(self) -> int:
        """Where the last "@" after the authority is, or -1: with none in the authority, it
        means a / ? or # in the password cut the authority short."""
        return self.text.rfind("@", self.authority[1])

    def query_items(self) -> list[tuple[Span, Span | None]]:
        """(key, value) spans of the query's &-separated items; value None without "="."""
        if self.query is None:
            return []
        items: list[tuple[Span, Span | None]] = []
        start, end = self.query
        while True:
            stop = self.text.find("&", start, end)
            stop = end if stop < 0 else stop
            equals = self.text.find("=", start, stop)
            if equals < 0:
                items.append(((start, stop), None))
            else:
                items.append(((start, equals), (equals + 1, stop)))
            if stop == end:
                return items
            start = stop + 1


def split(text: str) -> Parts | None:
    """The parts of `text`, or None when it does not start with scheme://. Never fails
    otherwise: each part is validated by whoever reads it."""
    match = _SCHEME.match(text)
    if match is None:
        return None
    start = match.end()
    end = _find(text, "/?#", start)
    user = password = None
    host_start = start
    if (at := text.rfind("@", start, end)) >= 0:  # Airflow writes user names with "@"
        colon = text.find(":", start, at)
        user = (start, at if colon < 0 else colon)
        password = None if colon < 0 else (colon + 1, at)
        host_start = at + 1
    host, port = _host_port(text, host_start, end)
    path_end = _find(text, "?#", end)
    query = fragment = None
    if (hash_at := text.find("#", path_end)) >= 0:
        fragment = (hash_at + 1, len(text))
    if path_end < len(text) and text[path_end] == "?":
        query = (path_end + 1, hash_at if hash_at >= 0 else len(text))
    authority, path = (start, end), (end, path_end)
    return Parts(text, match.span(1), authority, user, password, host, port, path, query, fragment)


def _find(text: str, chars: str, start: int) -> int:
    """Where the first of `chars` is from `start` on, or the end of `text`."""
    found = [i for c in chars if (i := text.find(c, start)) >= 0]
    return min(found, default=len(text))


def _host_port(text: str, start: int, end: int) -> tuple[Span, Span | None]:
    """A bracketed host runs to its "]", which only ":port" may follow; an unbracketed one to
    its only ":". Anything else is left in the host, for the host's door to refuse."""
    if text.startswith("[", start):
        close = text.find("]", start, end)
        if close >= 0 and (close + 1 == end or text[close + 1] == ":"):
            port = (close + 2, end) if close + 1 < end else None
            return (start, close + 1), port
        return (start, end), None
    colon = text.find(":", start, end)
    if colon < 0 or text.find(":", colon + 1, end) >= 0:
        return (start, end), None
    return (start, colon), (colon + 1, end)


def shown(parts: Parts) -> str:
    """The URL as written with its password and secret query values as ***."""
    return render(parts.text, _hidden(parts))


def hidden_values(parts: Parts) -> tuple[str, ...]:
    """What `shown` hides, as written and as each reader decodes it (urllib's unquote, and
    parse_qsl's with + as a space): for the scrub of everything said about the target."""
    written = [parts[span] for span in _hidden(parts)]
    every = [form for raw in written for form in (raw, unquote(raw), unquote_plus(raw))]
    return tuple(dict.fromkeys(form for form in every if form))


def _hidden(parts: Parts) -> list[Span]:
    hidden = [parts.password] if parts.password is not None else []
    for key, value in parts.query_items():
        if value is not None and _secret(parts, parts[key], parts[value]):
            hidden.append(value)
    return hidden


def shown_in_error(parts: Parts, extra: Sequence[Span] = ()) -> str:
    """The URL for a message about it, over-redacted: as `shown`, and everything up to the
    last "@" (a password holding / ? or # spills past the authority), every query item after
    a secret key to the end (a password holding & or #), a port that is no number and all
    after it (to that last "@", if any), and `extra`."""
    hidden = [*extra, *([parts.password] if parts.password is not None else [])]
    if parts.late_at >= 0:
        hidden.append((parts.authority[0], parts.late_at))
    if _port_is_text(parts) and parts.port is not None:  # a password, its host left out?
        end = parts.late_at if parts.late_at >= 0 else len(parts.text)
        hidden.append((parts.port[0], end))
    for key, value in parts.query_items():
        if value is not None and _secret(parts, parts[key], parts[value]):
            hidden.append((value[0], len(parts.text)))  # an & or # in it ends it early
    return render(parts.text, hidden)


def _port_is_text(parts: Parts) -> bool:
    return parts.port is not None and not _DIGITS.fullmatch(parts[parts.port])


def _secret_may_run_on(parts: Parts) -> bool:
    """Whether a password may run on past a "#": one in the query, or one in the port's place."""
    items = parts.query_items()
    return _port_is_text(parts) or any(
        v is not None and _secret(parts, parts[k], parts[v]) for k, v in items
    )


def _secret(parts: Parts, raw_key: str, raw_value: str) -> bool:
    """Whether a query value is hidden: a secret's, one that assigns a secret, and for
    postgresql any but libpq's own keywords' (a driver option may be a misspelt password)."""
    if assigns_a_secret(unquote(raw_value)):
        return True
    try:
        key = decode(raw_key, "key", strict=False)
    except UsageError:
        return True  # undecodable: hide its value rather than guess
    scheme = parts[parts.scheme].lower()
    if SCHEME_ALIASES.get(scheme, scheme) == "postgresql" and key not in LIBPQ_KEYWORDS:
        return key != "ssl"  # libpq's alias of sslmode=require
    return is_secret_key(key)


def refuse(parts: Parts, why: str, hidden: Sequence[Span] = ()) -> UsageError:
    """A UsageError quoting the URL over-redacted (and with the `hidden` spans as ***)."""
    return UsageError(f"{in_error(parts, hidden)}: {why}")


def in_error(parts: Parts, hidden: Sequence[Span] = ()) -> str:
    """The URL quoted for a message about it, over-redacted (see shown_in_error)."""
    return quoted(shown_in_error(parts, hidden))


def protocol_of(parts: Parts) -> str:
    scheme = parts[parts.scheme].lower()
    protocol = SCHEME_ALIASES.get(scheme, scheme)
    if protocol not in DEFAULT_PORTS:
        known = ", ".join(f"{s}://" for s in DEFAULT_PORTS)
        raise refuse(parts, f"unknown scheme {parts[parts.scheme] + '://'!r} (expected {known})")
    if parts.late_at >= 0 and parts.user is None:
        raise refuse(parts, f"an @ after the host: {ENCODING_HINT}")
    return protocol


def credentials(parts: Parts, *, strict: bool = False) -> tuple[str | None, str | None]:
    """The user name and password, percent-decoded (`strict`ly where libpq reads them); an
    empty user name is none."""
    user = password = None
    try:
        if parts.user is not None:
            user = decode(parts[parts.user], "the user name", strict=strict) or None
        if parts.password is not None:
            password = decode(parts[parts.password], "the password", strict=strict)
    except UsageError as exc:
        raise refuse(parts, str(exc)) from None
    if user is not None and not user.isprintable():
        raise refuse(parts, "the user name holds a control character once decoded")
    return user, password


def host_of(parts: Parts) -> str:
    raw = parts[parts.host]
    if ":" in raw and not raw.startswith("["):
        raise refuse(parts, "an IPv6 address in a URL goes in brackets, e.g. https://[::1]:8443/")
    return checked(in_error(parts), hosts.url_host, raw)


def port_of(parts: Parts, protocol: str) -> int:
    """The port as written (an empty one, as in `host:/`, is the default, as RFC 3986 has it)."""
    if parts.port is None or parts.port[0] == parts.port[1]:
        return DEFAULT_PORTS[protocol]
    return checked(in_error(parts), hosts.port_number, parts[parts.port])


def options_of(parts: Parts) -> tuple[str | None, tuple[range, ...]]:
    """The fragment's tlsprobe options: #connect= and #expect_status=."""
    pairs = parse_qsl(parts[parts.fragment], keep_blank_values=True) if parts.fragment else []
    options = dict(pairs)
    if unknown := [key for key, _ in pairs if key not in FRAGMENT_OPTIONS]:
        allowed = ", ".join(FRAGMENT_OPTIONS)
        if _IDENTIFIER.fullmatch(unknown[0]) and not _secret_may_run_on(parts):
            raise refuse(parts, f"unknown option #{unknown[0]} (expected one of: {allowed})")
        # Not named: after a # in a password, the "option" is the password's tail.
        why = f"an unknown option after # (expected one of: {allowed}; a # in a password is %23)"
        raise refuse(parts, why)
    try:
        connect = connect_address(options["connect"]) if "connect" in options else None
        return connect, parse_status_ranges(options.get("expect_status", ""))
    except UsageError as exc:  # quotes the option's value, unless it may be a password's tail
        why = "a bad option after # (a # in a password is %23)"
        raise refuse(parts, why if _secret_may_run_on(parts) else str(exc)) from None


def connect_address(value: str) -> str:
    """Where #connect= (or tlsprobe.toml's connect) sends the connection: an address or a
    name; an IPv6 address with or without its brackets."""
    if not value:
        raise UsageError("#connect needs an address, e.g. #connect=10.0.0.5")
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return hosts.field_host(value)


def parse_status_ranges(spec: str) -> tuple[range, ...]:
    """Parse '200', '200,204', '2xx' or '200-299' into ranges; empty means the default (< 400)."""
    ranges: list[range] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        if re.fullmatch(r"[1-5]xx", item, re.ASCII | re.IGNORECASE):
            first = int(item[0]) * 100
            ranges.append(range(first, first + 100))
        elif match := re.fullmatch(r"([0-9]{3})(?:-([0-9]{3}))?", item, re.ASCII):
            low, high = int(match[1]), int(match[2] or match[1])
            if not 100 <= low <= high <= 599:
                raise _not_a_status(item)
            ranges.append(range(low, high + 1))
        else:
            raise _not_a_status(item)
    return tuple(ranges)


def _not_a_status(item: str) -> UsageError:
    return UsageError(f"expect_status {item!r} is not a status (use 200, 2xx or 200-299)")


def generic_target(parts: Parts, protocol: str, *, name: str, source: str) -> Target:
    """An https, http, smtp or smtps URL as a Target."""
    user, password = credentials(parts)
    host, port = host_of(parts), port_of(parts, protocol)
    path = parts[parts.path]
    if protocol in ("smtp", "smtps") and path not in ("", "/"):
        raise refuse(parts, f"{protocol}:// URLs have no path (give host[:port] only)")
    query = parts[parts.query] if parts.query is not None else ""
    connect, expect_status = options_of(parts)
    return Target(
        url=parts.text,
        protocol=protocol,
        host=host,
        port=port,
        path=path or "/",
        user=user,
        password=password,
        params=tuple(parse_qsl(query, keep_blank_values=True)),
        connect_host=connect,
        expect_status=expect_status,
        name=name,
        source=source,
        shown=shown(parts),
        query=query,
        hidden=hidden_values(parts),
    )
