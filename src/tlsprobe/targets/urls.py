"""Target: a parsed, validated, redactable endpoint. Parsing does no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import idna

from tlsprobe.failures import UsageError
from tlsprobe.targets.client_tls import ClientTls

DEFAULT_PORTS = {"http": 80, "https": 443, "smtp": 587, "smtps": 465, "postgresql": 5432}
SCHEME_ALIASES = {
    "postgres": "postgresql",
    "postgresql+psycopg2": "postgresql",  # SQLAlchemy's forms, as airflow.cfg writes them
    "postgresql+psycopg": "postgresql",
}
# Options that ride in the URL fragment (never sent to a server): per-target settings on the
# command line without a config file.
FRAGMENT_OPTIONS = ("expect_status", "connect")
REDACTED = "***"
# libpq keywords whose values are secrets, in keyword strings and as URI query parameters.
SECRET_KEYWORDS = ("password", "sslpassword")
_HOSTPORT = re.compile(r"(\[[^\]]*\]|[^:@\[\]]*)(:\d*)?")
_SECRET_PARAM = re.compile(r"([?&](?:" + "|".join(SECRET_KEYWORDS) + r")=)[^&#]*", re.IGNORECASE)
# A host name as resolvers take it: letters, digits, "-" and "_" (service records, Windows
# names) between dots. Anything else (a space, a comma, a quote) is a typo, not a host.
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Target:
    """One endpoint to probe. `password` never appears in repr or in `display`."""

    url: str = field(repr=False)  # may hold the password; `display` is the safe form
    protocol: str
    host: str
    port: int
    path: str = "/"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    params: tuple[tuple[str, str], ...] = ()
    connect_host: str | None = None
    expect_status: tuple[range, ...] = ()
    name: str = ""
    source: str = "command line"
    client: ClientTls | None = None  # how the configured client connects (client.encryption)
    client_cert: str | None = None
    client_key: str | None = None
    # The passphrase of an encrypted client_key (tlsprobe.toml's client_key_password_env).
    client_key_password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The URL as given, with any password replaced by ***."""
        shown = redact_url(self.url)
        # Belt and braces, only where the URL's userinfo held no password to redact: there,
        # replacing every occurrence also mangles the rest ("htt***s://" for password "p").
        if self.password and shown == self.url:
            for form in {self.password, quote(self.password, safe="")}:
                shown = shown.replace(form, REDACTED)
        return shown

    @property
    def label(self) -> str:
        return self.name or self.display

    @property
    def address(self) -> str:
        """Where to open the TCP connection (the `connect` option overrides the URL's host)."""
        return self.connect_host or self.host

    @property
    def is_ip(self) -> bool:
        return is_ip_literal(self.host)

    def param(self, key: str) -> str | None:
        return next((v for k, v in self.params if k == key), None)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def redact_url(url: str) -> str:
    """Replace the password in a URL's userinfo, and secret query parameters (libpq's
    `?password=` and `?sslpassword=`), with ***, keeping everything else as written."""
    return _redact_query(_redact_userinfo(url))


