"""Text-level rules shared by every input form: what characters a target may hold, strict
percent-decoding, and how a (redacted) input is quoted in a one-line message."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar
from urllib.parse import unquote

from tlsprobe.failures import UsageError
from tlsprobe.targets.vocabulary import REDACTED

MAX_LENGTH = 8192  # longer than any real URL or keyword string; bounds the work per input
SHOWN_LENGTH = 160  # of an input quoted in a message
BLANKS = " \t\r\n\f\v"  # ASCII whitespace: str.strip() would also eat \x1c-\x1f and U+2028
_ESCAPES = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*", re.DOTALL)
Span = tuple[int, int]
T = TypeVar("T")
V = TypeVar("V")


def problem(text: str) -> str | None:
    """What makes `text` unusable as a target whatever its form, or None."""
    if len(text) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    if not text.isprintable():  # control characters, U+2028, bidi overrides, lone surrogates
        what = "a control character (a tab, a line break, an invisible format character, ...)"
        return f"contains {what}"
    return None


def checked(where: str, check: Callable[[V], T], value: V) -> T:
    """check(value), its UsageError prefixed with `where` the value came from."""
    try:
        return check(value)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def without_userinfo(text: str) -> str:
    """`text` with all up to its last "@" as ***: what precedes an "@" may be a password, in
    a URL with its scheme left out or a host field written user:password@host."""
    return f"{REDACTED}@{text.rpartition('@')[2]}" if "@" in text else text


def quoted(shown: str) -> str:
    """A redacted input for a message: shortened, and repr'd so that it stays on one line."""
    if len(shown) > SHOWN_LENGTH:
        shown = shown[: SHOWN_LENGTH - 1] + "…"
    return repr(shown)


def render(text: str, hidden: Iterable[Span]) -> str:
    """`text` with each span (overlapping ones merged) replaced by ***."""
    out: list[str] = []
    pos = 0
    for first, end in sorted(hidden):
        if end < pos:
            continue
        start = max(first, pos)
        if start > pos or not out:  # else it touches the last: one *** for both
            out.extend((text[pos:start], REDACTED))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def decode(raw: str, what: str, *, strict: bool = True, plus: bool = False) -> str:
    """Percent-decoding. `strict`, as libpq does it: every % starts two hex digits; else as
    urllib's unquote (SQLAlchemy's, Airflow's), which keeps a % that starts no escape. Either
    way the bytes must be UTF-8 and %00 is refused. `plus` reads + as a space, as parse_qsl."""
    if plus:
        raw = raw.replace("+", " ")
    if "%" not in raw:
        return raw
    if strict and not _ESCAPES.fullmatch(raw):
        raise UsageError(f"{what}: a % not followed by two hex digits (write a % as %25)")
    try:
        value = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise UsageError(f"{what}: not UTF-8 once percent-decoded") from None
    if "\x00" in value:
        raise UsageError(f"{what}: %00 (a NUL character) is not allowed")
    return value


# Kept here, not in keywords: every target's text is asked this, and a URL needs nothing more of
# the keyword parser (nor its load at start-up).
_KEYWORDS_START = re.compile(r"[ \t\n\r\f\v]*[A-Za-z_][A-Za-z0-9_]*[ \t\n\r\f\v]*=", re.ASCII)


def looks_like_keywords(text: str) -> bool:
    """`host=db port=5432 ...` rather than a URL ("=" cannot be part of a URL's scheme)."""
    return bool(_KEYWORDS_START.match(text))
