"""Shared fixtures: one lab for the whole session, and probe runs against it."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import trustme
import uvloop

from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.runner import Run
from tlsprobe.targets import Target, parse_target


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    with Lab() as running:
        yield running


def probe_targets(targets: list[Target], policy: Policy) -> list[TargetResult]:
    """Probe targets through the real runner, as `tlsprobe check` does."""
    return asyncio.run(Run(targets, policy).execute())


def probe_urls(urls: list[str], policy: Policy) -> list[TargetResult]:
    """Probe URLs through the real runner, as `tlsprobe check` does."""
    return probe_targets([parse_target(url) for url in urls], policy)


def probe_lab(lab: Lab, prefixes: tuple[str, ...], timeout: float) -> dict[str, TargetResult]:
    """Probe every lab endpoint whose name starts with one of `prefixes`, once, concurrently,
    trusting the lab's root; results by endpoint name."""
    names = [e.name for e in lab.endpoints if e.name.startswith(prefixes)]
    probed = probe_urls([lab.url(n) for n in names], Policy(timeout=timeout, ca_file=lab.ca_file))
    return dict(zip(names, probed, strict=True))


def one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run tlsprobe in-process, assert exit 2 and nothing on stdout, and return its one line."""
    from tlsprobe.cli import main

    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    return err.strip()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory of its own, without ~/.postgresql/root.crt: libpq (18) takes ~ from
    $HOME, here and in a client's process."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    return tmp_path


def statuses(result: TargetResult) -> dict[str, str]:
    return {check.id: check.status.value for check in result.checks}


# The checks of an HTTPS result, in report order (tls.legacy is added by with_legacy).
HTTPS_IDS = (
    "connect",
    "tls.handshake",
    "tls.version",
    "cert.chain",
    "cert.hostname",
    "cert.expiry",
    "http.status",
    "http.hsts",
)


def https_verdicts(*values: str) -> dict[str, str]:
    """An HTTPS result's expected statuses, one per HTTPS_IDS, in that order."""
    return dict(zip(HTTPS_IDS, values, strict=True))


def with_legacy(expected: dict[str, str]) -> dict[str, str]:
    """`expected` with tls.legacy's verdict on a server that refuses versions below TLS 1.2, as
    every lab server but the legacy-* ones does (tests/test_legacy.py): judged, and passed,
    wherever a session at an acceptable version was; skipped everywhere else."""
    judged = expected.get("tls.handshake") == "pass" and expected.get("tls.version") == "pass"
    return {**expected, "tls.legacy": "pass" if judged else "skip"}


def check(result: TargetResult, check_id: str) -> tuple[str, str]:
    """(detail, hint) of the check `check_id`, which must be in `result`."""
    found = result.check(check_id)
    assert found is not None, check_id
    return found.detail, found.hint


def detail(result: TargetResult, check_id: str) -> str:
    """The detail of the check `check_id`, which must be in `result`."""
    return check(result, check_id)[0]


def hint(result: TargetResult, check_id: str) -> str:
    """The hint of the check `check_id`, which must be in `result`."""
    return check(result, check_id)[1]


# --- the network-layer tests (tests/net) ---------------------------------------------------------

T = TypeVar("T")


class Runner(Protocol):
    """Runs a coroutine to completion on a fresh event loop and returns its result."""

    def __call__(self, coro: Coroutine[Any, Any, T], /) -> T: ...


@pytest.fixture(params=["asyncio", "uvloop"])
def on_loop(request: pytest.FixtureRequest) -> Runner:
    """Runs a coroutine to completion on a fresh loop of the parametrized kind."""
    factory = asyncio.new_event_loop if request.param == "asyncio" else uvloop.new_event_loop

    def runner(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as loop_runner:
            return loop_runner.run(coro)

    return runner


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1", "::1", "example.test")


# Runs the rest of its command line with SIGINT at its default: a shell's background job (CI
# runners start some so) begins with SIGINT ignored, a child inherits that, and Python then
# installs no KeyboardInterrupt handler, so a test's Ctrl-C would do nothing. A launcher that
# execs, not a preexec_fn, which is unsafe in a process with threads (the lab's).
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def interruptible(*python_args: str) -> list[str]:
    """The argv that runs `python *python_args` so that SIGINT interrupts it, as at a terminal."""
    return [sys.executable, "-c", _SIGINT_DEFAULT, *python_args]


def curl_binary() -> str:
    """Debian's curl, one of the real clients the verdicts are held against: missing, the test
    fails (never skips: a skip would read as agreement with a client that never ran)."""
    found = shutil.which("curl")
    if found is None:
        pytest.fail("curl is missing: apt-get install curl (.ci/run installs it)", pytrace=False)
    return found
