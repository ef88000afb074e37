"""The command line's standard streams: a closed descriptor, a message with a line break or an
ESC in it, and `tlsprobe targets` through a slow non-blocking pipe. Real processes, real pipes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

CLOSED = {"stdin": "<&-", "stderr": "2>&-", "stdout": ">&-"}


@pytest.fixture(scope="module")
def refused() -> Iterator[str]:
    """A target that fails at once: a port bound and not listening."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        yield f"https://127.0.0.1:{closed.getsockname()[1]}/"


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GITHUB_"))}


def with_closed(stream: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m tlsprobe ARGS` started with one of its standard descriptors closed."""
    shell = f'exec "$@" {CLOSED[stream]}'
    command = ["sh", "-c", shell, "sh", sys.executable, "-m", "tlsprobe", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=environment(), timeout=60, check=False
    )


@pytest.mark.parametrize("stream", ["stdin", "stderr"])
def test_a_closed_stdin_or_stderr_still_gives_the_verdict(stream: str, refused: str) -> None:
    """With stdin or stderr closed the run probes and reports (uvloop aborted the whole process
    when a socket got a standard descriptor's number)."""
    done = with_closed(stream, "check", "--timeout", "3", "--format", "json", refused)
    assert done.returncode == 1
    assert '"status": "fail"' in done.stdout
    assert "Assertion" not in done.stderr


@pytest.mark.parametrize("command", ["check", "targets"])
def test_a_closed_stdout_is_exit_2_with_one_line(command: str, refused: str) -> None:
    """With stdout closed and no -o there is nowhere to write: exit 2 and one line, nothing
    probed (not a report written into a socket, nor a traceback)."""
    done = with_closed("stdout", command, refused)
    assert done.returncode == 2
    assert done.stderr == "tlsprobe: standard output is closed: nowhere to write (give -o FILE)\n"


def test_a_closed_stdout_with_an_output_file_writes_the_file(
    refused: str, tmp_path: os.PathLike[str]
) -> None:
    """The twin: with -o the closed stdout is not needed; the report goes to the file."""
    report = os.path.join(tmp_path, "report.json")
    done = with_closed(
        "stdout", "check", "--timeout", "3", "--format", "json", "-o", report, refused
    )
    assert done.returncode == 1
    with open(report, encoding="utf-8") as written:
        assert '"status": "fail"' in written.read()


def test_a_message_with_a_line_break_and_an_escape_is_one_visible_line(refused: str) -> None:
    """A path with a line break and an ESC in it (named in the error) is shown visibly, on one
    line: the terminal is not cleared and a log reader sees one message."""
    done = subprocess.run(
        [sys.executable, "-m", "tlsprobe", "check", "-o", "/nonexist/a\nb\x1b[2J", refused],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "tlsprobe: -o /nonexist/a\\nb\\x1b[2J: no such directory /nonexist\n"


def test_targets_listing_reaches_a_slow_non_blocking_pipe_whole(refused: str) -> None:
    """`tlsprobe targets` of many URLs through a pipe that is already O_NONBLOCK, read slowly,
    arrives whole (print() lost all but what the pipe held)."""
    urls = [f"{refused}p{n}/{'x' * 400}" for n in range(400)]
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    env = environment() | {"PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tlsprobe", "targets", *urls]
    with subprocess.Popen(command, stdout=write_end, stderr=subprocess.PIPE, env=env) as process:
        os.close(write_end)
        time.sleep(0.5)  # let the writer fill the pipe and meet EAGAIN
        with open(read_end, "rb") as reader:
            data = reader.read()
        assert process.stderr is not None
        errors = process.stderr.read()
    assert (process.returncode, errors) == (0, b"")
    lines = data.decode().splitlines()
    assert [line.split("\t")[1] for line in lines] == urls
