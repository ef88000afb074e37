"""URLs exactly: the span of every part split() finds, every field of the Target a good URL
becomes (display, query and the values the scrub hides included), and the exact one-line message
of each refusal, its secrets hidden."""

from __future__ import annotations

from typing import Any

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.targets import Target, parse_target, redact
from tlsprobe.targets.hosts import IPV4_RULE, PORT_RULE
from tlsprobe.targets.urls import connect_address, parse_status_ranges, split

PARTS = ("scheme", "authority", "user", "password", "host", "port", "path", "query", "fragment")
OPTIONS = "expect_status, connect"
AT_HINT = (
    "an @ after the host: a / ? or # in a user name or password must be percent-encoded "
    "(%2F %3F %23), and an @ meant for the path or query written %40"
)


def pieces(text: str) -> dict[str, str | None] | None:
    """Each part of `text` as split() finds it (the text of its span), None where it has none."""
    parts = split(text)
    if parts is None:
        return None
    spans = {name: getattr(parts, name) for name in PARTS}
    return {name: None if span is None else parts[span] for name, span in spans.items()}


def expect(**given: str | None) -> dict[str, str | None]:
    return {name: given.get(name) for name in PARTS}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "https://u:p@h:1/p?q#f",
            expect(
                scheme="https",
                authority="u:p@h:1",
                user="u",
                password="p",
                host="h",
                port="1",
                path="/p",
                query="q",
                fragment="f",
            ),
        ),
        ("https://h", expect(scheme="https", authority="h", host="h", path="")),
        (
            "https://X.example/Xp?Xq#Xf",
            expect(
                scheme="https",
                authority="X.example",
                host="X.example",
                path="/Xp",
                query="Xq",
                fragment="Xf",
            ),
        ),
        ("HTTPS://u@h", expect(scheme="HTTPS", authority="u@h", user="u", host="h", path="")),
        (
            "https://a@b:c@h/",
            expect(
                scheme="https", authority="a@b:c@h", user="a@b", password="c", host="h", path="/"
            ),
        ),
        (
            "https://u:p@[::1]:5/",
            expect(
                scheme="https",
                authority="u:p@[::1]:5",
                user="u",
                password="p",
                host="[::1]",
                port="5",
                path="/",
            ),
        ),
        ("https://[::1]", expect(scheme="https", authority="[::1]", host="[::1]", path="")),
        (
            "https://[::1]:/",
            expect(scheme="https", authority="[::1]:", host="[::1]", port="", path="/"),
        ),
        ("https://[::1]x/", expect(scheme="https", authority="[::1]x", host="[::1]x", path="/")),
        ("https://[::1/x]", expect(scheme="https", authority="[::1", host="[::1", path="/x]")),
        (
            "https://[::1]:1]",
            expect(scheme="https", authority="[::1]:1]", host="[::1]", port="1]", path=""),
        ),
        ("https://h:1:2/", expect(scheme="https", authority="h:1:2", host="h:1:2", path="/")),
        ("https://h:/", expect(scheme="https", authority="h:", host="h", port="", path="/")),
        (
            "https://h/p#f?x",
            expect(scheme="https", authority="h", host="h", path="/p", fragment="f?x"),
        ),
        ("https://h?q", expect(scheme="https", authority="h", host="h", path="", query="q")),
        ("https://h#f", expect(scheme="https", authority="h", host="h", path="", fragment="f")),
        (
            "https://h/p?a#b#c",
            expect(scheme="https", authority="h", host="h", path="/p", query="a", fragment="b#c"),
        ),
        (
            "https://u:p/w@h/",
            expect(scheme="https", authority="u:p", host="u", port="p", path="/w@h/"),
        ),
        ("https://?q", expect(scheme="https", authority="", host="", path="", query="q")),
        (
            "postgresql+psycopg2://h",
            expect(scheme="postgresql+psycopg2", authority="h", host="h", path=""),
        ),
        ("https://h/p:q", expect(scheme="https", authority="h", host="h", path="/p:q")),
        (
            "https://h:1/a:b",
            expect(scheme="https", authority="h:1", host="h", port="1", path="/a:b"),
        ),
        (
            "https://a]b@[::1]:5/",
            expect(
                scheme="https",
                authority="a]b@[::1]:5",
                user="a]b",
                host="[::1]",
                port="5",
                path="/",
            ),
        ),
        (
            "https://a:b:c@h/",
            expect(
                scheme="https", authority="a:b:c@h", user="a", password="b:c", host="h", path="/"
            ),
        ),
        ("1http://h", None),
        ("http:/h", None),
        ("://h", None),
        ("db.example", None),
    ],
)
def test_split(text: str, found: dict[str, str | None] | None) -> None:
    """split() finds each part where RFC 3986 puts it, the userinfo up to the authority's last
    @, and leaves what no part can hold to the host's door; no scheme:// is no URL."""
    assert pieces(text) == found


