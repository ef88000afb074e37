"""The command line: parse, build targets, run, render, pick the exit code."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tlsprobe import __version__, cli_serve
from tlsprobe.errors import UsageError
from tlsprobe.model import MAX_WARN_DAYS, MinTls, Policy, Status, TargetResult
from tlsprobe.report import FORMATS, RunInfo
from tlsprobe.sources import Collected, ca_file_problem
from tlsprobe.targets import Target, parse_target

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_CONFIG = Path("tlsprobe.toml")  # read from the working directory when it is there
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as shell tools exit when their reader goes away


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _days(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_WARN_DAYS:
        raise ValueError(text)
    return value


_positive_int.__name__ = "positive integer"
_days.__name__ = f"number of days (0 to {MAX_WARN_DAYS})"


def _add_policy_options(parser: argparse.ArgumentParser, *, timeout: float) -> None:
    # Defaults are None so that a value from tlsprobe.toml applies unless the flag is given.
    parser.add_argument("--ca-file", type=Path, metavar="PEM", help="extra trusted root CAs")
    parser.add_argument(
        "--timeout",
        type=cli_serve.positive_seconds,
        metavar="S",
        help=f"deadline per target, every phase included (default {timeout:g})",
    )
    parser.add_argument(
        "--concurrency", type=_positive_int, metavar="N", help="targets probed at once (default 50)"
    )
    parser.add_argument(
        "--min-tls",
        choices=[v.value for v in MinTls],
        help="lowest acceptable TLS version (default 1.2)",
    )
    parser.add_argument(
        "--expiry-warn-days",
        type=_days,
        metavar="N",
        help="warn when a certificate expires within N days (default 14)",
    )
    parser.set_defaults(default_timeout=timeout)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (shown only on a terminal, outside CI, for 4 targets or more)",
    )


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="a URL: https://, smtp://, smtps://, postgresql://",
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        metavar="FILE",
        help="a tlsprobe.toml (default: ./tlsprobe.toml when present)",
    )
    parser.add_argument(
        "--airflow-cfg",
        type=Path,
        metavar="FILE",
        help="probe the connections an airflow.cfg names",
    )
    parser.add_argument(
        "--airflow",
        action="store_true",
        help="use $AIRFLOW_HOME/airflow.cfg (default ~/airflow/airflow.cfg)",
    )
    parser.add_argument(
        "--airflow-connections",
        type=Path,
        metavar="FILE",
        help="a file from `airflow connections export` (.json, .yaml, .env)",
    )
    parser.add_argument(
        "--allow-cmd",
        action="store_true",
        help="run airflow.cfg *_cmd commands to get their values",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tlsprobe", description=__doc__)
    parser.add_argument("--version", action="version", version=f"tlsprobe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = commands.add_parser("check", help="probe targets and print the verdicts")
    _add_source_options(check)
    _add_policy_options(check, timeout=10.0)
    _add_output_options(check)
    listing = commands.add_parser("targets", help="list what would be probed, without probing")
    _add_source_options(listing)
    demo = commands.add_parser("demo", help="start the local lab and show every verdict")
    _add_policy_options(demo, timeout=3.0)
    _add_output_options(demo)
    serve = commands.add_parser("serve", help="a Prometheus exporter: /probe?target=URL, /metrics")
    _add_source_options(serve)
    _add_policy_options(serve, timeout=10.0)
    cli_serve.add_options(serve)
    return parser


def policy_from(args: argparse.Namespace, defaults: Mapping[str, Any]) -> Policy:
    """Flags win over tlsprobe.toml's [defaults], which win over the built-in defaults."""

    def pick(name: str, fallback: Any) -> Any:
        flag = getattr(args, name, None)
        return flag if flag is not None else defaults.get(name, fallback)

    if getattr(args, "ca_file", None) is not None:  # tlsprobe.toml's was checked when read
        _validate_ca_file(Path(args.ca_file))
    ca_text = pick("ca_file", None)
    built_in = Policy()
    return Policy(
        timeout=pick("timeout", args.default_timeout),
        min_tls=MinTls(pick("min_tls", built_in.min_tls)),
        expiry_warn_days=pick("expiry_warn_days", built_in.expiry_warn_days),
        ca_file=Path(ca_text).resolve() if ca_text is not None else None,
        concurrency=pick("concurrency", built_in.concurrency),
    )


def _validate_ca_file(path: Path) -> None:
    problem = ca_file_problem(path)
    if problem is not None:
        raise UsageError(f"--ca-file {path}: {problem}")


