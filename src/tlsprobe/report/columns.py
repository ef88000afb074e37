"""Which checks become columns, in what order, under what heading: shared by the table and the
Markdown report, and free of rich so that Markdown alone stays cheap to import. The order and
the titles are the catalogue's (model.CHECKS)."""

from __future__ import annotations

from collections.abc import Sequence

from tlsprobe.model import CHECKS, TargetResult


def columns(results: Sequence[TargetResult]) -> list[str]:
    """The check ids the results have, in catalogue order; an id the catalogue does not know
    goes last, in order of appearance."""
    seen: list[str] = []
    for result in results:
        seen.extend(c.id for c in result.checks if c.id not in seen)
    known = [c for c in CHECKS if c in seen]
    return known + [c for c in seen if c not in CHECKS]


def title(check_id: str) -> str:
    spec = CHECKS.get(check_id)
    return spec.title if spec is not None else check_id


def header(check_id: str, others: Sequence[str] = ()) -> str:
    """The check's title, unless another column would then read the same (smtp.login and
    pg.login): then the full id."""
    short = title(check_id)
    clash = any(o != check_id and title(o) == short for o in others)
    return check_id if clash else short
