"""--format table: a matrix (targets by checks) with coloured marks, then every problem with
its detail and hint, then the transcripts asked for with -v."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tlsprobe.model import Check, Status, TargetResult
from tlsprobe.report import RunInfo, summary, trust_line
from tlsprobe.report.columns import columns, header

MARKS = {
    Status.PASS: ("✓", "bold green"),
    Status.WARN: ("!", "bold yellow"),
    Status.FAIL: ("✗", "bold red"),
    Status.SKIP: ("·", "dim"),
}
WORDS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def mark(check: Check | None) -> Text:
    if check is None:
        return Text("")
    symbol, style = MARKS[check.status]
    return Text(symbol, style=style)


FAMILIES = {"https": "HTTPS", "http": "HTTPS", "smtp": "SMTP", "smtps": "SMTP"}


def by_family(results: Sequence[TargetResult]) -> list[tuple[str, list[TargetResult]]]:
    """One matrix per protocol family: HTTPS, SMTP and PostgreSQL share few columns, and one
    table with all of them is too wide to read. Order within a family is the given order."""
    groups: dict[str, list[TargetResult]] = {}
    for result in results:
        family = FAMILIES.get(result.protocol, "PostgreSQL")
        groups.setdefault(family, []).append(result)
    return list(groups.items())


def matrix(results: Sequence[TargetResult], title: str | None = None) -> Table:
    ids = columns(results)
    table = Table(show_lines=False, header_style="bold", pad_edge=False, title=title)
    table.add_column("target", overflow="fold")
    for check_id in ids:
        table.add_column(header(check_id, ids), justify="center")
    table.add_column("result", justify="left")
    for result in results:
        symbol, style = MARKS[result.status]
        row = [Text(result.name)] + [mark(result.check(i)) for i in ids]
        row.append(Text(f"{symbol} {WORDS[result.status]}", style=style))
        table.add_row(*row)
    return table


def problems(results: Sequence[TargetResult]) -> list[Text]:
    lines: list[Text] = []
    for result in results:
        bad = [c for c in result.checks if c.status in (Status.FAIL, Status.WARN)]
        if not bad:
            continue
        lines.append(Text(f"{result.name}  ({result.source})", style="bold"))
        if (trust := trust_line(result)) is not None:
            lines.append(Text(f"  {trust}", style="dim"))
        for check in bad:
            symbol, style = MARKS[check.status]
            line = Text(f"  {symbol} {check.id}: ", style=style)
            line.append(check.detail, style="")
            lines.append(line)
            if check.hint:
                lines.append(Text(f"      hint: {check.hint}", style="cyan"))
    return lines


def transcripts(results: Sequence[TargetResult], verbosity: int) -> list[Text]:
    lines: list[Text] = []
    for result in results:
        wanted = verbosity >= 2 or (verbosity == 1 and result.status is Status.FAIL)
        if not wanted or not result.transcript:
            continue
        lines.append(Text(f"transcript: {result.name}", style="bold"))
        lines.extend(Text(f"  {line}", style="dim") for line in result.transcript)
    return lines


def summary_line(results: Sequence[TargetResult], info: RunInfo) -> Text:
    counts = summary(results)
    text = Text(f"{counts['targets']} targets: ")
    text.append(f"{counts['pass']} pass", style="green")
    text.append(", ")
    text.append(f"{counts['warn']} warn", style="yellow")
    text.append(", ")
    text.append(f"{counts['fail']} fail", style="red")
    text.append(f" in {info.elapsed_s:.2f} s")
    if info.interrupted:
        text.append("  (interrupted: only the targets finished so far)", style="bold yellow")
    return text


def render(results: Sequence[TargetResult], info: RunInfo, color: bool = False) -> str:
    buffer = io.StringIO()
    groups = by_family(results)
    widest = max((len(columns(g)) for _, g in groups), default=0)
    width = max(80, widest * 13 + 60)
    console = Console(
        file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False
    )
    for title, group in groups:
        console.print(matrix(group, title if len(groups) > 1 else None))
    for block in (problems(results), transcripts(results, info.verbosity)):
        if block:
            console.print()
            for line in block:
                console.print(line, overflow="fold")
    console.print()
    console.print(summary_line(results, info))
    return buffer.getvalue()
