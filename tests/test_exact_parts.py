"""Targets from a source's separate fields (from_parts) exactly: the canonical URL, its display
with the secrets as ***, every field, and the exact phrase naming the first bad field."""

from __future__ import annotations

from typing import Any

import pytest

from tlsprobe.failures import UsageError
from tlsprobe.targets import Target, from_parts
from tlsprobe.targets.hosts import PORT_RULE

NUL_OR_SURROGATE = "password: contains a NUL character or a lone surrogate"


def fields(target: Target) -> dict[str, Any]:
    """Every field of a Target, those left out of its equality (query, hidden) included."""
    return {name: getattr(target, name) for name in Target.__dataclass_fields__}


def test_postgresql_fields() -> None:
    """A PostgreSQL connection: everything percent-encoded in the URL (an @ in the user name
    too, as libpq ends it at the first @), the database as the path, sslpassword hidden."""
    target = from_parts(
        "postgresql",
        "DB.example",
        5432,
        user="a@b",
        password="p/w@:",
        path="/my db/x",
        params=[("sslmode", "require"), ("sslpassword", "k y/:,")],
        name="meta",
        source="airflow connections",
    )
    assert fields(target) == fields(Target(url="", protocol="", host="", port=0)) | {
        "url": "postgresql://a%40b:p%2Fw%40%3A@db.example:5432/my%20db%2Fx"
        "?sslmode=require&sslpassword=k%20y/:,",
        "protocol": "postgresql",
        "host": "db.example",
        "port": 5432,
        "path": "/my db/x",
        "user": "a@b",
        "password": "p/w@:",
        "params": (("sslmode", "require"), ("sslpassword", "k y/:,")),
        "name": "meta",
        "source": "airflow connections",
        "shown": "postgresql://a%40b:***@db.example:5432/my%20db%2Fx"
        "?sslmode=require&sslpassword=***",
        "hidden": ("k y/:,", "k%20y/:,"),
    }


def test_https_fields() -> None:
    """An https connection: an @ stays in the user name (as Airflow writes it), an IPv6 host is
    bracketed, the path keeps RFC 3986's safe characters, an empty password is none."""
    target = from_parts(
        "https",
        "::1",
        "8443",
        user="a@b",
        password="",
        path="/a b/@:~",
        params=[("api_key", "v"), ("x", "a b/:,&"), ("token", "")],
        source="s",
    )
    assert (target.url, target.shown) == (
        "https://a@b@[::1]:8443/a%20b/@:~?api_key=v&x=a%20b/:,%26&token=",
        "https://a@b@[::1]:8443/a%20b/@:~?api_key=***&x=a%20b/:,%26&token=***",
    )
    assert (target.host, target.port, target.user, target.password, target.hidden) == (
        "::1",
        8443,
        "a@b",
        None,
        ("v",),
    )


