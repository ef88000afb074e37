"""Every byte of a report arrives: the real command line writing a large report to a pipe read
slowly, to a pipe whose reader leaves, to a full device, to a FIFO and to files, under the
PYTHON* variables containers and CI set."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tlsprobe.cli.output import write_all

TARGETS = 300
CHUNK = 4096
PAUSE_S = 0.005  # between the reader's small reads: slower than tlsprobe writes
FULL = "No space left on device"


@pytest.fixture(scope="module")
def urls() -> Iterator[list[str]]:
    """Hundreds of targets that fail at once: a port bound and not listening refuses every
    connection, and stays ours (no other process can take it) while the socket is open."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        yield [f"https://127.0.0.1:{port}/p{n}" for n in range(TARGETS)]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tlsprobe", "check", "--timeout", "5", *args]


def environment(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GITHUB_"))}
    env |= {k: v for k, v in changes.items() if v is not None}
    return env


def read_slowly(stream: IO[bytes]) -> bytes:
    """A reader slower than the writer: small reads with a pause between them."""
    got = bytearray()
    while chunk := stream.read1(CHUNK):  # type: ignore[attr-defined]
        got += chunk
        time.sleep(PAUSE_S)
    return bytes(got)


def assert_whole(data: bytes, urls: list[str]) -> None:
    """The JSON report parses and has every target, in order."""
    report: dict[str, Any] = json.loads(data)
    assert [r["target"] for r in report["results"]] == urls
    assert report["summary"]["fail"] == len(urls)


@pytest.mark.parametrize(
    "changes",
    [
        {"PYTHONUNBUFFERED": "1"},
        {},
        {"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "latin-1"},
        {"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "ascii"},
    ],
    ids=["unbuffered", "buffered", "unbuffered-latin1", "unbuffered-ascii"],
)
def test_large_report_read_slowly_arrives_whole(urls: list[str], changes: dict[str, str]) -> None:
    """A 300-target JSON report through a pipe read slowly arrives whole, whatever the PYTHON*
    variables: before, with PYTHONUNBUFFERED=1, uvloop's first write after its loop closed
    returned short and the unbuffered text layer dropped the rest (65,536 bytes arrived)."""
    with subprocess.Popen(
        command("--format", "json", *urls),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(**changes),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        data = read_slowly(process.stdout)
        errors = process.stderr.read()
    assert errors == b""
    assert process.returncode == 1
    assert_whole(data, urls)


def test_non_blocking_pipe_gets_every_byte(urls: list[str]) -> None:
    """The same through a pipe whose write end is already O_NONBLOCK (as a descriptor another
    program shares may be): the report waits for the reader instead of failing with EAGAIN."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    with subprocess.Popen(
        command("--format", "json", *urls),
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=environment(PYTHONUNBUFFERED="1"),
    ) as process:
        os.close(write_end)
        with open(read_end, "rb") as reader:
            data = read_slowly(reader)
        assert process.stderr is not None
        errors = process.stderr.read()
    assert errors == b""
    assert process.returncode == 1
    assert_whole(data, urls)


@pytest.mark.parametrize("unbuffered", ["1", None])
def test_reader_that_leaves_gives_141_quietly(urls: list[str], unbuffered: str | None) -> None:
    """`| head -c 100`: the reader takes 100 bytes of a report far larger than the pipe holds
    and leaves; tlsprobe exits 141 and says nothing on stderr."""
    with subprocess.Popen(
        command("--format", "json", *urls),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(PYTHONUNBUFFERED=unbuffered),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        head = process.stdout.read(100)
        process.stdout.close()
        errors = process.stderr.read()
    assert head.startswith(b"{")
    assert errors == b""
    assert process.returncode == 141


def run(
    *args: str, stdout: Any = subprocess.PIPE, **changes: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(**changes),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("unbuffered", ["1", None])
def test_full_device_is_exit_2_with_one_line(urls: list[str], unbuffered: str | None) -> None:
    """`> /dev/full`: a write that truly fails is exit 2 and exactly one line on stderr (no
    second complaint from the interpreter's final flush)."""
    with open("/dev/full", "wb") as full:
        done = run("--format", "json", urls[0], stdout=full, PYTHONUNBUFFERED=unbuffered or "")
    assert done.returncode == 2
    assert done.stderr == f"tlsprobe: cannot write the report to standard output ({FULL})\n"


def test_output_file_on_full_device_is_exit_2_with_one_line(urls: list[str]) -> None:
    """`-o /dev/full`: exit 2, one line naming the -o argument."""
    done = run("--format", "json", "-o", "/dev/full", urls[0])
    assert done.returncode == 2
    assert done.stderr == f"tlsprobe: -o /dev/full: cannot write the report ({FULL})\n"


def test_output_file_and_fifo_get_the_whole_report(urls: list[str], tmp_path: Path) -> None:
    """`-o FILE` (replaced atomically) and `-o FIFO` (written in place, read slowly) each get
    the whole large report under PYTHONUNBUFFERED=1, and stdout stays empty."""
    report = tmp_path / "report.json"
    done = run("--format", "json", "-o", str(report), *urls, PYTHONUNBUFFERED="1")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")
    assert_whole(report.read_bytes(), urls)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read_fifo() -> None:
        with fifo.open("rb") as stream:
            got.append(read_slowly(stream))

    reader = threading.Thread(target=read_fifo)
    reader.start()
    done = run("--format", "json", "-o", str(fifo), *urls, PYTHONUNBUFFERED="1")
    reader.join(timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")
    assert_whole(got[0], urls)


def test_step_summary_append(urls: list[str], tmp_path: Path) -> None:
    """$GITHUB_STEP_SUMMARY gets the whole Markdown report appended after what it held; on a
    full device it is one warning and the exit code stays the run's."""
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    done = run("--format", "json", *urls, GITHUB_STEP_SUMMARY=str(summary))
    assert done.returncode == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert all(url in text for url in urls)
    assert_whole(done.stdout.encode(), urls)
    done = run("--format", "json", urls[0], GITHUB_STEP_SUMMARY="/dev/full")
    assert done.returncode == 1
    assert done.stderr == f"tlsprobe: warning: cannot append to $GITHUB_STEP_SUMMARY: {FULL}\n"


def test_ascii_stdout_shows_marks_as_question_marks(urls: list[str]) -> None:
    """PYTHONIOENCODING=ascii: the table arrives with "?" for marks it cannot encode instead
    of a UnicodeEncodeError traceback; with UTF-8 (the twin) the marks are there."""
    ascii_table = run(urls[0], PYTHONIOENCODING="ascii")
    utf8_table = run(urls[0], PYTHONIOENCODING="utf-8")
    assert (ascii_table.returncode, ascii_table.stderr) == (1, "")
    assert urls[0] in ascii_table.stdout
    assert "✗" not in ascii_table.stdout
    assert "? FAIL" in ascii_table.stdout
    assert (utf8_table.returncode, utf8_table.stderr) == (1, "")
    assert "✗ FAIL" in utf8_table.stdout


def test_write_all_waits_for_a_slow_reader_on_a_non_blocking_pipe() -> None:
    """write_all on its own: a megabyte into a non-blocking pipe (64 KiB) read slowly by a
    thread arrives byte for byte."""
    data = os.urandom(1 << 20)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    got: list[bytes] = []
    with open(read_end, "rb") as reader:
        thread = threading.Thread(target=lambda: got.append(read_slowly(reader)))
        thread.start()
        try:
            write_all(write_end, data)
        finally:
            os.close(write_end)
        thread.join(timeout=60)
    assert got == [data]


def test_write_all_raises_broken_pipe_when_the_reader_is_gone() -> None:
    """The twin: with no reader left, write_all raises BrokenPipeError (main's exit 141)
    instead of waiting forever."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    os.close(read_end)
    try:
        with pytest.raises(BrokenPipeError):
            write_all(write_end, b"x" * (1 << 20))
    finally:
        os.close(write_end)