def test_late_at() -> None:
    """late_at is the last @ after the authority (a / in a password cut it short), else -1."""
    text = "https://u:p/w@x@h/"
    parts = split(text)
    assert parts is not None
    assert parts.late_at == text.rindex("@")
    plain = split("https://u:p@h/x")
    assert plain is not None
    assert plain.late_at == -1


def test_query_items() -> None:
    """The query's &-separated items as (key, value) spans, a value None without =."""
    text = "https://h?a=1&b&=c&&d=&e=f=g"
    parts = split(text)
    assert parts is not None
    items = [(parts[k], None if v is None else parts[v]) for k, v in parts.query_items()]
    assert items == [("a", "1"), ("b", None), ("", "c"), ("", None), ("d", ""), ("e", "f=g")]
    none = split("https://h/")
    assert none is not None
    assert none.query_items() == []


def fields(target: Target) -> dict[str, Any]:
    """Every field of a Target, those left out of its equality (query, hidden) included."""
    names = Target.__dataclass_fields__
    return {name: getattr(target, name) for name in names}


def target_of(url: str, **given: Any) -> dict[str, Any]:
    """The fields a Target of `url` must have: the defaults, the url, and `given`."""
    defaults = fields(Target(url=url, protocol="https", host="", port=443))
    return defaults | {"shown": url} | given


GOOD = [
    (
        "https://u:p%40ss@Web.Example:8443/a%20b?x=1&api_key=k%2Bey&y+z=a+b"
        "#expect_status=2xx,404&connect=[::1]",
        {
            "host": "web.example",
            "port": 8443,
            "path": "/a%20b",
            "user": "u",
            "password": "p@ss",
            "params": (("x", "1"), ("api_key", "k+ey"), ("y z", "a b")),
            "connect_host": "::1",
            "expect_status": (range(200, 300), range(404, 405)),
            "shown": "https://u:***@Web.Example:8443/a%20b?x=1&api_key=***&y+z=a+b"
            "#expect_status=2xx,404&connect=[::1]",
            "query": "x=1&api_key=k%2Bey&y+z=a+b",
            "hidden": ("p%40ss", "p@ss", "k%2Bey", "k+ey"),
        },
    ),
    ("http://h", {"protocol": "http", "host": "h", "port": 80}),
    ("smtp://Mail.Example/", {"protocol": "smtp", "host": "mail.example", "port": 587}),
    (
        "smtps://u:pw@mail.example:465",
        {
            "protocol": "smtps",
            "host": "mail.example",
            "port": 465,
            "user": "u",
            "password": "pw",
            "shown": "smtps://u:***@mail.example:465",
            "hidden": ("pw",),
        },
    ),
    ("https://u:@h/", {"host": "h", "user": "u", "password": "", "shown": "https://u:***@h/"}),
    (
        "https://:p+w@h/",
        {"host": "h", "password": "p+w", "shown": "https://:***@h/", "hidden": ("p+w", "p w")},
    ),
    ("https://%41@h/", {"host": "h", "user": "A"}),
    ("https://%zz@h/", {"host": "h", "user": "%zz"}),
    ("https://h:/x", {"host": "h", "path": "/x"}),
    ("https://h:1", {"host": "h", "port": 1}),
    (
        "https://u:100%@h/",
        {
            "host": "h",
            "user": "u",
            "password": "100%",
            "shown": "https://u:***@h/",
            "hidden": ("100%",),
        },
    ),
    ("https://h:65535", {"host": "h", "port": 65535}),
    (
        "https://h?token=t&ok=1&secret=&=v&flag",
        {
            "host": "h",
            "params": (("token", "t"), ("ok", "1"), ("secret", ""), ("", "v"), ("flag", "")),
            "shown": "https://h?token=***&ok=1&secret=***&=v&flag",
            "query": "token=t&ok=1&secret=&=v&flag",
            "hidden": ("t",),
        },
    ),
    (
        "https://h?a=password%3Dx",
        {
            "host": "h",
            "params": (("a", "password=x"),),
            "shown": "https://h?a=***",
            "query": "a=password%3Dx",
            "hidden": ("password%3Dx", "password=x"),
        },
    ),
    ("https://h?%zz=1", {"host": "h", "params": (("%zz", "1"),), "query": "%zz=1"}),
    (
        "https://h?%ff=1",
        {
            "host": "h",
            "params": (("\ufffd", "1"),),
            "shown": "https://h?%ff=***",
            "query": "%ff=1",
            "hidden": ("1",),
        },
    ),
    ("https://h/#connect=%5B::1%5D", {"host": "h", "connect_host": "::1"}),
    ("https://h/#connect=db&connect=10.0.0.1", {"host": "h", "connect_host": "10.0.0.1"}),
    ("https://h/#connect=Back.Example", {"host": "h", "connect_host": "back.example"}),
]


