"""The command line: options in, a Plan, a run, a report out, and the exit code."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
from collections.abc import Sequence

from tlsprobe.cli.options import build_parser, command_in, flags_of, sources_of
from tlsprobe.cli.output import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    append_step_summary,
    check_output,
    exit_code,
    flush_stdout,
    say,
    silence_stdout,
    standard_descriptors,
    write_report,
)
from tlsprobe.escaping import visible
from tlsprobe.failures import UsageError
from tlsprobe.model import Policy
from tlsprobe.plan import Plan, make_plan
from tlsprobe.report import RunInfo
from tlsprobe.targets import Target, parse_target

__all__ = ["main"]


def _plan(args: argparse.Namespace, *, required: bool = True) -> Plan:
    return make_plan(
        sources_of(args),
        flags_of(args),
        os.environ,
        default_timeout=args.default_timeout,
        required=required,
    )


def announce(plan: Plan) -> None:
    for line in plan.warnings:
        say(f"warning: {line}")
    for line in plan.notes:
        say(f"note: {line}")


def run_and_report(targets: Sequence[Target], policy: Policy, args: argparse.Namespace) -> int:
    from tlsprobe.cli import progress
    from tlsprobe.report import render
    from tlsprobe.runner import Run, collect_less, run_loop

    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    show = progress.wanted(len(targets), sys.stderr, os.environ, disabled=args.no_progress)
    interrupted = False
    with collect_less():
        with progress.maybe(len(targets), show=show, stream=sys.stderr) as on_result:
            run = Run(targets, policy, on_result=on_result)
            try:
                run_loop(run.execute())
            except KeyboardInterrupt:
                interrupted = True
        results = run.finished()
        info = RunInfo(started, run.elapsed_s, interrupted, args.verbose)
        color = args.output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        report = render(args.format, results, info, color=color)
    write_report(report, args.output)
    append_step_summary(results, info, os.environ)
    if interrupted:
        return EXIT_INTERRUPTED
    return exit_code(results, strict=args.strict)


def cmd_check(args: argparse.Namespace) -> int:
    plan = _plan(args)
    check_output(args.output)
    announce(plan)
    return run_and_report(plan.targets, plan.policy, args)


def cmd_targets(args: argparse.Namespace) -> int:
    from tlsprobe.plan import collect

    found = collect(sources_of(args), os.environ)
    announce(Plan(tuple(found.targets), Policy(), tuple(found.notes), tuple(found.warnings)))
    # A name or a source path is the user's own text, but a tab or an ESC in it would still
    # break the columns or act on the terminal: each field is shown visibly.
    rows = (
        "\t".join(visible(field) for field in (t.label, t.display, t.source)) + "\n"
        for t in found.targets
    )
    write_report("".join(rows), None)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from tlsprobe.lab import Lab
    except ImportError as exc:
        raise UsageError(f"the lab needs the 'lab' extra ({exc.name} is missing)") from None
    from tlsprobe.plan import policy_from
    from tlsprobe.sources import PolicyDefaults

    check_output(args.output)
    with Lab() as lab:
        flags = dataclasses.replace(flags_of(args), ca_file=lab.ca_file)
        policy = policy_from(flags, PolicyDefaults(), args.default_timeout)
        targets = [parse_target(e.url, name=e.name, source=e.description) for e in lab.endpoints]
        run_and_report(targets, policy, args)
    if args.format == "table" and args.output is None:
        write_report(
            "\nPoint tlsprobe at your own endpoints: tlsprobe check https://your.host "
            "smtp://mail.host:587 postgresql://db.host/app?sslmode=verify-full, or "
            "tlsprobe check --airflow-cfg airflow.cfg\n",
            None,
        )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from tlsprobe import exporter

    # With --allow-any-target the exporter may serve /probe alone, with nothing configured.
    plan = _plan(args, required=not args.allow_any_target)
    announce(plan)
    server = exporter.Exporter(
        plan.targets,
        plan.policy,
        interval=args.interval,
        allow_any=args.allow_any_target,
        listen=args.listen,
        web_config=args.web_config_file,
        modules=plan.modules,
    )
    return exporter.run_until_stopped(server, say)


COMMANDS = {"check": cmd_check, "targets": cmd_targets, "demo": cmd_demo, "serve": cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    stdout_closed = standard_descriptors()
    given = sys.argv[1:] if argv is None else argv
    args = build_parser(command_in(given)).parse_args(given)
    try:
        if stdout_closed and getattr(args, "output", None) is None:
            raise UsageError("standard output is closed: nowhere to write (give -o FILE)")
        code = COMMANDS[args.command](args)
        flush_stdout()
    except UsageError as exc:
        say(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader left early (`tlsprobe check ... | head`): nothing is wrong but the pipe.
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"{where}{exc.strerror or exc}")
        return EXIT_USAGE
    return code
