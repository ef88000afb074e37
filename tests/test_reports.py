"""Unit tests for the reports (report/): pure functions of hand-built results."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from tlsprobe import __version__
from tlsprobe.model import CertInfo, Check, Status, TargetResult, TlsInfo
from tlsprobe.report import (
    FORMATS,
    RunInfo,
    json_report,
    junit,
    markdown,
    prometheus,
    render,
    summary,
    table,
)

INFO = RunInfo(started_at=dt.datetime(2026, 11, 23, 21, tzinfo=dt.UTC), elapsed_s=1.23456)
CERT = CertInfo(
    subject="CN=web.lab.test",
    issuer="CN=Lab Intermediate",
    not_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    not_after=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    sha256="ab" * 32,
    key="EC P-256",
    signature="ecdsa-with-SHA256",
    san=("web.lab.test", "127.0.0.1"),
)
TLS = TlsInfo(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", alpn="h2", chain=(CERT,))


def result(name: str, *checks: Check, tls: TlsInfo | None = TLS, **kw: object) -> TargetResult:
    return TargetResult(
        name=name,
        target=f"https://{name}.lab.test/",
        protocol="https",
        host=f"{name}.lab.test",
        port=443,
        source="command line",
        checks=checks,
        elapsed_ms=12.5,
        tls=tls,
        **kw,  # type: ignore[arg-type]
    )


GOOD = result(
    "web",
    Check("connect", Status.PASS, "connected in 1 ms"),
    Check("tls.version", Status.PASS, "TLSv1.3"),
    Check("http.status", Status.PASS, "200 OK"),
    transcript=("C: GET / HTTP/1.1", "S: HTTP/1.1 200 OK"),
)
WARNED = result(
    "nohsts",
    Check("connect", Status.PASS, "connected"),
    Check("http.hsts", Status.WARN, "no Strict-Transport-Security header", "send HSTS"),
    transcript=("S: HTTP/1.1 200 OK (no hsts)",),
)
FAILED = result(
    "expired",
    Check("connect", Status.PASS, "connected"),
    Check("cert.expiry", Status.FAIL, "leaf expired 3 days ago", "renew the certificate"),
    Check("cert.hostname", Status.SKIP, "not run: skipped-detail-marker"),
    tls=None,
    transcript=("C: ClientHello", "S: alert-marker"),
)
RESULTS = (GOOD, WARNED, FAILED)


def parsed(results: tuple[TargetResult, ...], info: RunInfo = INFO) -> dict[str, object]:
    document = json.loads(json_report.render(results, info))
    assert isinstance(document, dict)
    return document


def test_json_header_and_summary() -> None:
    """The JSON document has schema tlsprobe/1, the version, the run info and right counts."""
    document = parsed(RESULTS)
    assert document["schema"] == "tlsprobe/1"
    assert document["tlsprobe_version"] == __version__
    assert document["started_at"] == "2026-11-23T21:00:00Z"
    assert document["elapsed_s"] == 1.235
    assert document["summary"] == {"targets": 3, "pass": 1, "warn": 1, "fail": 1}


@pytest.mark.parametrize("order", [RESULTS, RESULTS[::-1]])
def test_json_results_in_given_order(order: tuple[TargetResult, ...]) -> None:
    """Results come out in the order given, whichever that is."""
    results = parsed(order)["results"]
    assert isinstance(results, list)
    assert [r["name"] for r in results] == [r.name for r in order]


def test_json_result_fields() -> None:
    """A result carries its status, checks in order, TLS chain and transcript."""
    good, _, failed = parsed(RESULTS)["results"]  # type: ignore[misc]
    assert (good["status"], good["port"], good["target"]) == ("pass", 443, "https://web.lab.test/")
    assert good["checks"][1] == {
        "id": "tls.version",
        "status": "pass",
        "detail": "TLSv1.3",
        "hint": "",
    }
    assert good["tls"]["version"] == "TLSv1.3"
    assert good["tls"]["chain"][0]["san"] == ["web.lab.test", "127.0.0.1"]
    assert good["tls"]["chain"][0]["key"] == "EC P-256"
    assert good["transcript"] == ["C: GET / HTTP/1.1", "S: HTTP/1.1 200 OK"]
    assert failed["status"] == "fail"
    assert failed["tls"] is None
    assert [c["status"] for c in failed["checks"]] == ["pass", "fail", "skip"]


def test_json_empty_run() -> None:
    """An empty run is still a valid document with zero counts."""
    document = parsed(())
    assert document["summary"] == {"targets": 0, "pass": 0, "warn": 0, "fail": 0}
    assert document["results"] == []


def test_summary_counts_worst_status() -> None:
    """summary() counts each target once, by its worst check; skip alone counts as fail."""
    skipped = result("skipped", Check("connect", Status.SKIP, "not run"))
    passing_with_skip = result(
        "p", Check("connect", Status.PASS), Check("cert.chain", Status.SKIP, "not run")
    )
    assert summary([*RESULTS, skipped, passing_with_skip]) == {
        "targets": 5,
        "pass": 2,
        "warn": 1,
        "fail": 2,
    }


def test_table_names_every_target_and_summary() -> None:
    """The table lists every target, its result word and the summary line."""
    text = table.render(RESULTS, INFO, color=False)
    for name in ("web", "nohsts", "expired"):
        assert name in text
    for word in ("PASS", "WARN", "FAIL"):
        assert word in text
    assert "3 targets: 1 pass, 1 warn, 1 fail in 1.23 s" in text


def test_table_problems_list_fail_and_warn_with_hints() -> None:
    """The problem section lists failing and warning checks with detail and hint."""
    text = table.render(RESULTS, INFO, color=False)
    assert "cert.expiry: leaf expired 3 days ago" in text
    assert "hint: renew the certificate" in text
    assert "http.hsts: no Strict-Transport-Security header" in text
    assert "hint: send HSTS" in text
    assert "expired  (command line)" in text


def test_table_problems_omit_pass_and_skip() -> None:
    """Passing and skipped checks are not listed as problems."""
    text = table.render(RESULTS, INFO, color=False)
    assert "skipped-detail-marker" not in text
    assert "cert.hostname:" not in text
    assert "connected in 1 ms" not in text
    assert "web  (command line)" not in text


def test_table_all_pass_has_no_problem_section() -> None:
    """With only passing targets there is no problem section at all."""
    text = table.render((GOOD,), INFO, color=False)
    assert "hint:" not in text
    assert "1 targets: 1 pass, 0 warn, 0 fail" in text


def test_table_without_color_has_no_ansi() -> None:
    """color=False output has no ANSI escape sequences."""
    assert "\x1b[" not in table.render(RESULTS, INFO, color=False)


def test_table_with_color_has_ansi() -> None:
    """The twin: color=True output is coloured."""
    assert "\x1b[" in table.render(RESULTS, INFO, color=True)


def test_verbosity_0_shows_no_transcripts() -> None:
    """Without -v no transcript is printed."""
    text = table.render(RESULTS, INFO, color=False)
    assert "transcript:" not in text
    assert "alert-marker" not in text


def test_verbosity_1_shows_failing_transcripts_only() -> None:
    """-v prints the transcript of a failing target and not that of a passing one."""
    text = table.render(
        (GOOD, FAILED),
        replace(INFO, verbosity=1),
        color=False,
    )
    assert "transcript: expired" in text
    assert "S: alert-marker" in text
    assert "transcript: web" not in text
    assert "GET / HTTP/1.1" not in text


def test_verbosity_2_shows_all_transcripts() -> None:
    """-vv prints every target's transcript."""
    text = table.render(
        RESULTS,
        replace(INFO, verbosity=2),
        color=False,
    )
    for name in ("web", "nohsts", "expired"):
        assert f"transcript: {name}" in text
    assert "C: GET / HTTP/1.1" in text


