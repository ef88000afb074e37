"""Unit tests for target parsing and redaction (targets.py): pure, no network."""

from __future__ import annotations

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.targets import parse_target, redact, supported_schemes


def test_https_defaults() -> None:
    """A bare https URL gets port 443, path / and no options."""
    target = parse_target("https://example.com")
    assert (target.protocol, target.host, target.port, target.path) == (
        "https",
        "example.com",
        443,
        "/",
    )
    assert (target.user, target.password, target.connect_host) == (None, None, None)
    assert target.expect_status == ()
    assert target.address == "example.com"


def test_explicit_port_and_path() -> None:
    """An explicit port and path are kept."""
    target = parse_target("https://example.com:8443/health")
    assert (target.port, target.path) == (8443, "/health")


def test_ipv6_literal() -> None:
    """A bracketed IPv6 literal becomes the bare address, recognised as an IP."""
    target = parse_target("https://[::1]:8443/x")
    assert (target.host, target.port, target.path, target.is_ip) == ("::1", 8443, "/x", True)


def test_name_is_not_ip() -> None:
    """The twin of the IPv6 case: a DNS name is not an IP literal."""
    assert parse_target("https://localhost/").is_ip is False


def test_idn_host_becomes_a_label() -> None:
    """An internationalised host name goes on the wire as its IDNA A-label."""
    assert parse_target("https://bücher.example/").host == "xn--bcher-kva.example"


def test_uppercase_host_lowered() -> None:
    """An upper-case host (and scheme) is normalised to lower case."""
    target = parse_target("HTTPS://Example.COM:8443/A")
    assert (target.protocol, target.host, target.path) == ("https", "example.com", "/A")


def test_fragment_options() -> None:
    """#expect_status and #connect set the expected statuses and the connect address."""
    target = parse_target("https://web.example/#expect_status=200,3xx&connect=127.0.0.1")
    assert target.expect_status == (range(200, 201), range(300, 400))
    assert target.connect_host == "127.0.0.1"
    assert target.address == "127.0.0.1"
    assert target.host == "web.example"


def test_expect_status_range_form() -> None:
    """The 200-299 form parses to an inclusive range."""
    target = parse_target("https://web.example/#expect_status=200-299")
    assert target.expect_status == (range(200, 300),)


def test_connect_name_is_normalised() -> None:
    """A #connect host name is lowered like the URL's host."""
    assert parse_target("https://w.example/#connect=Backend.Example").address == "backend.example"


def test_params_user_and_name_kept() -> None:
    """Query parameters, user, name and source are kept on the target."""
    target = parse_target("https://me@h.example/p?a=1&b=", name="web", source="tlsprobe.toml")
    assert target.params == (("a", "1"), ("b", ""))
    assert (target.user, target.name, target.source, target.label) == (
        "me",
        "web",
        "tlsprobe.toml",
        "web",
    )


def test_postgres_alias_follows_supported_schemes() -> None:
    """postgres:// is an alias of postgresql:// exactly when that probe is registered."""
    if "postgresql" in supported_schemes():
        target = parse_target("postgres://db.example/airflow")
        assert (target.protocol, target.port) == ("postgresql", 5432)
    else:
        with pytest.raises(UsageError, match="unknown scheme 'postgres://'"):
            parse_target("postgres://db.example/airflow")


def test_supported_schemes_include_https() -> None:
    """https is always a supported scheme, and aliases are not listed as schemes."""
    assert "https" in supported_schemes()
    assert "postgres" not in supported_schemes()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("example.com", "not a URL"),
        ("ftp://example.com/", "unknown scheme 'ftp://'"),
        ("https://", "no host name"),
        ("https:///path", "no host name"),
        ("https://example.com:0/", "the port must be a number from 1 to 65535"),
        ("https://example.com:70000/", "the port must be a number from 1 to 65535"),
        ("https://[::1/", "malformed IPv6 address"),
        ("https://example.com/#verify=no", "unknown option #verify"),
        ("https://example.com/#expect_status=abc", "expect_status 'abc' is not a status"),
        ("https://example.com/#expect_status=2x", "expect_status '2x' is not a status"),
        ("https://example.com/#expect_status=200-abc", "is not a status"),
        ("https://example.com/#connect=", "#connect needs an address"),
        ("https://" + "a" * 64 + ".example/", "is not a valid DNS name"),
        ("https://a..example/", "is not a valid DNS name"),
    ],
)
def test_bad_input_raises_usage_error_naming_it(text: str, reason: str) -> None:
    """Bad input raises UsageError whose message names the input and says what is wrong."""
    with pytest.raises(UsageError) as caught:
        parse_target(text)
    message = str(caught.value)
    assert text.strip() in message
    assert reason in message


