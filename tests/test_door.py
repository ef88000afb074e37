"""The door for targets, case by case: each refused input with its exact message, each beside
the good twin that is accepted (URLs, keyword strings, and the host and port rules they share)."""

from __future__ import annotations

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.targets import Target, parse_target
from tlsprobe.targets.hosts import IPV4_RULE, PORT_RULE, field_host, ip_literal, port_number
from tlsprobe.targets.urls import ENCODING_HINT
from tlsprobe.targets.vocabulary import NESTED_DBNAME as NESTED


def refused(text: str) -> str:
    """The one-line message parse_target refuses `text` with."""
    with pytest.raises(UsageError) as caught:
        parse_target(text)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- ports -----------------------------------------------------------------------------------


FULLWIDTH_5432 = "\uff15\uff14\uff13\uff12"
FULLWIDTH_127 = "\uff11\uff12\uff17.\uff10.\uff10.\uff11"


@pytest.mark.parametrize(
    "port", ["²", "٥٤٣٢", FULLWIDTH_5432, "+5432", " 5432", "0", "65536", "054320"]
)
def test_port_that_is_not_ascii_digits_1_to_65535_is_refused(port: str) -> None:
    """Superscripts, other scripts' digits, a sign, a blank, 0 and past 65535 are no port,
    whether the value is text or (for int-like strings) would pass int()."""
    with pytest.raises(UsageError, match=f"^{PORT_RULE}$"):
        port_number(port)


@pytest.mark.parametrize(
    ("port", "number"), [("5432", 5432), ("1", 1), ("65535", 65535), (443, 443)]
)
def test_ascii_digit_port_is_accepted(port: object, number: int) -> None:
    """The twin: ASCII digits from 1 to 65535, or an int, are a port."""
    assert port_number(port) == number


@pytest.mark.parametrize("port", [True, 5432.0, None, [5432]])
def test_port_of_another_type_is_refused(port: object) -> None:
    """A boolean (an int to Python), a float, nothing or a list is no port."""
    with pytest.raises(UsageError, match=f"^{PORT_RULE}$"):
        port_number(port)


def test_keyword_string_with_superscript_port_is_refused() -> None:
    """`host=localhost port=²` (a ValueError traceback before) is one line naming it."""
    assert refused("host=localhost port=²") == f"'host=localhost port=²': {PORT_RULE}"


def test_keyword_string_with_ascii_port_is_accepted() -> None:
    """The twin: port=5432 is taken."""
    assert parse_target("host=localhost port=5432").port == 5432


@pytest.mark.parametrize("port", ["²", "٤٤٣", "abc"])
def test_url_port_that_is_no_number_is_refused_and_hidden(port: str) -> None:
    """A URL port urlsplit would take (some non-ASCII digits) is refused, hidden with all after
    it: a port that is no number may be a password that lost its host."""
    assert refused(f"https://h:{port}/") == f"'https://h:***': {PORT_RULE}"


def test_url_port_of_ascii_digits_is_accepted_and_an_empty_one_is_the_default() -> None:
    """The twins: :8443 is port 8443; `host:` with no digits is the scheme's default."""
    assert parse_target("https://h:8443/").port == 8443
    assert parse_target("https://h:/").port == 443


# --- IPv6 and IPv4 literals ------------------------------------------------------------------

MALFORMED_IPV6 = "malformed IPv6 address (write it as [::1] or [::1]:port)"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://[::1]]/", MALFORMED_IPV6),
        ("https://[::1]x/", MALFORMED_IPV6),
        ("https://[[::1]/", MALFORMED_IPV6),
        ("https://[::1/", MALFORMED_IPV6),
        ("https://[v1.fe]/", "the IPvFuture address '[v1.fe]' is not supported"),
        ("https://[127.0.0.1]/", "'127.0.0.1' is not a valid IPv6 address"),
        ("https://::1/", "an IPv6 address in a URL goes in brackets, e.g. https://[::1]:8443/"),
    ],
)
def test_ipv6_literal_not_exactly_bracketed_is_refused(url: str, why: str) -> None:
    """A bracket too many, text after the bracket, IPvFuture, IPv4 in brackets and a bare IPv6
    address are refused (urlsplit took the first three)."""
    assert refused(url) == f"{url!r}: {why}"


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://[::1]/", "::1", 443),
        ("https://[::1]:8443/", "::1", 8443),
        ("https://[2001:DB8::1]/", "2001:db8::1", 443),
        ("https://[fe80::1%25eth0]/", "fe80::1%eth0", 443),
    ],
)
def test_exactly_bracketed_ipv6_literal_is_accepted(url: str, host: str, port: int) -> None:
    """The twins: [address], [address]:port and an RFC 6874 zone make IP targets."""
    target = parse_target(url)
    assert (target.host, target.port, target.is_ip) == (host, port, True)


