"""--revocation: OCSP from each certificate's AIA, else its CRL, fetched over HTTP (aiohttp's
client), each URL once per run.

A run is one event loop's worth of probes within CACHE_S: the targets of a CLI run share the
answers of a CA's responder, and an exporter that runs for weeks asks again after CACHE_S. A
fetch is shared, not the deadline: every target waits on it within its own.

The cache is bounded twice, since an exporter's loop lives for months and every certificate
asked about is an entry of its own: entries past CACHE_S go at the next fetch, and beyond
MAX_ENTRIES the oldest go. A fetch whose waiters all gave up (their deadlines passed) still
runs to its end, and its end is taken here: its answer (or failure, as words) replaces the task
in the cache, so that nothing is left for asyncio to report ("Task exception was never
retrieved") and no finished task keeps its loop alive through the cache.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import itertools
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import TypeAlias

from cryptography import x509

from tlsprobe.model import Status
from tlsprobe.tls import certs, responders, revocation
from tlsprobe.tls.revocation import Outcome, Said

CACHE_S = 300.0
# A failed fetch is asked again sooner: a responder down for a moment would otherwise show as
# down in an exporter's every scrape for the whole of CACHE_S.
FAILURE_S = 30.0
MAX_ENTRIES = 512  # URLs x certificates; each entry holds one response, a CRL at most MAX_BODY
MAX_BODY = 10 * 1024 * 1024  # a CRL of a large CA runs to megabytes; beyond this, no verdict
_OCSP_TYPE = "application/ocsp-request"


class FetchFailed(Exception):
    """The responder or CRL server could not be reached or did not answer usably."""


_Key = tuple[str, bytes]
# A running fetch, then what it ended with: the answer, or its failure (no traceback, no loop).
_Held: TypeAlias = "asyncio.Task[bytes] | bytes | FetchFailed"
_Cache = OrderedDict[_Key, tuple[float, _Held]]  # oldest first
_CACHES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Cache] = weakref.WeakKeyDictionary()
# Fetches still running, held until they end: the loop itself keeps only weak references to
# tasks, and one dropped from the cache may have no waiter left.
_RUNNING: set[asyncio.Task[bytes]] = set()


def clock() -> float:
    """The cache's clock (a function of its own, so that a test can move it on)."""
    return time.monotonic()


async def _http(url: str, body: bytes | None) -> bytes:
    import aiohttp  # loaded only by runs that ask for revocation

    headers = {"Content-Type": _OCSP_TYPE} if body is not None else {}
    try:
        # Bounded by itself too: the targets waiting give up at their own deadlines, but the
        # fetch runs on for the next (aiohttp's own default is 5 minutes).
        timeout = aiohttp.ClientTimeout(total=FAILURE_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            method = "POST" if body is not None else "GET"
            async with session.request(method, url, data=body, headers=headers) as reply:
                if reply.status != 200:
                    raise FetchFailed(f"{url} answered HTTP {reply.status}")
                data = await reply.content.read(MAX_BODY + 1)
    except aiohttp.ClientError as exc:
        raise FetchFailed(f"{url} unreachable ({type(exc).__name__}: {exc})") from exc
    except TimeoutError as exc:  # aiohttp's own timeout is not a ClientError
        raise FetchFailed(f"{url} did not answer within {FAILURE_S:g} s") from exc
    if len(data) > MAX_BODY:
        raise FetchFailed(f"{url} sent more than {MAX_BODY} bytes")
    return data


async def fetch(url: str, body: bytes | None = None) -> bytes:
    """The answer of `url` (POSTing `body`, else a GET): one fetch per CACHE_S, shared by every
    caller; a caller that gives up (cancelled) leaves the fetch running for the others."""
    loop = asyncio.get_running_loop()
    cache = _CACHES.setdefault(loop, OrderedDict())
    key = (url, body or b"")
    now = clock()
    held = cache.get(key)
    if held is None or now - held[0] >= (
        FAILURE_S if isinstance(held[1], FetchFailed) else CACHE_S
    ):
        task = loop.create_task(_http(url, body))
        _RUNNING.add(task)
        task.add_done_callback(functools.partial(_settle, cache, key))
        cache.pop(key, None)  # a refreshed entry is the newest: it goes to the end
        held = cache[key] = (now, task)
        prune(cache, now)
    answer = held[1]
    if isinstance(answer, asyncio.Task):
        return await asyncio.shield(answer)
    if isinstance(answer, FetchFailed):
        raise FetchFailed(str(answer))
    return answer


def prune(cache: _Cache, now: float) -> None:
    """Drop the entries past CACHE_S, then the oldest beyond MAX_ENTRIES. A dropped fetch that
    still runs is not cancelled (targets may be waiting on it): _RUNNING holds it to its end."""
    while cache:
        key, (started, _) = next(iter(cache.items()))
        if now - started < CACHE_S and len(cache) <= MAX_ENTRIES:
            return
        del cache[key]


def cached(loop: asyncio.AbstractEventLoop) -> list[_Key]:
    """The keys the cache of `loop` holds, oldest first."""
    return list(_CACHES.get(loop, ()))


def _settle(cache: _Cache, key: _Key, task: asyncio.Task[bytes]) -> None:
    """A fetch has ended: its answer or failure takes its place in the cache (if the entry is
    still its own), and its failure is taken, waiters or not."""
    _RUNNING.discard(task)
    held = cache.get(key)
    failure = None if task.cancelled() else task.exception()
    if held is None or held[1] is not task:
        return
    if task.cancelled() or (failure is not None and not isinstance(failure, FetchFailed)):
        del cache[key]  # asked again next time: a cancelled fetch said nothing
    elif failure is not None:  # FAILURE_S counts from the failure, not from the asking
        cache[key] = (clock(), FetchFailed(str(failure)))
    else:
        cache[key] = (held[0], task.result())


async def ask(
    cert: x509.Certificate, issuer: x509.Certificate, now: dt.datetime, budget: float
) -> Outcome:
    """What the CA says of `cert` within `budget` seconds: its OCSP responder, else its CRL
    (skip: it names neither). A fetch that fails or is late warns: clients soft-fail."""
    url = responders.ocsp_url(cert)
    crls = responders.crl_urls(cert)
    where = url or (crls[0] if crls else "")
    if not where:
        return Outcome(Status.SKIP, "names no OCSP responder and no CRL", Said.NOT_ASKED)
    try:
        async with asyncio.timeout(budget):
            if url is not None:
                der = await fetch(url, revocation.ocsp_request(cert, issuer))
                return _from(url, revocation.judge_ocsp(der, cert, issuer, now))
            der = await fetch(where)
            return _from(where, revocation.judge_crl(der, cert, issuer, now))
    except FetchFailed as exc:
        return Outcome(Status.WARN, str(exc), Said.UNREACHABLE)
    except TimeoutError:
        text = f"no answer from {where} within {budget:.1f} s"
        return Outcome(Status.WARN, text, Said.NO_ANSWER)


def _from(where: str, outcome: Outcome) -> Outcome:
    return Outcome(outcome.status, f"{outcome.text} from {where}", outcome.said)


async def ask_path(
    path: Sequence[x509.Certificate], now: dt.datetime, budget: float
) -> list[tuple[str, Outcome]]:
    """ask() for every certificate of the path that has an issuer in it (not the root)."""
    pairs = list(itertools.pairwise(path))
    outcomes = await asyncio.gather(*(ask(c, i, now, budget) for c, i in pairs))
    names = [certs.short_name(c.subject) for c, _ in pairs]
    return list(zip(names, outcomes, strict=True))
