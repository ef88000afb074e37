"""cert.revocation after a protocol preamble: the staple asked for after SMTP's STARTTLS and
after PostgreSQL's SSLRequest (or on a direct ClientHello), each case with its exact verdict,
the servers that refuse the side hello's preamble, real PostgreSQL (which never staples), and
openssl s_client as the oracle that reads the same staple."""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import probe_urls
from tlsprobe.lab import Lab
from tlsprobe.lab import revocation as lab_revocation
from tlsprobe.lab import staple_starttls as lab_staple
from tlsprobe.lab.certs import Pki
from tlsprobe.lab.postgres_cluster import Clusters, ClusterSpec, Unavailable
from tlsprobe.lab.server import Case, Handler, Servers
from tlsprobe.model import Check, Policy, Status, TargetResult
from tlsprobe.probes import postgres as pg_probe
from tlsprobe.probes import revocation as probe_revocation
from tlsprobe.probes import smtp as smtp_probe
from tlsprobe.probes.base import ProbeState, current_step, stalled, step_for
from tlsprobe.probes.postgres import preamble as pg_preamble
from tlsprobe.runner import Run
from tlsprobe.targets import parse_target
from tlsprobe.tls import revocation

TIMEOUT = 4.0
CASES = ("staple-smtp-good", "staple-smtp-revoked", "staple-pg-good", "staple-pg-revoked")
WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
GOOD = rf"good \(OCSP, produced {WHEN}, next update {WHEN}\)"
REVOKED = rf"revoked on {WHEN} \(key_compromise\)"
PG_URL = "postgresql://localhost:{port}/postgres?sslmode=verify-full"


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[str, TargetResult]:
    """Every stapling lab server after its preamble, probed once without --revocation."""
    probed = probe_urls([lab.url(n) for n in CASES], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    return dict(zip(CASES, probed, strict=True))


def verdict(result: TargetResult) -> tuple[str, str, str] | None:
    check = result.check("cert.revocation")
    return None if check is None else (check.status.value, check.detail, check.hint)


class AnyMatch(str):
    """A detail pattern that compares equal to the text it fully matches."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(str(self), other) is not None

    __hash__ = str.__hash__


def status(result: TargetResult, check_id: str) -> Status | None:
    check = result.check(check_id)
    return None if check is None else check.status


def others(result: TargetResult) -> set[Status]:
    return {c.status for c in result.checks if c.id != "cert.revocation"}


STAPLED = {
    "staple-smtp-good": ("pass", rf"stapled: {GOOD}", ""),
    "staple-smtp-revoked": ("fail", rf"stapled: {REVOKED}", re.escape(revocation.REISSUE_HINT)),
    "staple-pg-good": ("pass", rf"stapled: {GOOD}", ""),
    "staple-pg-revoked": ("fail", rf"stapled: {REVOKED}", re.escape(revocation.REISSUE_HINT)),
}


@pytest.mark.parametrize("name", CASES)
def test_the_staple_after_the_preamble_is_judged(
    results: dict[str, TargetResult], name: str
) -> None:
    """Each server's staple, asked for after STARTTLS or the SSLRequest, gets its exact verdict
    and fact, and every other check still passes (the side hello touches no other verdict)."""
    result = results[name]
    got = verdict(result)
    assert got is not None
    status, detail, hint = STAPLED[name]
    assert got[0] == status
    assert re.fullmatch(detail, got[1]), got[1]
    assert re.fullmatch(hint, got[2]), got[2]
    assert dict(result.facts)["ocsp_staple"] == got[1].removeprefix("stapled: ")
    assert others(result) == {Status.PASS}


def test_the_side_hello_leaves_no_trace_in_the_transcript(
    results: dict[str, TargetResult],
) -> None:
    """The preamble ran on a shadow state: the transcript shows the probe's own STARTTLS (the
    session and the injection test), never a third, and cert.revocation's one line."""
    transcript = results["staple-smtp-good"].transcript
    assert sum(line.endswith("C: STARTTLS") for line in transcript) == 2
    assert sum("cert.revocation: " in line for line in transcript) == 1


def test_the_preamble_runs_on_a_shadow(lab: Lab) -> None:
    """A preamble that puts a check (before entering a step too), enters a step and logs (as
    legacy's do) leaves the probe's checks, decided checks, transcript, facts and the step a
    crash would be named by as they were."""
    target = parse_target(lab.url("staple-pg-good"))

    async def noisy(shadow: ProbeState) -> socket.socket:
        shadow.put(Check("tls.handshake", Status.PASS, "noisy, before any step"))
        shadow.enter(step_for("connect"))
        shadow.log("noisy")
        shadow.put(Check("connect", Status.FAIL, "noisy"))
        shadow.facts["noisy"] = "yes"
        return await pg_preamble.sslrequest(shadow)

    async def run() -> tuple[ProbeState, str | None]:
        state = ProbeState(target, Policy(timeout=TIMEOUT), ("connect", "cert.revocation"))
        state.enter(step_for("cert.revocation"))
        sock = await probe_revocation._preamble(state, noisy)
        sock.close()
        return state, current_step()

    state, step = asyncio.run(run())
    assert (state.checks, state.transcript, state.facts, state.decided) == ({}, [], {}, set())
    assert step == "cert.revocation"
    assert state.phase.name == "cert.revocation"


