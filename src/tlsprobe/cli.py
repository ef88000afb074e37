"""The command line: parse, build targets, run, render, pick the exit code."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import ssl
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from tlsprobe import __version__
from tlsprobe.errors import UsageError
from tlsprobe.model import MinTls, Policy, Status, TargetResult
from tlsprobe.targets import Target, parse_target

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("table", "json")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_positive_float.__name__ = "positive number"
_positive_int.__name__ = "positive integer"
_non_negative_int.__name__ = "non-negative integer"


def _add_policy_options(parser: argparse.ArgumentParser, *, timeout: float) -> None:
    parser.add_argument("--ca-file", type=Path, metavar="PEM", help="extra trusted root CAs")
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=timeout,
        metavar="S",
        help=f"deadline per target, every phase included (default {timeout:g})",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=50,
        metavar="N",
        help="targets probed at once (default 50)",
    )
    parser.add_argument(
        "--min-tls",
        choices=[v.value for v in MinTls],
        default="1.2",
        help="lowest acceptable TLS version (default 1.2)",
    )
    parser.add_argument(
        "--expiry-warn-days",
        type=_non_negative_int,
        default=14,
        metavar="N",
        help="warn when a certificate expires within N days (default 14)",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the report to FILE instead of standard output",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: transcripts of failing targets; -vv: of all targets",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tlsprobe", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tlsprobe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = commands.add_parser("check", help="probe targets and print the verdicts")
    check.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="https://host[:port][/path][#expect_status=..&connect=ADDR]",
    )
    _add_policy_options(check, timeout=10.0)
    demo = commands.add_parser("demo", help="start the local lab and show every verdict")
    _add_policy_options(demo, timeout=3.0)
    return parser


def policy_from(args: argparse.Namespace) -> Policy:
    ca_file: Path | None = args.ca_file
    if ca_file is not None:
        _validate_ca_file(ca_file)
    return Policy(
        timeout=args.timeout,
        min_tls=MinTls(args.min_tls),
        expiry_warn_days=args.expiry_warn_days,
        ca_file=ca_file.resolve() if ca_file else None,
        concurrency=args.concurrency,
    )


def _validate_ca_file(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"--ca-file {path}: no such file")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        raise UsageError(f"--ca-file {path}: not a PEM file of CA certificates") from None


def run_and_report(targets: Sequence[Target], policy: Policy, args: argparse.Namespace) -> int:
    from tlsprobe.report import RunInfo, render
    from tlsprobe.runner import Run

    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = Run(targets, policy)
    interrupted = False
    try:
        asyncio.run(run.execute())
    except KeyboardInterrupt:
        interrupted = True
    results = run.finished()
    info = RunInfo(started, run.elapsed_s, interrupted, args.verbose)
    color = args.output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    write_report(render(args.format, results, info, color=color), args.output)
    if interrupted:
        return EXIT_INTERRUPTED
    return exit_code(results, strict=args.strict)


def exit_code(results: Sequence[TargetResult], *, strict: bool) -> int:
    statuses = {r.status for r in results}
    if Status.FAIL in statuses or (strict and Status.WARN in statuses):
        return EXIT_FAILED
    return EXIT_OK


def write_report(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    # Atomic: a reader (a textfile collector, a CI step) never sees half a report.
    directory = output.resolve().parent
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, output)


def cmd_check(args: argparse.Namespace) -> int:
    policy = policy_from(args)
    targets = [parse_target(t) for t in args.targets]
    if not targets:
        raise UsageError("no targets: give one or more URLs, e.g. tlsprobe check https://host")
    return run_and_report(targets, policy, args)


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from tlsprobe.lab import Lab
    except ImportError as exc:
        raise UsageError(f"the lab needs the 'lab' extra ({exc.name} is missing)") from None
    with Lab() as lab:
        args.ca_file = lab.ca_file
        policy = policy_from(args)
        targets = [parse_target(e.url, name=e.name, source=e.description) for e in lab.endpoints]
        run_and_report(targets, policy, args)
    print("\nPoint tlsprobe at your own endpoints: tlsprobe check https://your.host ...")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"check": cmd_check, "demo": cmd_demo}
    try:
        return commands[args.command](args)
    except UsageError as exc:
        print(f"tlsprobe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"tlsprobe: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
