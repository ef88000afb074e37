"""JUnit, Markdown and Prometheus reports parsed back, JSON round trip, GITHUB_STEP_SUMMARY, and
no password in any format. Results come from real lab runs, plus hand-built edge cases."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import probe_urls
from tlsprobe.cli import main
from tlsprobe.lab import Lab
from tlsprobe.model import CertInfo, Check, Policy, Status, TargetResult, TlsInfo
from tlsprobe.report import RunInfo, json_report, junit, markdown, prometheus

INFO = RunInfo(started_at=dt.datetime(2026, 11, 23, 21, tzinfo=dt.UTC), elapsed_s=0.5)
NAMES = ("https-good", "https-no-hsts", "https-expired")


@pytest.fixture(scope="module")
def lab_results(lab: Lab) -> list[TargetResult]:
    """A pass, a warn and a fail, probed for real, in that order."""
    return probe_urls([lab.url(n) for n in NAMES], Policy(timeout=3.0, ca_file=lab.ca_file))


def check(lab: Lab, *argv: str) -> int:
    """`tlsprobe check` in-process, trusting the lab's root."""
    return main(["check", "--ca-file", str(lab.ca_file), *argv])


def cert(not_after: str, subject: str = "CN=leaf") -> CertInfo:
    """A certificate's facts, dates given as 2027-01-01T00:00:00Z."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime.fromisoformat(not_after)
    return CertInfo(subject, "CN=ca", start, end, "ab" * 32, "EC", "ecdsa", ())


def hand(name: str, *checks: Check, tls: TlsInfo | None = None, **kw: object) -> TargetResult:
    return TargetResult(
        name=name,
        target=f"https://{name}.test/",
        protocol="https",
        host=f"{name}.test",
        port=443,
        source="command line",
        checks=checks,
        elapsed_ms=250.0,
        tls=tls,
        **kw,  # type: ignore[arg-type]
    )


# --- JUnit ---------------------------------------------------------------------------------------

# junit-10.xsd (Jenkins xunit plugin), written out as rules, plus testcase <properties>.
SUITES_ATTRS = {"name", "time", "tests", "failures", "disabled", "errors"}
SUITE_REQUIRED = {"tests"}
SUITE_CHILDREN = {"testsuite", "properties", "testcase", "system-out", "system-err"}
CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err", "properties"}


def schema_errors(root: ET.Element) -> list[str]:
    """Where a document departs from the JUnit schema (an empty list when it is valid)."""
    errors = [] if root.tag == "testsuites" else [f"root is <{root.tag}>"]
    errors += [f"testsuites@{a}" for a in set(root.attrib) - SUITES_ATTRS]
    for suite in root:
        if suite.tag != "testsuite":
            errors.append(f"{suite.tag} in testsuites")
        errors += [f"testsuite lacks @{a}" for a in SUITE_REQUIRED - set(suite.attrib)]
        for child in suite:
            if child.tag not in SUITE_CHILDREN:
                errors.append(f"<{child.tag}> in testsuite")
            if child.tag == "testcase":
                errors += [f"testcase lacks @{a}" for a in {"name"} - set(child.attrib)]
                errors += [f"<{c.tag}> in testcase" for c in child if c.tag not in CASE_CHILDREN]
            if child.tag == "properties":
                errors += [
                    "property lacks name/value"
                    for p in child
                    if p.tag != "property" or {"name", "value"} - set(p.attrib)
                ]
    return errors


def parse_junit(results: list[TargetResult], info: RunInfo = INFO) -> ET.Element:
    return ET.fromstring(junit.render(results, info).encode("utf-8"))


def test_junit_is_valid_against_the_schema(lab_results: list[TargetResult]) -> None:
    """The lab's pass, warn and fail render to JUnit XML that follows the schema CI tools read."""
    assert schema_errors(parse_junit(lab_results)) == []


def test_schema_check_catches_a_broken_document() -> None:
    """The twin: the schema check is not vacuous; it names what a broken document gets wrong."""
    root = ET.fromstring(
        '<testsuites skipped="1"><testsuite><testcase><x/></testcase></testsuite>'
        "<bogus/></testsuites>"
    )
    errors = schema_errors(root)
    assert {"testsuites@skipped", "testsuite lacks @tests", "testcase lacks @name"} <= set(errors)
    assert "<x> in testcase" in errors
    assert "bogus in testsuites" in errors


