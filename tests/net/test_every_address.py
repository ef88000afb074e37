"""Every probe connects through net.connect: through the real runner, on asyncio's loop and on
uvloop, HTTPS, SMTP and PostgreSQL name each address of a host that failed with its own reason,
read "refused" when every address refuses, and lose only the stagger to a blackholed first
address."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop
from netservers import (
    SLACK,
    TICK,
    addrinfo,
    blackhole,
    closed_port,
    connecting_to,
    needs_ipv6,
    resolving,
)

from conftest import statuses
from tlsprobe import net
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, Status, TargetResult
from tlsprobe.runner import Run
from tlsprobe.targets import parse_target

REFUSED_HINT = "check the port, and that the service is running"
NO_ROUTE = "224.0.0.1"  # TCP to a multicast group: ENETUNREACH at once (see test_connect.py)
URLS = {
    "https": "https://localhost:{port}/",
    "smtp": "smtp://localhost:{port}",
    "postgresql": "postgresql://localhost:{port}/postgres?sslmode=require",
}
LAB_GOOD = {"https": "https-good", "smtp": "smtp-good", "postgresql": "pg-good"}
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def run_on(loop: str, coro: Coroutine[Any, Any, list[TargetResult]]) -> list[TargetResult]:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(coro)


def probe(loop: str, url: str, policy: Policy) -> TargetResult:
    """One target through the real runner on `loop`."""
    (result,) = run_on(loop, Run([parse_target(url)], policy).execute())
    return result


def connect_check(result: TargetResult) -> tuple[Status, str, str]:
    found = result.check("connect")
    assert found is not None
    return found.status, found.detail, found.hint


@needs_ipv6
@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("protocol", URLS)
def test_refused_on_every_address(
    protocol: str, loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """localhost listing ::1 and 127.0.0.1, both refusing: connect fails as "refused" on every
    protocol, naming both addresses, and every other check is skipped because of it."""
    port = closed_port()
    resolving(monkeypatch, "localhost", [addrinfo("::1", port), addrinfo("127.0.0.1", port)])
    result = probe(loop, URLS[protocol].format(port=port), Policy(timeout=2.0))
    assert connect_check(result) == (
        Status.FAIL,
        f"localhost port {port}: every address failed: ::1: connection refused;"
        " 127.0.0.1: connection refused",
        REFUSED_HINT,
    )
    probed = [c for c in result.checks if c.id not in ("connect", "client.encryption")]
    assert {(c.status, c.detail) for c in probed} == {(Status.SKIP, "not run: connect failed")}


@needs_ipv6
@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("protocol", URLS)
def test_mixed_errors_name_each_address(
    protocol: str, loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """::1 refusing and an address without a route: connect names each with its own reason and
    reads "refused" (the address that reached a host says what to mend)."""
    port = closed_port()
    resolving(monkeypatch, "localhost", [addrinfo("::1", port), addrinfo(NO_ROUTE, port)])
    result = probe(loop, URLS[protocol].format(port=port), Policy(timeout=2.0))
    assert connect_check(result) == (
        Status.FAIL,
        f"localhost port {port}: every address failed: ::1: connection refused;"
        f" {NO_ROUTE}: network is unreachable",
        REFUSED_HINT,
    )


_STAMP = re.compile(r"^\[\s*([0-9.]+) ms\] (.*)$")


def connect_gap(result: TargetResult) -> float:
    """Seconds between the first "connect" line of the transcript and the line after it."""
    stamped = [m.groups() for line in result.transcript if (m := _STAMP.match(line))]
    at = next(i for i, (_, text) in enumerate(stamped) if text.startswith("connect "))
    return (float(stamped[at + 1][0]) - float(stamped[at][0])) / 1000


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("protocol", LAB_GOOD)
def test_a_blackholed_first_address_costs_the_stagger(
    lab: Lab, protocol: str, loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A good lab server whose name lists first an address that drops SYNs: the probe connects
    to the second after STAGGER_S (not the 5 s deadline), gives the verdicts it gives without
    the blackhole, and leaves no attempt connecting to the blackhole."""
    url = lab.url(LAB_GOOD[protocol])
    port = parse_target(url).port
    policy = Policy(timeout=5.0, ca_file=lab.ca_file)
    plain = probe(loop, url, policy)
    with blackhole(port):
        resolving(
            monkeypatch, "localhost", [addrinfo("127.0.0.2", port), addrinfo("127.0.0.1", port)]
        )
        detoured = probe(loop, url, policy)
        assert connecting_to("127.0.0.2", port) == 0
    assert statuses(detoured) == statuses(plain)
    assert set(statuses(plain).values()) == {"pass"}
    assert connect_gap(plain) < net.STAGGER_S / 2
    assert net.STAGGER_S - TICK <= connect_gap(detoured) < net.STAGGER_S + SLACK
