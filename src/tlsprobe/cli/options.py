"""The command line's options: one parser, and the Sources and Flags it yields. A usage error is
one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from tlsprobe import __version__
from tlsprobe.cli.output import EXIT_USAGE
from tlsprobe.escaping import visible
from tlsprobe.model import (
    MAX_TIMEOUT_S,
    MAX_WARN_DAYS,
    WARN_FRACTION_EXPECTED,
    MinTls,
    Policy,
    warn_fraction,
)
from tlsprobe.plan import Flags, Sources
from tlsprobe.report import FORMATS

DEFAULT_LISTEN = ("127.0.0.1", 9468)
DEFAULTS = Policy()  # the built-in defaults the help text names
DESCRIPTION = "Probe the TLS of PostgreSQL, SMTP and HTTPS endpoints and print the verdicts."
# Numbers as ASCII digits only: int() and float() also take other scripts' digits (U+0661),
# blanks, "_" separators, signs, exponents, "inf" and "nan".
_WHOLE = re.compile(r"[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+", re.ASCII)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {visible(message)} (see {self.prog} --help)\n")


def _whole(text: str) -> int:
    if not _WHOLE.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise ValueError(text)
    return value


def _days(text: str) -> int:
    value = _whole(text)
    if not 0 <= value <= MAX_WARN_DAYS:
        raise ValueError(text)
    return value


def _fraction(text: str) -> float:
    share = warn_fraction(text)
    if share is None:
        raise argparse.ArgumentTypeError(f"expected {WARN_FRACTION_EXPECTED}, got {text!r}")
    return share


def positive_seconds(text: str) -> float:
    """Seconds for --timeout and --interval: above 0 and at most a day, written in ASCII
    digits with an optional decimal point."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError(text)
    value = float(text)
    if not 0 < value <= MAX_TIMEOUT_S:
        raise ValueError(text)
    return value


def listen_address(text: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT; port 0 asks for any free port."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") != host.endswith("]"):  # "[::1:9468": a bracket left open
        raise ValueError(text)
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ValueError(text)
    return host, int(port)


_positive_int.__name__ = "positive integer"
_days.__name__ = f"number of days (0 to {MAX_WARN_DAYS})"
positive_seconds.__name__ = f"number of seconds (above 0, at most {MAX_TIMEOUT_S:g})"
listen_address.__name__ = "HOST:PORT"


def _add_policy_options(parser: argparse.ArgumentParser, *, timeout: float) -> None:
    # Defaults are None so that a value from tlsprobe.toml applies unless the flag is given.
    parser.add_argument("--ca-file", type=Path, metavar="PEM", help="extra trusted root CAs")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="S",
        help=f"deadline per target, every phase included (default {timeout:g})",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help=f"targets probed at once (default {DEFAULTS.concurrency})",
    )
    parser.add_argument(
        "--min-tls",
        choices=[v.value for v in MinTls],
        help=f"lowest acceptable TLS version (default {DEFAULTS.min_tls})",
    )
    parser.add_argument(
        "--expiry-warn-days",
        type=_days,
        metavar="N",
        help=f"warn when a certificate expires within N days (default {DEFAULTS.expiry_warn_days})",
    )
    parser.add_argument(
        "--expiry-warn-fraction",
        type=_fraction,
        metavar="F",
        help="warn when less than F of a certificate's lifetime is left, where that comes later "
        "than --expiry-warn-days (short-lived certificates; default 1/3)",
    )
    parser.add_argument(
        "--expiry-fail-days",
        type=_days,
        metavar="N",
        help="fail when a certificate expires within N days (default 0: only once expired)",
    )
    parser.add_argument(
        "--no-tls-legacy",
        dest="tls_legacy",
        action="store_false",
        default=None,
        help="do not ask whether servers also accept versions below --min-tls (tls.legacy)",
    )
    parser.add_argument(
        "--revocation",
        action="store_true",
        default=None,
        help="also ask each certificate's OCSP responder (else its CRL) over HTTP, once per URL "
        "per run (cert.revocation; the stapled response is judged without it)",
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
        "--airflow-db",
        action="store_true",
        help="also probe the connections in Airflow's metadata database (sql_alchemy_conn; "
        "password and extra decrypted in memory with [core] fernet_key)",
    )
    parser.add_argument(
        "--allow-cmd",
        action="store_true",
        help="run airflow.cfg *_cmd commands to get their values",
    )


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen",
        type=listen_address,
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help="where to listen (default 127.0.0.1:9468; 0.0.0.0:9468 for every interface)",
    )
    parser.add_argument(
        "--interval",
        type=positive_seconds,
        default=60.0,
        metavar="S",
        help="re-probe the configured targets for /metrics every S seconds (default 60)",
    )
    parser.add_argument(
        "--allow-any-target",
        action="store_true",
        help="let /probe probe any URL, not only the configured targets",
    )
    parser.add_argument(
        "--web-config-file",
        type=Path,
        metavar="FILE",
        help="TLS, basic auth and headers in exporter-toolkit's web config format "
        "(as --web.config.file of Prometheus' exporters); re-read when it changes",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; given the `command` the arguments name (command_in), only that command's
    options are added, as only they can be parsed: the four commands' options together took
    more of the start-up than parsing (argparse builds a help formatter for each option)."""
    parser = _Parser(prog="tlsprobe", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"tlsprobe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (text, adds) in _COMMANDS.items():
        sub = commands.add_parser(name, help=text)
        if command in (None, name) or command not in _COMMANDS:
            for add in adds:
                add(sub)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command the arguments name: the first that is not an option (the top level takes
    only --help and --version, which take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


_Adds = tuple[Callable[[argparse.ArgumentParser], None], ...]
# Each command: its help line, and what adds its options (in this order in --help).
_COMMANDS: dict[str, tuple[str, _Adds]] = {
    "check": (
        "probe targets and print the verdicts",
        (
            _add_source_options,
            functools.partial(_add_policy_options, timeout=10.0),
            _add_output_options,
        ),
    ),
    "targets": ("list what would be probed, without probing", (_add_source_options,)),
    "demo": (
        "start the local lab and show every verdict",
        (functools.partial(_add_policy_options, timeout=3.0), _add_output_options),
    ),
    "serve": (
        "a Prometheus exporter: /probe?target=URL, /metrics",
        (
            _add_source_options,
            functools.partial(_add_policy_options, timeout=10.0),
            _add_serve_options,
        ),
    ),
}


def sources_of(args: argparse.Namespace) -> Sources:
    return Sources(
        urls=tuple(args.targets),
        config=args.config,
        airflow_cfg=args.airflow_cfg,
        airflow_home=args.airflow,
        airflow_connections=args.airflow_connections,
        allow_cmd=args.allow_cmd,
        airflow_db=args.airflow_db,
    )


def flags_of(args: argparse.Namespace) -> Flags:
    return Flags(
        timeout=args.timeout,
        min_tls=MinTls(args.min_tls) if args.min_tls is not None else None,
        expiry_warn_days=args.expiry_warn_days,
        ca_file=args.ca_file,
        concurrency=args.concurrency,
        tls_legacy=args.tls_legacy,
        expiry_warn_fraction=args.expiry_warn_fraction,
        expiry_fail_days=args.expiry_fail_days,
        revocation=args.revocation,
    )
