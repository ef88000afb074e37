"""The door for host names, addresses and ports: every source (URLs, keyword strings, connection
fields, airflow.cfg values) passes its host and port through these functions, so the rules are
the same everywhere. Each raises UsageError with a short phrase; callers name the input."""

from __future__ import annotations

import ipaddress
import re

from tlsprobe.failures import UsageError
from tlsprobe.targets.text import quoted, without_userinfo

PORT_RULE = "the port must be a number from 1 to 65535"
IPV4_RULE = "write an IPv4 address as four decimal numbers from 0 to 255, e.g. 127.0.0.1"
# A host name as resolvers take it: letters, digits, "-" and "_" (service records, Windows
# names) between dots, with an optional root dot.
_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?", re.ASCII)
# The last label decides whether a host is meant as an IPv4 address (the WHATWG URL rule): all
# digits, or 0x and hex digits. Resolvers and browsers read 127.1, 0x7f000001 and 2130706433 as
# 127.0.0.1; tlsprobe takes none of them, so that what is probed is what the text plainly says.
_NUMERIC = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*", re.ASCII)
_OCTET = re.compile(r"0|[1-9][0-9]{0,2}", re.ASCII)
_ZONE = re.compile(r"[A-Za-z0-9._~-]+", re.ASCII)  # RFC 6874: unreserved characters
_DIGITS = re.compile(r"[0-9]{1,5}", re.ASCII)
_NOT_IN_HOST = re.compile(r"[/?#\s]")
_APART = "give the port, the user and the path apart from the host"


def port_number(value: object) -> int:
    """A port: an int, or a string of ASCII digits, from 1 to 65535 (no sign, no blanks, no
    other scripts' digits: int() would take "٥٤٣٢" and " +5432 ")."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    raise UsageError(PORT_RULE)


def is_ip_literal(host: str) -> bool:
    """An IPv4 address in canonical dotted-quad form, or an IPv6 address (bare, no brackets)."""
    try:
        ip_literal(host)
    except UsageError:
        return False
    return True


def ip_literal(text: str) -> str:
    """An IP address given on its own (libpq's hostaddr, #connect=): a canonical dotted quad or
    a bare IPv6 address, with an optional zone; anything else is refused."""
    if ":" in text:
        return _ipv6(text)
    if _dotted_quad(text):
        return text
    if _looks_numeric(text):
        raise UsageError(f"{quoted(text)} is not an IPv4 address: {IPV4_RULE}")
    raise UsageError(f"{quoted(text)} is not an IP address")


def field_host(text: str) -> str:
    """A host given on its own (a connection's host field, host=, smtp_host): a name, a dotted
    quad or a bare IPv6 address, as the client library takes it."""
    if not text:
        raise UsageError("no host name")
    if "@" in text or _NOT_IN_HOST.search(text):
        shown = without_userinfo(text)  # user:password@host in a host field
        raise UsageError(f"host {quoted(shown)} is not a host name or IP address ({_APART})")
    if ":" in text:
        if text.startswith("["):
            raise UsageError(f"host {quoted(text)}: write an IPv6 address without brackets here")
        if not _is_ipv6(text):
            raise UsageError(f"host {quoted(text)} is not a host name or IP address ({_APART})")
        return _ipv6(text)
    return _name_or_ipv4(text)


def url_host(text: str) -> str:
    """The host of a URL's authority: `[IPv6]` (brackets exactly around the address), a dotted
    quad, or a name; the brackets are not part of the result."""
    if not text:
        raise UsageError("no host name")
    if text.startswith("["):
        inner = text[1:-1] if text.endswith("]") else ""
        if inner[:1] in ("v", "V"):
            raise UsageError(f"the IPvFuture address {quoted(text)} is not supported")
        if not inner or "[" in inner or "]" in inner:
            raise UsageError("malformed IPv6 address (write it as [::1] or [::1]:port)")
        # RFC 6874 writes a zone as %25eth0; the bare %eth0 of other tools is taken too.
        return _ipv6(inner.replace("%25", "%", 1))
    if "[" in text or "]" in text:
        raise UsageError("malformed IPv6 address (write it as [::1] or [::1]:port)")
    return _name_or_ipv4(text)


def in_url(host: str) -> str:
    """The host as a URL writes it: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text.partition("%")[0])
    except ValueError:
        return False
    return True


def _ipv6(text: str) -> str:
    address, percent, zone = text.partition("%")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise UsageError(f"{quoted(text)} is not a valid IPv6 address") from None
    if percent and not _ZONE.fullmatch(zone):
        raise UsageError(f"{quoted(text)}: an IPv6 zone is letters, digits, '.', '_', '~' or '-'")
    return text.lower()


def _name_or_ipv4(text: str) -> str:
    if _looks_numeric(text):
        if _dotted_quad(text):
            return text
        raise UsageError(f"host {quoted(text)} is not an IPv4 address: {IPV4_RULE}")
    if text.isascii():
        if not _valid_dns_name(text):
            raise UsageError(f"host name {quoted(text)} is not a valid DNS name")
        return text.lower()
    return _idna(text)


def _idna(text: str) -> str:
    """An internationalised name as its A-labels (UTS 46 mapping, as browsers do). A name that
    maps to digits (fullwidth digits, say) is an address in disguise and is refused."""
    import idna  # only names that are not ASCII need it: a start-up cost for the rest

    try:
        encoded = idna.encode(text, uts46=True).decode("ascii")
    except (UnicodeError, ValueError) as exc:  # idna.IDNAError is a UnicodeError
        raise UsageError(f"host name {quoted(text)} is not valid ({exc})") from None
    if _looks_numeric(encoded):
        raise UsageError(f"host {quoted(text)} is not an IPv4 address: {IPV4_RULE}")
    if not _valid_dns_name(encoded):
        raise UsageError(f"host name {quoted(text)} is not a valid DNS name")
    return encoded


def _looks_numeric(host: str) -> bool:
    last = host.removesuffix(".").rpartition(".")[2]
    return bool(_NUMERIC.fullmatch(last))


def _dotted_quad(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(_OCTET.fullmatch(p) and int(p) < 256 for p in parts)


def _valid_dns_name(hostname: str) -> bool:
    """Allowed characters, labels of 1 to 63 and at most 253 in all."""
    name = hostname.removesuffix(".")
    return (
        bool(_NAME.fullmatch(hostname))
        and len(name) <= 253
        and all(len(label) <= 63 for label in name.split("."))  # _NAME has no empty label
    )
