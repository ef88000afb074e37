"""The README explains everything tlsprobe reads or says: every lab endpoint has its row in the
lab table, every check id of the catalogue is named, and every command-line flag appears."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from tlsprobe.cli.options import build_parser
from tlsprobe.lab import Lab
from tlsprobe.model import CHECKS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def lab_rows() -> set[str]:
    """The endpoint names of the README's lab table (rows that open with a code span)."""
    start = README.index("| endpoint | what is wrong with it |")
    table = README[start : README.index("\n\n", start)]
    return set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE))


def flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option of the parser and of its subcommands."""
    found = {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= flags(sub)
    return found


def test_every_lab_endpoint_has_a_row(lab: Lab) -> None:
    """The lab table lists exactly the lab's endpoints: none missing, none left from before."""
    assert lab_rows() == {e.name for e in lab.endpoints}


def test_every_check_id_is_named() -> None:
    """Every check id of the catalogue appears in the README as code."""
    missing = [check_id for check_id in CHECKS if f"`{check_id}`" not in README]
    assert missing == []


def test_every_flag_is_named() -> None:
    """Every long command-line option appears in the README."""
    missing = sorted(
        flag
        for flag in flags(build_parser())
        if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", README)
    )
    assert missing == []