@pytest.mark.parametrize(
    ("given", "url", "shown", "number"),
    [
        (("smtp", None, None, None), "smtp://mail", "smtp://mail", 587),
        (("smtp", "", "u", None), "smtp://u@mail", "smtp://u@mail", 587),
        (("smtps", 465, None, "pw"), "smtps://:pw@mail:465", "smtps://:***@mail:465", 465),
        (("https", 65535, "", "p"), "https://:p@mail:65535/", "https://:***@mail:65535/", 65535),
        (("https", "1", None, None), "https://mail:1/", "https://mail:1/", 1),
        (("http", None, "u", "p w"), "http://u:p%20w@mail/", "http://u:***@mail/", 80),
    ],
)
def test_canonical_url(
    given: tuple[str, object, str | None, str | None], url: str, shown: str, number: int
) -> None:
    """The port only when given (else the scheme's default), user:password@ only when either is
    given (an empty user name being none), no path for SMTP, the password as *** when shown."""
    protocol, port, user, password = given
    target = from_parts(protocol, "mail", port, user=user, password=password, source="s")
    assert (target.url, target.shown, target.port) == (url, shown, number)
    assert (target.user, target.password) == (user or None, password)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"host": 5}, "host: expected a string, got int"),
        ({"host": ""}, "no host name"),
        ({"host": None}, "no host name"),
        ({"host": "h\t"}, "host: contains a control character"),
        ({"port": 0}, PORT_RULE),
        ({"port": 65536}, PORT_RULE),
        ({"port": "x"}, PORT_RULE),
        ({"user": 5}, "user: expected a string, got int"),
        ({"user": "a\tb"}, "user: contains a control character"),
        ({"password": 5}, "password: expected a string, got int"),
        ({"password": "a\x00"}, NUL_OR_SURROGATE),
        ({"password": chr(0xD800)}, NUL_OR_SURROGATE),
        ({"password": chr(0xDFFF)}, NUL_OR_SURROGATE),
        ({"path": "x"}, "path 'x': expected one that starts with /"),
        ({"path": ""}, "path '': expected one that starts with /"),
        ({"path": "/\t"}, "path '/\\t': expected one that starts with /"),
        ({"params": [("a", "5\n")]}, "'a': contains a control character"),
        ({"name": "a\tb"}, "the name: contains a control character"),
        ({"name": 5}, "the name: expected a string, got int"),
        (
            {"host": "u:p@h", "port": 0},
            "host '***@h' is not a host name or IP address "
            "(give the port, the user and the path apart from the host)",
        ),
        ({"port": 0, "user": 5}, PORT_RULE),
        ({"user": 5, "password": 5}, "user: expected a string, got int"),
    ],
)
def test_bad_field(given: dict[str, Any], message: str) -> None:
    """Each bad field is named by a short phrase, the first in host, port, user, password,
    path, parameters, name order."""
    arguments: dict[str, Any] = {"host": "h", "source": "s"} | given
    host = arguments.pop("host")
    port = arguments.pop("port", None)
    with pytest.raises(UsageError) as caught:
        from_parts("https", host, port, **arguments)
    assert str(caught.value) == message


def test_password_any_text_but_nul_and_surrogates() -> None:
    """A password may be any other text: the code points next to the surrogates, blanks, %."""
    password = "\ud7ff\ue000 %\t"
    target = from_parts("https", "h", password=password, source="s")
    assert (target.password, target.url) == (password, "https://:%ED%9F%BF%EE%80%80%20%25%09@h/")


@pytest.mark.parametrize("protocol", ["smtp", "smtps"])
def test_smtp_takes_no_path(protocol: str) -> None:
    """An SMTP connection with a path is refused, naming the protocol; "/" is no path."""
    with pytest.raises(UsageError) as caught:
        from_parts(protocol, "h", path="/x", source="s")
    assert str(caught.value) == f"{protocol} takes no path"
    assert from_parts(protocol, "h", path="/", source="s").path == "/"


def test_postgresql_parameters_are_libpq_keywords() -> None:
    """A PostgreSQL connection's parameters must be libpq keywords; other protocols take any."""
    with pytest.raises(UsageError) as caught:
        from_parts("postgresql", "h", params=[("pool_size", "5")], source="s")
    assert str(caught.value) == "'pool_size' is not a libpq connection parameter"
    target = from_parts("https", "h", params=[("pool_size", "5")], source="s")
    assert target.url == "https://h/?pool_size=5"


def test_hidden_values() -> None:
    """The scrub gets each secret parameter's value as given and as the URL writes it, once."""
    params = [
        ("password", "a b"),
        ("sslpassword", "a b"),
        ("oauth_client_secret", "c"),
        ("user", "u"),
    ]
    target = from_parts("postgresql", "h", params=params, source="s")
    assert target.hidden == ("a b", "c", "a%20b")


def test_no_name_and_no_parameters() -> None:
    """Without a name or parameters the target has none, and its label is the display."""
    target = from_parts("https", "h", source="s")
    assert (target.name, target.params, target.hidden, target.label) == ("", (), (), "https://h/")