def check_output(output: Path | None) -> None:
    """Before probing: a report that cannot be written must not cost a whole run first."""
    if output is None or (output.exists() and not output.is_dir() and not output.is_file()):
        return  # stdout, or a device or FIFO, written in place
    if output.is_dir():
        raise UsageError(f"-o {output}: is a directory (give a file name)")
    directory = output.resolve().parent
    if not directory.is_dir():
        raise UsageError(f"-o {output}: no such directory {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"-o {output}: cannot write in {directory} (permission denied)")


def collect(
    args: argparse.Namespace, env: Mapping[str, str], *, required: bool = True
) -> Collected:
    """Every target the sources name, in order: command line, config file, Airflow. Each
    source's module is imported only when it is used: a start-up cost for the rest."""
    found = Collected(targets=[parse_target(t) for t in args.targets])
    config_path = args.config
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    if config_path is not None:
        from tlsprobe.sources import config as config_file

        found.extend(config_file.load(config_path, env))
    airflow_cfg = args.airflow_cfg
    if airflow_cfg is None and args.airflow:
        from tlsprobe.sources.airflow import default_path

        airflow_cfg = default_path(env)
    if airflow_cfg is not None:
        from tlsprobe.sources import airflow

        found.extend(airflow.read(airflow_cfg, env, allow_cmd=args.allow_cmd))
    if args.airflow_connections is not None:
        from tlsprobe.sources import connections

        found.extend(connections.from_file(args.airflow_connections))
    if required and not found.targets:
        raise UsageError(
            "no targets: give URLs (tlsprobe check https://host), -c tlsprobe.toml, "
            "or --airflow-cfg FILE"
        )
    return found


def announce(found: Collected) -> None:
    for line in found.warnings:
        print(f"tlsprobe: warning: {line}", file=sys.stderr)
    for line in found.notes:
        print(f"tlsprobe: note: {line}", file=sys.stderr)


def run_and_report(targets: Sequence[Target], policy: Policy, args: argparse.Namespace) -> int:
    from tlsprobe import loop, progress
    from tlsprobe.report import render
    from tlsprobe.runner import Run

    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    show = progress.wanted(len(targets), sys.stderr, os.environ, disabled=args.no_progress)
    interrupted = False
    with progress.maybe(len(targets), show=show, stream=sys.stderr) as on_result:
        run = Run(targets, policy, on_result=on_result)
        try:
            loop.run(run.execute())
        except KeyboardInterrupt:
            interrupted = True
    results = run.finished()
    info = RunInfo(started, run.elapsed_s, interrupted, args.verbose)
    color = args.output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    write_report(render(args.format, results, info, color=color), args.output)
    append_step_summary(results, info, os.environ)
    if interrupted:
        return EXIT_INTERRUPTED
    return exit_code(results, strict=args.strict)


def append_step_summary(
    results: Sequence[TargetResult], info: RunInfo, env: Mapping[str, str]
) -> None:
    """In GitHub Actions, add the Markdown report to the job's summary page, whatever --format."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    from tlsprobe.report import markdown

    try:
        with open(path, "a", encoding="utf-8") as summary_file:
            summary_file.write(markdown.render(results, info) + "\n")
    except OSError as exc:  # a lost summary must not turn a passing check red
        print(
            f"tlsprobe: warning: cannot append to $GITHUB_STEP_SUMMARY: {exc.strerror or exc}",
            file=sys.stderr,
        )


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
    if output.exists() and not output.is_file():
        # /dev/null, a FIFO, /dev/stdout: renaming over them would replace the device itself.
        with output.open("w", encoding="utf-8") as stream:
            stream.write(text)
        return
    try:
        _replace_atomically(text, output)
    except OSError as exc:  # named as the user wrote it, not as the temporary file
        raise UsageError(f"-o {output}: cannot write the report ({exc.strerror or exc})") from None


def _replace_atomically(text: str, output: Path) -> None:
    """A reader (a textfile collector, a CI step) never sees half a report."""
    import tempfile  # only for -o FILE: `tlsprobe --help` does not pay for it

    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=output.resolve().parent, delete=False, suffix=".tmp"
    ) as tmp:
        tmp.write(text)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp.name, 0o666 & ~umask)  # a temporary file is 0600; readers need the usual
        os.replace(tmp.name, output)
    except OSError:
        Path(tmp.name).unlink(missing_ok=True)
        raise


def cmd_check(args: argparse.Namespace) -> int:
    found = collect(args, os.environ)
    policy = policy_from(args, found.defaults)
    check_output(args.output)
    announce(found)
    return run_and_report(found.targets, policy, args)


def cmd_targets(args: argparse.Namespace) -> int:
    found = collect(args, os.environ)
    announce(found)
    for target in found.targets:
        print(f"{target.label}\t{target.display}\t{target.source}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from tlsprobe.lab import Lab
    except ImportError as exc:
        raise UsageError(f"the lab needs the 'lab' extra ({exc.name} is missing)") from None
    check_output(args.output)
    with Lab() as lab:
        args.ca_file = lab.ca_file
        policy = policy_from(args, {})
        targets = [parse_target(e.url, name=e.name, source=e.description) for e in lab.endpoints]
        run_and_report(targets, policy, args)
    if args.format == "table" and args.output is None:
        print(
            "\nPoint tlsprobe at your own endpoints: tlsprobe check https://your.host "
            "smtp://mail.host:587 postgresql://db.host/app?sslmode=verify-full, or "
            "tlsprobe check --airflow-cfg airflow.cfg"
        )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {
        "check": cmd_check,
        "targets": cmd_targets,
        "demo": cmd_demo,
        "serve": cli_serve.command,
    }
    try:
        return commands[args.command](args)
    except UsageError as exc:
        print(f"tlsprobe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader left early (`tlsprobe check ... | head`): nothing is wrong but the pipe.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        print(f"tlsprobe: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
