"""Every form a target's secrets can take on their way out, and the one scrub every result passes
through before any report or the exporter sees it (the runner applies it).

The secrets of a target: its password, the values of libpq's secret keywords (password,
sslpassword) among its parameters, the passphrase of its client key, and, for PostgreSQL, the
PGPASSWORD that libpq would use and every password libpq could find in its files (~/.pgpass,
service files: libpq_files.py). A secret can come back in the words of a server or a library
in any of the shapes it travelled in, so each is searched for as given, percent-decoded,
with its blanks collapsed (as messages are tidied), in capitals and in small letters, and each
of those percent-encoded (with Python's, JavaScript's and RFC 3986's sets of characters left
alone, `+` or `%20` for a blank, both cases of hex), as a repr or JSON would escape it (either
quote escaped, or both), as its UTF-8 bytes read as Latin-1 or ASCII (an HTTP header, a reason
phrase), and in base64: alone (AUTH LOGIN), as AUTH PLAIN's `\\0user\\0password` and HTTP
Basic's `user:password`, and inside any other base64 run (any user, any authzid).
Not covered: a secret that a probe's own shortening cuts (a greeting quoted to 120 characters)
shows its first characters; the forms above are searched for whole.

How the replacement is done, and why (by hand: the job is small, and what matters in it, finding
every form before replacing any, is what the usual chain of str.replace calls gets wrong):
- Every occurrence of every form is found in the original text first, overlapping ones
  included, and each covered stretch becomes one `***`. Nothing is replaced while searching,
  so a replacement can never create a match for the next form, and a longer form is never
  half-hidden by a shorter one that starts inside it (longest forms first, in effect).
- A secret that contains "*" could still read out of a `***` and its neighbours; the text is
  then searched again and the stretch widened until no form shows (this always ends: each
  round covers more of the original text).
- A form of one or two characters is replaced only where it stands alone (no letter or digit
  on either side). Replaced everywhere, the password "p" would turn every "https" into
  "htt***s" and every result into noise; a one-letter secret inside a word tells a reader
  nothing, and where it stands alone (between ":" and "@", after "AUTH") it is hidden.
  From three characters on a form is replaced wherever it occurs, inside words too: a report
  that reads "***word" for the password "pass" is odd but leaks nothing.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import field
from typing import NamedTuple
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from tlsprobe import libpq_files
from tlsprobe.records import record
from tlsprobe.targets import REDACTED, SECRET_KEYWORDS, Target

__all__ = ["Secrets", "scrub_structure"]

SHORTEST_ANYWHERE = 3  # shorter forms are replaced only where they stand alone
SHORTEST_CORE = 4  # base64 shorter than this inside a longer run is too likely by chance
# What each way of percent-encoding leaves as it is, besides letters, digits and "_.-~": nothing
# (a URL component in Python), "/" (a path, Python's default), JavaScript's encodeURIComponent
# and encodeURI, and RFC 3986's sub-delimiters in a path segment and in userinfo.
SAFE_SETS = ("", "/", "!~*'()", "!~*'();/?:@&=+$,#", "!$&'()*+,;=:@", "!$&'()*+,;=:")
_WORD_CHAR = re.compile(r"[A-Za-z0-9]")
_HEX = re.compile(r"%[0-9A-F]{2}")
_BASE64_CHAR = "[A-Za-z0-9+/]"
# A secret keyword's value in a connection string or a URL query (psycopg quotes connection
# strings in some errors), and the password of a URL's userinfo: hidden without knowing the
# secret, so a password libpq found elsewhere (~/.pgpass) is covered too. The value follows "="
# at once, as make_conninfo and URLs write it (prose such as "sslpassword= in a URL" is left
# alone); it ends at a blank, "&" or a quote, or a quoted value at its closing quote.
_KEYWORD_VALUE = re.compile(
    r"(?i)\b((?:" + "|".join(SECRET_KEYWORDS) + r")=)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)"
)
_USERINFO_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#:]*:)([^\s/?#]*)@")


def scrub_structure(text: str) -> str:
    """`password=...`, `sslpassword=...` and a URL's `user:password@` with the value as ***,
    for text whose secrets are not known (an exporter's bad request)."""
    # The cheap tests first: most texts hold neither, and every text of every result comes here
    # (a certificate's subject has "=" in it, and the regular expressions were the costlier half
    # of a result's way through `runner.shown`). An ASCII text is searched only when a keyword
    # and its "=" are in it, in any case; any other text always, for what (?i) matches in it.
    if "=" in text and (not text.isascii() or _may_hold_keyword(text.lower())):
        text = _KEYWORD_VALUE.sub(_keep_key, text)
    if "@" in text and "://" in text:
        text = _USERINFO_PASSWORD.sub(_keep_user, text)
    return text


_KEYWORD_SUFFIXES = tuple(sorted({keyword.rpartition("_")[2] + "=" for keyword in SECRET_KEYWORDS}))


def _may_hold_keyword(lowered: str) -> bool:
    """Whether a lower-cased ASCII text holds what every secret keyword ends with ("password=",
    "secret=", "key=")."""
    return any(suffix in lowered for suffix in _KEYWORD_SUFFIXES)


def _keep_key(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def _keep_user(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED + "@"


Span = tuple[int, int]


@record
class Secrets:
    """The secrets of one target in every form they can take; `scrub` hides them in a text."""

    forms: tuple[str, ...] = field(default=(), repr=False)
    # A run of base64 holding the middle of a secret's encoding, at any alignment.
    runs: re.Pattern[str] | None = field(default=None, repr=False)
    # Any form or run at all: one search that most texts fail, before the exact work.
    anything: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, target: Target, env: Mapping[str, str] | None = None) -> Secrets:
        """The secrets of `target`; `env` is the environment libpq reads PGPASSWORD from."""
        values = secret_values(target, env or {}) + libpq_files.passwords(target, env or {})
        user = target.user or ""
        forms = {form for value in values for form in forms_of(value, user)}
        forms.discard("")
        cores = {core for value in values for core in base64_cores(value)}
        # Sorted for a stable value only: every occurrence of every form is found, in any order.
        ordered = sorted(forms)
        if not ordered:
            return cls()
        runs = None
        if cores:
            middle = "|".join(re.escape(c) for c in sorted(cores))
            runs = re.compile(f"{_BASE64_CHAR}*(?:{middle}){_BASE64_CHAR}*=*")
        anything = re.compile("|".join(re.escape(f) for f in [*ordered, *sorted(cores)]))
        return cls(tuple(ordered), runs, anything)

    def scrubber(self) -> Callable[[str], str]:
        """scrub, or for a target with no secrets the structural scrub alone (what scrub comes
        to then, without a call more per text)."""
        return self.scrub if self.anything is not None else scrub_structure

    def scrub(self, text: str) -> str:
        """`text` with every form of every secret replaced by ***, and then scrub_structure."""
        if self.anything is not None and self.anything.search(text):
            text = self._hide(text)
        return scrub_structure(text)

    def _hide(self, text: str) -> str:
        spans = merge(self._spans(text))
        if not spans:
            return text
        while True:
            shown, origin = render(text, spans)
            wider = [
                (origin[start].start, origin[end - 1].end)
                for start, end in self._spans(shown)
                if not (origin[start].mark and origin[start] == origin[end - 1])
            ]
            if not wider:  # every match left lies inside one mark: the secret "*", say
                return shown
            spans = merge([*spans, *wider])

    def _spans(self, text: str) -> Iterator[Span]:
        for form in self.forms:
            start = text.find(form)
            while start >= 0:
                end = start + len(form)
                if len(form) >= SHORTEST_ANYWHERE or _stands_alone(text, start, end):
                    yield start, end
                start = text.find(form, start + 1)
        if self.runs is not None:
            yield from (m.span() for m in self.runs.finditer(text))


def secret_values(target: Target, env: Mapping[str, str]) -> list[str]:
    """The secrets themselves: password, secret libpq parameters, the client key's passphrase,
    every value the door hid in the target's display (an https query's api_key=, a driver
    option that may be a misspelt password), and PGPASSWORD for PostgreSQL (libpq uses it
    when the target gives no password)."""
    values = [target.password, target.client_key_password, *target.hidden]
    values += [v for k, v in target.params if k.lower() in SECRET_KEYWORDS]
    if target.protocol == "postgresql" and not target.lends_nothing:
        # A caller's target is never given PGPASSWORD, and hiding it would be an oracle: a
        # server echoing guesses would see which one came back as ***.
        values.append(env.get("PGPASSWORD"))
    return [v for v in values if v]


def forms_of(secret: str, user: str) -> set[str]:
    """Every shape of `secret` this module searches for (see the module's docstring)."""
    plain = {secret, unquote(secret), unquote_plus(secret), " ".join(secret.split())}
    # A server may change the case of what it echoes (an HSTS note in capitals, say).
    cased = plain | {text.upper() for text in plain} | {text.lower() for text in plain}
    forms = {form for text in cased for form in text_forms(text)}
    name = user.encode("utf-8", "surrogatepass")
    for text in plain:
        raw = text.encode("utf-8", "surrogatepass")
        for sent in (raw, b"\0" + name + b"\0" + raw, name + b":" + raw):
            forms.add(base64.b64encode(sent).decode("ascii"))
    return forms


def text_forms(text: str) -> set[str]:
    """`text` as it reads in a text: as given, percent-encoded, its UTF-8 bytes read as
    Latin-1 or ASCII, and as reprs write it."""
    # "surrogatepass": a password from a non-UTF-8 environment holds lone surrogates, and
    # working out its forms must never fail.
    raw = text.encode("utf-8", "surrogatepass")
    forms = {text, raw.decode("latin-1"), raw.decode("ascii", "replace")}
    for safe in SAFE_SETS:
        for encoded in (
            quote(text, safe, errors="surrogatepass"),
            quote_plus(text, safe, errors="surrogatepass"),
        ):
            forms |= {encoded, _HEX.sub(lambda m: m.group().lower(), encoded)}
    return forms | escaped_forms(text, raw)


def escaped_forms(text: str, raw: bytes) -> set[str]:
    """`text` as a repr of it or of its bytes, or JSON, shows it (backslashes doubled or not,
    non-ASCII escaped), with either quote escaped or both: which one a repr escapes depends on
    the quotes around the secret, not in it (h11 shows `bytearray(b'X It\\'s"Secret: y')`)."""
    shown = {
        text,
        json.dumps(text)[1:-1],  # as JSON writes it: "\\u00e9", "\\n"
        raw.decode("ascii", "backslashreplace"),
        text.encode("unicode_escape").decode("ascii"),
        repr(text)[1:-1],
        repr(raw)[2:-1],
    }
    forms = set()
    for form in shown:
        single = form.replace("'", "\\'")
        forms |= {form, single, form.replace('"', '\\"'), single.replace('"', '\\"')}
    return forms


def base64_cores(secret: str) -> set[str]:
    """The base64 characters that only `secret`'s bytes decide, for each of the three
    alignments it can have inside a longer encoded run (after any user name, say)."""
    raw = secret.encode("utf-8", "surrogatepass")
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode("ascii")
        first = -(-8 * offset // 6)  # the first character made of the secret's bits only
        last = 8 * (offset + len(raw)) // 6  # one past the last such character
        if last - first >= SHORTEST_CORE:
            cores.add(encoded[first:last])
    return cores


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching stretches joined, in order."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class Origin(NamedTuple):
    """The stretch of the original text that a character of the scrubbed text stands for."""

    start: int
    end: int
    mark: bool  # a character of a *** that replaced the stretch


def render(text: str, spans: list[Span]) -> tuple[str, list[Origin]]:
    """`text` with each span replaced by ***, and the origin of each character of the result."""
    parts: list[str] = []
    origin: list[Origin] = []
    at = 0
    for start, end in [*spans, (len(text), len(text))]:
        parts.append(text[at:start])
        origin += [Origin(i, i + 1, False) for i in range(at, start)]
        if start < end:
            parts.append(REDACTED)
            origin += [Origin(start, end, True)] * len(REDACTED)
        at = end
    return "".join(parts), origin


def _stands_alone(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return not _WORD_CHAR.fullmatch(before) and not _WORD_CHAR.fullmatch(after)
