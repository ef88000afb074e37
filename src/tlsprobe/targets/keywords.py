"""libpq keyword strings (`host=db port=5432 sslmode=verify-full`), parsed by libpq itself:
psycopg's conninfo_to_dict, imported only when a keyword string is given (it costs ~100 ms).
libpq gives values, not where they are written, and its errors quote the input; a small lexer
that follows libpq's conninfo_parse finds each value's span, so that the display hides a secret
where it stands and an error quotes the input with secret and unknown keys' values hidden.
Tests hold the lexer to libpq's parser."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from tlsprobe.failures import UsageError
from tlsprobe.records import record
from tlsprobe.targets import hosts
from tlsprobe.targets.target import Target
from tlsprobe.targets.text import Span, checked, quoted, render
from tlsprobe.targets.vocabulary import (
    LIBPQ_KEYWORDS,
    NESTED_DBNAME,
    assigns_a_secret,
    holds_conninfo,
    is_secret_key,
)

_BLANKS = " \t\n\r\f\v"  # C's isspace, as libpq tests it
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_OWN_FIELDS = ("host", "port", "user", "password")


@record
class Pair:
    key: str
    key_at: int
    value: Span  # as written: quotes and backslashes included


@record
class Lexed:
    """What lex() read: the pairs, and where libpq's syntax broke (None: it was met)."""

    pairs: tuple[Pair, ...]
    stop: int | None = None
    why: str = ""


_QUOTE_HINT = "quote a value that holds blanks: password='a b'"
_NO_EQUALS = f"a word without = ({_QUOTE_HINT})"
_UNCLOSED = "a quoted value is not closed"


def lex(text: str) -> Lexed:
    """Keys and value spans as libpq's conninfo_parse reads them: `key = value`, a value a run
    of non-blanks or a single-quoted string, a backslash escaping the next character. A value
    whose quote is not closed is a last pair running to the end."""
    pairs: list[Pair] = []
    pos, end = 0, len(text)
    while (pos := _skip(text, pos)) < end:
        key_start = pos
        while pos < end and text[pos] != "=" and text[pos] not in _BLANKS:
            pos += 1
        key = text[key_start:pos]
        if (pos := _skip(text, pos)) == end or text[pos] != "=":
            return Lexed(tuple(pairs), key_start, _NO_EQUALS)
        value_start = pos = _skip(text, pos + 1)
        if pos < end and text[pos] == "'":
            pos = _closing_quote(text, pos + 1)
            if pos < 0:
                pairs.append(Pair(key, key_start, (value_start, end)))
                return Lexed(tuple(pairs), value_start, _UNCLOSED)
        else:
            while pos < end and text[pos] not in _BLANKS:
                pos += 2 if text[pos] == "\\" else 1
            pos = min(pos, end)
        pairs.append(Pair(key, key_start, (value_start, pos)))
    return Lexed(tuple(pairs))


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _BLANKS:
        pos += 1
    return pos


def _closing_quote(text: str, pos: int) -> int:
    """Just past the quote that closes a value, or -1."""
    while pos < len(text):
        if text[pos] == "\\":
            pos += 2
        elif text[pos] == "'":
            return pos + 1
        else:
            pos += 1
    return -1


def shown(text: str, lexed: Lexed, also: Collection[str] = ()) -> str:
    """The string as written with the values of secret and unknown keys (and of `also`) as
    ***, tails of secrets hidden whole (see _tails), and where libpq's syntax broke, all to the
    end: with the value before, for a word without "=" may be that value's tail."""
    return render(text, _hidden(text, lexed, also))


def _hidden(text: str, lexed: Lexed, also: Collection[str] = ()) -> list[Span]:
    tails = _tails(text, lexed.pairs)
    hidden = [(p.key_at, p.value[1]) for p in tails]
    for pair in lexed.pairs:
        if pair not in tails and (_secretish(text, pair) or _unknown(pair) or pair.key in also):
            hidden.append(pair.value)
    if lexed.stop is not None:
        start = lexed.stop
        if lexed.why == _NO_EQUALS and lexed.pairs:
            start = lexed.pairs[-1].value[0]
        hidden.append((start, len(text)))
    return hidden


