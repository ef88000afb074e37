"""The door for hosts, ports and text exactly: each accepted form's normalised value, each
boundary (ports 0, 1, 65535, 65536; labels of 63 and 64 characters; names of 253 and 254), and
each refusal's exact message."""

from __future__ import annotations

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.targets.hosts import (
    IPV4_RULE,
    PORT_RULE,
    field_host,
    in_url,
    ip_literal,
    is_ip_literal,
    port_number,
    url_host,
)
from tlsprobe.targets.text import (
    MAX_LENGTH,
    checked,
    decode,
    problem,
    quoted,
    render,
    without_userinfo,
)

APART = "give the port, the user and the path apart from the host"
ZONE_RULE = "an IPv6 zone is letters, digits, '.', '_', '~' or '-'"
MALFORMED = "malformed IPv6 address (write it as [::1] or [::1]:port)"
LABEL_63 = "a" * 63
WIDE = "\uff11\uff12\uff17.\uff10.\uff10.\uff11"  # 127.0.0.1 in fullwidth digits
NAME_253 = ".".join([LABEL_63, LABEL_63, LABEL_63, "b" * 61])  # 63+1+63+1+63+1+61
NAME_254 = ".".join([LABEL_63, LABEL_63, LABEL_63, "b" * 62])  # each label short enough


def refusal(check: object, value: object) -> str:
    """The message of the UsageError that check(value) raises."""
    with pytest.raises(UsageError) as caught:
        check(value)  # type: ignore[operator]
    return str(caught.value)


# --- ports -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "port"),
    [(1, 1), ("1", 1), (65535, 65535), ("65535", 65535), ("00443", 443), (5432, 5432)],
)
def test_port_accepted(value: object, port: int) -> None:
    """Ports from 1 to 65535, as an int or ASCII digits (leading zeros read as decimal)."""
    assert port_number(value) == port


@pytest.mark.parametrize(
    "value",
    [0, "0", -1, 65536, "65536", "99999", "123456", "", " 443", "+443", "٥٤٣٢", True, 443.0],
)
def test_port_refused(value: object) -> None:
    """Zero, 65536 and up, signs, blanks, other scripts' digits, booleans and floats are no port."""
    assert refusal(port_number, value) == PORT_RULE


# --- IP literals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("255.255.255.255", "255.255.255.255"),
        ("0.0.0.0", "0.0.0.0"),
        ("::1", "::1"),
        ("FE80::1%Eth0", "fe80::1%eth0"),
        ("fe80::1%a.b_c~d-9", "fe80::1%a.b_c~d-9"),
    ],
)
def test_ip_literal_accepted(text: str, address: str) -> None:
    """Dotted quads as written, IPv6 addresses (and zones) lower-cased."""
    assert ip_literal(text) == address
    assert is_ip_literal(text) is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.1", f"'127.1' is not an IPv4 address: {IPV4_RULE}"),
        ("1.2.3.4.5", f"'1.2.3.4.5' is not an IPv4 address: {IPV4_RULE}"),
        ("256.0.0.1", f"'256.0.0.1' is not an IPv4 address: {IPV4_RULE}"),
        ("01.2.3.4", f"'01.2.3.4' is not an IPv4 address: {IPV4_RULE}"),
        ("0x7f000001", f"'0x7f000001' is not an IPv4 address: {IPV4_RULE}"),
        ("db.example", "'db.example' is not an IP address"),
        ("", "'' is not an IP address"),
        ("::g", "'::g' is not a valid IPv6 address"),
        ("[::1]", "'[::1]' is not a valid IPv6 address"),
        ("::1%", f"'::1%': {ZONE_RULE}"),
        ("::1%e/0", f"'::1%e/0': {ZONE_RULE}"),
        ("::1%a%b", f"'::1%a%b': {ZONE_RULE}"),
    ],
)
def test_ip_literal_refused(text: str, message: str) -> None:
    """Anything but a canonical dotted quad or a bare IPv6 address is refused, saying why."""
    assert refusal(ip_literal, text) == message
    assert is_ip_literal(text) is False


