"""The shape of the code: no import cycles, short modules, every check id in the catalogue."""

from __future__ import annotations

import ast
from pathlib import Path

from tlsprobe.model import CHECKS

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
