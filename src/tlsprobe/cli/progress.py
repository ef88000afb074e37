"""A progress bar on stderr while many targets are probed, for a person at a terminal only.

The rule, simple enough to state in one line: shown when there are at least MIN_TARGETS (4)
targets, stderr is a terminal, neither $CI nor `--no-progress` is set, and $TERM is not "dumb".
The bar is transient (erased when the run ends) and the report is written only after that, so it
never mixes with a table printed to the same terminal; pipes and CI logs never see it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, TextIO

from tlsprobe.model import Status, TargetResult

if TYPE_CHECKING:  # rich is imported only when a bar is shown: it costs 40 ms at start-up
    from rich.console import Console

MIN_TARGETS = 4
OnResult = Callable[[TargetResult], None]


def wanted(targets: int, stream: TextIO, env: Mapping[str, str], *, disabled: bool) -> bool:
    """Whether to show the bar: many targets, a terminal on `stream`, not CI, not disabled."""
    if disabled or targets < MIN_TARGETS or "CI" in env or env.get("TERM") == "dumb":
        return False
    return stream.isatty()


@contextlib.contextmanager
def bar(total: int, console: Console) -> Iterator[OnResult]:
    """A transient bar of `total` targets; the yielded callback advances it by one result."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("probing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("probing", total=total, failed=0)
    failed = 0

    def advance(result: TargetResult) -> None:
        nonlocal failed
        failed += result.status is Status.FAIL
        progress.update(task, advance=1, failed=failed)

    with progress:
        yield advance


@contextlib.contextmanager
def maybe(total: int, *, show: bool, stream: TextIO) -> Iterator[OnResult | None]:
    """The bar's callback when `show`, else None (the runner then reports nothing)."""
    if not show:
        yield None
        return
    from rich.console import Console

    with bar(total, Console(file=stream)) as advance:
        yield advance