@pytest.mark.parametrize(("url", "given"), GOOD)
def test_good_url(url: str, given: dict[str, Any]) -> None:
    """A good URL becomes exactly this Target: every field, the display, query and hidden."""
    assert fields(parse_target(url)) == target_of(url, **given)


def test_name_source_and_blanks() -> None:
    """ASCII blanks around the input go; the name and source are kept; the label is the name."""
    target = parse_target(" \t https://h\r\n\f\v", name="web", source="tlsprobe.toml")
    assert fields(target) == target_of("https://h", host="h", name="web", source="tlsprobe.toml")
    assert (target.label, parse_target("https://h").label) == ("web", "https://h")


def refusal(text: str, **given: str) -> str:
    with pytest.raises(UsageError) as caught:
        parse_target(text, **given)
    return str(caught.value)


BAD = [
    (
        "ftp://h",
        "'ftp://h': unknown scheme 'ftp://' (expected http://, https://, smtp://, smtps://, "
        "postgresql://)",
    ),
    ("https://u:p/w@h/", f"'https://***@h/': {AT_HINT}"),
    ("https://u:p?w@h/", f"'https://***@h/': {AT_HINT}"),
    ("https://h/x@y", f"'https://***@y': {AT_HINT}"),
    ("https://h:port", f"'https://h:***': {PORT_RULE}"),
    ("https://u:secret@h:pw/x", f"'https://u:***@h:***': {PORT_RULE}"),
    ("https://h:p#x=1", f"'https://h:***': {PORT_RULE}"),
    ("https://h:0", f"'https://h:0': {PORT_RULE}"),
    ("https://h:65536", f"'https://h:65536': {PORT_RULE}"),
    ("https://[::1]:99999/", f"'https://[::1]:99999/': {PORT_RULE}"),
    (
        "https://::1/",
        "'https://::1/': an IPv6 address in a URL goes in brackets, e.g. https://[::1]:8443/",
    ),
    ("https:///x", "'https:///x': no host name"),
    (
        "https://h/#nope=1",
        f"'https://h/#nope=1': unknown option #nope (expected one of: {OPTIONS})",
    ),
    (
        "https://h/?a=1#nope=1",
        f"'https://h/?a=1#nope=1': unknown option #nope (expected one of: {OPTIONS})",
    ),
    (
        "https://h/?flag#nope=1",
        f"'https://h/?flag#nope=1': unknown option #nope (expected one of: {OPTIONS})",
    ),
    (
        "https://u:p@h/#x=1",
        f"'https://u:***@h/#x=1': unknown option #x (expected one of: {OPTIONS})",
    ),
    (
        "https://h/#a b=1",
        f"'https://h/#a b=1': an unknown option after # (expected one of: {OPTIONS}; "
        "a # in a password is %23)",
    ),
    (
        "https://h/?password=a#b=c",
        f"'https://h/?password=***': an unknown option after # (expected one of: {OPTIONS}; "
        "a # in a password is %23)",
    ),
    (
        "https://h/#connect=",
        "'https://h/#connect=': #connect needs an address, e.g. #connect=10.0.0.5",
    ),
    (
        "https://h/#connect=10.0.0.1.5",
        f"'https://h/#connect=10.0.0.1.5': host '10.0.0.1.5' is not an IPv4 address: {IPV4_RULE}",
    ),
    (
        "https://h/#connect=[::1",
        "'https://h/#connect=[::1': host '[::1': write an IPv6 address without brackets here",
    ),
    (
        "https://h/?secret=x#connect=",
        "'https://h/?secret=***': a bad option after # (a # in a password is %23)",
    ),
    (
        "https://h:x/#expect_status=7",
        "'https://h:***': the port must be a number from 1 to 65535",
    ),
    (
        "https://h/#expect_status=700",
        "'https://h/#expect_status=700': expect_status '700' is not a status "
        "(use 200, 2xx or 200-299)",
    ),
    ("https://u:%ff@h/", "'https://u:***@h/': the password: not UTF-8 once percent-decoded"),
    ("https://%ff@h/", "'https://%ff@h/': the user name: not UTF-8 once percent-decoded"),
    ("https://%01@h/", "'https://%01@h/': the user name holds a control character once decoded"),
    ("smtp://h/x", "'smtp://h/x': smtp:// URLs have no path (give host[:port] only)"),
    ("smtps://h/x", "'smtps://h/x': smtps:// URLs have no path (give host[:port] only)"),
    ("nonsense", "'nonsense': not a URL (expected scheme://host[:port], e.g. https://host)"),
    ("u:pw@db", "'***@db': not a URL (expected scheme://host[:port], e.g. https://host)"),
    (
        "https://u:pw@h\x00",
        "'https://u:***@h\\x00': contains a control character (a tab, a line break, an "
        "invisible format character, ...)",
    ),
    (
        "\x1chttps://h",
        "'\\x1chttps://h': contains a control character (a tab, a line break, an invisible "
        "format character, ...)",
    ),
    ("https://" + "a" * 8185, "'https://" + "a" * 151 + "…': longer than 8192 characters"),
]


