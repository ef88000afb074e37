"""The scrub's edges that a wide property test reaches only by chance: lone surrogates in the
password and the user name, the shortest base64 core, Basic and PLAIN with a short password
or no user, a one-letter secret after the first character, secrets with "*" read across a mark,
and a secret keyword among a target's parameters. No network."""

from __future__ import annotations

import base64
import dataclasses
from urllib.parse import quote, quote_plus

import pytest

from tlsprobe.secrets import Secrets
from tlsprobe.targets import parse_target

# Lone surrogates: what os.environ holds for bytes that are not UTF-8 (surrogateescape).
ODD_PASSWORD = "p\udc80ss\ud800w"
ODD_USER = "u\udcffser"


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def secrets_of(password: str, user: str | None) -> Secrets:
    return Secrets.of(dataclasses.replace(parse_target("smtp://h"), user=user, password=password))


@pytest.mark.parametrize(
    "form",
    [
        ODD_PASSWORD,
        ODD_PASSWORD.upper(),
        quote(ODD_PASSWORD, safe="", errors="surrogatepass"),
        quote_plus(ODD_PASSWORD, safe="/", errors="surrogatepass"),
        utf8(ODD_PASSWORD).decode("latin-1"),
        base64.b64encode(utf8(ODD_PASSWORD)).decode(),
        base64.b64encode(b"\0" + utf8(ODD_USER) + b"\0" + utf8(ODD_PASSWORD)).decode(),
        base64.b64encode(utf8(ODD_USER) + b":" + utf8(ODD_PASSWORD)).decode(),
        base64.b64encode(b"authzid\0someone\0" + utf8(ODD_PASSWORD)).decode(),
    ],
    ids=["as given", "capitals", "quote", "quote_plus", "latin-1", "b64", "PLAIN", "Basic", "run"],
)
def test_lone_surrogates_in_password_and_user(form: str) -> None:
    """A password and a user name holding lone surrogates have every form worked out (none of
    the encodings fails) and each is hidden."""
    assert secrets_of(ODD_PASSWORD, ODD_USER).scrub(f"said <{form}> end") == "said <***> end"


@pytest.mark.parametrize(
    ("user", "text", "shown"),
    [
        # "abc" at an offset of 6 bytes: its core "YWJj" is the shortest kept (4 characters).
        ("probe", base64.b64encode(b"\0user\0abc").decode(), "***"),
        # At 4 and 5 bytes its core is too short: only the exact Basic and PLAIN forms find it.
        ("bob", "Basic " + base64.b64encode(b"bob:abc").decode(), "Basic ***"),
        ("bob", "AUTH PLAIN " + base64.b64encode(b"\0bob\0abc").decode(), "AUTH PLAIN ***"),
        (None, "Basic " + base64.b64encode(b":abc").decode(), "Basic ***"),
        (None, "AUTH PLAIN " + base64.b64encode(b"\0\0abc").decode(), "AUTH PLAIN ***"),
        # The twin: another user's Basic form of the same short password is not the secret's.
        ("bob", "Basic " + base64.b64encode(b"eve:abc").decode(), "Basic ZXZlOmFiYw=="),
    ],
    ids=["core of 4", "Basic", "PLAIN", "Basic, no user", "PLAIN, no user", "other user"],
)
def test_a_three_letter_password_in_base64(user: str | None, text: str, shown: str) -> None:
    """A three-byte password inside base64 is hidden as a whole run where it is aligned, and
    otherwise through the exact Basic and PLAIN forms for the target's user (none: empty)."""
    assert secrets_of("abc", user).scrub(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ap", "ap"),
        ("pa", "pa"),
        (":p", ":***"),
        ("p:", "***:"),
        ("a:p@h", "a:***@h"),
    ],
)
def test_a_one_letter_password_beside_the_first_character(text: str, shown: str) -> None:
    """A one-letter password is hidden where it stands alone, wherever it is in the text, and
    left alone where the character beside it, the first of the text included, is a letter."""
    assert secrets_of("p", None).scrub(text) == shown


@pytest.mark.parametrize(
    ("password", "text", "shown"),
    [
        # "**q" reads again across the mark and the next "q": the mark widens to it, not past.
        ("**q", "**qqz", "***z"),
        # "q**" reads again across a "q" and the mark: the mark widens back to it.
        ("q**", "qq**z", "***z"),
        ("q**", "aq**z", "a***z"),
    ],
)
def test_a_mark_widens_exactly_over_a_secret_read_across_it(
    password: str, text: str, shown: str
) -> None:
    """A secret with "*" that reads again across a *** widens the mark by exactly the characters
    it covers, on either side."""
    assert secrets_of(password, None).scrub(text) == shown


@pytest.mark.parametrize("key", ["sslpassword", "password", "SSLPassword"])
def test_a_secret_keyword_among_the_parameters(key: str) -> None:
    """A libpq secret keyword's value among a target's parameters is a secret, whatever the case
    of its key, even where the door listed nothing as hidden."""
    target = dataclasses.replace(
        parse_target("postgresql://db/app"), params=((key, "Key-Phrase-9"), ("sslmode", "verify"))
    )
    assert target.hidden == ()
    assert Secrets.of(target).scrub("x Key-Phrase-9 verify") == "x *** verify"
