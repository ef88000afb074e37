"""Passwords never leak: not from a password with an unencoded "?", not from libpq's
`?password=` / `sslpassword=` parameters, not from notes about an airflow.cfg or a connection
export; and redaction does not mangle what it should leave alone."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tlsprobe.cli import main
from tlsprobe.exporter import Exporter
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.model import Policy
from tlsprobe.report import FORMATS
from tlsprobe.secrets import SHORTEST_ANYWHERE, Secrets, scrub_structure
from tlsprobe.targets import parse_target

SECRET = "Hunter?2x"


def forms(secret: str) -> list[str]:
    """The password raw, percent-encoded and base64-encoded."""
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


def assert_hidden(text: str, secret: str = SECRET) -> None:
    for form in forms(secret):
        assert form not in text


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code, and stdout and stderr together."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize(
    "url",
    [
        f"smtp://u:{SECRET}@mail.example",
        f"postgresql://u:{SECRET}@db.example/app",
        f"https://u:{SECRET}@web.example/",
    ],
)
def test_unencoded_question_mark_in_password_is_not_echoed(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password with an unencoded ? breaks URL parsing; the error names the URL with ***."""
    code, said = run(["targets", url], capsys)
    assert code == 2
    assert "***" in said
    assert_hidden(said)


def test_encoded_question_mark_in_password_is_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    """The twin: percent-encoded, the same password parses and is shown as ***."""
    code, said = run(["targets", f"smtp://u:{quote(SECRET, safe='')}@mail.example"], capsys)
    assert code == 0
    assert "smtp://u:***@mail.example" in said
    assert_hidden(said)


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    with Exporter([], Policy(timeout=1.0), allow_any=True, listen=("127.0.0.1", 0)) as running:
        yield running


def test_serve_400_hides_a_password_with_question_mark(exporter: Exporter) -> None:
    """/probe with such a malformed target answers 400 without the password."""
    host, port = exporter.address
    url = f"http://{host}:{port}/probe"
    answer = httpx.get(url, params={"target": f"smtp://u:{SECRET}@h"}, timeout=10)
    assert answer.status_code == 400
    assert "***" in answer.text
    assert_hidden(answer.text)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@h/", "https://u:***@h/"),
        ("https://u:s@host.example/status", "https://u:***@host.example/status"),
        ("smtp://alerts@example.com:t@smtp.example.com", "smtp://alerts@example.com:***@smtp"),
    ],
)
def test_short_password_does_not_mangle_the_url(url: str, shown: str) -> None:
    """A one-letter password is hidden where it is, not wherever its letter occurs (it used
    to turn https://u:p@h/ into htt***s://u:***@h/)."""
    assert parse_target(url).display.startswith(shown)


