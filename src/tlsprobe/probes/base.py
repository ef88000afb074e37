"""What every probe shares: the deadline, the step being worked on, the transcript, and the
turning of any failure into checks. A probe body only says what happened."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlsprobe import net
from tlsprobe.failures import KIND_HINTS, Explained, Kind, explain
from tlsprobe.model import CHECKS, Check, Fix, Policy, Status, TargetResult, TlsInfo, TrustUsed
from tlsprobe.records import record
from tlsprobe.targets import Target, client_tls, client_trust

if TYPE_CHECKING:
    from tlsprobe.tls import Handshake, Negotiated, Roots

# The checks the shared TLS judge decides, in report order (ProbeState.record_tls).
TLS_CHECK_IDS = ("tls.handshake", "tls.version", "cert.chain", "cert.hostname", "cert.expiry")


@record
class Step:
    """A step of a probe: the check it decides (the part of `name` before "/"; a phase of a check
    is named "check/phase"), and how a deadline that catches it is said and mended. Steps that are
    whole checks come from the catalogue (model.CHECKS); each protocol defines its own phases."""

    name: str
    stall: str  # {t:g} is the deadline in seconds
    stall_hint: str = ""

    @property
    def check_id(self) -> str:
        return check_of(self.name)


def step_for(name: str) -> Step:
    """The step that is the whole check `name`, as the catalogue says it: a KeyError for a
    name not in it (a typo), never made-up words. tests/test_layout.py checks every literal."""
    spec = CHECKS[name]
    return Step(name, spec.stall, spec.stall_hint)


SNIFF_BUDGET = 1.0

# The step the running probe is in. The runner's safety net reads it after a probe overran or
# crashed, to name where: the probe runs in the runner's task, so the variable is shared with it
# and with nothing else (every target is a task of its own, with a copy of the context).
_CURRENT_STEP: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tlsprobe_step", default=None
)


def current_step() -> str | None:
    """The step the probe running in this task entered last (None: no probe recorded one)."""
    return _CURRENT_STEP.get()


def forget_step() -> None:
    """Start a new probe in this task with no step recorded."""
    _CURRENT_STEP.set(None)


@dataclass
class ProbeState:
    """The mutable working state of one probe run; turned into a frozen TargetResult at the end."""

    target: Target
    policy: Policy
    ids: Sequence[str]
    phase: Step = field(default_factory=lambda: step_for("connect"))
    checks: dict[str, Check] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    tls: TlsInfo | None = None
    started: float = field(default_factory=time.monotonic)
    # The checks decided since the step under way was entered, and the verdict the step takes
    # if the deadline catches it (None: the step's stall text, a fail). The deadline fires only
    # between awaits, so a verdict put before it is final (see `deadline_reached`).
    decided: set[str] = field(default_factory=set)
    on_deadline: Check | None = None
    # The client's own roots, and what the probe added to them for the handshake (--ca-file):
    # the PostgreSQL probe sets both as libpq has them (use_trust).
    own_trust: client_trust.ClientTrust = field(init=False)
    added_roots: Path | None = field(init=False)
    trust: TrustUsed | None = None
    # The handshake record_tls judged (cert.revocation reads its chain and path).
    handshake: Handshake | None = None

    def __post_init__(self) -> None:
        _CURRENT_STEP.set(self.step)
        self.use_trust(
            self.target.trust or client_trust.for_protocol(self.target.protocol),
            self.policy.ca_file,
        )

    def use_trust(self, own: client_trust.ClientTrust, added: Path | None) -> None:
        """Judge trust for `own`, the handshake having trusted its roots plus `added`."""
        self.own_trust, self.added_roots = own, added

    def handshake_roots(self) -> Roots:
        """The client's own roots, for the handshake (--ca-file is added apart)."""
        from tlsprobe.tls import own_store

        return own_store.roots_of(self.own_trust)

    @property
    def step(self) -> str:
        """The name of the step under way."""
        return self.phase.name

    def enter(self, step: str | Step, on_deadline: Check | None = None) -> None:
        """Start a step: a check id, or a protocol's own Step (a phase of a check).
        `on_deadline`: the step's verdict if the probe's deadline catches it (a step that is
        not judged when it runs out of time, rather than failed)."""
        self.phase = step if isinstance(step, Step) else step_for(step)
        self.decided = set()
        self.on_deadline = on_deadline
        _CURRENT_STEP.set(self.phase.name)

    def put(self, check: Check) -> None:
        self.checks[check.id] = check
        self.decided.add(check.id)

    def passed(self, check_id: str, detail: str = "") -> None:
        self.put(Check(check_id, Status.PASS, detail))

    def log(self, line: str) -> None:
        self.transcript.append(f"[{self.elapsed_ms():7.1f} ms] {line}")

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000

    def remaining(self) -> float:
        return max(0.0, self.policy.timeout - (time.monotonic() - self.started))

    def record_tls(self, negotiated: Negotiated[Any]) -> None:
        """The shared judge's verdicts on a negotiated session (tls.handshake, the version,
        chain, host name and expiry checks) and its TLS facts for the report."""
        from tlsprobe import tls  # imported here: the runner loads this module at start-up
        from tlsprobe.tls import own_store

        self.put(tls.handshake_check(negotiated))
        self.tls = tls.tls_info(negotiated.handshake)
        self.handshake = negotiated.handshake
        # Judged for this protocol's clients: a CN libpq accepts is not refused on behalf of
        # browsers that never connect to PostgreSQL, and trust is given in their terms.
        host, protocol = self.target.host, self.target.protocol
        self.trust = own_store.trust_used(negotiated.handshake, self.own_trust, self.added_roots)
        for check in tls.judge(negotiated, host, self.policy, protocol=protocol):
            self.put(self._held_to_own_trust(check))

    def _held_to_own_trust(self, check: Check) -> Check:
        """cert.chain warns when it passed only through --ca-file and the source says the real
        client will not have it (one that verifies nothing needs no root)."""
        from tlsprobe.tls import own_store

        own, client = self.own_trust, self.target.client
        relevant = check.id == "cert.chain" and check.status in (Status.PASS, Status.WARN)
        verifies = own.verifies and (client is None or client.verifies_chain)
        if relevant and own.known and verifies and self.trust and self.trust.ca_file_needed:
            return own_store.relied_on_ca_file(check, own)
        return check

    def fail_step(self, detail: str, hint: str = "", fix: str = "") -> None:
        """Fail the step under way; every check not yet decided is skipped because of it.
        `fix`: the kind of client change the hint asks for (model.Fix), when there is one."""
        self.put(Check(self.check_id, Status.FAIL, detail, hint, fix))
        self.skip_rest(f"not run: {self.check_id} failed")

    def deadline_reached(self) -> None:
        """The probe's one deadline caught the step under way. A verdict the step already
        reached stands (the deadline only cut short what came after it, a QUIT say); a step
        that said what a deadline means for it gets that verdict; any other step fails with
        its stall text. Never a second deadline inside a probe: two deadlines race under load,
        and the outer one would replace what the inner one decided."""
        stall, hint = stalled(self.phase, self.policy.timeout)
        self.log(f"deadline: {stall}")
        if self.check_id in self.decided:
            self.skip_rest(f"not run: the deadline of {self.policy.timeout:g} s came first")
        elif self.on_deadline is not None:
            self.put(self.on_deadline)
            self.skip_rest(f"not run: the deadline of {self.policy.timeout:g} s came first")
        else:
            self.fail_step(stall, hint)

    def skip_rest(self, detail: str) -> None:
        """Skip every check not yet decided, saying why."""
        for check_id in self.ids:
            if check_id not in self.checks:
                self.put(Check(check_id, Status.SKIP, detail))

    @property
    def check_id(self) -> str:
        return check_of(self.step)

    def result(self) -> TargetResult:
        ordered = [self.checks[i] for i in self.ids if i in self.checks]
        extra = [c for i, c in self.checks.items() if i not in self.ids]
        return result_for(
            self.target,
            tuple(ordered + extra),
            self.elapsed_ms(),
            tls=self.tls,
            transcript=tuple(self.transcript),
            facts=tuple(self.facts.items()),
            trust=self.trust,
        )


