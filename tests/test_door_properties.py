"""Property-based tests of the door: whatever the text of a target or of a configuration file
(URLs, keyword strings, tlsprobe.toml, airflow.cfg, connection exports in JSON, YAML and .env,
AIRFLOW_CONN_* values), the outcome is a valid Target or a UsageError of one printable line;
never another exception. And through tlsprobe's main(): exit 0, or exit 2 with one stderr line."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsprobe.cli import main
from tlsprobe.failures import UsageError
from tlsprobe.sources import airflow, config, connections
from tlsprobe.targets import Target, parse_target, supported_schemes
from tlsprobe.targets.hosts import field_host

# too_slow only: the recursive strategies (nested exports, tables) take up to ~35 ms per example
# here, and with other test runs on the 2 cores the first examples can pass hypothesis's 1 s
# budget for them; a slow draw costs seconds, not a missed case. Every other check stays on.
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Files and main() cost a temporary directory or a parser build per example: fewer of them.
FILES = settings(PROPERTY, max_examples=60)

# --- what a valid outcome is -----------------------------------------------------------------


def assert_valid(target: Target) -> None:
    """A Target whose host and port meet the door's rules, shown on one printable line."""
    assert target.protocol in supported_schemes()
    assert 0 < target.port < 65536
    assert field_host(target.host) == target.host  # valid, and already in its final form
    if target.connect_host is not None:
        assert field_host(target.connect_host) == target.connect_host
    assert target.display.isprintable()
    assert target.label.isprintable()


def outcome(make: Callable[[], list[Target]]) -> list[Target] | str:
    """The targets `make` returns, each checked valid, or its UsageError's message checked to
    be one printable line. Any other exception fails the test."""
    try:
        targets = make()
    except UsageError as exc:
        message = str(exc)
        assert message.isprintable(), message  # no line break, no escape sequence
        return message
    for target in targets:
        assert_valid(target)
    return targets


# --- URL and keyword text --------------------------------------------------------------------

SCHEMES = ["https", "http", "smtp", "smtps", "postgresql", "postgres", "postgresql+psycopg2"]
HOSTS = [
    "h",
    "db.example",
    "Example.COM.",
    "bücher.example",
    "127.0.0.1",
    "127.1",
    "0x7f000001",
    "256.1.1.1",
    "[::1]",
    "[::1]]",
    "[::1]x",
    "[v1.fe]",
    "[fe80::1%25eth0]",
    "::1",
    "a,b",
    "%2Ftmp",
    "exa mple",
    "",
]
PIECES = st.text(st.sampled_from(list("aZ09:/?#@&=%+[].-_ '\\²٣é\t\x1b")), max_size=8)


@st.composite
def url_texts(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from([*SCHEMES, "ftp", "HTTPS", ""]))
    userinfo = draw(st.sampled_from(["", "u@", "u:pw@", "a@b:c@"])) or draw(PIECES)
    host = draw(st.sampled_from(HOSTS)) if draw(st.booleans()) else draw(PIECES)
    port = draw(st.sampled_from(["", ":443", ":0", ":65536", ":²", ":", ":x"]))
    rest = draw(st.sampled_from(["", "/", "/db", "/?sslmode=require", "#connect=10.0.0.1"]))
    return f"{scheme}://{userinfo}{host}{port}{rest}{draw(PIECES)}"


@st.composite
def keyword_texts(draw: st.DrawFn) -> str:
    keys = st.sampled_from(["host", "port", "password", "hostaddr", "dbname", "passWord", "x"])
    pairs = [
        f"{draw(keys)}={draw(st.sampled_from([*HOSTS, '5432', '²', '']))}{draw(PIECES)}"
        for _ in range(draw(st.integers(1, 4)))
    ]
    return " ".join(pairs)


# st.text never draws a lone surrogate, which a command line decoded with surrogateescape holds.
SURROGATE_TEXT = st.lists(
    st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), max_size=40
).map("".join)
ANY_TEXT = st.one_of(url_texts(), keyword_texts(), st.text(max_size=40), SURROGATE_TEXT)


@PROPERTY
@given(ANY_TEXT)
def test_any_text_is_a_valid_target_or_one_line(text: str) -> None:
    """URLs, keyword strings and any text: a valid Target or a one-line UsageError."""
    outcome(lambda: [parse_target(text)])


# --- configuration files ---------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=12),
    ANY_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = ["conn_type", "host", "port", "login", "password", "schema", "extra"]
CONN_TYPES = st.sampled_from(["postgres", "postgresql", "smtp", "email", "http", "https", "aws"])


@st.composite
def connection_entries(draw: st.DrawFn) -> Any:
    """An export's entry: mostly fields of the right names, with values of any shape."""
    entry: dict[str, Any] = {"conn_type": draw(CONN_TYPES), "host": draw(st.sampled_from(HOSTS))}
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        entry[field] = draw(VALUES)
    if draw(st.booleans()):
        entry["extra"] = json.dumps(draw(VALUES))
    return draw(st.sampled_from([entry, draw(VALUES), draw(ANY_TEXT)]))


EXPORTS = st.dictionaries(st.text(max_size=8), connection_entries(), max_size=3)


def read_export(name: str, text: str) -> list[Target]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return connections.from_file(path).targets