def test_interrupted_run_is_flagged() -> None:
    """An interrupted run says so in the table and in JSON; a complete one does not."""
    info = replace(INFO, interrupted=True)
    assert "interrupted" in table.render(RESULTS, info, color=False)
    assert "interrupted" not in table.render(RESULTS, INFO, color=False)
    assert parsed(RESULTS, info)["interrupted"] is True
    assert parsed(RESULTS)["interrupted"] is False


def test_unknown_check_id_gets_a_column_last() -> None:
    """A check id the table does not know still gets a column, after the known ones."""
    custom = result("custom", Check("http.status", Status.PASS), Check("x.extra", Status.PASS))
    assert table.columns([custom]) == ["http.status", "x.extra"]
    assert "extra" in table.render((custom,), INFO, color=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_dispatches_by_format(fmt: str) -> None:
    """render() picks the renderer by format name and gives the same text as calling it."""
    direct = {
        "table": table.render,
        "json": json_report.render,
        "junit": junit.render,
        "markdown": markdown.render,
        "prometheus": prometheus.render,
    }[fmt]
    assert render(fmt, RESULTS, INFO, color=False) == direct(RESULTS, INFO, False)


def test_render_unknown_format_raises() -> None:
    """The twin: an unknown format is a programming error, not silent output."""
    with pytest.raises(KeyError):
        render("yaml", RESULTS, INFO, color=False)
