"""Keyword strings and postgresql:// URIs exactly, with libpq itself as the oracle (psycopg's
conninfo_to_dict is libpq's parser): every accepted input reads as libpq reads it, and each
refusal is this exact line, saying too whether libpq would have taken the input."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tlsprobe.failures import UsageError
from tlsprobe.targets import Target, parse_target, redact
from tlsprobe.targets.hosts import IPV4_RULE, PORT_RULE, field_host
from tlsprobe.targets.keywords import lex
from tlsprobe.targets.text import looks_like_keywords

QUOTE_HINT = "quote a value that holds blanks: password='a b'"
FIRST_AT = (
    "an @ in a user name or password must be written %40 (libpq ends the user name at the first @)"
)
NESTED = "dbname holds a connection string (give its settings instead)"
NO_EQUALS = "a query parameter without = (write key=value, joined by &)"
NO_HOST = "no host name (tlsprobe connects over TCP: give host or ?host=)"
ONE_HOST = "give one TCP host name or address"
A_HOST = "give a TCP host name or address"
STRAY = "a % not followed by two hex digits (write a % as %25)"


def libpq_reads(text: str) -> dict[str, str] | None:
    """What libpq reads from `text`, or None when it refuses it."""
    try:
        return {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
    except psycopg.Error:
        return None


def read_by_libpq(target: Target, libpq: dict[str, str]) -> None:
    """The target holds exactly what libpq read: host (as the door normalises it), port, user
    and password (empty being none), database and every other setting."""
    own = {"host", "port", "user", "password"}
    assert target.host == field_host(libpq["host"])
    assert target.port == int(libpq.get("port") or 5432)
    assert target.user == (libpq.get("user") or None)
    assert target.password == (libpq.get("password") or None)
    assert target.path == "/" + libpq.get("dbname", "")
    assert target.connect_host == (libpq.get("hostaddr") or None)
    assert dict(target.params).items() >= {
        (k, v) for k, v in libpq.items() if k not in own and k != "dbname"
    }


def refusal(text: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse_target(text)
    return str(caught.value)


# --- keyword strings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keywords"),
    [
        ("host=x", True),
        (" \t\n\r\f\vhost=x", True),
        ("host =x", True),
        ("_h=x", True),
        ("hOst9_=1", True),
        ("\x1chost=x", False),
        ("9host=x", False),
        ("ho st=x", False),
        ("h-st=x", False),
        ("host", False),
        ("https://h?a=b", False),
    ],
)
def test_looks_like_keywords(text: str, keywords: bool) -> None:
    """An identifier, blanks and = start a keyword string; a URL never does."""
    assert looks_like_keywords(text) is keywords


@pytest.mark.parametrize(
    ("text", "pairs", "stop", "why"),
    [
        ("host=db", [("host", 0, "db")], None, ""),
        (" host = 'd b' port=1", [("host", 1, "'d b'"), ("port", 14, "1")], None, ""),
        (
            "a=x\\ y b='q\\'r' c=",
            [("a", 0, "x\\ y"), ("b", 7, "'q\\'r'"), ("c", 16, "")],
            None,
            "",
        ),
        ("host=db x=y\\", [("host", 0, "db"), ("x", 8, "y\\")], None, ""),
        ("a=\\x b=c", [("a", 0, "\\x"), ("b", 5, "c")], None, ""),
        ("k= 'v'", [("k", 0, "'v'")], None, ""),
        ("host=db =x", [("host", 0, "db"), ("", 8, "x")], None, ""),
        (
            "host=db password='x",
            [("host", 0, "db"), ("password", 8, "'x")],
            17,
            "a quoted value is not closed",
        ),
        ("a=b c", [("a", 0, "b")], 4, f"a word without = ({QUOTE_HINT})"),
        ("host=db b", [("host", 0, "db")], 8, f"a word without = ({QUOTE_HINT})"),
    ],
)
def test_lex(text: str, pairs: list[tuple[str, int, str]], stop: int | None, why: str) -> None:
    """Each key, where it starts and its value as written; where and why libpq's syntax broke."""
    lexed = lex(text)
    assert [(p.key, p.key_at, text[p.value[0] : p.value[1]]) for p in lexed.pairs] == pairs
    assert (lexed.stop, lexed.why) == (stop, why)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("host=db password=x b='y z", "host=db password=*** b=***"),
        ("host=db password=x b c", "host=db password=***"),
        ("host=db x=1 y", "host=db x=***"),
        ("password=x b=c sslmode=require d=e", "password=*** b=*** sslmode=require d=***"),
        ("password=x sslmod=require", "password=*** sslmod=***"),
        ("password=x 'b'=c sslmode=d", "password=*** *** sslmode=d"),
        ("host=db user= password=x", "host=db user= ***"),
        ("host=db password=x\\ b=c", "host=db password=***"),
        ("host= password=x b=c", "host= *** ***"),
        ("host=db bogus=1 password=x", "host=db bogus=*** password=***"),
        ("host=db sslpassword=k sslmode=x", "host=db sslpassword=*** sslmode=x"),
    ],
)
def test_redact_keywords(text: str, shown: str) -> None:
    """Secret and unknown keys' values are hidden, a word after a secret with it (unless it
    stands after a blank, as a mistyped keyword), and where the syntax broke all to the end."""
    assert redact(text) == shown