def _redact_userinfo(url: str) -> str:
    """The userinfo ends at the last "@" of the authority: Airflow writes user names that
    contain "@". When what precedes the first "/", "?" or "#" is not a plain host[:port], the
    authority is taken to run to the last "@" of all, so a password with an unencoded "/", "?"
    or "#" is still hidden (over-redacting a path that holds "@" is the safe way to be wrong)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    head = re.split(r"[/?#]", rest, maxsplit=1)[0]
    authority = head if "@" in head or _HOSTPORT.fullmatch(head) else rest
    userinfo, at, _host = authority.rpartition("@")
    user, colon, _secret = userinfo.partition(":")
    if not at or not colon:
        return url
    return f"{scheme}://{user}:{REDACTED}@{rest[len(userinfo) + 1 :]}"


def _redact_query(url: str) -> str:
    return _SECRET_PARAM.sub(rf"\g<1>{REDACTED}", url)


def parse_url(text: str, *, name: str, source: str) -> Target:
    """A target URL as a Target; UsageError naming the input and what is wrong."""
    shown = redact_url(text.strip())
    url = text.strip()
    if _CONTROL.search(url):  # urlsplit would silently drop tabs and newlines
        raise UsageError(f"{shown!r}: contains a control character (a tab, a line break, ...)")
    if "://" not in url:
        raise UsageError(f"{shown!r}: not a URL (expected scheme://host[:port], e.g. https://host)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        why = _plain_urlsplit_error(exc) + _encoding_hint(url)
        raise UsageError(f"{shown!r}: {why}") from None
    if port == 0:
        raise UsageError(f"{shown!r}: the port must be a number from 1 to 65535")
    scheme = SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    if scheme not in supported_schemes():
        known = ", ".join(f"{s}://" for s in supported_schemes())
        raise UsageError(f"{shown!r}: unknown scheme {parts.scheme + '://'!r} (expected {known})")
    if not parts.hostname:
        raise UsageError(f"{shown!r}: no host name")
    host = _ascii_host(parts.hostname, shown)
    options = dict(_fragment_options(parts.fragment, shown))
    return Target(
        url=url,
        protocol=scheme,
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        path=parts.path or "/",
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        params=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        connect_host=_connect_host(options.get("connect"), shown),
        expect_status=parse_status_ranges(options.get("expect_status", ""), shown),
        name=name,
        source=source,
    )


def supported_schemes() -> tuple[str, ...]:
    return tuple(DEFAULT_PORTS)


def _plain_urlsplit_error(exc: ValueError) -> str:
    message = str(exc)
    if "Port" in message or "port" in message:
        return "the port must be a number from 1 to 65535"
    if "IPv6" in message:
        return "malformed IPv6 address (write it as [::1])"
    return message


def _encoding_hint(url: str) -> str:
    """An "@" past the first "/", "?" or "#" means a user name or password holds one of them
    unencoded, which moves the URL's host into the password: say so, not just "bad port"."""
    rest = url.partition("://")[2]
    head = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in head or "@" not in rest:
        return ""
    return " (a / ? or # in a user name or password must be percent-encoded: %2F %3F %23)"


def _ascii_host(hostname: str, shown: str) -> str:
    """The host as it goes on the wire: IP literals as-is, names as IDNA A-labels."""
    if is_ip_literal(hostname):
        return hostname
    if hostname.isascii():
        if not _valid_dns_name(hostname):
            raise UsageError(f"{shown!r}: host name {hostname!r} is not a valid DNS name")
        return hostname.lower()
    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise UsageError(f"{shown!r}: host name {hostname!r} is not valid ({exc})") from None


def _valid_dns_name(hostname: str) -> bool:
    """Allowed characters, labels of 1 to 63 and at most 253 in all; a last label of digits
    only is an IPv4 address that is not one (256.1.1.1), not a name."""
    name = hostname.rstrip(".")
    labels = name.split(".")
    return (
        bool(_HOST_NAME.fullmatch(hostname))
        and len(name) <= 253
        and all(0 < len(label) <= 63 for label in labels)
        and not labels[-1].isdigit()
    )


def _fragment_options(fragment: str, shown: str) -> list[tuple[str, str]]:
    pairs = parse_qsl(fragment, keep_blank_values=True) if fragment else []
    for key, _ in pairs:
        if key not in FRAGMENT_OPTIONS:
            allowed = ", ".join(FRAGMENT_OPTIONS)
            raise UsageError(f"{shown!r}: unknown option #{key} (expected one of: {allowed})")
    return pairs


def _connect_host(value: str | None, shown: str) -> str | None:
    if value is None:
        return None
    host = value.strip("[]")
    if not host:
        raise UsageError(f"{shown!r}: #connect needs an address, e.g. #connect=10.0.0.5")
    return host if is_ip_literal(host) else _ascii_host(host, shown)


def parse_status_ranges(spec: str, shown: str) -> tuple[range, ...]:
    """Parse '200', '200,204', '2xx' or '200-299' into ranges; empty means the default (< 400)."""
    ranges: list[range] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        low, dash, high = item.partition("-")
        try:
            if item.lower().endswith("xx") and len(item) == 3:
                first = int(item[0]) * 100
                ranges.append(range(first, first + 100))
            elif dash:
                ranges.append(range(int(low), int(high) + 1))
            else:
                ranges.append(range(int(item), int(item) + 1))
            if not all(r.start >= 100 and r.stop <= 600 and r for r in ranges):
                raise ValueError(item)
        except ValueError:
            raise UsageError(
                f"{shown!r}: expect_status {item!r} is not a status (use 200, 2xx or 200-299)"
            ) from None
    return tuple(ranges)
