"""The command line of `tlsprobe serve`: its options and its command. The exporter itself is
in tlsprobe.serve, imported only when the command runs (prometheus_client is slow to import)."""

from __future__ import annotations

import argparse
import os
import sys

from tlsprobe.model import MAX_TIMEOUT_S

DEFAULT_LISTEN = ("127.0.0.1", 9468)


def listen_address(text: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT; port 0 asks for any free port."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") != host.endswith("]"):  # "[::1:9468": a bracket left open
        raise ValueError(text)
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(text)
    return host, int(port)


def positive_seconds(text: str) -> float:
    """Seconds for --timeout and --interval: above 0 and at most a day (nan and inf fail)."""
    value = float(text)
    if not 0 < value <= MAX_TIMEOUT_S:
        raise ValueError(text)
    return value


listen_address.__name__ = "HOST:PORT"
positive_seconds.__name__ = f"number of seconds (above 0, at most {MAX_TIMEOUT_S:g})"


def add_options(parser: argparse.ArgumentParser) -> None:
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


def command(args: argparse.Namespace) -> int:
    from tlsprobe import serve
    from tlsprobe.cli import announce, collect, policy_from

    # With --allow-any-target the exporter may serve /probe alone, with nothing configured.
    found = collect(args, os.environ, required=not args.allow_any_target)
    policy = policy_from(args, found.defaults)
    announce(found)
    exporter = serve.Exporter(
        found.targets,
        policy,
        interval=args.interval,
        allow_any=args.allow_any_target,
        listen=args.listen,
    )
    return serve.run_until_stopped(
        exporter, lambda line: print(f"tlsprobe: {line}", file=sys.stderr)
    )
