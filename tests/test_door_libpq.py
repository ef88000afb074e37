"""libpq itself as the oracle (psycopg's conninfo_to_dict is libpq's parser): its keyword set,
where the span lexer finds each value, and how postgresql:// URIs read."""

from __future__ import annotations

import re
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from tlsprobe.failures import UsageError
from tlsprobe.targets import SECRET_KEYWORDS, parse_target
from tlsprobe.targets.hosts import field_host
from tlsprobe.targets.keywords import lex
from tlsprobe.targets.text import render
from tlsprobe.targets.vocabulary import LIBPQ_KEYWORDS

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def libpq_or_none(text: str) -> dict[str, str] | None:
    try:
        return {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
    except (psycopg.Error, UnicodeDecodeError):  # the latter: %a0 decodes to no UTF-8
        return None


def test_keyword_set_is_libpqs_own() -> None:
    """The keywords tlsprobe knows without importing psycopg are exactly the linked libpq's."""
    assert {o.keyword.decode() for o in pq.Conninfo.get_defaults()} == LIBPQ_KEYWORDS


def test_every_keyword_libpq_marks_secret_is_hidden() -> None:
    """Each keyword libpq displays as a secret ("*") is one tlsprobe hides."""
    marked = {o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.dispchar == b"*"}
    assert marked
    assert marked <= set(SECRET_KEYWORDS)


PASSWORD_WRITTEN = re.compile(r"password[ \t]*=")
KEYS = st.sampled_from(["host", "port", "password", "sslmode", "dbname", "options", "user"])
CHARS = st.sampled_from(list("ab0 '\\=\t@#x"))


@st.composite
def keyword_strings(draw: st.DrawFn) -> str:
    """Keyword strings with blanks, quotes and backslashes where libpq gives them meaning; a
    password's value, and only a password's, always holds a Z."""
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(KEYS)
        raw = "".join(draw(st.lists(CHARS, max_size=6)))
        if key == "password":
            raw += "Z" + "".join(draw(st.lists(CHARS, max_size=3)))
        if draw(st.booleans()):
            value = "'" + raw + "'" if draw(st.booleans()) else "'" + raw.replace("'", "\\'") + "'"
        else:
            value = raw
        around = draw(st.sampled_from(["=", " = ", "=\t"]))
        parts.append(key + around + value)
    return draw(st.sampled_from([" ", "  ", "\t"])).join(parts)


@FAST
@given(keyword_strings())
def test_lexer_reads_the_syntax_libpq_reads(text: str) -> None:
    """libpq takes a string exactly when the lexer reads it whole and finds only libpq's keys
    (a blank before "=" can leave an empty one), and then the keys are libpq's."""
    lexed = lex(text)
    libpq = libpq_or_none(text)
    keys = {p.key for p in lexed.pairs}
    assert (lexed.stop is None and keys <= LIBPQ_KEYWORDS) == (libpq is not None), (text, lexed)
    if libpq is not None:
        assert keys == set(libpq)


@FAST
@given(keyword_strings())
def test_each_value_span_is_the_value_libpq_reads(text: str) -> None:
    """Putting a marker where the lexer says a key's (last) value is written makes libpq read
    the marker for that key and nothing else changed: the spans redaction hides are exact."""
    libpq = libpq_or_none(text)
    if libpq is None:
        return
    pairs = lex(text).pairs
    last = {p.key: p for p in pairs}
    for key, pair in last.items():
        start, end = pair.value
        marked = libpq_or_none(text[:start] + "'MARK'" + text[end:])
        assert marked == {**libpq, key: "MARK"}, (text, key)


@FAST
@given(keyword_strings())
def test_no_part_of_a_password_shows_in_display_or_message(text: str) -> None:
    """Whatever the quoting (or its lack), no part of a password (no Z) shows in the display
    of a keyword target or in a message; save one by design: a word=value after a blank after
    password= as written could be a mistyped keyword, and is named as one (its value hidden).
    As written: in "host= password = a Z=" libpq reads "password" as host's value."""
    assume(
        not any(
            PASSWORD_WRITTEN.search(text, 0, pair.key_at)
            and pair.key not in LIBPQ_KEYWORDS
            and pair.key.isidentifier()
            and text[pair.key_at - 1] in " \t"
            for pair in lex(text).pairs
        )
    )
    try:
        target = parse_target(text)
    except UsageError as exc:
        message = str(exc)
    else:
        message = repr(target.display) + ": accepted"
        assert render(text, []) == text  # (render without spans is the identity)
    assert "\n" not in message
    assert "Z" not in message


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgresql://u:A@db/app?password=B", {"password": "B"}),
        ("postgresql://u@db/app?pass%77ord=S3CRET", {"password": "S3CRET"}),
        ("postgresql://db/x?ssl=true", {"sslmode": "require"}),
        ("postgresql://u:@db/x", {"user": "u"}),
        ("postgresql://db/x?application_name=a+b", {"application_name": "a+b"}),
        ("postgresql://db:5433/x?port=6000", {"port": "6000"}),
        ("postgresql://db/x?host=other", {"host": "other"}),
    ],
)
def test_uri_reading_agrees_with_libpq(uri: str, expected: dict[str, str]) -> None:
    """Where libpq's URI reading differs from a generic URL's, tlsprobe reads as libpq does."""
    libpq = libpq_or_none(uri)
    assert libpq is not None
    assert expected.items() <= libpq.items()
    target = parse_target(uri)
    ours = {
        "password": target.password,
        "user": target.user,
        "host": target.host,
        "port": str(target.port),
        **dict(target.params),
    }
    for key, value in expected.items():
        assert ours[key] == value