def fields(target: Target) -> dict[str, Any]:
    return {name: getattr(target, name) for name in Target.__dataclass_fields__}


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ("host=DB.Example", {"host": "db.example"}),
        (
            "host=db port=6432 user=u password=pw dbname=meta sslmode=verify-full",
            {
                "port": 6432,
                "path": "/meta",
                "user": "u",
                "password": "pw",
                "params": (("dbname", "meta"), ("sslmode", "verify-full")),
                "shown": "host=db port=6432 user=u password=*** dbname=meta sslmode=verify-full",
                "hidden": ("pw",),
            },
        ),
        (
            "host=db sslmode=require dbname=x user=u",
            {"path": "/x", "user": "u", "params": (("sslmode", "require"), ("dbname", "x"))},
        ),
        (
            "host = 'db' password = 'a b\\'c' options='-c x=1'",
            {
                "password": "a b'c",
                "params": (("options", "-c x=1"),),
                "shown": "host = 'db' password = *** options='-c x=1'",
                "hidden": ("'a b\\'c'", "a b'c"),
            },
        ),
        ("host=db password=", {"shown": "host=db password=***"}),
        ("host=db user= port=", {"user": "port="}),
        ("host=db port=65535", {"port": 65535}),
        ("host=db port=1", {"port": 1}),
        (
            "host=db hostaddr=10.0.0.1",
            {"connect_host": "10.0.0.1", "params": (("hostaddr", "10.0.0.1"),)},
        ),
        ("host=db hostaddr=::1", {"connect_host": "::1", "params": (("hostaddr", "::1"),)}),
        ("host=db hostaddr=", {"params": (("hostaddr", ""),)}),
        ("host=db dbname=", {"params": (("dbname", ""),)}),
        ("host=db sslmode=require sslmode=disable", {"params": (("sslmode", "disable"),)}),
        ("host=db host=other", {"host": "other"}),
        (
            "host=db password=a password=b",
            {"password": "b", "shown": "host=db password=*** password=***", "hidden": ("a", "b")},
        ),
        (
            "host=db password=x,b=c",
            {"password": "x,b=c", "shown": "host=db password=***", "hidden": ("x,b=c",)},
        ),
        (
            "host=db sslpassword=k oauth_client_secret=s",
            {
                "params": (("sslpassword", "k"), ("oauth_client_secret", "s")),
                "shown": "host=db sslpassword=*** oauth_client_secret=***",
                "hidden": ("k", "s"),
            },
        ),
        (
            "host=db password=x sslkey=/k passfile=/p",
            {
                "password": "x",
                "params": (("sslkey", "/k"), ("passfile", "/p")),
                "shown": "host=db password=*** sslkey=/k passfile=/p",
                "hidden": ("x",),
            },
        ),
        ("host=db options=-csearch_path=x", {"params": (("options", "-csearch_path=x"),)}),
        (
            "host=db password=X sslpassword=''",
            {
                "password": "X",
                "params": (("sslpassword", ""),),
                "shown": "host=db password=*** sslpassword=***",
                "hidden": ("X",),
            },
        ),
    ],
)
def test_keyword_target(text: str, given: dict[str, Any]) -> None:
    """A keyword string becomes exactly this Target (settings in the order written), and holds
    what libpq reads from it."""
    target = parse_target(text, name="n", source="s")
    base = fields(Target(url=text, protocol="postgresql", host="db", port=5432))
    assert fields(target) == base | {"name": "n", "source": "s", "shown": text} | given
    libpq = libpq_reads(text)
    assert libpq is not None
    read_by_libpq(target, libpq)