# --- hosts given on their own ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("Db.Example.COM", "db.example.com"),
        ("db.example.", "db.example."),
        ("_pg._tcp.example", "_pg._tcp.example"),
        ("1e10", "1e10"),
        ("10.0.0.1", "10.0.0.1"),
        ("::1", "::1"),
        ("FE80::1%Eth0", "fe80::1%eth0"),
        ("bücher.example", "xn--bcher-kva.example"),
        (LABEL_63 + ".example", LABEL_63 + ".example"),
        (NAME_253, NAME_253),
        (NAME_253 + ".", NAME_253 + "."),
    ],
)
def test_field_host_accepted(text: str, host: str) -> None:
    """Names lower-cased (a root dot kept, labels up to 63, names up to 253), dotted quads,
    bare IPv6 addresses and internationalised names as A-labels."""
    assert field_host(text) == host


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no host name"),
        ("u:pw@db", f"host '***@db' is not a host name or IP address ({APART})"),
        ("db/x", f"host 'db/x' is not a host name or IP address ({APART})"),
        ("db?x", f"host 'db?x' is not a host name or IP address ({APART})"),
        ("db#x", f"host 'db#x' is not a host name or IP address ({APART})"),
        ("d b", f"host 'd b' is not a host name or IP address ({APART})"),
        ("db:5432", f"host 'db:5432' is not a host name or IP address ({APART})"),
        ("[::1]", "host '[::1]': write an IPv6 address without brackets here"),
        ("::1%", f"'::1%': {ZONE_RULE}"),
        ("10.0.0.256", f"host '10.0.0.256' is not an IPv4 address: {IPV4_RULE}"),
        ("db.0x1", f"host 'db.0x1' is not an IPv4 address: {IPV4_RULE}"),
        ("db.0X", f"host 'db.0X' is not an IPv4 address: {IPV4_RULE}"),
        ("10.0.0.1.", f"host '10.0.0.1.' is not an IPv4 address: {IPV4_RULE}"),
        (WIDE, f"host {WIDE!r} is not an IPv4 address: {IPV4_RULE}"),
        ("db..example", "host name 'db..example' is not a valid DNS name"),
        ("db!.example", "host name 'db!.example' is not a valid DNS name"),
        ("a" * 64 + ".example", f"host name '{'a' * 64}.example' is not a valid DNS name"),
        (NAME_254, f"host name {quoted(NAME_254)} is not a valid DNS name"),
        (NAME_254 + ".", f"host name {quoted(NAME_254 + '.')} is not a valid DNS name"),
        (
            "c" + NAME_253[1:] + "b",
            f"host name {quoted('c' + NAME_253[1:] + 'b')} is not a valid DNS name",
        ),
    ],
)
def test_field_host_refused(text: str, message: str) -> None:
    """Each malformed host is refused with its own message (a user:password@ part hidden)."""
    assert refusal(field_host, text) == message


def test_field_host_refuses_an_invalid_international_name() -> None:
    """A name IDNA refuses is refused, quoting it and IDNA's reason."""
    message = refusal(field_host, "ü_b.example")
    assert message.startswith("host name 'ü_b.example' is not valid (")
    assert "U+005F" in message


# --- hosts in URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("Example.COM", "example.com"),
        ("[::1]", "::1"),
        ("[FE80::1%25Eth0]", "fe80::1%eth0"),
        ("[fe80::1%eth0]", "fe80::1%eth0"),
        ("[fe80::1%2525]", "fe80::1%25"),
        ("192.0.2.1", "192.0.2.1"),
    ],
)
def test_url_host_accepted(text: str, host: str) -> None:
    """A bracketed IPv6 address (its zone as %25 or %) loses its brackets; names are lowered."""
    assert url_host(text) == host


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no host name"),
        ("[v1.x]", "the IPvFuture address '[v1.x]' is not supported"),
        ("[V1.x]", "the IPvFuture address '[V1.x]' is not supported"),
        ("[::1", MALFORMED),
        ("[]", MALFORMED),
        ("[[::1]]", MALFORMED),
        ("[:[:1]", MALFORMED),
        ("a[b", MALFORMED),
        ("a]b", MALFORMED),
        ("[fe80::1%25a%25b]", f"'fe80::1%a%25b': {ZONE_RULE}"),
        ("[::g]", "'::g' is not a valid IPv6 address"),
        ("0x7f.1", f"host '0x7f.1' is not an IPv4 address: {IPV4_RULE}"),
    ],
)
def test_url_host_refused(text: str, message: str) -> None:
    """Brackets only exactly around an IPv6 address; one %25 is a zone's; no IPvFuture."""
    assert refusal(url_host, text) == message


