"""The command line end to end: exit codes, bad input, output files, and interruption."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import interruptible
from tlsprobe import runner
from tlsprobe.cli import main
from tlsprobe.lab import Lab
from tlsprobe.model import Check, Policy, Status, TargetResult
from tlsprobe.probes.base import ProbeState, run_probe
from tlsprobe.probes.smtp import steps
from tlsprobe.targets import Target, parse_target


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tlsprobe", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["check", "not-a-url"], "'not-a-url': not a URL"),
        (["check", "ftp://host"], "unknown scheme 'ftp://'"),
        (["check", "https://host:70000/"], "port must be a number"),
        (["check", "https://"], "no host name"),
        (["check", "https://h/#bogus=1"], "unknown option #bogus"),
        (["check", "--timeout", "0", "https://h"], "--timeout"),
        (["check", "--ca-file", "/nonexistent.pem", "https://h"], "/nonexistent.pem: no such file"),
        (["check"], "no targets"),
        (["check", "--format", "xml", "https://h"], "--format"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], named: str) -> None:
    """Bad input gives exit 2 and exactly one stderr line naming it, with nothing probed."""
    done = run_cli(*argv)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert named in lines[0]
    assert "Traceback" not in done.stderr


def test_ca_file_that_is_not_pem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --ca-file that holds no certificate is a usage error, not a failed probe."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert main(["check", "--ca-file", str(junk), "https://h"]) == 2
    assert "not a PEM file of CA certificates" in capsys.readouterr().err


def test_refused_port_fails_connect_quickly() -> None:
    """A closed port fails `connect` (exit 1) right away, well inside the deadline."""
    done = run_cli("check", "--format", "json", "https://127.0.0.1:1")
    assert done.returncode == 1
    result = json.loads(done.stdout)["results"][0]
    assert result["checks"][0] == {
        "id": "connect",
        "status": "fail",
        "detail": "127.0.0.1 port 1: connection refused (nothing listens on that port)",
        "hint": "check the port, and that the service is running",
    }
    assert result["elapsed_ms"] < 2000


def test_exit_codes_follow_the_worst_status(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0 for pass, 0 for a warning, 1 for a warning with --strict, 1 for a failure."""
    ca = ["--ca-file", str(lab.ca_file), "--format", "json"]
    assert main(["check", *ca, lab.url("https-good")]) == 0
    assert main(["check", *ca, lab.url("https-no-hsts")]) == 0
    assert main(["check", *ca, "--strict", lab.url("https-no-hsts")]) == 1
    assert main(["check", *ca, lab.url("https-503")]) == 1
    capsys.readouterr()