def test_junit_suite_per_target_case_per_check(lab_results: list[TargetResult]) -> None:
    """One testsuite per target, one testcase per check, and counts that add up."""
    root = parse_junit(lab_results)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [r.name for r in lab_results]
    for suite, result in zip(suites, lab_results, strict=True):
        assert [c.get("name") for c in suite.findall("testcase")] == [c.id for c in result.checks]
        assert suite.get("tests") == str(len(result.checks))
        assert suite.get("failures") == str(len(suite.findall("testcase/failure")))
        assert {c.get("classname") for c in suite.findall("testcase")} == {result.name}
    assert root.get("tests") == str(sum(len(r.checks) for r in lab_results))
    assert (root.get("failures"), root.get("errors")) == ("1", "0")


def test_junit_failure_has_detail_and_hint(lab_results: list[TargetResult]) -> None:
    """A failing check is a <failure> whose message is the detail and whose text adds the hint."""
    expired = parse_junit(lab_results).findall("testsuite")[2]
    failure = expired.find("testcase[@name='cert.expiry']/failure")
    assert failure is not None
    assert failure.get("type") == "cert.expiry"
    assert (failure.get("message") or "").startswith("leaf expired 3 days ago")
    assert "\nhint: renew" in (failure.text or "")
    assert "C: GET /" in (expired.findtext("system-out") or "")  # a failed target's transcript


def test_junit_passing_target_has_no_failure(lab_results: list[TargetResult]) -> None:
    """The twin: a passing target has bare test cases and no transcript."""
    good = parse_junit(lab_results).findall("testsuite")[0]
    assert good.findall("testcase/*") == []
    assert good.find("system-out") is None


def test_junit_warning_is_a_passing_case_marked_warn(lab_results: list[TargetResult]) -> None:
    """A warning passes, with property tlsprobe.status=warn and its detail in <system-out>."""
    case = parse_junit(lab_results).findall("testsuite")[1].find("testcase[@name='http.hsts']")
    assert case is not None
    assert case.find("failure") is None
    prop = case.find("properties/property")
    assert prop is not None
    assert (prop.get("name"), prop.get("value")) == ("tlsprobe.status", "warn")
    assert (case.findtext("system-out") or "").startswith("WARN http.hsts: no Strict-Transport")


def test_junit_skip_and_control_characters() -> None:
    """A skip is <skipped message>, and bytes XML cannot hold become U+FFFD instead of bad XML."""
    result = hand(
        "odd",
        Check("connect", Status.FAIL, "server said \x00\x1b[31m"),
        Check("tls.handshake", Status.SKIP, "not run: connect failed"),
    )
    suite = parse_junit([result]).find("testsuite")
    assert suite is not None
    assert (suite.get("skipped"), suite.get("failures")) == ("1", "1")
    skipped = suite.find("testcase[@name='tls.handshake']/skipped")
    assert skipped is not None
    assert skipped.get("message") == "not run: connect failed"
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert failure.get("message") == "server said \ufffd\ufffd[31m"


def test_junit_plain_text_is_kept_as_is() -> None:
    """The twin: ordinary text, quotes and angle brackets included, survives unchanged."""
    result = hand("odd", Check("connect", Status.FAIL, 'a <b> & "c"'))
    failure = parse_junit([result]).find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == 'a <b> & "c"'


# --- Prometheus ----------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    parsed = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            parsed[(s.name, frozenset(s.labels.items()))] = s.value
    return parsed


def value(
    parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, /, **labels: str
) -> float:
    return parsed[(metric, frozenset(labels.items()))]