def test_in_url_brackets_ipv6_only() -> None:
    """An IPv6 address is written in brackets in a URL, a name or dotted quad as it is."""
    assert (in_url("::1"), in_url("db"), in_url("10.0.0.1")) == ("[::1]", "db", "10.0.0.1")


# --- text ------------------------------------------------------------------------------------


def test_problem_length_boundary() -> None:
    """8192 characters are fine, 8193 are too many."""
    assert problem("a" * MAX_LENGTH) is None
    assert problem("a" * (MAX_LENGTH + 1)) == "longer than 8192 characters"


@pytest.mark.parametrize("text", ["a\tb", "a\x00", "\u2028", "\u202e", "\ud800"])
def test_problem_control_characters(text: str) -> None:
    """Control and invisible format characters and lone surrogates are refused, saying so."""
    what = "a control character (a tab, a line break, an invisible format character, ...)"
    assert problem(text) == f"contains {what}"


def test_quoted_shortens_past_160() -> None:
    """Up to 160 characters are quoted whole; more are cut to 159 and an ellipsis."""
    assert quoted("a" * 160) == repr("a" * 160)
    assert quoted("a" * 159 + "bc") == repr("a" * 159 + "…")
    assert quoted("it's") == '"it\'s"'


def test_without_userinfo() -> None:
    """All up to the last @ is hidden; without an @ the text is as it is."""
    assert without_userinfo("a@b:c@db") == "***@db"
    assert without_userinfo("db") == "db"


def test_checked_prefixes_where() -> None:
    """checked() returns the check's value, or its UsageError prefixed with where it came from."""
    assert checked("port", port_number, "5") == 5
    assert refusal(lambda v: checked("in x", port_number, v), "0") == f"in x: {PORT_RULE}"


@pytest.mark.parametrize(
    ("spans", "shown"),
    [
        ([], "0123456789"),
        ([(2, 4)], "01***456789"),
        ([(6, 8), (2, 4)], "01***45***89"),
        ([(2, 5), (4, 7)], "01***789"),
        ([(2, 4), (4, 6)], "01***6789"),
        ([(2, 8), (3, 4)], "01***89"),
        ([(0, 10)], "***"),
        ([(3, 3)], "012***3456789"),
        ([(0, 2), (0, 2)], "***23456789"),
        ([(0, 0)], "***0123456789"),
        ([(2, 8), (3, 4), (9, 10)], "01***8***"),
    ],
)
def test_render(spans: list[tuple[int, int]], shown: str) -> None:
    """Each span becomes ***; overlapping, touching and nested spans become one ***."""
    assert render("0123456789", spans) == shown


@pytest.mark.parametrize(
    ("raw", "strict", "plus", "value"),
    [
        ("a%20b", True, False, "a b"),
        ("a+b", True, False, "a+b"),
        ("a+b", True, True, "a b"),
        ("a%2Bb", False, True, "a+b"),
        ("100%", False, False, "100%"),
        ("%zz", False, False, "%zz"),
        ("%C3%BC", True, False, "ü"),
        ("plain", True, False, "plain"),
    ],
)
def test_decode(raw: str, strict: bool, plus: bool, value: str) -> None:
    """Percent-decoding, + as a space only with `plus`, a stray % kept only when not strict."""
    assert decode(raw, "x", strict=strict, plus=plus) == value


@pytest.mark.parametrize(
    ("raw", "strict", "message"),
    [
        ("100%", True, "the key: a % not followed by two hex digits (write a % as %25)"),
        ("%zz", True, "the key: a % not followed by two hex digits (write a % as %25)"),
        ("%C3", True, "the key: not UTF-8 once percent-decoded"),
        ("%ff", False, "the key: not UTF-8 once percent-decoded"),
        ("a%00", True, "the key: %00 (a NUL character) is not allowed"),
        ("a%00", False, "the key: %00 (a NUL character) is not allowed"),
    ],
)
def test_decode_refused(raw: str, strict: bool, message: str) -> None:
    """A stray % (when strict), bytes that are no UTF-8 and %00 are refused, naming the part."""
    assert refusal(lambda r: decode(r, "the key", strict=strict), raw) == message


def test_decode_is_strict_and_keeps_plus_by_default() -> None:
    """Without options decode() is libpq's: a stray % is refused and + stays a plus."""
    assert decode("a+b%20c", "x") == "a+b c"
    assert refusal(lambda r: decode(r, "the schema"), "100%") == (
        "the schema: a % not followed by two hex digits (write a % as %25)"
    )