NAMES = st.sampled_from(["db", "db.example", "127.0.0.1", "[::1]", "", "0x7f000001", "a,b"])
TEXT = st.text(st.sampled_from(list("aZ0 @:/?#&=%+é")), max_size=6)
QUERY_KEYS = st.sampled_from(
    ["sslmode", "password", "user", "host", "port", "dbname", "hostaddr", "bogus", "ssl"]
)


@st.composite
def uris(draw: st.DrawFn) -> str:
    """postgresql:// URIs with each part percent-encoded, or not, or half."""

    def enc(text: str) -> str:
        return draw(st.sampled_from([quote(text, safe=""), quote(text, safe="@:"), text]))

    userinfo = ""
    if draw(st.booleans()):
        userinfo = enc(draw(TEXT))
        if draw(st.booleans()):
            userinfo += ":" + enc(draw(TEXT))
        userinfo += "@"
    port = draw(st.sampled_from(["", ":5432", ":0", ":99999", ":x", ":"]))
    path = draw(st.sampled_from(["", "/", "/" + enc(draw(TEXT))]))
    items = [f"{enc(draw(QUERY_KEYS))}={enc(draw(TEXT))}" for _ in range(draw(st.integers(0, 3)))]
    query = ("?" + "&".join(items)) if items else ""
    return f"postgresql://{userinfo}{draw(NAMES)}{port}{path}{query}"


@FAST
@given(uris())
def test_what_libpq_refuses_tlsprobe_refuses_and_what_both_take_reads_alike(uri: str) -> None:
    """No postgresql URI that libpq would refuse is probed, and one both take (without a "#",
    which starts tlsprobe's options in every URL) has the host (as its A-label), port, user,
    password, database and parameters libpq reads, an empty password or database being none."""
    assume("#" not in uri)
    libpq = libpq_or_none(uri)
    try:
        target = parse_target(uri)
    except UsageError as exc:
        refused = str(exc)
    else:
        refused = ""
    assert "\n" not in refused
    if refused:
        return
    assert libpq is not None, uri
    assert target.host == field_host(libpq["host"])
    assert target.port == int(libpq.get("port") or 5432)
    assert target.user == (libpq.get("user") or None)
    assert target.password == (libpq.get("password") or None)
    assert target.path == "/" + libpq.get("dbname", "")
    assert target.connect_host == (libpq.get("hostaddr") or None)
    own = {"host", "port", "user", "password"}
    expected = {k: v for k, v in libpq.items() if k not in own and (v or k != "dbname")}
    assert dict(target.params) == expected
