"""What every probe shares: the deadline, the step being worked on, the transcript, and the
turning of any failure into checks. A probe body only says what happened."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from tlsprobe import sniff
from tlsprobe.errors import Explained, explain
from tlsprobe.model import Check, Policy, Status, TargetResult, TlsInfo
from tlsprobe.targets import Target

# How each step is named when the deadline passes while it is under way.
STALLS = {
    "connect": "no TCP connection within {t:g} s",
    "tls.handshake": "no TLS ServerHello within {t:g} s",
    "http.status": "no HTTP response within {t:g} s",
}
SNIFF_BUDGET = 1.0


@dataclass
class ProbeState:
    """The mutable working state of one probe run; turned into a frozen TargetResult at the end."""

    target: Target
    policy: Policy
    ids: Sequence[str]
    step: str = "connect"
    checks: dict[str, Check] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    tls: TlsInfo | None = None
    started: float = field(default_factory=time.monotonic)

    def enter(self, step: str) -> None:
        self.step = step

    def put(self, check: Check) -> None:
        self.checks[check.id] = check

    def passed(self, check_id: str, detail: str = "") -> None:
        self.put(Check(check_id, Status.PASS, detail))

    def log(self, line: str) -> None:
        self.transcript.append(f"[{self.elapsed_ms():7.1f} ms] {line}")

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def remaining(self) -> float:
        return max(0.0, self.policy.timeout - (time.monotonic() - self.started))

    def fail_step(self, detail: str, hint: str = "") -> None:
        """Fail the step under way; every check not yet decided is skipped because of it."""
        self.put(Check(self.step, Status.FAIL, detail, hint))
        for check_id in self.ids:
            if check_id not in self.checks:
                self.put(Check(check_id, Status.SKIP, f"not run: {self.step} failed"))

    def result(self) -> TargetResult:
        ordered = [self.checks[i] for i in self.ids if i in self.checks]
        extra = [c for i, c in self.checks.items() if i not in self.ids]
        target = self.target
        return TargetResult(
            name=target.label,
            target=target.display,
            protocol=target.protocol,
            host=target.host,
            port=target.port,
            source=target.source,
            checks=tuple(ordered + extra),
            elapsed_ms=round(self.elapsed_ms(), 1),
            tls=self.tls,
            transcript=tuple(self.transcript),
            facts=tuple(self.facts.items()),
        )


Body = Callable[[ProbeState], Awaitable[None]]


async def run_probe(target: Target, policy: Policy, ids: Sequence[str], body: Body) -> TargetResult:
    """Run `body` under the target's one deadline; every way it can end becomes checks."""
    state = ProbeState(target, policy, ids)
    try:
        async with asyncio.timeout(policy.timeout):
            await body(state)
    except TimeoutError:
        stall = STALLS.get(state.step, "no answer during " + state.step + " within {t:g} s")
        state.log(f"deadline: {stall.format(t=policy.timeout)}")
        state.fail_step(stall.format(t=policy.timeout), "the server accepts but does not answer")
    except Exception as exc:
        await fail_with(state, explain(exc))
    return state.result()


async def fail_with(state: ProbeState, why: Explained) -> None:
    """Fail the current step with an explained error; a non-TLS answer gets sniffed and named."""
    state.log(f"error: {why.detail}")
    detail, hint = why.detail, why.hint
    if state.step == "connect":
        detail = f"{state.target.address} port {state.target.port}: {detail}"
    if state.step == "tls.handshake" and why.kind in ("tls-plaintext", "eof", "reset"):
        budget = min(SNIFF_BUDGET, state.remaining())
        seen = await sniff.sniff(state.target.address, state.target.port, budget)
        if seen is not None:
            state.log(f"plain TCP sniff: {seen[:80]!r}")
            sniffed, hint = sniff.describe_plaintext(seen)
            detail = f"{detail}; {sniffed}"
    state.fail_step(detail, hint)
