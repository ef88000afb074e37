"""The shape of the code: no import cycles, short modules, every check id in the catalogue."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tlsprobe.model import CHECKS
from tlsprobe.probes.base import check_of, step_for

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "tlsprobe"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """tlsprobe modules `path` imports, at the top or inside functions; `from pkg import sub`
    counts as importing the submodule when `sub` is one."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            subs = {f"{base}.{a.name}" for a in node.names} & known
            found.update(subs or ({base} & known))
    return found


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in `graph`, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    """No module imports, directly or through others, a module that imports it back."""
    known = modules()
    graph = {name: imports_of(path, set(known)) - {name} for name, path in known.items()}
    assert cycle(graph) is None


def test_cycle_finder_finds_a_cycle() -> None:
    """The bad twin: the finder reports a cycle of three modules."""
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_modules_are_short() -> None:
    """No module is over 400 lines."""
    long = {
        name: n
        for name, p in modules().items()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_check_a_probe_reports_is_in_the_catalogue() -> None:
    """A check id is defined once, in model.CHECKS: every id a probe names is there."""
    from tlsprobe.probes import https, postgres, smtp

    named = {*https.IDS, *https.PLAIN_IDS, *smtp.IDS, "smtp.login", *postgres.IDS, "pg.login"}
    assert named - set(CHECKS) == set()


# Calls whose first argument, written as a literal, is a check id, or a step "check/phase".
ID_CALLS = frozenset({"Check", "enter", "passed", "step_for", "Step"})
# Of those, the calls that enter a whole check as a step: its catalogue entry says how a deadline
# that catches it reads.
STEP_CALLS = frozenset({"enter", "step_for"})


def literal_ids(tree: ast.AST) -> list[tuple[str, int, str]]:
    """(call, line, literal) for every ID_CALLS call in `tree` whose first argument is a string."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        first = node.args[0]
        if name in ID_CALLS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((name, node.lineno, first.value))
    return found


def unknown_ids(found: list[tuple[str, int, str]]) -> list[str]:
    return [
        f"{call}({value!r}) line {line}"
        for call, line, value in found
        if check_of(value) not in CHECKS
    ]


def src_literal_ids() -> list[tuple[str, int, str]]:
    return [
        hit for path in PACKAGE.rglob("*.py") for hit in literal_ids(ast.parse(path.read_text()))
    ]


def test_every_literal_check_id_is_in_the_catalogue() -> None:
    """Every check id written as a literal in Check(), enter(), passed(), step_for() or Step()
    anywhere in src/ (a step "check/phase" by its check) is in model.CHECKS."""
    found = src_literal_ids()
    assert len(found) > 50  # the scan sees the probes' calls
    assert unknown_ids(found) == []


def test_the_scan_catches_a_typo() -> None:
    """The bad twin: a mistyped id in any of the calls is reported, a good one is not."""
    source = """
state.enter("tls.handshak")
state.passed("connect", "ok")
Check("cert.chian", Status.PASS)
step_for("pg.login")
Step("smtp.starttsl/ehlo", "no reply")
"""
    assert unknown_ids(literal_ids(ast.parse(source))) == [
        "enter('tls.handshak') line 2",
        "Check('cert.chian') line 4",
        "Step('smtp.starttsl/ehlo') line 6",
    ]


def test_steps_entered_by_name_have_stall_words_and_no_others_do() -> None:
    """A check entered as a step by name says how a deadline that catches it reads; a check
    never entered so has no such words (they would be dead data)."""
    entered = {value for call, _, value in src_literal_ids() if call in STEP_CALLS}
    with_words = {check_id for check_id, spec in CHECKS.items() if spec.stall}
    assert entered == with_words


def test_step_for_a_name_not_in_the_catalogue_raises() -> None:
    """step_for has no fallback wording that would hide a typo: an unknown id is a KeyError."""
    assert step_for("tls.handshake").stall == "no TLS ServerHello within {t:g} s"
    with pytest.raises(KeyError):
        step_for("tls.handshak")