def _hidden_values(
    text: str, spans: Sequence[Span], lexed: Lexed, given: Mapping[str, str]
) -> tuple[str, ...]:
    """What the display hides, as written (quotes and backslashes included) and as libpq read
    it: for the scrub of everything said about the target."""
    inside = [
        p.key for p in lexed.pairs if any(a <= p.value[0] and p.value[1] <= b for a, b in spans)
    ]
    every = [text[a:b] for a, b in spans] + [given.get(key, "") for key in inside]
    return tuple(dict.fromkeys(value for value in every if value.strip("'")))


def _tails(text: str, pairs: Sequence[Pair]) -> list[Pair]:
    """Unknown keys right after a secret (or after such a tail): in `password=a b=c` the
    password may have been "a b=c" with its blank unquoted. One exception, named as the
    mistyped keyword it more likely is (its value hidden): a word that could be a keyword,
    after a blank, after a password= (`password=x sslmod=require`); what that shows of a
    password whose blank was not quoted is the price."""
    tails: list[Pair] = []
    before: Pair | None = None
    for pair in pairs:
        if before is not None and _unknown(pair) and not _typo_after(text, before, pair):
            tails.append(pair)
        elif _secretish(text, pair):
            before = pair
        else:
            before = None
    return tails


def _typo_after(text: str, secret: Pair, pair: Pair) -> bool:
    return (
        is_secret_key(secret.key)
        and text[pair.key_at - 1] in _BLANKS
        and bool(_IDENTIFIER.fullmatch(pair.key))
    )


def _unknown(pair: Pair) -> bool:
    return pair.key not in LIBPQ_KEYWORDS


def _secretish(text: str, pair: Pair) -> bool:
    """A secret's value, or one that holds a secret's `key=` (in `host= password=x` the blank
    after host= is skipped, and "password=x" is the host)."""
    return is_secret_key(pair.key) or assigns_a_secret(text[slice(*pair.value)])


def keyword_target(text: str, *, name: str, source: str) -> Target:
    """Parse `host=db port=5432 user=u password=p sslmode=verify-full ...` into a Target."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    lexed = lex(text)
    try:
        parsed = conninfo_to_dict(text)
    except (psycopg.Error, ValueError):  # its text may quote a password: never shown
        raise UsageError(f"{quoted(shown(text, lexed))}: {_why(text, lexed)}") from None
    given = {k: str(v) for k, v in parsed.items() if v is not None}  # all str, from a string
    spans = _hidden(text, lexed if lexed.stop is None else Lexed((), 0))
    display = render(text, spans)
    where = quoted(display)
    values = {p.key: given[p.key] for p in lexed.pairs if p.key in given} | given
    for key, value in values.items():
        if not is_secret_key(key) and assigns_a_secret(value):
            why = f"{key}= took the next setting as its value (write {key}='' if it is empty)"
            raise UsageError(f"{where}: {why}")
    if holds_conninfo(values.get("dbname", "")):
        hidden = quoted(shown(text, lexed, also=("dbname",)))
        raise UsageError(f"{hidden}: {NESTED_DBNAME}")
    return Target(
        url=text,
        protocol="postgresql",
        host=checked(where, _host, values.get("host", "")),
        port=checked(where, hosts.port_number, values.get("port") or "5432"),
        path="/" + values.get("dbname", ""),
        user=values.get("user") or None,
        password=values.get("password") or None,  # libpq: empty is none
        params=tuple((k, v) for k, v in values.items() if k not in _OWN_FIELDS),
        connect_host=checked(where, _hostaddr, values.get("hostaddr", "")),
        name=name,
        source=source,
        shown=display,
        hidden=_hidden_values(text, spans, lexed, given),
    )


def _why(text: str, lexed: Lexed) -> str:
    if lexed.stop is not None:
        return f"not a libpq connection string: {lexed.why}"
    if _tails(text, lexed.pairs):
        return f"a word after a secret is no libpq keyword ({_QUOTE_HINT})"
    for pair in lexed.pairs:
        if _unknown(pair):
            hint = " (libpq keywords are lower case)" if pair.key.lower() in LIBPQ_KEYWORDS else ""
            return f"{pair.key!r} is not a libpq connection keyword{hint}"
    return "not a libpq connection string"


def _host(text: str) -> str:
    if not text:
        raise UsageError("no host= (tlsprobe connects over TCP)")
    if "," in text or text.startswith("/"):
        raise UsageError(f"host={text!r}: give one TCP host name or address")
    return hosts.field_host(text)


def _hostaddr(text: str) -> str | None:
    return hosts.ip_literal(text) if text else None