@pytest.mark.parametrize(
    ("text", "message", "libpq_takes_it"),
    [
        (
            "host=db user= password=x",
            "'host=db user= ***': user= took the next setting as its value (write user='' if "
            "it is empty)",
            True,
        ),
        (
            "host=db application_name=password=x",
            "'host=db application_name=***': application_name= took the next setting as its "
            "value (write application_name='' if it is empty)",
            True,
        ),
        (
            "host=db password=x sslmod=require sslmode=y",
            "'host=db password=*** sslmod=*** sslmode=y': 'sslmod' is not a libpq connection "
            "keyword",
            False,
        ),
        (
            "host=db password=x b=c d=e",
            "'host=db password=*** b=*** d=***': 'b' is not a libpq connection keyword",
            False,
        ),
        (
            "host=db password=x 'b'=c",
            f"'host=db password=*** ***': a word after a secret is no libpq keyword ({QUOTE_HINT})",
            False,
        ),
        (
            "host= password=x b=c",
            f"'host= *** ***': a word after a secret is no libpq keyword ({QUOTE_HINT})",
            False,
        ),
        (
            "host=db password=x b",
            f"'host=db password=***': not a libpq connection string: a word without = "
            f"({QUOTE_HINT})",
            False,
        ),
        (
            "host=db password='x",
            "'host=db password=***': not a libpq connection string: a quoted value is not closed",
            False,
        ),
        (
            "host=db password=x b='y z",
            "'host=db password=*** b=***': not a libpq connection string: a quoted value is not "
            "closed",
            False,
        ),
        (
            "host=db HOST=x",
            "'host=db HOST=***': 'HOST' is not a libpq connection keyword (libpq keywords are "
            "lower case)",
            False,
        ),
        (
            "host=db passwd=x",
            "'host=db passwd=***': 'passwd' is not a libpq connection keyword",
            False,
        ),
        ("host=db =x", "'host=db =***': '' is not a libpq connection keyword", False),
        ("host=db hostaddr=db", "'host=db hostaddr=db': 'db' is not an IP address", True),
        (
            "host=db hostaddr=127.1",
            f"'host=db hostaddr=127.1': '127.1' is not an IPv4 address: {IPV4_RULE}",
            True,
        ),
        ("host=db port=0", f"'host=db port=0': {PORT_RULE}", True),
        ("host=db port=65536", f"'host=db port=65536': {PORT_RULE}", True),
        ("host=", "'host=': no host= (tlsprobe connects over TCP)", True),
        ("port=5432", "'port=5432': no host= (tlsprobe connects over TCP)", True),
        ("host=a,b", "'host=a,b': host='a,b': give one TCP host name or address", True),
        ("host=/tmp", "'host=/tmp': host='/tmp': give one TCP host name or address", True),
        (
            "host=db:1",
            "'host=db:1': host 'db:1' is not a host name or IP address (give the port, the user "
            "and the path apart from the host)",
            True,
        ),
        ("host=db dbname='host=x'", f"'host=db dbname=***': {NESTED}", True),
        ("host=db dbname=postgresql://x", f"'host=db dbname=***': {NESTED}", True),
    ],
)
def test_keyword_refusal(text: str, message: str, libpq_takes_it: bool) -> None:
    """Each bad keyword string is refused with exactly this line (secret and unknown values
    hidden); where libpq takes it, tlsprobe is stricter on purpose."""
    assert refusal(text) == message
    assert (libpq_reads(text) is not None) is libpq_takes_it


