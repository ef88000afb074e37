"""Where a report goes and what the run exits with: standard output or a file written atomically,
the GitHub job summary, and the exit codes."""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tlsprobe.failures import UsageError
from tlsprobe.model import Status, TargetResult
from tlsprobe.report import RunInfo

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shell tools exit when their reader goes away


def say(line: str) -> None:
    """One line on stderr, "tlsprobe: " first: every message of the command line goes here, so a
    path, a value or a server's word with a line break or an ESC in it stays one visible line."""
    from tlsprobe.escaping import visible

    print(f"tlsprobe: {visible(line)}", file=sys.stderr, flush=True)


def standard_descriptors() -> bool:
    """Descriptors 0, 1 and 2 open, /dev/null standing in for a closed one; True when standard
    output was closed (`tlsprobe check URL >&-`). Why: the next socket would otherwise get a
    standard descriptor's number, and uvloop aborts the whole process on that (an assertion in
    libuv), and a report or a message would be written into a socket."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
    if 2 in closed or sys.stderr is None:
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    if 1 in closed or sys.stdout is None:
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    return 1 in closed


def exit_code(results: Sequence[TargetResult], *, strict: bool) -> int:
    statuses = {r.status for r in results}
    if Status.FAIL in statuses or (strict and Status.WARN in statuses):
        return EXIT_FAILED
    return EXIT_OK


def check_output(output: Path | None) -> None:
    """Before probing: a report that cannot be written must not cost a whole run first."""
    if output is None or (output.exists() and not output.is_dir() and not output.is_file()):
        return  # stdout, or a device or FIFO, written in place
    if output.is_dir():
        raise UsageError(f"-o {output}: is a directory (give a file name)")
    directory = output.resolve().parent
    if not directory.is_dir():
        raise UsageError(f"-o {output}: no such directory {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"-o {output}: cannot write in {directory} (permission denied)")


def write_report(text: str, output: Path | None) -> None:
    """Every byte of the report to standard output or `-o FILE`, or an exception:
    BrokenPipeError when the reader left (exit 141), UsageError naming where for any other
    failed write (exit 2)."""
    if output is None:
        _to_stdout(text)
        return
    try:
        if output.exists() and not output.is_file():
            # /dev/null, a FIFO, /dev/stdout: renaming over them would replace the device itself.
            with output.open("wb") as stream:
                write_all(stream.fileno(), text.encode())
        else:
            _replace_atomically(text, output)
    except BrokenPipeError:
        raise
    except OSError as exc:  # named as the user wrote it, not as the temporary file
        raise UsageError(f"-o {output}: cannot write the report ({exc.strerror or exc})") from None


def _to_stdout(text: str) -> None:
    """The report in stdout's own encoding (PYTHONIOENCODING), at its file descriptor."""
    stream = sys.stdout
    try:
        fd = stream.fileno()
    except (AttributeError, OSError):  # not a file (a test's capture, say): nothing to mend
        stream.write(text)
        stream.flush()
        return
    # A character the encoding lacks (PYTHONIOENCODING=ascii and the table's marks) is shown
    # as "?", not a traceback; an error handler given with the encoding is kept.
    errors = stream.errors if stream.errors not in (None, "strict") else "replace"
    flush_stdout()  # what print() left in the buffer goes first
    try:
        write_all(fd, text.encode(stream.encoding or "utf-8", errors))
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()
        reason = exc.strerror or str(exc)
        raise UsageError(f"cannot write the report to standard output ({reason})") from None


def flush_stdout() -> None:
    """What print() left in stdout's buffer, written now: a failure is one line from main,
    not a message from the interpreter's final flush at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()
        raise UsageError(f"cannot write to standard output ({exc.strerror or exc})") from None


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`, or raise.

    Python's unbuffered text layer (PYTHONUNBUFFERED=1) makes one write() per call and drops
    whatever that write() did not take, and a write() to a pipe can take less than it was
    given: a blocking one returns short when the process is interrupted while it waits for the
    reader (on Linux 6 the first such write after uvloop's libuv has closed its io_uring ring
    takes only what the pipe holds, 64 KiB, with no signal delivered), and one on a descriptor
    someone made non-blocking takes what fits and then fails with EAGAIN. So the report is
    written here, at the descriptor, until all of it is."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            _wait_writable(fd)
            continue
        view = view[written:]


def _wait_writable(fd: int) -> None:
    """Until the reader makes room (or goes away: the next write then says EPIPE)."""
    poller = select.poll()  # not select.select: it cannot watch descriptors above 1023
    poller.register(fd, select.POLLOUT)
    poller.poll()


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is left in its
    buffer cannot fail a second time with a message after ours."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError):
        pass  # no stdout file descriptor: nothing will be flushed to one
    finally:
        os.close(devnull)


def _replace_atomically(text: str, output: Path) -> None:
    """A reader (a textfile collector, a CI step) never sees half a report."""
    import tempfile  # only for -o FILE: `tlsprobe --help` does not pay for it

    with tempfile.NamedTemporaryFile(
        "wb", dir=output.resolve().parent, delete=False, suffix=".tmp"
    ) as tmp:
        try:
            write_all(tmp.fileno(), text.encode())
        except OSError:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp.name, 0o666 & ~umask)  # a temporary file is 0600; readers need the usual
        os.replace(tmp.name, output)
    except OSError:
        Path(tmp.name).unlink(missing_ok=True)
        raise


def append_step_summary(
    results: Sequence[TargetResult], info: RunInfo, env: Mapping[str, str]
) -> None:
    """In GitHub Actions, add the Markdown report to the job's summary page, whatever --format."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from tlsprobe.report import markdown

    try:
        with open(path, "ab") as summary_file:
            write_all(summary_file.fileno(), (markdown.render(results, info) + "\n").encode())
    except OSError as exc:  # a lost summary must not turn a passing check red
        say(f"warning: cannot append to $GITHUB_STEP_SUMMARY: {exc.strerror or exc}")
