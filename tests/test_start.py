"""tlsprobe.start, the console script's entry, and the parser built for the command given: the
start-up work they save must not change what the command line does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tlsprobe.cli.options import build_parser, command_in

COMMANDS = ("check", "targets", "demo", "serve")


def _help(argv: list[str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "tlsprobe", *argv, "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_command_in_finds_the_first_word_that_is_not_an_option() -> None:
    """The command is the first argument without a leading dash; none is None."""
    assert command_in(["check", "--timeout", "3", "https://a.test"]) == "check"
    assert command_in(["--version"]) is None
    assert command_in([]) is None
    assert command_in(["--help", "serve"]) == "serve"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_parser_holds_exactly_the_options_of_the_full_one(command: str) -> None:
    """Built for one command, the parser gives that command the same options, defaults and help
    as the parser built for all; the other commands get only their help line."""
    full, one = build_parser(), build_parser(command)
    full_sub = full._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    one_sub = one._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(one_sub) == list(full_sub) == list(COMMANDS)
    assert one_sub[command].format_help() == full_sub[command].format_help()
    for other in set(COMMANDS) - {command}:
        assert [a.dest for a in one_sub[other]._actions] == ["help"]
    assert one.format_help() == full.format_help()


def test_an_unknown_command_still_gets_argparse_own_error() -> None:
    """A word that names no command builds the full parser, so the error is argparse's own."""
    with pytest.raises(SystemExit) as stopped:
        build_parser(command_in(["chek"])).parse_args(["chek"])
    assert stopped.value.code == 2


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command_through_the_console_entry(command: str) -> None:
    """`tlsprobe COMMAND --help` through tlsprobe.start lists that command's options."""
    shown = _help([command])
    expected = build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    for action in expected._actions:
        for flag in action.option_strings:
            assert flag in shown


def _entry_shows(before: str, shown: str) -> list[str]:
    """What tlsprobe.start prints, in a fresh interpreter, when the command it loads is
    replaced by one that prints `shown` (after running `before` first)."""
    code = (
        f"import gc, sys\n{before}\n"
        "import tlsprobe.start as start\n"
        "import tlsprobe.cli\n"
        f"tlsprobe.cli.main = lambda: print({shown}) or 0\n"
        "sys.exit(start.main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_start_leaves_the_collector_enabled_and_the_modules_frozen() -> None:
    """After the entry has loaded the command, the collector runs again, and the objects the
    modules made are in the permanent generation (gc.freeze), never walked again."""
    shown = _entry_shows("", "gc.isenabled(), gc.get_freeze_count() > 10000")
    assert shown == ["True", "True"]


def test_start_keeps_a_collector_the_caller_turned_off() -> None:
    """An embedding program that disabled the collector finds it still disabled."""
    assert _entry_shows("gc.disable()", "gc.isenabled()") == ["False"]


_COLLECTIONS_WHILE_LOADING = """
import gc, sys

def loading() -> bool:  # inside start.main, importing, before the command itself runs
    frames, frame = [], sys._getframe(2)
    while frame is not None:
        frames.append((frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    in_main = any(name == "main" and path.endswith("start.py") for path, name in frames)
    running = any(name == "main" and path.endswith("cli/__init__.py") for path, name in frames)
    return in_main and not running and any("importlib" in path for path, _ in frames)

seen = []
gc.callbacks.append(lambda phase, info: phase == "start" and loading() and seen.append(1))
sys.argv = ["tlsprobe", "--version"]
{prepare}
from tlsprobe import start
try:
    start.main()
except SystemExit:
    pass
print(len(seen), gc.get_freeze_count())
"""


def _collections_and_frozen(prepare: str) -> tuple[int, int]:
    ran = subprocess.run(
        [sys.executable, "-c", _COLLECTIONS_WHILE_LOADING.format(prepare=prepare)],
        capture_output=True,
        text=True,
        check=True,
    )
    collections, frozen = ran.stdout.split()[-2:]
    return int(collections), int(frozen)


def test_the_console_entry_loads_without_collecting_then_freezes() -> None:
    """Through tlsprobe.start the command's modules load with no collection at all and end
    frozen (tens of thousands of objects); the twin, the same entry with the collector left
    running (gc.disable made a no-op), collects while they load."""
    collections, frozen = _collections_and_frozen("")
    assert collections == 0
    assert frozen > 10_000
    collections, _ = _collections_and_frozen("gc.disable = lambda: None")
    assert collections > 0