@pytest.mark.parametrize(("url", "message"), BAD)
def test_bad_url(url: str, message: str) -> None:
    """Each malformed URL is refused with exactly this line, its secrets as ***."""
    assert refusal(url) == message


def test_long_url_within_the_limit() -> None:
    """A URL of exactly 8192 characters is taken."""
    url = "https://h/" + "a" * 8182
    assert parse_target(url).path == "/" + "a" * 8182


def test_where_the_input_came_from() -> None:
    """A refusal names `where` the input came from, else its source, but not the command line."""
    why = "'ftp://h': unknown scheme 'ftp://' (expected http://, https://, smtp://, smtps://, postgresql://)"
    assert refusal("ftp://h") == why
    assert refusal("ftp://h", source="tlsprobe.toml") == f"tlsprobe.toml: {why}"
    assert refusal("ftp://h", source="tlsprobe.toml", where="[web]") == f"[web]: {why}"
    assert refusal("ftp://h", where="[web]") == f"[web]: {why}"


def test_bad_name() -> None:
    """A name with a control character is refused, quoting it visibly."""
    assert refusal("https://h", name="a\tb") == (
        "the name 'a\\tb': contains a control character (a tab, a line break, an invisible "
        "format character, ...)"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://u:p@h/x", "https://u:***@h/x"),
        ("host=db password=secret", "host=db password=***"),
        ("host=db password=a b=c", "host=db password=*** b=***"),
        ("u:pw@db.example", "***@db.example"),
        ("db.example", "db.example"),
        ("https://u:p/w@h/x?y", "https://***@h/x?y"),
        ("https://h:se/cret@x/", "https://***@x/"),
        ("https://h?pw=a&b#c", "https://h?pw=***"),
        ("postgresql://h?drv=1&ssl=1&sslmode=x", "postgresql://h?drv=***"),
        ("postgresql://h?ssl=1&sslmode=x", "postgresql://h?ssl=1&sslmode=x"),
        ("https://h?x=1&ok=password%3Dp", "https://h?x=1&ok=***"),
        ("https://h?a=b%20password%20%3Dp", "https://h?a=***"),
        ("https://h?%ff=1&b=2", "https://h?%ff=***"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    """redact() over-hides: a password, all before a late @, all after a secret query value."""
    assert redact(text) == shown


@pytest.mark.parametrize(
    ("spec", "ranges"),
    [
        ("", ()),
        ("200", (range(200, 201),)),
        (" 200 , 204 ,, ", (range(200, 201), range(204, 205))),
        ("1xx,5XX", (range(100, 200), range(500, 600))),
        ("100-599", (range(100, 600),)),
        ("204-204", (range(204, 205),)),
    ],
)
def test_status_ranges(spec: str, ranges: tuple[range, ...]) -> None:
    """Statuses, classes (any case) and inclusive ranges from 100 to 599."""
    assert parse_status_ranges(spec) == ranges


@pytest.mark.parametrize(
    "item", ["099", "600", "6xx", "0xx", "200-199", "99-200", "200-600", "2x", "20", "2000", "abc"]
)
def test_status_ranges_refused(item: str) -> None:
    """Anything else is refused, quoting the item."""
    with pytest.raises(UsageError) as caught:
        parse_status_ranges(f"200,{item}")
    assert str(caught.value) == f"expect_status {item!r} is not a status (use 200, 2xx or 200-299)"


@pytest.mark.parametrize(
    ("value", "address"),
    [("[::1]", "::1"), ("::1", "::1"), ("10.0.0.5", "10.0.0.5"), ("Back.Example", "back.example")],
)
def test_connect_address(value: str, address: str) -> None:
    """#connect= takes an address (IPv6 with or without brackets) or a name."""
    assert connect_address(value) == address


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "#connect needs an address, e.g. #connect=10.0.0.5"),
        ("[::1", "host '[::1': write an IPv6 address without brackets here"),
        (
            "::1]",
            "host '::1]' is not a host name or IP address (give the port, the user and the "
            "path apart from the host)",
        ),
        ("[db", "host name '[db' is not a valid DNS name"),
    ],
)
def test_connect_address_refused(value: str, message: str) -> None:
    """Only brackets exactly around the value are taken away."""
    with pytest.raises(UsageError) as caught:
        connect_address(value)
    assert str(caught.value) == message