def test_prometheus_success_and_check_status(lab_results: list[TargetResult]) -> None:
    """tlsprobe_success is 1, 1, 0 for pass, warn, fail; tlsprobe_check_severity is 1 for a
    warning, 2 for a failure, and absent for a passed check."""
    parsed = samples(prometheus.render(lab_results, INFO))
    good, nohsts, expired = ({"target": r.target, "name": r.name} for r in lab_results)
    assert value(parsed, "tlsprobe_success", **good, protocol="https") == 1
    assert value(parsed, "tlsprobe_success", **nohsts, protocol="https") == 1
    assert value(parsed, "tlsprobe_success", **expired, protocol="https") == 0
    severities = {
        (dict(labels)["name"], dict(labels)["check"]): found
        for (metric, labels), found in parsed.items()
        if metric == "tlsprobe_check_severity"
    }
    assert severities == {(nohsts["name"], "http.hsts"): 1, (expired["name"], "cert.expiry"): 2}
    assert value(parsed, "tlsprobe_tls_version_info", **good, version="TLSv1.3") == 1
    assert 0 < value(parsed, "tlsprobe_duration_seconds", **good) < 3


def test_prometheus_expiry_of_a_real_expired_leaf(lab_results: list[TargetResult]) -> None:
    """The expired leaf's not-after lies in the past, the good leaf's in the future."""
    parsed = samples(prometheus.render(lab_results, INFO))
    now = dt.datetime.now(dt.UTC).timestamp()
    good, _, expired = ({"target": r.target, "name": r.name} for r in lab_results)
    assert value(parsed, "tlsprobe_cert_not_after_seconds", **expired, cert="leaf") < now
    assert value(parsed, "tlsprobe_cert_not_after_seconds", **good, cert="leaf") > now


def test_prometheus_earliest_expiry_is_the_intermediate() -> None:
    """When the intermediate expires first, the earliest-expiry metric says so, not the leaf."""
    chain = (cert("2028-01-01T00:00:00Z"), cert("2027-01-01T00:00:00Z", "CN=intermediate"))
    result = hand("chain", Check("connect", Status.PASS), tls=TlsInfo("TLSv1.2", "c", None, chain))
    parsed = samples(prometheus.render([result], INFO))
    who = {"target": result.target, "name": "chain"}
    assert value(parsed, "tlsprobe_cert_not_after_seconds", **who, cert="leaf") == 1830297600
    assert value(parsed, "tlsprobe_cert_earliest_not_after_seconds", **who) == 1798761600


def test_prometheus_without_handshake_has_no_tls_samples() -> None:
    """The twin: no handshake, no version or expiry samples; success and duration remain."""
    result = hand("down", Check("connect", Status.FAIL, "refused"))
    names = {name for name, _ in samples(prometheus.render([result], INFO))}
    assert names == {"tlsprobe_success", "tlsprobe_check_severity", "tlsprobe_duration_seconds"}


def test_prometheus_earliest_expiry_of_a_chain() -> None:
    """The earliest not-after of the chain is exported, whichever certificate holds it."""
    chain = [cert("2028-01-01T00:00:00Z"), cert("2027-01-01T00:00:00Z")]
    assert prometheus.earliest_not_after(chain) == 1798761600
    assert prometheus.earliest_not_after([]) is None


def test_prometheus_same_target_twice_is_one_series() -> None:
    """A target given twice is exported once (duplicate series are invalid); two names stay two."""
    one = hand("web", Check("connect", Status.FAIL, "refused"))
    assert len(samples(prometheus.render([one, one], INFO))) == 3
    other = dataclasses.replace(one, name="web-2")
    assert len(samples(prometheus.render([one, other], INFO))) == 6


# --- Markdown ------------------------------------------------------------------------------------


def table_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [line.replace("\\|", "\0").strip("|").split("|") for line in lines]
    return [[c.strip().replace("\0", "|") for c in row] for row in split]


def test_markdown_table_shape(lab_results: list[TargetResult]) -> None:
    """A header, a separator and one row per target, all with the same number of cells."""
    text = markdown.render(lab_results, INFO)
    rows = table_rows(text)
    assert len(rows) == 2 + len(lab_results)
    assert {len(r) for r in rows} == {len(lab_results[0].checks) + 2}
    assert (rows[0][0], rows[0][-1]) == ("target", "result")
    assert [r[-1] for r in rows[2:]] == ["✅ pass", "⚠️ warn", "❌ fail"]
    assert text.startswith("## tlsprobe: 3 targets, 1 pass, 1 warn, 1 fail")