# --- postgresql:// URIs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "given"),
    [
        (
            "postgresql://u:p%40w@DB.example:6432/meta?sslmode=verify-full&application_name=a+b",
            {
                "host": "db.example",
                "port": 6432,
                "path": "/meta",
                "user": "u",
                "password": "p@w",
                "params": (
                    ("dbname", "meta"),
                    ("sslmode", "verify-full"),
                    ("application_name", "a+b"),
                ),
                "shown": "postgresql://u:***@DB.example:6432/meta?sslmode=verify-full"
                "&application_name=a+b",
                "hidden": ("p%40w", "p@w"),
            },
        ),
        ("postgres://db", {}),
        ("postgresql://db/a+b", {"path": "/a+b", "params": (("dbname", "a+b"),)}),
        (
            "postgresql://db/x?application_name=true",
            {"path": "/x", "params": (("dbname", "x"), ("application_name", "true"))},
        ),
        ("postgresql://db/", {}),
        ("postgresql://db/x?", {"path": "/x", "params": (("dbname", "x"),)}),
        ("postgresql://db?dbname=", {}),
        ("postgresql://db/x?dbname=", {}),
        ("postgresql://db/x?dbname=y", {"path": "/y", "params": (("dbname", "y"),)}),
        (
            "postgresql://u:@db/x",
            {
                "path": "/x",
                "user": "u",
                "params": (("dbname", "x"),),
                "shown": "postgresql://u:***@db/x",
            },
        ),
        (
            "postgresql://u:a@db/x?password=b",
            {
                "path": "/x",
                "user": "u",
                "password": "b",
                "params": (("dbname", "x"),),
                "shown": "postgresql://u:***@db/x?password=***",
                "hidden": ("a", "b"),
            },
        ),
        (
            "postgresql://u:a@db/x?password=",
            {
                "path": "/x",
                "user": "u",
                "params": (("dbname", "x"),),
                "shown": "postgresql://u:***@db/x?password=***",
                "hidden": ("a",),
            },
        ),
        ("postgresql://u@db/x?user=v", {"path": "/x", "user": "v", "params": (("dbname", "x"),)}),
        ("postgresql://u@db/x?user=", {"path": "/x", "params": (("dbname", "x"),)}),
        (
            "postgresql://db:5433/x?port=6000",
            {"port": 6000, "path": "/x", "params": (("dbname", "x"),)},
        ),
        ("postgresql://db:5433/x?port=", {"path": "/x", "params": (("dbname", "x"),)}),
        (
            "postgresql://db/x?host=Other.Example",
            {"host": "other.example", "path": "/x", "params": (("dbname", "x"),)},
        ),
        ("postgresql:///x?host=db", {"path": "/x", "params": (("dbname", "x"),)}),
        ("postgresql://db/x?host=::1", {"host": "::1", "path": "/x", "params": (("dbname", "x"),)}),
        (
            "postgresql://[::1]:5/x",
            {"host": "::1", "port": 5, "path": "/x", "params": (("dbname", "x"),)},
        ),
        (
            "postgresql://db/x?ssl=true",
            {"path": "/x", "params": (("dbname", "x"), ("sslmode", "require"))},
        ),
        (
            "postgresql://db/x?hostaddr=10.0.0.1",
            {
                "path": "/x",
                "params": (("dbname", "x"), ("hostaddr", "10.0.0.1")),
                "connect_host": "10.0.0.1",
            },
        ),
        (
            "postgresql://db/x?hostaddr=",
            {"path": "/x", "params": (("dbname", "x"), ("hostaddr", ""))},
        ),
        (
            "postgresql://db/x?pass%77ord=S",
            {
                "path": "/x",
                "password": "S",
                "params": (("dbname", "x"),),
                "shown": "postgresql://db/x?pass%77ord=***",
                "hidden": ("S",),
            },
        ),
        (
            "postgresql://db/x?application_name=a%2Bb",
            {"path": "/x", "params": (("dbname", "x"), ("application_name", "a+b"))},
        ),
        (
            "postgresql://db/x?password=%01",
            {
                "path": "/x",
                "password": "\x01",
                "params": (("dbname", "x"),),
                "shown": "postgresql://db/x?password=***",
                "hidden": ("%01", "\x01"),
            },
        ),
    ],
)
def test_uri_target(uri: str, given: dict[str, Any]) -> None:
    """A postgresql:// URI becomes exactly this Target, and holds what libpq reads from it."""
    target = parse_target(uri, name="n", source="s")
    base = fields(Target(url=uri, protocol="postgresql", host="db", port=5432))
    assert fields(target) == base | {"name": "n", "source": "s", "shown": uri} | given
    libpq = libpq_reads(uri)
    assert libpq is not None
    read_by_libpq(target, libpq)