NUMERIC_FORMS = ["0x7f000001", "2130706433", "127.1", "0177.0.0.1", "127.0.0.1.", "256.1.1.1"]
NUMERIC_FORMS += ["127.0.0.01", "1.2.3.4.5", "a.1", "0x7f.1", FULLWIDTH_127]


@pytest.mark.parametrize("host", NUMERIC_FORMS)
def test_ipv4_other_than_a_dotted_quad_is_refused_the_same_way(host: str) -> None:
    """Hex, octal, fewer or more parts, a plain number, a trailing dot, a leading zero and
    fullwidth digits all get one message (0x7f000001 was probed while 127.1 was refused)."""
    why = f"host {host!r} is not an IPv4 address: {IPV4_RULE}"
    assert refused(f"https://{host}/") == f"{f'https://{host}/'!r}: {why}"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "10.20.30.255"])
def test_canonical_dotted_quad_is_accepted(host: str) -> None:
    """The twin: four decimal numbers from 0 to 255 are an IPv4 target."""
    target = parse_target(f"https://{host}/")
    assert (target.host, target.is_ip) == (host, True)


@pytest.mark.parametrize("host", ["0x7f000001", "127.1"])
def test_numeric_forms_are_refused_in_every_place_a_host_goes(host: str) -> None:
    """The same rule in keyword strings (host=, hostaddr=), #connect= and host fields."""
    assert f"host {host!r} is not an IPv4 address" in refused(f"host={host}")
    assert f"{host!r} is not an IPv4 address" in refused(f"host=db hostaddr={host}")
    assert f"{host!r} is not an IPv4 address" in refused(f"https://h/#connect={host}")
    with pytest.raises(UsageError, match="is not an IPv4 address"):
        field_host(host)


def test_dotted_quad_is_accepted_in_every_place_a_host_goes() -> None:
    """The twin: 127.0.0.1 as host=, hostaddr=, #connect= and a host field."""
    assert parse_target("host=127.0.0.1").host == "127.0.0.1"
    assert parse_target("host=db hostaddr=127.0.0.1").address == "127.0.0.1"
    assert parse_target("https://h/#connect=127.0.0.1").address == "127.0.0.1"
    assert field_host("127.0.0.1") == ip_literal("127.0.0.1") == "127.0.0.1"


def test_bare_ipv6_host_field_is_accepted_and_a_bracketed_one_refused() -> None:
    """A host on its own (host=, a connection's host) is a bare IPv6 address, as libpq takes it."""
    assert parse_target("host=::1").host == "::1"
    assert "write an IPv6 address without brackets here" in refused("host=[::1]")


# --- passwords in URLs -----------------------------------------------------------------------


def test_percent_encoded_password_key_is_the_password_and_hidden() -> None:
    """libpq decodes query keys, so ?pass%77ord= is the password: used, and shown as ***."""
    target = parse_target("postgresql://u@db/app?pass%77ord=S3CRET")
    assert target.password == "S3CRET"
    assert target.display == "postgresql://u@db/app?pass%77ord=***"


def test_other_query_parameters_are_shown() -> None:
    """The twin: ?sslmode=require is no secret and is shown as given."""
    target = parse_target("postgresql://u@db/app?sslmode=require")
    assert target.display == "postgresql://u@db/app?sslmode=require"
    assert dict(target.params).get("sslmode") == "require"


def test_query_password_wins_over_the_userinfo_password() -> None:
    """libpq takes ?password= over the userinfo's (conninfo_to_dict says so); both hidden."""
    target = parse_target("postgresql://u:FIRST@db/app?password=SECOND")
    assert target.password == "SECOND"
    assert target.display == "postgresql://u:***@db/app?password=***"


