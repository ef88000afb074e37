"""`make bench`: tlsprobe against the floor (bare handshakes) and against sslyze, side by side,
and tlsprobe without tls.legacy (`--no-tls-legacy`), which states what that check costs.

Writes bench/results.json and prints a short table. Every number is measured in this run, on
this machine; nothing here asserts a goal (goals are read off the table, not enforced in tests).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
SSLYZE = ROOT / ".venv-sslyze" / "bin" / "python"
SIZES = (10, 100, 1000)
CONCURRENCY = 50
REPEATS = 5


def measure(argv: list[str]) -> dict[str, float]:
    """Wall time and peak RSS of one child process (rusage of exactly that child)."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{argv[:3]} exited {code}: {stderr[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": usage.ru_maxrss / 1024}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        "wall_s": round(statistics.median(r["wall_s"] for r in runs), 3),
        "cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 3),
        "peak_mb": round(max(r["peak_mb"] for r in runs), 1),
        "runs": len(runs),
    }


def interleaved(commands: dict[str, list[str]], repeats: int) -> dict[str, dict[str, float]]:
    """Each command once per round, round after round: the machine's speed drifts (it is
    shared), and a drift then slows every tool alike instead of the one measured at the time."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            runs[name].append(measure(argv))
    return {name: median_of(found) for name, found in runs.items()}


def start_servers(count: int) -> tuple[subprocess.Popen[str], str, list[int]]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "servers.py"), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    ready = json.loads(server.stdout.readline())
    return server, ready["ca_file"], ready["ports"]


def tlsprobe_argv(ca_file: str, urls: list[str], *flags: str) -> list[str]:
    return [
        str(BIN / "tlsprobe"), "check", "--format", "json", "--ca-file", ca_file,
        "--concurrency", str(CONCURRENCY), *flags, *urls,
    ]  # fmt: skip


def floor_argv(ca_file: str, urls: list[str]) -> list[str]:
    return [sys.executable, str(HERE / "floor.py"), ca_file, str(CONCURRENCY), *urls]


def sslyze_argv(ports: list[int]) -> list[str] | None:
    if not SSLYZE.exists():
        return None
    return [str(SSLYZE), "-m", "sslyze", "--certinfo", *(f"localhost:{p}" for p in ports)]


def cold_start(ca_file: str, url: str) -> dict[str, float]:
    helps = [measure([str(BIN / "tlsprobe"), "--help"])["wall_s"] for _ in range(7)]
    ones = [measure(tlsprobe_argv(ca_file, [url]))["wall_s"] for _ in range(5)]
    return {
        "help_s": round(statistics.median(helps), 3),
        "one_target_s": round(statistics.median(ones), 3),
    }


def compile_bytecode() -> None:
    """Measure tlsprobe as installed: pip compiles a wheel's modules to bytecode, an editable
    install does not, and with PYTHONDONTWRITEBYTECODE set (as on some CI machines) every run
    would compile tlsprobe's own modules again, about 50 ms of each start."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "tlsprobe")], check=True
    )


def main() -> None:
    compile_bytecode()
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "concurrency": CONCURRENCY,
        "runs": [],
    }
    server, ca_file, ports = start_servers(max(SIZES))
    try:
        urls = [f"https://localhost:{p}/" for p in ports]
        # Warm the page cache, and every server port once, so no tool pays for the first use.
        measure(tlsprobe_argv(ca_file, urls[:5]))
        measure(floor_argv(ca_file, urls))
        results["cold_start"] = cold_start(ca_file, urls[0])
        for size in SIZES:
            commands = {
                "tlsprobe": tlsprobe_argv(ca_file, urls[:size]),
                "no_legacy": tlsprobe_argv(ca_file, urls[:size], "--no-tls-legacy"),
                "floor": floor_argv(ca_file, urls[:size]),
            }
            sslyze = sslyze_argv(ports[:size]) if size <= 100 else None
            if sslyze:
                commands["sslyze"] = sslyze
            row: dict[str, object] = {"targets": size, "sslyze": None}
            row.update(interleaved(commands, REPEATS if size < max(SIZES) else 3))
            results["runs"].append(row)  # type: ignore[attr-defined]
            print(f"measured {size} targets", file=sys.stderr)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(results: dict[str, object]) -> str:
    # CPU seconds of the client process alone: steadier than wall time on a shared machine.
    lines = [
        "| targets | tlsprobe s | floor s | tlsprobe/floor | CPU ratio | tlsprobe MB "
        "| sslyze s | sslyze/tlsprobe | without tls.legacy s | its /floor "
        "| tls.legacy wall, CPU per target |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["runs"]:  # type: ignore[attr-defined]
        ours, floor, theirs, off = row["tlsprobe"], row["floor"], row["sslyze"], row["no_legacy"]
        ratio = ours["wall_s"] / floor["wall_s"]
        sslyze = f"{theirs['wall_s']:.2f}" if theirs else "n/a"
        versus = f"{theirs['wall_s'] / ours['wall_s']:.1f}x" if theirs else "n/a"
        cpu_ratio = ours["cpu_s"] / floor["cpu_s"]
        per_target = [(ours[k] - off[k]) * 1000 / row["targets"] for k in ("wall_s", "cpu_s")]
        lines.append(
            f"| {row['targets']} | {ours['wall_s']:.2f} | {floor['wall_s']:.2f} | {ratio:.2f}x "
            f"| {cpu_ratio:.2f}x | {ours['peak_mb']:.0f} | {sslyze} | {versus} "
            f"| {off['wall_s']:.2f} | {off['wall_s'] / floor['wall_s']:.2f}x "
            f"| {per_target[0]:.2f} ms, {per_target[1]:.2f} ms |"
        )
    cold = results["cold_start"]
    lines.append("")
    lines.append(
        f"`tlsprobe --help`: {cold['help_s'] * 1000:.0f} ms; one target end to end: "  # type: ignore[index]
        f"{cold['one_target_s'] * 1000:.0f} ms"  # type: ignore[index]
    )
    if not SSLYZE.exists():
        lines.append("sslyze: not installed (make bench installs it into .venv-sslyze)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
