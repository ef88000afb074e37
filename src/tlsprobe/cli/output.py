"""Where a report goes and what the run exits with: standard output or a file written atomically,
the GitHub job summary, and the exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tlsprobe.failures import UsageError
from tlsprobe.model import Status, TargetResult
from tlsprobe.report import RunInfo

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shell tools exit when their reader goes away


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
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    if output.exists() and not output.is_file():
        # /dev/null, a FIFO, /dev/stdout: renaming over them would replace the device itself.
        with output.open("w", encoding="utf-8") as stream:
            stream.write(text)
        return
    try:
        _replace_atomically(text, output)
    except OSError as exc:  # named as the user wrote it, not as the temporary file
        raise UsageError(f"-o {output}: cannot write the report ({exc.strerror or exc})") from None


def _replace_atomically(text: str, output: Path) -> None:
    """A reader (a textfile collector, a CI step) never sees half a report."""
    import tempfile  # only for -o FILE: `tlsprobe --help` does not pay for it

    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=output.resolve().parent, delete=False, suffix=".tmp"
    ) as tmp:
        tmp.write(text)
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
        with open(path, "a", encoding="utf-8") as summary_file:
            summary_file.write(markdown.render(results, info) + "\n")
    except OSError as exc:  # a lost summary must not turn a passing check red
        print(
            f"tlsprobe: warning: cannot append to $GITHUB_STEP_SUMMARY: {exc.strerror or exc}",
            file=sys.stderr,
        )