def test_revocation_flag_also_asks_the_responder(lab: Lab) -> None:
    """With --revocation the staple-* leaves' own responder is asked too, and agrees."""
    names = ["staple-smtp-revoked", "staple-pg-good"]
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file, revocation=True)
    smtp_revoked, pg_good = probe_urls([lab.url(n) for n in names], policy)
    asked = r" from http://127\.0\.0\.1:\d+/ocsp"
    assert verdict(smtp_revoked) == (
        "fail",
        AnyMatch(rf"stapled: {REVOKED}; CN=staple-smtp-revoked: {REVOKED}{asked}"),
        revocation.REISSUE_HINT,
    )
    assert verdict(pg_good) == (
        "pass",
        AnyMatch(rf"stapled: {GOOD}; CN=staple-pg-good: {GOOD}{asked}"),
        "",
    )


def test_direct_tls_asks_on_the_first_byte(lab: Lab) -> None:
    """sslnegotiation=direct: no SSLRequest, the side hello is TLS from the first byte, and it
    finds the same revoked staple."""
    url = lab.url("staple-pg-revoked") + "&sslnegotiation=direct"
    result = probe_urls([url], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))[0]
    got = verdict(result)
    assert got is not None
    assert got[0] == "fail"
    assert re.fullmatch(rf"stapled: {REVOKED}", got[1]), got[1]
    assert status(result, "pg.sslrequest") is Status.SKIP


def test_a_refused_starttls_has_no_revocation_check(lab: Lab) -> None:
    """The bad twin of the probe's own session: STARTTLS answered 454 (smtp-starttls-454)
    leaves no certificate to judge, so no side hello and no cert.revocation at all."""
    result = probe_urls([lab.url("smtp-starttls-454")], Policy(timeout=TIMEOUT))[0]
    assert result.check("cert.revocation") is None


def test_a_leaf_naming_no_responder_gets_no_side_hello(lab: Lab) -> None:
    """The cost twin: smtp-good's leaf names no responder and is not must-staple, so no
    STARTTLS side hello is paid for and cert.revocation is absent."""
    result = probe_urls([lab.url("smtp-good")], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))[0]
    assert result.check("cert.revocation") is None
    assert not any("cert.revocation" in line for line in result.transcript)


# --- servers that grant one TLS session: the side hello's preamble is refused ----------------


def probe_one_session(
    tmp_path: Path, serve: str, url: str, gate: lab_staple.Gate | None = None
) -> TargetResult:
    """Probe a fresh lab server (lab_staple.smtp or .postgres) that grants one TLS session: the
    probe's own, so every later preamble, the side hello's among them, is refused."""
    pki = Pki(tmp_path)
    responder = lab_revocation.Responder(pki)
    gate = gate or lab_staple.Gate(1)
    stapler, _ = lab_staple.staplers(pki, responder, "one-session", gate)
    responder.sock.close()
    handler: Handler = functools.partial(getattr(lab_staple, serve), stapler)

    async def run() -> TargetResult:
        servers = Servers()
        try:
            port = await servers.listen(Case("one-session", "one TLS session", handler))
            target = parse_target(url.format(port=port))
            policy = Policy(timeout=TIMEOUT, ca_file=pki.ca_file)
            return (await Run([target], policy).execute())[0]
        finally:
            await servers.close()

    return asyncio.run(run())


def test_starttls_refused_in_the_side_hello_only(tmp_path: Path) -> None:
    """STARTTLS answered 454 to the side hello (the session itself got 220 and TLS): no staple
    asked, in the server's own words, never a guess; the session's TLS verdicts stand."""
    result = probe_one_session(tmp_path, "smtp", "smtp://localhost:{port}")
    assert verdict(result) == (
        "skip",
        f"no staple asked: the server answered {lab_staple.REFUSED_STARTTLS} to STARTTLS",
        "",
    )
    assert dict(result.facts)["ocsp_staple"] == "not asked"
    assert status(result, "tls.handshake") is Status.PASS
    assert status(result, "cert.chain") is Status.PASS


def test_sslrequest_answered_n_in_the_side_hello_only(tmp_path: Path) -> None:
    """The SSLRequest answered N to the side hello (the probe's own got S and TLS): no staple
    asked, saying so; the session's TLS verdicts stand."""
    result = probe_one_session(tmp_path, "postgres", PG_URL)
    assert verdict(result) == (
        "skip",
        "no staple asked: the server answered N to the SSLRequest (no TLS on this connection)",
        "",
    )
    assert dict(result.facts)["ocsp_staple"] == "not asked"
    assert status(result, "tls.handshake") is Status.PASS


def test_a_side_hello_that_stalls_is_said_at_the_deadline(tmp_path: Path) -> None:
    """The SSLRequest never answered in the side hello: cert.revocation still has its verdict
    within the target's one deadline, saying what stalled."""
    result = probe_one_session(tmp_path, "postgres", PG_URL, lab_staple.Gate(1, stall=True))
    stall, _ = stalled(step_for("cert.revocation"), TIMEOUT)
    assert verdict(result) == ("skip", f"no staple asked: the side hello had {stall}", "")
    assert status(result, "tls.handshake") is Status.PASS
    assert result.elapsed_ms < TIMEOUT * 1000


