"""--format markdown: the matrix as a GitHub-flavoured table, then every failing or warning check
with its detail and hint, then the transcripts of failed targets folded in <details>.

Made for pull-request comments and GitHub's job summary (the command line also appends it to
$GITHUB_STEP_SUMMARY). Marks: ✅ pass, ⚠️ warn, ❌ fail, ⏭️ skip; an empty cell is a check the
target does not have. Text from servers is escaped so that it cannot break the table or inject
markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from tlsprobe.model import Check, Status, TargetResult, utc_text
from tlsprobe.report import RunInfo, summary, trust_line
from tlsprobe.report.columns import columns, header

MARKS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.SKIP: "⏭️"}
# Characters that start Markdown constructs inline; HTML is escaped separately.
_MARKUP = re.compile(r"([\\`*_\[\]|~#!])")


def escape(text: str) -> str:
    """Inline text that renders as itself: one line, no markup, no HTML, no table breaks."""
    one_line = " ".join(text.split())
    return _MARKUP.sub(r"\\\1", html.escape(one_line, quote=False))


def cell(check: Check | None) -> str:
    return MARKS[check.status] if check is not None else ""


def headers(ids: Sequence[str]) -> list[str]:
    """Short column names (as the table's), but the full id where two would read the same."""
    return [header(i, ids) for i in ids]


def matrix(results: Sequence[TargetResult]) -> list[str]:
    ids = columns(results)
    lines = [
        "| target | " + " | ".join(headers(ids)) + " | result |",
        "|:--|" + ":-:|" * len(ids) + ":--|",
    ]
    for r in results:
        cells = [escape(r.name), *(cell(r.check(i)) for i in ids)]
        cells.append(f"{MARKS[r.status]} {r.status.value}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def problems(results: Sequence[TargetResult]) -> list[str]:
    lines: list[str] = []
    for r in results:
        bad = [c for c in r.checks if c.status in (Status.FAIL, Status.WARN)]
        if not bad:
            continue
        lines.append(f"- **{escape(r.name)}** ({escape(r.source)})")
        if (trust := trust_line(r)) is not None:
            lines.append(f"  - {escape(trust)}")
        for check in bad:
            lines.append(f"  - {MARKS[check.status]} `{check.id}`: {escape(check.detail)}")
            if check.hint:
                lines.append(f"    - hint: {escape(check.hint)}")
    return ["### Problems", "", *lines, ""] if lines else []


def fence(lines: Sequence[str]) -> str:
    """A code fence longer than any run of backticks inside, so the block cannot be closed early."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    return "`" * max(3, longest + 1)


def transcripts(results: Sequence[TargetResult], verbosity: int) -> list[str]:
    lines: list[str] = []
    for r in results:
        wanted = r.status is Status.FAIL or verbosity >= 2
        if not wanted or not r.transcript:
            continue
        mark = fence(r.transcript)
        lines += [f"<details><summary>transcript: {html.escape(r.name)}</summary>", ""]
        lines += [f"{mark}text", *r.transcript, mark, "", "</details>", ""]
    return lines


def title(results: Sequence[TargetResult], info: RunInfo) -> str:
    counts = summary(results)
    text = (
        f"## tlsprobe: {counts['targets']} targets, {counts['pass']} pass, "
        f"{counts['warn']} warn, {counts['fail']} fail"
    )
    return text + (" (interrupted: only the targets finished so far)" if info.interrupted else "")


def render(results: Sequence[TargetResult], info: RunInfo, color: bool = False) -> str:
    del color  # Markdown carries its own marks
    lines = [title(results, info), ""]
    if results:
        lines += [*matrix(results), ""]
    lines += problems(results)
    lines += transcripts(results, info.verbosity)
    lines.append(f"<sub>started {utc_text(info.started_at)}, took {info.elapsed_s:.2f} s</sub>")
    return "\n".join(lines) + "\n"