@pytest.mark.parametrize(
    "url",
    [
        "smtp://alerts:2024/S3CRET@mail:587",
        "smtp://u:12#ss@mail",
        "smtp://u:pa?ss@mail",
        "https://h/?email=a@b.example",
    ],
)
def test_at_sign_after_the_host_is_refused_with_the_encoding_hint(url: str) -> None:
    """A / # or ? in a password moves the host into it (alerts:2024 was probed); an @ after
    the host, with none before, is refused, everything up to it hidden."""
    shown = "smtp://***@mail" if url.startswith("smtp") else "https://***@b.example"
    shown += ":587" if url.endswith(":587") else ""
    assert refused(url) == f"{shown!r}: an @ after the host: {ENCODING_HINT}"


@pytest.mark.parametrize(
    ("url", "password", "host"),
    [
        ("smtp://alerts:2024%2FS3CRET@mail:587", "2024/S3CRET", "mail"),
        ("smtp://u:12%23ss@mail", "12#ss", "mail"),
        ("https://u:p@h/a@b", "p", "h"),
        ("https://h/?email=a%40b.example", None, "h"),
    ],
)
def test_percent_encoded_or_after_userinfo_at_sign_is_accepted(
    url: str, password: str | None, host: str
) -> None:
    """The twins: %2F %23 %40 encoded, or an @ in the path of a URL that has a userinfo."""
    target = parse_target(url)
    assert (target.password, target.host) == (password, host)


def test_libpq_uri_with_two_at_signs_is_refused() -> None:
    """libpq ends the user name at the first @ (it would connect to host ss@db): refused."""
    why = (
        "an @ in a user name or password must be written %40 "
        "(libpq ends the user name at the first @)"
    )
    assert refused("postgresql://u:p@ss@db/x") == f"'postgresql://u:***@db/x': {why}"


def test_sqlalchemy_uri_with_two_at_signs_is_read_to_the_last() -> None:
    """The twin: SQLAlchemy's form (airflow.cfg) ends the password at the last @."""
    target = parse_target("postgresql+psycopg2://u:p@ss@db/x")
    assert (target.user, target.password, target.host) == ("u", "p@ss", "db")


def test_hostaddr_becomes_the_connect_address() -> None:
    """?hostaddr= is resolved when parsed: the probe connects there and verifies the host."""
    target = parse_target("postgresql://db.example/x?hostaddr=10.0.0.5&sslmode=verify-full")
    assert (target.host, target.connect_host) == ("db.example", "10.0.0.5")
    assert target.address == "10.0.0.5"


def test_without_hostaddr_the_address_is_the_host() -> None:
    """The twin: no hostaddr, no #connect: the connection goes to the host."""
    target = parse_target("postgresql://db.example/x")
    assert (target.connect_host, target.address) == (None, "db.example")


# --- smtp paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_smtp_url_with_a_path_is_refused(scheme: str) -> None:
    """An SMTP URL has no path: smtp://mail/x is a typo, not a target."""
    why = f"{scheme}:// URLs have no path (give host[:port] only)"
    assert refused(f"{scheme}://mail/x") == f"'{scheme}://mail/x': {why}"


@pytest.mark.parametrize("url", ["smtp://mail", "smtp://mail/", "smtps://mail:465/"])
def test_smtp_url_without_a_path_is_accepted(url: str) -> None:
    """The twins: no path, or only "/"."""
    assert parse_target(url).host == "mail"


# --- keyword strings -------------------------------------------------------------------------


def test_keyword_password_is_shown_as_stars() -> None:
    """`host=db password=x` is a target displayed with password=***."""
    target = parse_target("host=db password=x")
    assert (target.password, target.display) == ("x", "host=db password=***")


def test_mistyped_keyword_is_refused_with_its_value_hidden() -> None:
    """`host=db passWord=S3CRET`: libpq refuses the key; its value is shown as ***."""
    why = "'passWord' is not a libpq connection keyword (libpq keywords are lower case)"
    assert refused("host=db passWord=S3CRET") == f"'host=db passWord=***': {why}"


@pytest.mark.parametrize(
    ("text", "shown", "why"),
    [
        ("host=db password=a b", "host=db password=***", "a word without ="),
        ("host=db password='hunter2", "host=db password=***", "a quoted value is not closed"),
        ("host=db S3CRET", "host=***", "a word without ="),
    ],
)
def test_unreadable_keyword_string_hides_from_the_last_value_on(
    text: str, shown: str, why: str
) -> None:
    """An unquoted blank in a password makes its tail a "key": all from the last value on is
    hidden, and libpq's own message (which quotes the input) is never shown."""
    message = refused(text)
    assert message.startswith(f"{shown!r}: not a libpq connection string: {why}")