def test_markdown_problems_with_hints(lab_results: list[TargetResult]) -> None:
    """Failures and warnings are listed with detail and hint; the failed transcript is folded."""
    text = markdown.render(lab_results, INFO)
    assert "### Problems" in text
    assert "❌ `cert.expiry`: leaf expired 3 days ago" in text
    assert "⚠️ `http.hsts`: no Strict-Transport-Security header" in text
    assert "    - hint: renew the certificate" in text
    assert f"<details><summary>transcript: {lab_results[2].name}</summary>" in text


def test_markdown_all_pass_has_no_problems(lab_results: list[TargetResult]) -> None:
    """The twin: only passing targets, no problem section and no transcript."""
    text = markdown.render(lab_results[:1], INFO)
    assert "### Problems" not in text
    assert "<details>" not in text


def test_markdown_headers_are_short_unless_ambiguous() -> None:
    """Columns use the short name, and the full check id where two short names would clash."""
    ids = ["cert.chain", "smtp.login", "pg.login"]
    assert markdown.headers(ids) == ["chain", "smtp.login", "pg.login"]


def test_markdown_server_text_cannot_break_the_table() -> None:
    """Pipes, newlines, HTML and backticks from a server stay inside their cell and fence."""
    result = hand(
        "a|b",
        Check("connect", Status.FAIL, "x | y\n<script>", "use `this`"),
        transcript=("S: ``` and ````",),
    )
    text = markdown.render([result], INFO)
    assert {len(r) for r in table_rows(text)} == {3}
    assert "x \\| y &lt;script&gt;" in text
    assert "\n`````text\nS: ``` and ````\n`````\n" in text


# --- JSON, GITHUB_STEP_SUMMARY ------------------------------------------------------------------


def test_json_round_trip(lab_results: list[TargetResult]) -> None:
    """The JSON report of real results parses back to the same statuses and checks."""
    document = json.loads(json_report.render(lab_results, INFO))
    assert [r["status"] for r in document["results"]] == ["pass", "warn", "fail"]
    expected = json.loads(json.dumps(json_report.result_dict(lab_results[2])))
    assert document["results"][2] == expected


def test_step_summary_is_appended(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With GITHUB_STEP_SUMMARY set, the Markdown report is appended there, whatever --format."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "junit.xml"
    assert check(lab, "--format", "junit", "-o", str(out), lab.url("https-expired")) == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n## tlsprobe: 1 targets, 0 pass, 0 warn, 1 fail")
    assert ET.fromstring(out.read_bytes()).tag == "testsuites"


def test_step_summary_untouched_when_unset(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: without GITHUB_STEP_SUMMARY nothing is written besides the report."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert check(lab, "--format", "markdown", lab.url("https-good")) == 0
    assert capsys.readouterr().out.startswith("## tlsprobe: 1 targets, 1 pass")
    assert list(tmp_path.iterdir()) == []


def test_step_summary_unwritable_only_warns(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A summary file that cannot be written is a warning, and the exit code stays the probe's."""
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing-dir" / "summary.md"))
    assert check(lab, "--format", "json", lab.url("https-good")) == 0
    assert "warning: cannot append to $GITHUB_STEP_SUMMARY" in capsys.readouterr().err


# --- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--format", "table", "-vv"],
        ["--format", "json"],
        ["--format", "junit", "-vv"],
        ["--format", "markdown", "-vv"],
        ["--format", "prometheus"],
    ],
)
def test_no_password_in_any_format(
    argv: list[str],
    lab: Lab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A password in a target URL appears in no format, nor in the step summary, nor on stderr;
    the URL itself does appear, as user:***@ (so the check is not vacuous)."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    url = lab.url("https-good").replace("https://", "https://user:Sup3rSecret@")
    assert check(lab, *argv, url) == 0
    captured = capsys.readouterr()
    for text in (captured.out, captured.err, summary.read_text()):
        assert "Sup3rSecret" not in text
    assert "user:***@localhost" in captured.out.replace("\\*", "*")