def test_connect_wins_over_hostaddr() -> None:
    """#connect= (tlsprobe's, not libpq's) sends the connection elsewhere than ?hostaddr=."""
    target = parse_target("postgresql://db/x?hostaddr=10.0.0.1#connect=10.0.0.2&expect_status=200")
    assert (target.connect_host, target.expect_status) == ("10.0.0.2", (range(200, 201),))
    assert dict(target.params)["hostaddr"] == "10.0.0.1"


@pytest.mark.parametrize(
    ("uri", "given"),
    [
        (
            "postgresql+psycopg2://u:p+w@db/x?sslmode=require&pool_size=5&a+b=c+d",
            {
                "user": "u",
                "password": "p+w",
                "path": "/x",
                "params": (
                    ("dbname", "x"),
                    ("sslmode", "require"),
                    ("pool_size", "5"),
                    ("a b", "c d"),
                ),
                "shown": "postgresql+psycopg2://u:***@db/x?sslmode=require&pool_size=***&a+b=***",
                "hidden": ("p+w", "p w", "5", "c+d", "c d"),
            },
        ),
        (
            "postgresql+psycopg2://u:100%@db/x",
            {
                "user": "u",
                "password": "100%",
                "path": "/x",
                "params": (("dbname", "x"),),
                "shown": "postgresql+psycopg2://u:***@db/x",
                "hidden": ("100%",),
            },
        ),
        ("postgresql+psycopg2://db/x y", {"path": "/x y", "params": (("dbname", "x y"),)}),
        (
            "postgresql+psycopg://a@b:c@db/x",
            {
                "user": "a@b",
                "password": "c",
                "path": "/x",
                "params": (("dbname", "x"),),
                "shown": "postgresql+psycopg://a@b:***@db/x",
                "hidden": ("c",),
            },
        ),
        ("postgresql+psycopg2://db/%zz", {"path": "/%zz", "params": (("dbname", "%zz"),)}),
        (
            "postgresql+psycopg2://db/a+b?application_name=c+d",
            {"path": "/a+b", "params": (("dbname", "a+b"), ("application_name", "c d"))},
        ),
    ],
)
def test_sqlalchemy_target(uri: str, given: dict[str, Any]) -> None:
    """SQLAlchemy's forms read as SQLAlchemy does (+ a space in the query, a stray % kept, the
    user name to the last @), its driver options' values hidden."""
    target = parse_target(uri)
    base = fields(Target(url=uri, protocol="postgresql", host="db", port=5432))
    assert fields(target) == base | {"shown": uri} | given


