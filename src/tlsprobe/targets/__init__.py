"""Targets: parsed, validated endpoints. Parsing does no I/O and never imports a probe."""

from tlsprobe.failures import UsageError
from tlsprobe.targets.urls import (
    DEFAULT_PORTS,
    REDACTED,
    SECRET_KEYWORDS,
    Target,
    is_ip_literal,
    parse_status_ranges,
    parse_url,
    redact_url,
    supported_schemes,
)

__all__ = [
    "DEFAULT_PORTS",
    "REDACTED",
    "SECRET_KEYWORDS",
    "Target",
    "is_ip_literal",
    "parse_status_ranges",
    "parse_target",
    "redact_url",
    "supported_schemes",
]


def parse_target(text: str, *, name: str = "", source: str = "command line") -> Target:
    """A target from a URL or a libpq keyword string; UsageError naming the input (and where it
    came from) and what is wrong."""
    from tlsprobe.targets import libpq  # psycopg-free, but only keyword strings need it

    try:
        if libpq.looks_like_keywords(text):  # libpq's `host=db port=5432 sslmode=...`
            return libpq.keyword_target(text, name=name, source=source)
        return parse_url(text, name=name, source=source)
    except UsageError as exc:
        if source == "command line":
            raise
        raise UsageError(f"{source}: {exc}") from None