def result_for(
    target: Target,
    checks: tuple[Check, ...],
    elapsed_ms: float,
    *,
    tls: TlsInfo | None = None,
    transcript: tuple[str, ...] = (),
    facts: tuple[tuple[str, str], ...] = (),
    trust: TrustUsed | None = None,
) -> TargetResult:
    """A result that names its target the safe way (display URL, never the password)."""
    return TargetResult(
        name=target.label,
        target=target.display,
        protocol=target.protocol,
        host=target.host,
        port=target.port,
        source=target.source,
        checks=checks,
        elapsed_ms=round(elapsed_ms, 1),
        tls=tls,
        transcript=transcript,
        facts=facts,
        trust=trust,
    )


Body = Callable[[ProbeState], Awaitable[None]]


async def run_probe(target: Target, policy: Policy, ids: Sequence[str], body: Body) -> TargetResult:
    """Run `body` under the target's one deadline; every way it can end becomes checks."""
    state = ProbeState(target, policy, ids)
    if (client := client_encryption(target)) is not None:
        state.put(client)
    try:
        async with asyncio.timeout(policy.timeout):
            await body(state)
    except TimeoutError:
        state.deadline_reached()
    except Exception as exc:
        await fail_with(state, explain(exc))
    return state.result()


def check_of(step: str) -> str:
    """The check a step decides: a step may name a phase of it ("connect/greeting")."""
    return step.partition("/")[0]


def stalled(step: Step, timeout: float) -> tuple[str, str]:
    """How a step the deadline caught is said, and the hint for it."""
    return step.stall.format(t=timeout), step.stall_hint or KIND_HINTS[Kind.TIMEOUT]


def client_encryption(target: Target) -> Check | None:
    """client.encryption for targets whose configuration says how the client connects."""
    # The PostgreSQL probe fills `client` itself, from the libpq environment it was given.
    client = target.client
    if client is None and target.protocol == "http":
        client = client_tls.for_http("http", target.source)
    return client_tls.judge(client) if client is not None else None


async def fail_with(state: ProbeState, why: Explained) -> None:
    """Fail the current step with an explained error; a non-TLS answer gets sniffed and named."""
    state.log(f"error: {why.detail}")
    detail, hint, fix = why.detail, why.hint, why.fix
    if state.check_id == "connect":
        detail = f"{state.target.address} port {state.target.port}: {detail}"
        fix = Fix.ADDRESS
    if state.step == "tls.handshake" and why.kind in (Kind.TLS_PLAINTEXT, Kind.EOF, Kind.RESET):
        budget = min(SNIFF_BUDGET, state.remaining())
        seen = await net.sniff(state.target.address, state.target.port, budget)
        if seen is not None:
            state.log(f"plain TCP sniff: {seen[:80]!r}")
            sniffed, hint = net.describe_plaintext(seen)
            detail = f"{detail}; {sniffed}"
            fix = Fix.PLAINTEXT_FIRST
    state.fail_step(detail, hint, fix)