@pytest.mark.parametrize(
    ("uri", "message", "libpq_takes_it"),
    [
        (
            "postgresql://db/x?host=",
            f"'postgresql://db/x?host=': {NO_HOST}",
            True,
        ),
        (
            "postgresql:///x",
            f"'postgresql:///x': {NO_HOST}",
            True,
        ),
        (
            "postgresql://db/x?ssl=false",
            "'postgresql://db/x?ssl=***': 'ssl' is not a libpq connection parameter",
            False,
        ),
        (
            "postgresql://db/x?ssl=1",
            "'postgresql://db/x?ssl=***': 'ssl' is not a libpq connection parameter",
            False,
        ),
        (
            "postgresql://db/x?hostaddr=db",
            "'postgresql://db/x?hostaddr=db': 'db' is not an IP address",
            True,
        ),
        (
            "postgresql://db/x?a+b=c",
            "'postgresql://db/x?a+b=***': 'a+b' is not a libpq connection parameter",
            False,
        ),
        ("postgresql://a@b:c@db/x", f"'postgresql://a@b:***@db/x': {FIRST_AT}", True),
        ("postgresql://a:b@c@db/x", f"'postgresql://a:***@db/x': {FIRST_AT}", True),
        ("postgresql://a@b@db/x", f"'postgresql://a@b@db/x': {FIRST_AT}", True),
        (
            "postgresql://db/x y",
            "'postgresql://db/x y': a blank in a postgresql:// URI (write it %20)",
            False,
        ),
        ("postgresql://db/x?sslmode", f"'postgresql://db/x?sslmode': {NO_EQUALS}", False),
        (
            "postgresql://db/x?&sslmode=require",
            f"'postgresql://db/x?&sslmode=require': {NO_EQUALS}",
            False,
        ),
        (
            "postgresql://db/x?sslmode=a=b",
            "'postgresql://db/x?sslmode=***': a second = in the value of 'sslmode' (write it %3D)",
            False,
        ),
        (
            "postgresql://db/x?Sslmode=require",
            "'postgresql://db/x?Sslmode=***': 'Sslmode' is not a libpq connection parameter "
            "(libpq keywords are lower case)",
            False,
        ),
        (
            "postgresql://db/x?bogus=1",
            "'postgresql://db/x?bogus=***': 'bogus' is not a libpq connection parameter",
            False,
        ),
        (
            "postgresql://db/x?%zz=1",
            f"'postgresql://db/x?***=***': a query parameter's name: {STRAY}",
            False,
        ),
        (
            "postgresql://db/x?sslmode=%zz",
            f"'postgresql://db/x?sslmode=***': the value of 'sslmode': {STRAY}",
            False,
        ),
        ("postgresql://db/%zz", f"'postgresql://db/***': the database name: {STRAY}", False),
        ("postgresql://u:%zz@db/", f"'postgresql://u:***@db/': the password: {STRAY}", False),
        ("postgresql://%zz@db/", f"'postgresql://%zz@db/': the user name: {STRAY}", False),
        (
            "postgresql://db/x?application_name=%01",
            "'postgresql://db/x?application_name=***': 'application_name': a control character "
            "once decoded",
            True,
        ),
        (
            "postgresql://db/x?%01=a",
            "'postgresql://db/x?%01=***': '\\x01': a control character once decoded",
            False,
        ),
        ("postgresql://db/host%3Dx", f"'postgresql://db***': {NESTED}", True),
        ("postgresql://db/x?dbname=a%3Db", f"'postgresql://db***?dbname=a%3Db': {NESTED}", True),
        (
            "postgresql://a,b/x",
            "'postgresql://a,b/x': several hosts ('a,b'): give one TCP host name or address",
            True,
        ),
        (
            "postgresql://db/x?host=a,b",
            f"'postgresql://db/x?host=a,b': several hosts ('a,b'): {ONE_HOST}",
            True,
        ),
        (
            "postgresql://a,b/x?host=c",
            "'postgresql://a,b/x?host=c': several hosts ('a,b'): give one TCP host name or address",
            True,
        ),
        (
            "postgresql://db/x?host=/tmp",
            f"'postgresql://db/x?host=/tmp': host '/tmp' is a Unix socket: {A_HOST}",
            True,
        ),
        (
            "postgresql://db/x?host=%2Ftmp",
            f"'postgresql://db/x?host=%2Ftmp': host '/tmp' is a Unix socket: {A_HOST}",
            True,
        ),
        ("postgresql://db/x?port=0", f"'postgresql://db/x?port=0': {PORT_RULE}", True),
        ("postgresql://db/x?port=x", f"'postgresql://db/x?port=x': {PORT_RULE}", True),
        ("postgresql://db:x/y", f"'postgresql://db:***': {PORT_RULE}", True),
        (
            "postgresql://db/x?host=[::1]",
            "'postgresql://db/x?host=[::1]': host '[::1]': write an IPv6 address without "
            "brackets here",
            True,
        ),
        (
            "postgresql+psycopg2://db/x?bogus",
            f"'postgresql+psycopg2://db/x?bogus': {NO_EQUALS}",
            False,
        ),
    ],
)
def test_uri_refusal(uri: str, message: str, libpq_takes_it: bool) -> None:
    """Each bad postgresql URI is refused with exactly this line (secrets and undecodable or
    unknown parts hidden); where libpq takes it, tlsprobe is stricter on purpose."""
    assert refusal(uri) == message
    assert (libpq_reads(uri) is not None) is libpq_takes_it
