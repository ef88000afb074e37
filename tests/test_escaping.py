"""Server bytes never reach the terminal raw: `visible` writes out control and invisible format
characters, and a real mail server and web server that answer with ESC, NUL, C1 controls and a
bidi override show up in every report as `\\x1b`, `\\x00`, `\\x9b`, `\\u202e`, never as the
characters themselves. Reports that escape for their own syntax (Markdown, JUnit's XML) still
render the text once, not twice."""

from __future__ import annotations

import contextlib
import io
import json
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostile import Hostile
from tlsprobe.cli import main
from tlsprobe.escaping import HIDDEN_CATEGORIES, visible
from tlsprobe.report import FORMATS


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("a\x00b", "a\\x00b"),
        ("tab\there", "tab\\there"),
        ("one\r\ntwo", "one\\r\\ntwo"),
        ("del\x7f", "del\\x7f"),
        ("csi\x9b2J nel\x85", "csi\\x9b2J nel\\x85"),
        ("\u202edesrever", "\\u202edesrever"),
        ("\u2066isolate\u2069", "\\u2066isolate\\u2069"),
        ("zero\u200bwidth\u200d", "zero\\u200bwidth\\u200d"),
        ("\ufeffbom", "\\ufeffbom"),
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("soft\xadhyphen", "soft\\xadhyphen"),
    ],
)
def test_controls_and_invisible_characters_are_written_out(raw: str, shown: str) -> None:
    """Each control or invisible format character is shown as Python would write it."""
    assert visible(raw) == shown


@pytest.mark.parametrize(
    "text",
    [
        "plain ASCII: 220 mail.example ESMTP [ok] ~!@#$%^&*()_+ \\x1b as typed",
        "Zürich, 東京, Ελλάδα, مرحبا, emoji 😀, a combining é, a ⚠️ mark",
        "C:\\airflow\\airflow.cfg",
    ],
)
def test_printable_text_is_left_alone(text: str) -> None:
    """The twin: printable text of any script, backslashes included, passes unchanged."""
    assert visible(text) == text


@given(st.text())
def test_nothing_hidden_survives(text: str) -> None:
    """For any text, the result holds no character of a hidden category, and showing it again
    changes nothing (the visible forms are themselves printable)."""
    shown = visible(text)
    assert not [c for c in shown if unicodedata.category(c) in HIDDEN_CATEGORIES]
    assert visible(shown) == shown


# --- a real server that sends ESC, NUL and a bidi override ---------------------------------------

ALLOWED = {"\n"}  # a report's own line ends


def raw_controls(text: str) -> set[str]:
    return {c for c in text if unicodedata.category(c) in HIDDEN_CATEGORIES} - ALLOWED


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    with Hostile(tmp_path_factory.mktemp("nasty")) as servers:
        yield servers


@pytest.fixture(scope="module")
def reports(hostile: Hostile, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every format at -vv (and the table at -v) for the two nasty servers, with stderr."""
    workdir = tmp_path_factory.mktemp("nasty-reports")
    urls = [hostile.url("smtp-nasty"), hostile.url("https-nasty")]
    found: dict[str, str] = {}
    for fmt, verbosity in [*((f, "-vv") for f in FORMATS), ("table", "-v")]:
        out = workdir / f"{fmt}{verbosity}"
        err = io.StringIO()
        argv = ["check", verbosity, "--format", fmt, "-o", str(out), "--ca-file"]
        with contextlib.redirect_stderr(err):
            code = main([*argv, str(hostile.ca_file), "--timeout", "10", *urls])
        assert code == 1
        found[f"{fmt} {verbosity}"] = Path(out).read_text()
        found[f"{fmt} {verbosity} stderr"] = err.getvalue()
    return found


def test_no_report_holds_a_raw_control_character(reports: dict[str, str]) -> None:
    """No format, at -v or -vv, nor stderr, holds ESC, NUL, BEL, C1 or a bidi override raw."""
    assert {name: raw_controls(text) for name, text in reports.items() if raw_controls(text)} == {}


@pytest.mark.parametrize("report", ["table -vv", "table -v", "junit -vv", "markdown -vv"])
def test_the_visible_forms_are_there(reports: dict[str, str], report: str) -> None:
    """The server's ESC, BEL, NUL and bidi override (SMTP) and its C1 CSI (an HTTP Location)
    are there, written out."""
    text = reports[report]
    for form in ("\\x1b", "\\x07", "\\x00", "\\u202e", "\\x9b2J"):
        assert form in text, (report, form)


def test_json_carries_the_visible_forms_once(reports: dict[str, str]) -> None:
    """JSON holds the written-out text as a value (its own encoder escapes the backslash), not
    the control characters as \\u001b escapes."""
    results = json.loads(reports["json -vv"])["results"]
    smtp = next(r for r in results if r["protocol"] == "smtp")
    starttls = next(c for c in smtp["checks"] if c["id"] == "smtp.starttls")
    assert starttls["detail"].endswith(
        "no TLS today \\x1b]0;pwned\\x07 \\x1b[2J\\x00 \\u202edesrever"
    )
    assert "\\u001b" not in reports["json -vv"]


def test_junit_renders_the_text_once(reports: dict[str, str]) -> None:
    """JUnit's XML cleaning finds nothing left to replace (no U+FFFD) and the failure message
    reads as the written-out text, not escaped twice."""
    root = ET.fromstring(reports["junit -vv"].split("\n", 2)[2])
    failure = next(el for el in root.iter("failure") if el.attrib["type"] == "smtp.starttls")
    assert failure.attrib["message"].endswith("\\x1b]0;pwned\\x07 \\x1b[2J\\x00 \\u202edesrever")
    assert "\ufffd" not in reports["junit -vv"]


def test_markdown_escapes_the_written_out_text_for_markdown_only(reports: dict[str, str]) -> None:
    """Markdown escapes the backslashes and brackets of the written-out text once, so that it
    renders as `\\x1b]0;pwned`; in the fenced transcript it stands as it is."""
    text = reports["markdown -vv"]
    assert "no TLS today \\\\x1b\\]0;pwned\\\\x07 \\\\x1b\\[2J\\\\x00 \\\\u202edesrever" in text
    assert "S: 220 hostile.test ESMTP \\x1b]0;pwned\\x07 \\x1b[2J\\x00 \\u202edesrever" in text
