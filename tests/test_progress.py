"""The progress bar: when it shows (a terminal, outside CI, 4+ targets) and what it counts."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tlsprobe.cli import main, progress
from tlsprobe.lab import Lab
from tlsprobe.model import Check, Status, TargetResult


def result(name: str, status: Status) -> TargetResult:
    return TargetResult(
        name, f"https://{name}/", "https", name, 443, "test", (Check("connect", status),), 1.0
    )


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("targets", "stream", "env", "disabled", "shown"),
    [
        (4, Tty(), {}, False, True),
        (3, Tty(), {}, False, False),
        (4, io.StringIO(), {}, False, False),
        (4, Tty(), {"CI": "true"}, False, False),
        (4, Tty(), {"TERM": "dumb"}, False, False),
        (4, Tty(), {}, True, False),
    ],
)
def test_progress_rule(
    targets: int, stream: io.StringIO, env: dict[str, str], disabled: bool, shown: bool
) -> None:
    """The bar shows for 4+ targets on a terminal outside CI, and never otherwise."""
    assert progress.wanted(targets, stream, env, disabled=disabled) is shown


def test_progress_bar_counts_results() -> None:
    """The bar advances once per result and counts failures."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80)
    with progress.bar(2, console) as advance:
        advance(result("a", Status.PASS))
        advance(result("b", Status.FAIL))
    assert "2/2" in buffer.getvalue()
    assert "1 failed" in buffer.getvalue()


def test_no_progress_in_a_pipe(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The twin: with stderr not a terminal, four targets print no bar at all."""
    urls = [lab.url(n) for n in ("https-good", "https-h2", "https-tls12-only", "https-tls13-only")]
    assert main(["check", "--format", "json", "--ca-file", str(lab.ca_file), *urls]) == 0
    assert capsys.readouterr().err == ""