def test_label_of_63_characters_is_accepted() -> None:
    """The twin of the over-long label: exactly 63 characters is a valid DNS label."""
    host = "a" * 63 + ".example"
    assert parse_target(f"https://{host}/").host == host


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:s3cret@host/x", "https://user:***@host/x"),
        ("https://user:p@ss@host:8443/x?y#z", "https://user:***@host:8443/x?y#z"),
        ("https://user:p%40ss@host/", "https://user:***@host/"),
        ("smtp://me@example.com:pw@mail.example:587", "smtp://me@example.com:***@mail.example:587"),
        (
            "postgresql+psycopg2://airflow:pw@db/airflow",
            "postgresql+psycopg2://airflow:***@db/airflow",
        ),
        ("https://user:@host/", "https://user:***@host/"),
    ],
)
def test_redact_hides_password(url: str, expected: str) -> None:
    """redact replaces the password, whatever the scheme, and keeps the rest as written."""
    assert redact(url) == expected


def test_redact_hides_up_to_an_at_sign_after_the_host() -> None:
    """An @ after the host of a URL whose authority has none may end a password holding an
    unencoded /: redact, made for messages about bad input, hides all up to it."""
    assert redact("https://host:8443/a:b@c") == "https://***@c"


def test_port_that_is_no_number_is_hidden_in_the_message() -> None:
    """A port that is not a number may be a password that lost its host (https://admin:pw):
    the message says what is wrong and shows the port, and all after it, as ***."""
    with pytest.raises(UsageError) as caught:
        parse_target("https://example.com:abc/")
    assert str(caught.value) == (
        "'https://example.com:***': the port must be a number from 1 to 65535"
    )


@pytest.mark.parametrize("url", ["https://host/x", "https://user@host/x", "not a url", ""])
def test_redact_leaves_password_free_urls_alone(url: str) -> None:
    """The twin: a URL without a password comes back unchanged."""
    assert redact(url) == url


@pytest.mark.parametrize(
    ("url", "password", "display"),
    [
        ("https://user:s3cret@host/", "s3cret", "https://user:***@host/"),
        ("https://user:p@ss@host/", "p@ss", "https://user:***@host/"),
        ("https://user:p%40ss@host/", "p@ss", "https://user:***@host/"),
        ("https://me@example.com:pw-123@host/", "pw-123", "https://me@example.com:***@host/"),
    ],
)
def test_display_never_shows_password(url: str, password: str, display: str) -> None:
    """Target.display and label never contain the password, raw or percent-encoded."""
    target = parse_target(url)
    assert target.password == password
    assert target.display == target.label == display


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("https://user:s3cret@host/", "s3cret"),
        ("https://user:p%40ss@host/", "p%40ss"),
        ("https://me@example.com:pw-123@host/", "pw-123"),
    ],
)
def test_repr_never_shows_password(url: str, password: str) -> None:
    """repr(target), as a traceback or log would print it, never contains the password."""
    shown = repr(parse_target(url))
    assert password not in shown
    assert "host" in shown


def test_display_without_password_is_the_url() -> None:
    """The twin: a target without a password displays its URL as given."""
    assert parse_target("https://me@host:8443/x").display == "https://me@host:8443/x"


def test_user_containing_at_sign() -> None:
    """A user name containing @ (as Airflow writes it) is kept, and only the password hidden."""
    target = parse_target("https://me@example.com:pw-123@host/")
    assert (target.user, target.host) == ("me@example.com", "host")
    assert target.display == "https://me@example.com:***@host/"


@pytest.mark.parametrize(
    ("text", "password"),
    [
        ("ftp://user:hunter2@host/", "hunter2"),
        ("https://user:hunter2@bad..host/", "hunter2"),
        ("https://user:hunter2@host/#nope=1", "hunter2"),
        ("https://user:pa/ss@host/", "pa/ss"),
        ("https://user:pa#ss@host/", "pa#ss"),
    ],
)
def test_usage_error_never_shows_password(text: str, password: str) -> None:
    """A UsageError names the bad input with its password replaced, even an unencoded / or #."""
    with pytest.raises(UsageError) as caught:
        parse_target(text)
    assert password not in str(caught.value)
    assert "***" in str(caught.value)