@pytest.mark.parametrize(
    "target",
    [
        f"postgresql://db.example/app?sslmode=require&password={SECRET}",
        f"postgresql://db.example/app?sslpassword={SECRET}&sslmode=require",
        f"host=db.example sslpassword={SECRET} sslmode=require",
    ],
)
def test_libpq_secret_parameters_are_hidden(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """libpq's password (a URI query parameter) and sslpassword (the client key's passphrase)
    are secrets: `targets` shows them as ***."""
    code, said = run(["targets", target], capsys)
    assert code == 0
    assert "password=***" in said
    assert_hidden(said)


def test_other_libpq_parameters_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    """The twin: sslmode and sslrootcert are no secrets and are shown as given."""
    code, said = run(["targets", "postgresql://db/app?sslmode=verify-ca&sslrootcert=r.pem"], capsys)
    assert code == 0
    assert "postgresql://db/app?sslmode=verify-ca&sslrootcert=r.pem" in said


@pytest.mark.parametrize("fmt", FORMATS)
def test_sslpassword_never_in_any_format(
    fmt: str, lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real login with sslpassword set: no format, transcript included, shows it."""
    port = urlsplit(lab.url("pg-login")).port
    url = (
        f"postgresql://probe:s3cret-pw@localhost:{port}/postgres"
        f"?sslmode=verify-full&sslpassword={quote(SECRET, safe='')}"
    )
    argv = ["check", "-vv", "--timeout", "5", "--ca-file", str(lab.ca_file), "--format", fmt]
    _, said = run([*argv, url], capsys)
    assert "sslpassword=***" in said
    assert_hidden(said)
    assert_hidden(said, "s3cret-pw")


def airflow_db(conn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `targets` says about an airflow.cfg whose sql_alchemy_conn is `conn`."""
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text(f"[database]\nsql_alchemy_conn = {conn}\n")
    code, said = run(["targets", "--airflow-cfg", str(cfg), "https://h/"], capsys)
    assert code == 0
    return said


@pytest.mark.parametrize(
    "conn",
    ["host=db user=airflow password=Hunter2x", "airflow:Hunter2x@db/airflow"],
)
def test_sql_alchemy_conn_that_is_no_url_is_not_echoed(
    conn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sql_alchemy_conn written as a keyword string or without a scheme is noted as "not a
    database URL", not quoted as if its text were a database type."""
    said = airflow_db(conn, tmp_path, capsys)
    assert "sql_alchemy_conn: not a database URL, not probed" in said
    assert_hidden(said, "Hunter2x")


def test_sql_alchemy_conn_of_another_database_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: a MySQL URL is named as a mysql database, its password still hidden."""
    said = airflow_db("mysql://airflow:Hunter2x@db/airflow", tmp_path, capsys)
    assert "a mysql database, not probed" in said
    assert_hidden(said, "Hunter2x")


def connection(fields: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `targets` says about an export holding one postgres connection with `fields`."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"db": {"conn_type": "postgres", **fields}}))
    return run(["targets", "--airflow-connections", str(path)], capsys)[1]


def test_credentials_in_a_connection_host_are_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A connection whose host field holds user:password@host is refused without the password."""
    said = connection({"host": "u:Hunter2x@db"}, tmp_path, capsys)
    assert "host '***@db' is not a host name" in said
    assert_hidden(said, "Hunter2x")


def test_connection_password_field_is_hidden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: the same password in its own field makes a target shown with ***."""
    said = connection({"host": "db", "login": "u", "password": "Hunter2x"}, tmp_path, capsys)
    assert "postgresql://u:***@db/" in said
    assert_hidden(said, "Hunter2x")


def test_usage_error_for_keyword_string_hides_sslpassword() -> None:
    """An unparseable keyword string is hidden from its first password keyword on."""
    with pytest.raises(UsageError) as caught:
        parse_target(f"host=db sslpassword='{SECRET}")
    assert_hidden(str(caught.value))


# --- secrets.py: the forms of a target's secrets, and the scrub --------------------------------


def secrets_of(password: str, url: str = "smtp://probe@localhost", **changes: Any) -> Secrets:
    target = dataclasses.replace(parse_target(url), password=password, **changes)
    return Secrets.of(target)


FORM_PASSWORD = "p@ss wörd/+?:"
RAW = FORM_PASSWORD.encode()


def lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


@pytest.mark.parametrize(
    "form",
    [
        FORM_PASSWORD,
        quote(FORM_PASSWORD, safe=""),
        lower_hex(quote(FORM_PASSWORD, safe="")),
        quote_plus(FORM_PASSWORD, safe=""),
        lower_hex(quote_plus(FORM_PASSWORD, safe="")),
        base64.b64encode(RAW).decode(),
        base64.b64encode(b"\0probe\0" + RAW).decode(),
        base64.b64encode(b"probe:" + RAW).decode(),
        base64.b64encode(b"authzid\0probe\0" + RAW).decode(),  # any other base64 holding it
        base64.b64encode(b"someone-else:" + RAW).decode().rstrip("="),
        RAW.decode("latin-1"),  # a header read as Latin-1
        RAW.decode("ascii", "replace"),  # a reason phrase read as ASCII
        RAW.decode("ascii", "backslashreplace"),  # as a bytes repr shows it
        FORM_PASSWORD.encode("unicode_escape").decode(),  # as a str repr shows it
    ],
)
def test_every_form_of_the_password_is_hidden(form: str) -> None:
    """Each shape the password can travel in is replaced by ***, with the text around it kept."""
    assert secrets_of(FORM_PASSWORD).scrub(f"said: {form} (end)") == "said: *** (end)"


QUOTES = "It's\"Sécret"  # both quotes, and a character that is two bytes in UTF-8


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # h11 quotes a bad header line as the repr of its bytearray: ' escaped, " not.
        (repr(bytearray(f"X {QUOTES}: y".encode())), "bytearray(b'X ***: y')"),
        (repr(f"X {QUOTES}"), "'X ***'"),  # a str repr: ' escaped, é as it is
        (json.dumps(QUOTES), '"***"'),  # " escaped, é as \\u00e9
        (json.dumps(QUOTES, ensure_ascii=False), '"***"'),
        ("It\\'s\\\"S\\xc3\\xa9cret!", "***!"),  # both escaped, as bytes
        ("It's\\\"S\\u00e9cret!", "***!"),  # " escaped, as unicode_escape writes é
    ],
)
def test_a_password_with_quotes_is_hidden_in_every_repr(text: str, shown: str) -> None:
    """A password holding both quotes is found however a repr or JSON escapes them: ' alone,
    " alone, or both, in its text and in its bytes."""
    assert secrets_of(QUOTES).scrub(text) == shown


MESSY = "a'b\"c\\dé\te"  # both quotes, a backslash, a tab and a two-byte character


@pytest.mark.parametrize(
    "form",
    [
        json.dumps(MESSY)[1:-1],
        MESSY.encode().decode("ascii", "backslashreplace"),
        MESSY.encode("unicode_escape").decode("ascii"),
        repr(MESSY)[1:-1],
        repr(MESSY.encode())[2:-1],
    ],
    ids=["json", "bytes escaped", "unicode_escape", "str repr", "bytes repr"],
)
def test_each_escaping_of_a_password_is_hidden(form: str) -> None:
    """Each escaping writes this password differently (backslash doubled or not, the tab and
    the é written out each its own way), and each is hidden whole."""
    assert len({form, MESSY}) == 2
    assert secrets_of(MESSY).scrub(f"<{form}>") == "<***>"


@pytest.mark.parametrize(
    ("password", "text", "shown"),
    [
        # The quotes around it make a repr escape a ' it would leave alone on its own.
        ("It's", repr(bytearray(b'say "It\'s"')), "bytearray(b'say \"***\"')"),
        ('Sé "hi"', 'Go %q: "Sé \\"hi\\""', 'Go %q: "***"'),  # " escaped, é kept
        ('It\'s "é"', 'addslashes: It\\\'s \\"é\\"', "addslashes: ***"),  # both escaped
        # Both quotes escaped and the backslash not, as a naive escaper leaves it.
        ('It\'s "a\\b"', 'naive: It\\\'s \\"a\\b\\"', "naive: ***"),
    ],
)
def test_a_quote_escaped_for_the_quotes_around_it_is_hidden(
    password: str, text: str, shown: str
) -> None:
    """A ' or a " escaped (or both) where the password itself would not make a repr escape it:
    its quotes are escaped for the quotes around it."""
    assert secrets_of(password).scrub(text) == shown


URI_PASSWORD = "a'b(c)!d*e~f g/h?i:j@k&l=m+n$o,p;q#r"


@pytest.mark.parametrize(
    ("safe", "plus"),
    [
        ("-_.!~*'()", False),  # JavaScript's encodeURIComponent
        ("-_.!~*'();/?:@&=+$,#", False),  # JavaScript's encodeURI
        ("!$&'()*+,;=:@", False),  # RFC 3986: a path segment
        ("!$&'()*+,;=:", False),  # RFC 3986: userinfo
        ("/", False),  # Python's quote by default
        ("/", True),
    ],
)
def test_a_password_encoded_with_another_safe_set_is_hidden(safe: str, plus: bool) -> None:
    """Percent-encoding leaves different characters alone in JavaScript, in each part of a URI
    and in Python's defaults: the password is found encoded each way."""
    encoded = (quote_plus if plus else quote)(URI_PASSWORD, safe=safe)
    assert encoded not in (URI_PASSWORD, quote(URI_PASSWORD, safe=""))
    assert (
        secrets_of(URI_PASSWORD).scrub(f"Location: /x?p={encoded} end") == "Location: /x?p=*** end"
    )


def test_a_password_in_capitals_or_small_letters_is_hidden() -> None:
    """A server that changes the case of what it echoes (an HSTS note in capitals) still shows
    ***; the twin, another password with the same letters, is left alone."""
    hidden = secrets_of("MixedCase-Pw1 é")
    assert hidden.scrub("NOTE: MIXEDCASE-PW1 É; mixedcase-pw1 é") == "NOTE: ***; ***"
    assert hidden.scrub("p=MIXEDCASE-PW1%20%C3%89&q=mixedcase-pw1%20%c3%a9") == "p=***&q=***"
    assert hidden.scrub("MixedCase-Pw2") == "MixedCase-Pw2"


def test_a_password_given_encoded_is_found_decoded_and_with_blanks_collapsed() -> None:
    """A password set encoded (password_env holding "a%20b") is found decoded too, and one with a
    run of blanks is found as a tidied message shows it ("a b")."""
    assert secrets_of("Tw0%20Words").scrub("Tw0 Words / Tw0%20Words") == "*** / ***"
    assert secrets_of("wide   gap!").scrub("libpq: wide gap! refused") == "libpq: *** refused"


@pytest.mark.parametrize(
    ("changes", "url", "hidden"),
    [
        ({}, "postgresql://db/app?sslpassword=Key-Phrase-1", "Key-Phrase-1"),
        ({}, "postgresql://db/app?password=Pq-Secret-2", "Pq-Secret-2"),
        ({}, "host=db sslpassword=Key-Phrase-3", "Key-Phrase-3"),
        ({"client_key_password": "Key-Pass-4"}, "https://h/", "Key-Pass-4"),
    ],
)
def test_every_secret_of_a_target(changes: dict[str, str], url: str, hidden: str) -> None:
    """Secret libpq parameters (URI or keyword string) and a client key's passphrase count."""
    target = dataclasses.replace(parse_target(url), **changes)
    assert Secrets.of(target).scrub(f"x {hidden} y") == "x *** y"


def test_pgpassword_is_a_secret_of_postgresql_targets_only() -> None:
    """libpq reads PGPASSWORD when the target has none: hidden for postgresql://, and (the
    twin) not a secret of an HTTPS target, whose text it cannot reach."""
    env = {"PGPASSWORD": "From-The-Env"}
    postgres = Secrets.of(parse_target("postgresql://u@db/app"), env)
    https = Secrets.of(parse_target("https://h/"), env)
    assert postgres.scrub("From-The-Env") == "***"
    assert https.scrub("From-The-Env") == "From-The-Env"


def test_no_secret_no_change() -> None:
    """A target without secrets changes nothing, however the text looks."""
    text = "220 mail ESMTP *** password AHByb2Jl https://u@h/"
    assert Secrets.of(parse_target("smtp://u@h")).scrub(text) == text


@pytest.mark.parametrize(
    ("password", "text", "shown"),
    [
        ("p", "https://u:p@h/ https, help, p.", "https://u:***@h/ https, help, ***."),
        ("pw", "AUTH PLAIN pw pwd", "AUTH PLAIN *** pwd"),
        ("tls", "tls.handshake", "***.handshake"),
    ],
)
def test_short_secrets(password: str, text: str, shown: str) -> None:
    """One or two characters are hidden only where they stand alone (inside words they tell
    nothing and hiding them would wreck every text); three and more everywhere."""
    assert secrets_of(password).scrub(text) == shown


@pytest.mark.parametrize(
    ("password", "text", "shown"),
    [
        # Overlapping and repeated occurrences become one mark.
        ("abab", "xabababx", "x***x"),
        # A replacement does not create a match: "*" is hidden, the marks it leaves are not.
        ("*", "a * b *** c", "a *** b *** c"),
        # Base64 holding a secret is hidden as a whole run.
        ("*ss", "KnNzss", "***"),
        # The secret "*zz" would read out of "***" + "zz" once its encoded form is replaced.
        ("*zz", "%2Azzzz", "***"),
        # A short secret left standing alone by a neighbouring replacement (AUTH PLAIN's).
        ("ab", "AHByb2JlAGFiab", "***"),
    ],
)
def test_replacements_never_make_new_matches(password: str, text: str, shown: str) -> None:
    """Matches are found in the original text, and the marks are re-checked against secrets
    that could be read across them."""
    assert secrets_of(password).scrub(text) == shown


@st.composite
def secret_and_text(draw: st.DrawFn) -> tuple[str, str]:
    """A secret, and a text made of its forms and of characters its forms are made of."""
    password = draw(st.text(alphabet="ab*:% ", min_size=1, max_size=5))
    forms = secrets_of(password).forms
    junk = st.text(alphabet="ab*:%2AaF= x", max_size=4)
    return password, "".join(draw(st.lists(st.sampled_from(forms) | junk, max_size=8)))


@given(secret_and_text())
@settings(max_examples=300)
def test_no_form_survives_a_scrub(case: tuple[str, str]) -> None:
    """For any secret and any text made of its forms, no form is left showing after the scrub,
    and the scrub ends (an alphabet where marks and secrets meet)."""
    password, text = case
    hidden = secrets_of(password)
    shown = hidden.scrub(text)
    assert [f for f in hidden.forms if shows(f, shown)] == []


def shows(form: str, text: str) -> bool:
    """Whether `text` shows `form` as the scrub promises not to: anywhere from three characters
    on, standing alone when shorter. A form of "*" only cannot be told from the marks here (the
    examples above cover it)."""
    if not form.strip("*"):
        return False
    if len(form) >= SHORTEST_ANYWHERE:
        return form in text
    starts = [i for i in range(len(text)) if text.startswith(form, i)]
    edges = [text[i - 1 : i] + text[i + len(form) : i + len(form) + 1] for i in starts]
    return any(not re.search("[A-Za-z0-9]", edge) for edge in edges)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("host=db password=S3 user=x", "host=db password=*** user=x"),
        ("sslpassword='a b' x", "sslpassword=*** x"),
        ("PASSWORD=z", "PASSWORD=***"),
        ('in URI: "postgresql://u:S3@[db/x"', 'in URI: "postgresql://u:***@[db/x"'),
        ("smtp://alerts:p@ss@mail:25", "smtp://alerts:***@mail:25"),
    ],
)
def test_structure_hides_passwords_it_was_not_told(text: str, shown: str) -> None:
    """Keyword values and URL userinfo passwords are hidden without knowing the secret (a
    password from ~/.pgpass quoted by libpq, a malformed request to the exporter)."""
    assert scrub_structure(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://db/app?password=***&sslmode=require",
        "https://host:8443/path https://[::1]:443/ smtp://u@h:587",
        "check the password (in the target, PGPASSWORD or ~/.pgpass)",
        "set sslpassword (?sslpassword= in a URL, sslpassword= in a keyword string)",
    ],
)
def test_structure_leaves_the_rest_alone(text: str) -> None:
    """The twin: ports, hosts, a redacted URL's other parameters and prose are untouched."""
    assert scrub_structure(text) == text


