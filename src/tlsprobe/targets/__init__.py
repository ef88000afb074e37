"""Targets: parsed, validated endpoints, and the one door every input crosses to become one.
A target is a valid Target or a UsageError whose message is one line naming the input (and
where it came from) with every secret as ***. Parsing does no I/O and never imports a probe."""

from tlsprobe.failures import UsageError
from tlsprobe.targets.hosts import in_url, is_ip_literal
from tlsprobe.targets.parts import from_parts
from tlsprobe.targets.target import Target
from tlsprobe.targets.text import (
    BLANKS,
    checked,
    looks_like_keywords,
    problem,
    quoted,
    without_userinfo,
)
from tlsprobe.targets.urls import connect_address, parse_status_ranges
from tlsprobe.targets.vocabulary import (
    DEFAULT_PORTS,
    PATH_SAFE,
    REDACTED,
    SECRET_KEYWORDS,
    is_secret_key,
    supported_schemes,
)

__all__ = [
    "DEFAULT_PORTS",
    "PATH_SAFE",
    "REDACTED",
    "SECRET_KEYWORDS",
    "Target",
    "checked",
    "connect_address",
    "from_parts",
    "in_url",
    "is_ip_literal",
    "is_secret_key",
    "parse_status_ranges",
    "parse_target",
    "redact",
    "supported_schemes",
]


def parse_target(
    text: str, *, name: str = "", source: str = "command line", where: str | None = None
) -> Target:
    """A target from a URL or a libpq keyword string; UsageError naming the input, and
    `where` it came from (by default its source; nothing for the command line)."""
    label = where if where is not None else (None if source == "command line" else source)
    try:
        return _parse(text.strip(BLANKS), name=name, source=source)
    except UsageError as exc:
        if label is None:
            raise
        raise UsageError(f"{label}: {exc}") from None


def _parse(text: str, *, name: str, source: str) -> Target:
    from tlsprobe.targets import urls

    if why := problem(text):
        raise UsageError(f"{quoted(redact(text))}: {why}")
    if name and (why := problem(name)):
        raise UsageError(f"the name {quoted(name)}: {why}")
    if looks_like_keywords(text):
        from tlsprobe.targets import keywords

        return keywords.keyword_target(text, name=name, source=source)
    parts = urls.split(text)
    if parts is None:
        why = "not a URL (expected scheme://host[:port], e.g. https://host)"
        raise UsageError(f"{quoted(redact(text))}: {why}")
    protocol = urls.protocol_of(parts)
    if protocol == "postgresql":
        from tlsprobe.targets import pguri

        return pguri.pg_target(parts, name=name, source=source)
    return urls.generic_target(parts, protocol, name=name, source=source)


def redact(text: str) -> str:
    """Any input text (a URL, a keyword string, or neither) with every secret it may hold as
    ***, over-redacting where its structure is unclear: for messages about bad input."""
    from tlsprobe.targets import urls

    if looks_like_keywords(text):
        from tlsprobe.targets import keywords

        return keywords.shown(text, keywords.lex(text))
    if (parts := urls.split(text)) is not None:
        return urls.shown_in_error(parts)
    return without_userinfo(text)  # neither: meant as a URL, with the scheme left out