def test_refusals_are_said_plainly() -> None:
    """Every other answer to the side hello's SSLRequest is named as it came."""
    assert pg_preamble.refused(b"") == (
        "the server closed the connection instead of answering the SSLRequest"
    )
    assert pg_preamble.refused(b"E") == "the server answered b'E' to the SSLRequest"


def test_each_protocol_has_its_own_stapling_advice() -> None:
    """Neither PostgreSQL nor Postfix staples: their hints do not send an admin to nginx."""
    assert "nginx" not in pg_probe.STAPLE_HINT
    assert "PostgreSQL cannot staple" in pg_probe.STAPLE_HINT
    assert "Postfix cannot staple" in smtp_probe.STAPLE_HINT


# --- real PostgreSQL: it never staples ---------------------------------------------------


@pytest.fixture(scope="module")
def real_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pki, dict[str, int]]]:
    """Two real clusters: a must-staple leaf and a plain one, both naming an OCSP responder."""
    pki = Pki(tmp_path_factory.mktemp("staple-pg"))
    responder = lab_revocation.Responder(pki)
    port = responder.port
    must = lab_revocation.responder_leaf(
        pki, "pg-must-staple", ocsp_port=port, crl_port=None, must_staple=True
    )
    plain = lab_revocation.responder_leaf(pki, "pg-ocsp-named", ocsp_port=port, crl_port=None)
    responder.sock.close()
    clusters = Clusters(
        [ClusterSpec("must-staple", must.identity), ClusterSpec("ocsp-named", plain.identity)]
    )
    try:
        running = clusters.start()
    except Unavailable as exc:  # make test needs PostgreSQL's server binaries, as the lab does
        pytest.fail(f"PostgreSQL cannot run: {exc}", pytrace=False)
    try:
        yield pki, {r.name: r.port for r in running}
    finally:
        clusters.stop()


def test_real_postgresql_with_a_must_staple_leaf_warns(
    real_pg: tuple[Pki, dict[str, int]],
) -> None:
    """PostgreSQL never staples: a must-staple leaf warns (Firefox refuses, libpq does not
    check), with PostgreSQL's own advice, and every other check passes."""
    pki, ports = real_pg
    url = PG_URL.format(port=ports["must-staple"])
    result = probe_urls([url], Policy(timeout=TIMEOUT, ca_file=pki.ca_file))[0]
    assert verdict(result) == (
        "warn",
        f"must-staple, and the server staples nothing: {revocation.MUST_STAPLE_CLIENTS}",
        pg_probe.STAPLE_HINT,
    )
    assert dict(result.facts)["ocsp_staple"] == "none"
    assert others(result) == {Status.PASS}


def test_real_postgresql_with_a_plain_leaf_has_no_staple(
    real_pg: tuple[Pki, dict[str, int]],
) -> None:
    """The twin: a leaf that only names a responder is asked, and "no staple" passes, as for
    an HTTPS server that does not staple."""
    pki, ports = real_pg
    url = PG_URL.format(port=ports["ocsp-named"])
    result = probe_urls([url], Policy(timeout=TIMEOUT, ca_file=pki.ca_file))[0]
    assert verdict(result) == ("pass", "no staple", "")
    assert dict(result.facts)["ocsp_staple"] == "none"
    assert others(result) == {Status.PASS}


# --- the oracle: openssl s_client reads the same staple --------------------------------------


def s_client(port: int, starttls: str) -> str:
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", starttls, "-status"],
        input=b"",
        capture_output=True,
        timeout=10,
        check=False,
    ).stdout.decode()


def port_of(url: str) -> int:
    port = parse_target(url).port
    assert port is not None
    return port


@pytest.mark.parametrize(
    ("name", "starttls"), [("staple-smtp-revoked", "smtp"), ("staple-pg-revoked", "postgres")]
)
def test_openssl_sees_the_same_revoked_staple(lab: Lab, name: str, starttls: str) -> None:
    """openssl s_client -starttls -status, a real client, reads the revoked staple tlsprobe
    failed after the same preamble."""
    shown = s_client(port_of(lab.url(name)), starttls)
    assert "Cert Status: revoked" in shown
    assert "Revocation Reason: keyCompromise" in shown


def test_openssl_sees_the_good_staple(lab: Lab) -> None:
    """The good twin: s_client reads a good staple after STARTTLS."""
    shown = s_client(port_of(lab.url("staple-smtp-good")), "smtp")
    assert "Cert Status: good" in shown


def test_openssl_sees_no_staple_from_real_postgresql(real_pg: tuple[Pki, dict[str, int]]) -> None:
    """s_client -starttls postgres -status agrees that real PostgreSQL sends no staple."""
    shown = s_client(real_pg[1]["must-staple"], "postgres")
    assert "OCSP response: no response sent" in shown
    assert "Cert Status" not in shown