_PIECES = st.sampled_from(
    ["password", "PassWord", "sslpassword", "oauth_client_secret", "SCRAM_SERVER_KEY", "key",
     "pa\u017fsword", "\u212aey", "=", "'", " ", "&", "://", "smtp", "u:p", "@", "O=x,", "é", "a"]
)  # fmt: skip


@given(st.lists(_PIECES | st.characters(), max_size=12).map("".join))
@example("x pa\u017fsword=1")  # what (?i) finds beyond ASCII: a long s,
@example("scram_client_\u212aey=2")  # a Kelvin sign
@example("see smtp://u:p@h and u@h")
def test_structure_tests_before_searching_change_nothing(text: str) -> None:
    """The cheap tests before each search (a keyword ending and "=" in an ASCII text, "://" and
    "@") skip only texts the searches leave alone: the same as searching every text."""
    from tlsprobe import secrets

    searched = secrets._KEYWORD_VALUE.sub(secrets._keep_key, text)
    searched = secrets._USERINFO_PASSWORD.sub(secrets._keep_user, searched)
    assert scrub_structure(text) == searched


# Every character, lone surrogates (as a non-UTF-8 environment gives them) often. Joined from
# lists: st.text() drops surrogates whatever its alphabet can draw (hypothesis 6.170).
EVERY_CHARACTER = st.characters(exclude_categories=()) | st.sampled_from("\udc80\udcff\ud800")


def any_text(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    return st.lists(EVERY_CHARACTER, min_size=min_size, max_size=max_size).map("".join)


@given(any_text(min_size=1), any_text(max_size=5))
@settings(max_examples=200)
def test_any_password_is_hidden(password: str, user: str) -> None:
    """Any password (lone surrogates from a non-UTF-8 environment included) and any user name:
    working out the forms never fails, and the password as given is hidden."""
    target = dataclasses.replace(parse_target("smtp://h"), user=user, password=password)
    assert Secrets.of(target).scrub(password) == "***"
