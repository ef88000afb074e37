"""A verdict reached is never replaced by the probe's deadline, even when event-loop lag makes
every timer fire at once (issue 12, item 5). The lag is real: a loop callback that blocks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conftest import check, probe_urls, statuses
from tlsprobe.lab import Lab
from tlsprobe.model import Check, Policy, Status
from tlsprobe.probes import base
from tlsprobe.probes import smtp as smtp_probe
from tlsprobe.targets import parse_target

SMTP_TIMEOUT = 2.0
UNIT_TIMEOUT = 0.2
IDS = ("connect", "tls.handshake", "http.status", "http.hsts")


def lag(seconds: float) -> None:
    """Block the running loop for `seconds` at its next turn: every timer due meanwhile fires
    together when it resumes, as on a loaded machine."""
    asyncio.get_running_loop().call_soon(time.sleep, seconds)


def run(body: base.Body) -> dict[str, Check]:
    """run_probe on a target it never connects to, with `body` as the probe."""
    target = parse_target("https://127.0.0.1:9/")
    result = asyncio.run(base.run_probe(target, Policy(timeout=UNIT_TIMEOUT), IDS, body))
    return {c.id: c for c in result.checks}


async def decided_then_lagged(state: base.ProbeState) -> None:
    state.enter("connect")
    state.passed("connect", "up")
    state.enter("http.status")
    state.put(Check("http.status", Status.PASS, "200 OK"))
    lag(UNIT_TIMEOUT + 0.1)
    await asyncio.sleep(10)  # the rest of the step (a QUIT, a close), cut by the deadline


async def undecided_then_lagged(state: base.ProbeState) -> None:
    state.enter("connect")
    state.passed("connect", "up")
    state.enter("http.status")
    lag(UNIT_TIMEOUT + 0.1)
    await asyncio.sleep(10)


async def undecided_with_deadline_verdict(state: base.ProbeState) -> None:
    state.enter("connect")
    state.passed("connect", "up")
    state.enter("http.status", on_deadline=Check("http.status", Status.SKIP, "not judged"))
    lag(UNIT_TIMEOUT + 0.1)
    await asyncio.sleep(10)


def test_a_verdict_reached_survives_the_deadline() -> None:
    """A step that decided its check keeps that verdict when the deadline cuts what follows."""
    checks = run(decided_then_lagged)
    assert checks["http.status"] == Check("http.status", Status.PASS, "200 OK")
    assert checks["http.hsts"].status is Status.SKIP
    assert checks["http.hsts"].detail == f"not run: the deadline of {UNIT_TIMEOUT:g} s came first"


def test_an_undecided_step_still_fails_on_the_deadline() -> None:
    """The bad twin: a step with no verdict yet fails with its stall text and hint."""
    checks = run(undecided_then_lagged)
    assert checks["http.status"].status is Status.FAIL
    assert checks["http.status"].detail == f"no HTTP response within {UNIT_TIMEOUT:g} s"
    assert checks["http.hsts"].detail == "not run: http.status failed"
    assert checks["connect"].status is Status.PASS


def test_a_step_may_say_what_the_deadline_means_for_it() -> None:
    """A step entered with on_deadline gets that verdict, not a fail, when the deadline comes."""
    checks = run(undecided_with_deadline_verdict)
    assert checks["http.status"] == Check("http.status", Status.SKIP, "not judged")
    assert checks["http.hsts"].status is Status.SKIP


def test_a_passed_connect_is_failed_by_a_later_stalled_phase() -> None:
    """A verdict from an earlier step does not shield a later phase of the same check: a
    connect passed at TCP, then a greeting that never came, still fails connect."""

    async def body(state: base.ProbeState) -> None:
        state.enter("connect")
        state.passed("connect", "TCP up")
        state.enter(base.Step("connect/greeting", "no greeting within {t:g} s", "raise it"))
        await asyncio.sleep(10)

    checks = run(body)
    assert checks["connect"] == Check(
        "connect", Status.FAIL, f"no greeting within {UNIT_TIMEOUT:g} s", "raise it"
    )


@pytest.fixture
def lagged_injection(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SMTP session the probe opens in its injection step starts with the loop blocked
    past the probe's deadline; the steps it lagged are listed."""
    real = smtp_probe.open_session
    lagged: list[str] = []

    async def open_session(*args: Any, **kwargs: Any) -> Any:
        if (step := base.current_step()) == "smtp.starttls_injection":
            lagged.append(step)
            lag(SMTP_TIMEOUT + 0.3)
        return await real(*args, **kwargs)

    monkeypatch.setattr(smtp_probe, "open_session", open_session)
    return lagged


def test_smtp_injection_under_lag_is_not_judged(lab: Lab, lagged_injection: list[str]) -> None:
    """Loop lag past the deadline during the injection test leaves smtp.starttls_injection
    not judged (skip), never failed, and every verdict already reached stands (tls.legacy, off
    here, runs alongside and has a deadline of its own: tests/test_legacy.py)."""
    policy = Policy(timeout=SMTP_TIMEOUT, ca_file=lab.ca_file, tls_legacy=False)
    (result,) = probe_urls([lab.url("smtp-good")], policy)
    assert lagged_injection == ["smtp.starttls_injection"]
    assert check(result, "smtp.starttls_injection") == (
        "not judged: no answer on the test connection within the deadline",
        "",
    )
    assert statuses(result) == {
        "connect": "pass",
        "smtp.starttls": "pass",
        "tls.handshake": "pass",
        "tls.version": "pass",
        "cert.chain": "pass",
        "cert.hostname": "pass",
        "cert.expiry": "pass",
        "smtp.auth_before_tls": "pass",
        "smtp.starttls_injection": "skip",
        "smtp.login": "pass",
        "tls.legacy": "skip",
    }


def test_smtp_injection_without_lag_is_judged(lab: Lab) -> None:
    """The twin without lag: the same server's injection test is judged, a pass."""
    policy = Policy(timeout=SMTP_TIMEOUT, ca_file=lab.ca_file)
    (result,) = probe_urls([lab.url("smtp-good")], policy)
    assert statuses(result)["smtp.starttls_injection"] == "pass"