def test_json_document(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON output follows schema tlsprobe/1 with results in the order given."""
    urls = [lab.url("https-expired"), lab.url("https-good")]
    assert main(["check", "--format", "json", "--ca-file", str(lab.ca_file), *urls]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "tlsprobe/1"
    assert document["summary"] == {"targets": 2, "pass": 1, "warn": 0, "fail": 1}
    assert [r["target"] for r in document["results"]] == urls
    expired = document["results"][0]
    assert expired["status"] == "fail"
    assert expired["tls"]["chain"][0]["san"] == ["localhost", "127.0.0.1", "::1"]


def test_output_file(lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o writes the report to the file and nothing to stdout."""
    out = tmp_path / "report.txt"
    assert (
        main(["check", "--ca-file", str(lab.ca_file), "-o", str(out), lab.url("https-good")]) == 0
    )
    assert capsys.readouterr().out == ""
    text = out.read_text()
    assert "https-good" not in text  # command-line targets are named by their URL
    assert lab.url("https-good") in text
    assert "1 targets: 1 pass, 0 warn, 0 fail" in text
    assert "\x1b[" not in text


def test_table_lists_problems_with_hints(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The table names each failing check with its detail and hint, and -v adds the transcript."""
    main(["check", "-v", "--ca-file", str(lab.ca_file), lab.url("https-incomplete-chain")])
    out = capsys.readouterr().out
    assert "✗ cert.chain: the server sends only its leaf certificate" in out
    assert "hint: the server does not send its intermediate" in out
    assert "transcript:" in out
    assert "TLS ClientHello" in out


def test_ctrl_c_prints_finished_results(lab: Lab) -> None:
    """Ctrl-C prints the targets finished so far and exits 130, with no traceback."""
    process = subprocess.Popen(
        interruptible(
            "-m",
            "tlsprobe",
            "check",
            "--format",
            "json",
            "--timeout",
            "30",
            "--ca-file",
            str(lab.ca_file),
            lab.url("https-good"),
            lab.url("https-silent"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Traceback" not in err
    document = json.loads(out)
    assert document["interrupted"] is True
    assert [r["target"] for r in document["results"]] == [lab.url("https-good")]


def test_output_to_a_device_writes_through(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """-o /dev/null writes into the device instead of renaming a file over it."""
    argv = ["check", "--ca-file", str(lab.ca_file), "-o", "/dev/null", lab.url("https-good")]
    assert main(argv) == 0
    assert Path("/dev/null").is_char_device()
    capsys.readouterr()


def test_output_file_is_readable_by_others(lab: Lab, tmp_path: Path) -> None:
    """An -o file gets the usual permissions (a textfile collector runs as another user)."""
    out = tmp_path / "tlsprobe.prom"
    assert (
        main(["check", "--ca-file", str(lab.ca_file), "-o", str(out), lab.url("https-good")]) == 0
    )
    assert out.stat().st_mode & 0o044 == 0o044


# --- the runner's safety net: probes that break their own contract (no server can make them) --

STALL_STEP = steps.HANDSHAKE_AFTER_STARTTLS


async def _stalling_probe(target: Target, policy: Policy, *, stubborn: bool) -> TargetResult:
    """A probe stuck in STALL_STEP; `stubborn` ignores the cancellation its deadline sends."""

    async def body(state: ProbeState) -> None:
        state.enter(STALL_STEP)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            if not stubborn:
                raise
            await asyncio.sleep(60)

    return await run_probe(target, policy, ("connect", "tls.handshake"), body)


def _probe_with(monkeypatch: pytest.MonkeyPatch, fake: object) -> TargetResult:
    monkeypatch.setattr(runner, "probe_for", lambda protocol: fake)
    monkeypatch.setattr(runner, "SAFETY_GRACE_S", 0.2)
    target = parse_target("smtp://127.0.0.1:1")
    return asyncio.run(runner.probe_one(target, Policy(timeout=0.2)))


def test_overrunning_probe_is_named_with_its_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe that overruns its deadline fails the check of the step it was in, saying that
    the probe itself overran (not that the connection failed)."""

    async def stubborn(target: Target, policy: Policy) -> TargetResult:
        return await _stalling_probe(target, policy, stubborn=True)

    result = _probe_with(monkeypatch, stubborn)
    assert result.checks == (
        Check(
            "tls.handshake",
            Status.FAIL,
            "the probe itself overran: it did not end within its deadline of 0.2 s (nor 0.2 s"
            " of grace after it); it was in step tls.handshake/starttls",
            "this is a tlsprobe bug, not a server verdict: please report it with -v output",
        ),
    )


def test_probe_that_keeps_its_deadline_gives_its_own_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The good twin: a probe stalled in the same step ends on time with the stall's own words."""

    async def polite(target: Target, policy: Policy) -> TargetResult:
        return await _stalling_probe(target, policy, stubborn=False)

    check = _probe_with(monkeypatch, polite).check("tls.handshake")
    assert check is not None
    assert check.detail == (
        "the server answered 220 to STARTTLS, then sent no TLS ServerHello within 0.2 s"
    )


def test_crashing_probe_names_its_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe that raises past its own boundary fails the check of the step it was in."""

    async def crashing(target: Target, policy: Policy) -> TargetResult:
        ProbeState(target, policy, ("connect", "http.status")).enter("http.status")
        raise ValueError("boom")

    (check,) = _probe_with(monkeypatch, crashing).checks
    assert (check.id, check.detail) == (
        "http.status",
        "the probe itself crashed: unexpected error: ValueError: boom; it was in step http.status",
    )


def test_crash_before_any_step_blames_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: a probe that crashes before recording a step fails "connect", and says so."""

    async def crashing(target: Target, policy: Policy) -> TargetResult:
        raise ValueError("boom")

    (check,) = _probe_with(monkeypatch, crashing).checks
    assert (check.id, check.detail) == (
        "connect",
        "the probe itself crashed: unexpected error: ValueError: boom; it recorded no step",
    )


def test_reader_that_leaves_early_gets_no_traceback(lab: Lab) -> None:
    """`tlsprobe check ... | head` with the reader gone: exit 141, nothing on stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tlsprobe", "check", "--ca-file", str(lab.ca_file),
         "--format", "json", lab.url("https-good")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    process.stdout.close()  # the reader leaves before a byte is written
    _, err = process.communicate(timeout=30)
    assert process.returncode == 141
    assert err == b""