@FILES
@given(EXPORTS, st.text(max_size=20))
def test_json_export_is_targets_or_one_line(entries: dict[str, Any], junk: str) -> None:
    """A JSON connections export, well formed or with text appended."""
    text = json.dumps(entries)
    outcome(lambda: read_export("c.json", text))
    outcome(lambda: read_export("c.json", text[: len(text) // 2] + junk))


@FILES
@given(EXPORTS, st.text(max_size=20))
def test_yaml_export_is_targets_or_one_line(entries: dict[str, Any], junk: str) -> None:
    """A YAML connections export, well formed or with text appended."""
    text = yaml.safe_dump(entries, allow_unicode=True)
    outcome(lambda: read_export("c.yaml", text))
    outcome(lambda: read_export("c.yaml", text + junk))


@FILES
@given(st.lists(st.tuples(st.text(max_size=6), st.one_of(ANY_TEXT, VALUES.map(json.dumps)))))
def test_env_export_is_targets_or_one_line(lines: list[tuple[str, str]]) -> None:
    """A .env export of id=URI or id=JSON lines."""
    text = "\n".join(f"{key}={value}" for key, value in lines)
    outcome(lambda: read_export("c.env", text))


@PROPERTY
@given(st.dictionaries(st.text(max_size=6), st.one_of(ANY_TEXT, VALUES.map(json.dumps))))
def test_airflow_conn_variables_are_targets_or_one_line(values: dict[str, str]) -> None:
    """AIRFLOW_CONN_* values: URIs, JSON of any shape, any text."""
    env = {f"AIRFLOW_CONN_{key}": value for key, value in values.items()}
    outcome(lambda: connections.from_environment(env).targets)


def toml_value(value: Any) -> str:
    """`value` written as TOML (JSON's string escapes are TOML's; None has no TOML form)."""
    if value is None or isinstance(value, str):
        return json.dumps(value or "")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and abs(value) == float("inf"):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


TARGET_KEYS = st.one_of(st.sampled_from([*config.TARGET_KEYS, "url", "url"]), st.text(max_size=4))


@FILES
@given(
    st.lists(st.dictionaries(TARGET_KEYS, st.one_of(ANY_TEXT, VALUES), max_size=4), max_size=3),
    st.dictionaries(
        st.one_of(st.sampled_from([*config.DEFAULT_KEYS]), st.text(max_size=4)), VALUES, max_size=2
    ),
    st.text(max_size=10),
)
def test_tlsprobe_toml_is_targets_or_one_line(
    targets: list[dict[str, Any]], defaults: dict[str, Any], junk: str
) -> None:
    """A tlsprobe.toml of any [defaults] and [[targets]], well formed or not."""
    lines = ["[defaults]", *(f"{json.dumps(k)} = {toml_value(v)}" for k, v in defaults.items())]
    for table in targets:
        lines += ["[[targets]]", *(f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items())]
    text = "\n".join(lines) + "\n" + junk
    env = {"P": "pw", "K": "kp"}

    def load() -> list[Target]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tlsprobe.toml"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            return config.load(path, env).targets

    outcome(load)


CFG_KEYS = st.sampled_from(
    [
        ("database", "sql_alchemy_conn"),
        ("core", "sql_alchemy_conn"),
        ("webserver", "base_url"),
        ("webserver", "web_server_ssl_cert"),
        ("webserver", "web_server_host"),
        ("webserver", "web_server_port"),
        ("api", "base_url"),
        ("smtp", "smtp_host"),
        ("smtp", "smtp_port"),
        ("smtp", "smtp_user"),
        ("smtp", "smtp_password"),
        ("smtp", "smtp_ssl"),
        ("email", "ssl_context"),
    ]
)
ONE_LINE = st.one_of(ANY_TEXT, st.sampled_from(HOSTS)).map(lambda s: " ".join(s.splitlines()))


@FILES
@given(st.dictionaries(CFG_KEYS, ONE_LINE, max_size=5), st.text(max_size=10))
def test_airflow_cfg_is_targets_or_one_line(
    settings_: dict[tuple[str, str], str], junk: str
) -> None:
    """An airflow.cfg with any values for the settings tlsprobe reads."""
    sections: dict[str, list[str]] = {}
    for (section, key), value in settings_.items():
        sections.setdefault(section, []).append(f"{key} = {value}")
    text = "".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items()) + junk

    def read() -> list[Target]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "airflow.cfg"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            return airflow.read(path, {}).targets

    outcome(read)


# --- through the command line ----------------------------------------------------------------


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


@FILES
@given(ANY_TEXT)
def test_main_exits_0_or_2_with_one_line(text: str) -> None:
    """`tlsprobe targets TEXT` in-process: exit 0, or exit 2 and exactly one stderr line."""
    code, err = run(["targets", "--", text])  # "--": a text may start with "-"
    assert code in (0, 2)
    if code == 2:
        assert len(err.splitlines()) == 1, err
        assert err.startswith("tlsprobe: ")


@FILES
@given(EXPORTS)
def test_main_with_an_export_exits_0_or_2_with_one_line(entries: dict[str, Any]) -> None:
    """`tlsprobe targets --airflow-connections FILE` in-process, for any JSON export."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.json"
        path.write_text(json.dumps(entries))
        code, err = run(["targets", "--airflow-connections", str(path)])
    assert code in (0, 2)
    if code == 2:
        assert len(err.splitlines()) == 1, err