def test_dbname_holding_a_connection_string_is_refused_hidden() -> None:
    """A dbname that is itself a connection string (psql expands it) is refused, hidden."""
    message = refused("host=db dbname='postgresql://u:S3CRET@h/x'")
    assert message == f"'host=db dbname=***': {NESTED}"


def test_uri_dbname_holding_a_connection_string_is_refused_in_the_same_words() -> None:
    """A URI's database name holding settings is refused, hidden, with the same message."""
    message = refused("postgresql://u@db/host%3Devil%20password%3DS3CRET")
    assert message == f"'postgresql://u@db***': {NESTED}"


def test_plain_dbname_is_the_path() -> None:
    """The twin: dbname=app is the database, the target's path /app."""
    assert parse_target("host=db dbname=app").path == "/app"


# --- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x1b", "\x00", "\u2028", "\u202e", "\udcff", "\x85"])
def test_invisible_or_control_character_is_refused(char: str) -> None:
    """ESC, NUL, a line separator, a bidi override, a lone surrogate (undecodable bytes on
    the command line) and NEL are refused, the message escaping them onto one line."""
    message = refused(f"https://h/{char}")
    assert message.endswith(
        ": contains a control character (a tab, a line break, an invisible format character, ...)"
    )
    assert char not in message


def test_over_long_input_is_refused_with_a_short_quote() -> None:
    """A 9,000-character URL is refused, quoted in at most 160 characters."""
    message = refused("https://h/" + "a" * 9000)
    assert message.endswith(": longer than 8192 characters")
    assert len(message) < 220


def test_text_without_a_scheme_hides_what_may_be_credentials() -> None:
    """`u:S3CRET@host` (a URL without its scheme) is not a URL, shown from its @ on."""
    assert refused("u:S3CRET@host") == (
        "'***@host': not a URL (expected scheme://host[:port], e.g. https://host)"
    )


def test_repr_shows_the_display_and_no_parameters() -> None:
    """repr(Target) is built from the display form: sslpassword in params never shows."""
    target = parse_target("postgresql://u:PW1@db/x?sslpassword=PW2&sslmode=require")
    assert repr(target) == (
        "Target('postgresql://u:***@db/x?sslpassword=***&sslmode=require', "
        "protocol='postgresql', host='db', port=5432, name='', source='command line')"
    )
    assert isinstance(target, Target)


def test_hostaddr_is_checked_even_when_connect_overrides_it() -> None:
    """A bad ?hostaddr= is refused though #connect= decides where to connect."""
    message = refused("postgresql://db/x?hostaddr=127.1#connect=10.0.0.5")
    assert message.endswith(f"'127.1' is not an IPv4 address: {IPV4_RULE}")


def test_connect_overrides_a_good_hostaddr() -> None:
    """The twin: with both good, #connect= is where the connection goes."""
    target = parse_target("postgresql://db/x?hostaddr=10.0.0.6#connect=10.0.0.5")
    assert target.address == "10.0.0.5"


@pytest.mark.parametrize(
    "url", ["https://u%0A@h/", "postgresql://db/x?user=a%1Bb", "postgresql://db/x?sslmode=%0A"]
)
def test_control_character_once_decoded_is_refused(url: str) -> None:
    """%0A or %1B in a user name or a libpq parameter would reach a transcript raw: refused."""
    assert "a control character once decoded" in refused(url)


def test_encoded_control_character_in_a_password_is_taken() -> None:
    """The twin: a password may hold one (it is never shown); only %00 is refused."""
    assert parse_target("postgresql://u:a%0Ab@db/x").password == "a\nb"
    assert "%00 (a NUL character) is not allowed" in refused("postgresql://u:a%00b@db/x")


def test_urls_are_parsed_without_psycopg() -> None:
    """psycopg (~100 ms to import) is imported for keyword strings only, in a fresh process."""
    import subprocess
    import sys

    code = (
        "import sys; from tlsprobe.targets import parse_target; "
        "parse_target('postgresql://u:p@db/x?sslmode=require'); "
        "print('psycopg' in sys.modules); parse_target('host=db'); print('psycopg' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
