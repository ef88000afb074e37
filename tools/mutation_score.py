"""The share of behaviour-changing mutants that the tests kill, from a finished `mutmut run`.

mutmut reports killed and surviving mutants; not all of them matter alike. A mutant that only
rewrites the prose of a message (a string literal with a blank in it: "leaf expired ... ago"
becomes "XXleaf expired ... agoXX") changes what a person reads, not what tlsprobe decides, and
a test pinning every message word for word would be brittle. Such mutants are counted apart;
the goal (`--goal`, 90 %) is on the others. Everything else counts as behaviour: a changed
operator, constant, name, call, or a string without a blank (a key, a scheme, a code).

Usage: python tools/mutation_score.py [--goal 90] [--mutants mutants]; exit 1 below the goal.
By hand because mutmut has no such split: it reads mutmut's own files (`*.py.meta` for the exit
code of each mutant, the mutated sources for the code of each), nothing else.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import sys
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

KILLED = {1, 3, 37}  # mutmut's exit codes for killed (3: pytest's internal error; 37: type check)
SURVIVED = {0}
TIMEOUT = {24, -24, 36, 152, 255}  # a mutant that makes the tests hang is caught too


@dataclass(frozen=True)
class Mutant:
    name: str  # tlsprobe.tls.certs.x_key_text__mutmut_9
    module: str
    status: str  # killed, survived, timeout, untested
    text_only: bool
    change: str  # the first line that differs, as mutated


def status_of(code: int | None) -> str:
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in TIMEOUT:
        return "timeout"
    return "untested"  # no test covers it, or it was not run


def tokens(source: str) -> list[tuple[int, str]]:
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    read = io.StringIO(source).readline
    return [(t.type, t.string) for t in tokenize.generate_tokens(read) if t.type not in skip]


def prose_only(original: str, mutated: str) -> bool:
    """Whether the two functions differ only inside string literals that hold prose."""
    before, after = tokens(original), tokens(mutated)
    if len(before) != len(after):
        return False
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    return bool(changed) and all(
        a[0] == b[0] == tokenize.STRING and " " in a[1] for a, b in changed
    )


def first_change(original: str, mutated: str) -> str:
    """The first line that differs, before and after."""
    pairs = zip(original.splitlines()[1:], mutated.splitlines()[1:], strict=False)
    a, b = next(((a, b) for a, b in pairs if a != b), ("", mutated.splitlines()[-1]))
    return f"{a.strip()}  ->  {b.strip()}"


def functions(path: Path) -> dict[str, str]:
    """Every function in a mutated file by name (mutants and originals), as source text."""
    text = path.read_text()
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = ast.get_source_segment(text, node) or ""
    return found


def mutants_of(meta: Path, root: Path) -> list[Mutant]:
    source = meta.with_suffix("")  # x.py.meta -> x.py
    module = ".".join(source.relative_to(root / "src").with_suffix("").parts)
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    defs = functions(source)
    found: list[Mutant] = []
    for name, code in sorted(codes.items()):
        local = name.rpartition(".")[2]  # x_key_text__mutmut_9, or xǁClassǁmethod__mutmut_9
        base = local.rpartition("__mutmut_")[0]
        mutated, original = defs.get(local, ""), defs.get(f"{base}__mutmut_orig", "")
        mutated = mutated.replace(local, f"{base}__mutmut_orig", 1)
        text_only = bool(original) and prose_only(original, mutated)
        change = first_change(original, mutated) if original else "?"
        found.append(Mutant(name, module, status_of(code), text_only, change))
    return found


def report(mutants: list[Mutant], goal: float) -> tuple[str, bool]:
    behaviour = [m for m in mutants if not m.text_only]
    caught = sum(m.status in ("killed", "timeout") for m in behaviour)
    share = 100.0 * caught / len(behaviour) if behaviour else 100.0
    lines = ["module                                   behaviour killed   text-only killed"]
    for module in sorted({m.module for m in mutants}):
        own = [m for m in mutants if m.module == module]
        b = [m for m in own if not m.text_only]
        t = [m for m in own if m.text_only]
        bk = sum(m.status in ("killed", "timeout") for m in b)
        tk = sum(m.status in ("killed", "timeout") for m in t)
        lines.append(f"{module:40} {bk:5}/{len(b):<5}      {tk:5}/{len(t):<5}")
    counts = Counter(m.status for m in behaviour)
    lines.append(
        f"behaviour-changing mutants: {len(behaviour)}; killed {counts['killed']}, timeout "
        f"{counts['timeout']}, survived {counts['survived']}, untested {counts['untested']}"
    )
    lines.append(f"text-only mutants (prose of messages): {len(mutants) - len(behaviour)}")
    lines.append(f"behaviour-changing mutants caught: {share:.1f}% (goal {goal:g}%)")
    lines.append("surviving behaviour-changing mutants:")
    lines += [f"  {m.name}: {m.change}" for m in behaviour if m.status in ("survived", "untested")]
    return "\n".join(lines), share >= goal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goal", type=float, default=90.0)
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    args = parser.parse_args()
    metas = sorted(args.mutants.rglob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {args.mutants}: run `mutmut run` first", file=sys.stderr)
        return 2
    found = [m for meta in metas for m in mutants_of(meta, args.mutants)]
    text, met = report(found, args.goal)
    print(text)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
