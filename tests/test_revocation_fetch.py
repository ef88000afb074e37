"""--revocation's fetch cache against the lab's CRL server (bounded by age and by size, one
download per URL while cached), a failed fetch that leaves nothing for asyncio to report, and
cert.revocation's hint chosen by the kind of each answer, never by its words."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import weakref

import httpx
import pytest

from tlsprobe.lab import Lab
from tlsprobe.model import Status
from tlsprobe.tls import revocation, revocation_fetch
from tlsprobe.tls.revocation import Outcome, Said


def downloads(lab: Lab) -> int:
    """How many times the lab's CRL has been downloaded so far (the responder's own log)."""
    log = httpx.get(lab.url("revocation-responder").replace("lab.crl", "asked"), timeout=5).text
    return int(dict(line.split() for line in log.splitlines()).get("crl", 0))


class Clock:
    """The cache's clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(revocation_fetch, "clock", moved)
    return moved


async def fetched(url: str) -> list[str]:
    """Fetch `url` (a GET) and say which URLs the cache holds then, oldest first."""
    await revocation_fetch.fetch(url)
    return [url for url, _ in revocation_fetch.cached(asyncio.get_running_loop())]


def test_the_cache_keeps_at_most_max_entries(
    lab: Lab, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_ENTRIES the oldest URL goes: five CRL URLs through a cache of three leave the
    last three; a kept one is not downloaded again, a dropped one is."""
    monkeypatch.setattr(revocation_fetch, "MAX_ENTRIES", 3)
    crl = lab.url("revocation-responder")
    urls = [f"{crl}?n={n}" for n in range(5)]

    async def run() -> None:
        before = downloads(lab)
        for url in urls:
            clock.now += 1
            held = await fetched(url)
        assert held == urls[2:]
        assert downloads(lab) == before + 5
        await fetched(urls[4])
        assert downloads(lab) == before + 5
        await fetched(urls[0])
        assert downloads(lab) == before + 6

    asyncio.run(run())


def test_under_the_bound_nothing_is_dropped(lab: Lab, clock: Clock) -> None:
    """The twin: three URLs under the real bound are all kept, each downloaded once, in the
    order they were first asked for."""
    crl = lab.url("revocation-responder")
    urls = [f"{crl}?keep={n}" for n in range(3)]

    async def run() -> None:
        before = downloads(lab)
        for url in urls + urls:
            held = await fetched(url)
        assert held == urls
        assert downloads(lab) == before + 3

    asyncio.run(run())


def test_an_entry_expires_after_cache_s(lab: Lab, clock: Clock) -> None:
    """An entry younger than CACHE_S is served from the cache; once older, the next fetch
    drops it (whatever URL that fetch is for), and asking for it again downloads again."""
    crl = lab.url("revocation-responder")
    first, other = f"{crl}?age=1", f"{crl}?age=2"

    async def run() -> None:
        before = downloads(lab)
        await fetched(first)
        clock.now += revocation_fetch.CACHE_S - 1
        await fetched(first)
        assert downloads(lab) == before + 1
        clock.now += 2
        assert await fetched(other) == [other]
        assert await fetched(first) == [other, first]
        assert downloads(lab) == before + 3

    asyncio.run(run())


def asked_of_a_503_responder(clock: Clock, steps: tuple[float, ...], answer_takes: float) -> int:
    """Fetch a responder that answers 503 once per step (the cache's clock moved on by each
    step before, and by `answer_takes` while it answers); how often it was asked."""
    asked: list[int] = []

    async def unavailable(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(1)
        clock.now += answer_takes
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def run() -> None:
        server = await asyncio.start_server(unavailable, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocsp"
        for step in steps:
            clock.now += step
            with pytest.raises(revocation_fetch.FetchFailed, match="HTTP 503"):
                await revocation_fetch.fetch(url)
        server.close()
        await server.wait_closed()

    asyncio.run(run())
    return len(asked)


def test_a_failure_is_asked_again_after_failure_s(clock: Clock) -> None:
    """A responder that answered 503 is not asked again within FAILURE_S (the failure is
    served from the cache), and is after it; a good answer is kept for CACHE_S (above)."""
    steps = (0.0, revocation_fetch.FAILURE_S - 1, 2.0)
    assert asked_of_a_503_responder(clock, steps, answer_takes=0.0) == 2


def test_failure_s_counts_from_the_failure(clock: Clock) -> None:
    """A responder that takes 25 s (on the cache's clock) to answer 503: the failure is kept
    FAILURE_S from when it came, so a fetch 31 s after the asking is still the cached one
    (asked at 0, failed at 25, cached at 31, asked again at 61)."""
    assert asked_of_a_503_responder(clock, (0.0, 6.0, 30.0), answer_takes=25.0) == 2


def test_a_responder_that_never_answers_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A responder that takes the request and says nothing ends as FetchFailed within the
    fetch's own bound (aiohttp's timeout is not one of its ClientErrors)."""
    monkeypatch.setattr(revocation_fetch, "FAILURE_S", 0.3)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(1 << 16)
            await asyncio.sleep(5)
        finally:  # cancelled when the run ends: the connection goes with it
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocsp"
        with pytest.raises(revocation_fetch.FetchFailed, match=r"did not answer within 0\.3 s"):
            await revocation_fetch.fetch(url)
        server.close()
        await server.wait_closed()

    asyncio.run(run())


def _reports_after(start: str) -> list[str]:
    """On a loop of its own: a server that closes each connection unanswered after 0.2 s, and
    a fetch of it (two targets waiting 0.05 s each, then gone) or the same request as a bare
    task; the loop runs on until the fetch has failed, then is dropped and collected. What
    asyncio reported to the loop's exception handler (the loop must be gone: nothing holds it)."""
    reports: list[str] = []
    gone: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))

    async def close_later(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.2)
        writer.close()

    async def waiter(url: str) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.05):
                await revocation_fetch.fetch(url)

    async def run() -> None:
        gone.append(weakref.ref(asyncio.get_running_loop()))
        server = await asyncio.start_server(close_later, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/lab.crl"
        loop = asyncio.get_running_loop()
        if start == "fetch":
            await asyncio.gather(waiter(url), waiter(url))
            running = [t for t in revocation_fetch._RUNNING if t.get_loop() is loop]
        else:
            running = [loop.create_task(revocation_fetch._http(url, None))]
        # The fetch fails meanwhile, with nobody waiting; waited for, not timed (under load).
        await asyncio.wait(running)
        del running
        for _ in range(3):  # the done callbacks (the cache's _settle) run on the next turns
            await asyncio.sleep(0)
        if start == "fetch":  # the failure, kept as words, is the next caller's at once
            async with asyncio.timeout(0.05):
                with pytest.raises(revocation_fetch.FetchFailed, match="ServerDisconnected"):
                    await revocation_fetch.fetch(url)
        server.close()
        await server.wait_closed()

    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    del loop
    gc.collect()
    assert gone[0]() is None
    return reports


def test_a_failed_fetch_nobody_awaits_leaves_no_report() -> None:
    """A fetch whose two waiters both gave up fails later: fetch() takes the failure, so
    asyncio has nothing to report, and the cache does not keep the loop alive."""
    assert _reports_after("fetch") == []


def test_a_bare_failed_task_is_reported() -> None:
    """The twin, proving the test can see it: the same failing request as a bare task, its
    failure never taken, is reported by asyncio."""
    reports = _reports_after("bare")
    assert reports == ["Task exception was never retrieved"]


def test_a_failing_fetch_shared_by_two_targets_ends_clean(lab: Lab) -> None:
    """Two targets of one run wait on the one fetch of an unreachable responder: both warn
    with the soft-fail hint, and the run ends with nothing on stderr."""
    url = lab.url("revocation-responder-unreachable")
    urls = [url, url.replace("localhost", "127.0.0.1")]
    ran = subprocess.run(
        [sys.executable, "-m", "tlsprobe", "check", "--revocation", "--ca-file",
         str(lab.ca_file), "--format", "json", "--timeout", "3", *urls],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert ran.stderr == ""
    assert ran.returncode == 0
    checks = [
        {c["id"]: c for c in result["checks"]}["cert.revocation"]
        for result in json.loads(ran.stdout)["results"]
    ]
    assert [c["status"] for c in checks] == ["warn", "warn"]
    assert checks[0]["detail"] == checks[1]["detail"]
    assert " unreachable (ClientConnectorError: " in checks[0]["detail"]
    assert {c["hint"] for c in checks} == {revocation.SOFT_FAIL_HINT}


# Each kind of answer, with its status, and the hint it alone calls for. The words are chosen
# to mislead: a hint read from the words would pick the wrong one.
KINDS = {
    Said.GOOD: (Status.PASS, ""),
    Said.NO_STAPLE: (Status.PASS, ""),
    Said.REVOKED: (Status.FAIL, revocation.REISSUE_HINT),
    Said.UNPARSED: (Status.WARN, revocation.STAPLE_HINT),
    Said.RESPONDER_ERROR: (Status.WARN, revocation.STAPLE_HINT),
    Said.OTHER_CERTIFICATE: (Status.WARN, revocation.STAPLE_HINT),
    Said.BAD_SIGNATURE: (Status.WARN, revocation.STAPLE_HINT),
    Said.STALE: (Status.WARN, revocation.STAPLE_HINT),
    Said.MUST_STAPLE_MISSING: (Status.WARN, revocation.STAPLE_HINT),
    Said.NO_ISSUER: (Status.WARN, revocation.STAPLE_HINT),
    Said.UNKNOWN: (Status.WARN, revocation.UNKNOWN_HINT),
    Said.UNREACHABLE: (Status.WARN, revocation.SOFT_FAIL_HINT),
    Said.NO_ANSWER: (Status.WARN, revocation.SOFT_FAIL_HINT),
}
MISLEADING = "unreachable, no answer, unknown"


@pytest.mark.parametrize("said", sorted(KINDS, key=lambda s: s.value))
def test_the_hint_is_chosen_by_the_kind(said: Said) -> None:
    """One outcome of each kind, whatever its words, gets the hint of its kind."""
    status, hint = KINDS[said]
    check = revocation.verdict([("", Outcome(status, MISLEADING, said))])
    assert (check.status, check.hint) == (status, hint)


def test_every_kind_is_covered() -> None:
    """Every kind but the skip has its row above (a new kind must say its hint)."""
    assert set(KINDS) == set(Said) - {Said.NOT_ASKED}
    assert revocation.verdict([("", Outcome(Status.SKIP, MISLEADING))]).status is Status.SKIP


@pytest.mark.parametrize(
    ("stapled", "fetched", "hint"),
    [
        ((), (Said.UNREACHABLE, Said.NO_ANSWER), revocation.SOFT_FAIL_HINT),
        ((), (Said.UNREACHABLE, Said.UNKNOWN), revocation.UNKNOWN_HINT),
        ((Said.STALE,), (Said.UNKNOWN,), revocation.STAPLE_HINT),
        ((Said.MUST_STAPLE_MISSING,), (Said.NO_ANSWER,), revocation.STAPLE_HINT),
        ((), (Said.STALE,), revocation.RESPONDER_HINT),
        ((), (Said.BAD_SIGNATURE, Said.UNREACHABLE), revocation.RESPONDER_HINT),
        ((), (Said.OTHER_CERTIFICATE, Said.UNKNOWN), revocation.UNKNOWN_HINT),
    ],
)
def test_mixed_warnings_put_the_staple_first(
    stapled: tuple[Said, ...], fetched: tuple[Said, ...], hint: str
) -> None:
    """Among several warnings, a staple to fix comes first, then an unknown, then a CA
    responder's answer that clients reject ("tell the CA", not "staple"), and the soft-failing
    fetches only when nothing else warns."""
    outcomes = [("", Outcome(Status.WARN, MISLEADING, k)) for k in stapled]
    outcomes += [(f"CN={k.value}", Outcome(Status.WARN, MISLEADING, k)) for k in fetched]
    assert revocation.verdict(outcomes).hint == hint
