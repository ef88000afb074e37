"""tlsprobe against the real clients, on every lab endpoint of every protocol (issue 12, item 6).

Every endpoint is probed by tlsprobe and used by its real clients: libpq (psycopg) at each
sslmode from disable to verify-full, smtplib as Airflow's email code calls it, httpx and curl.
The verdict tlsprobe gives (conformance_rule.tls_verdict) must be the one the client's behaviour
calls for (conformance_rule.expected), on every pair, with no exception list: a disagreement
is a bug in tlsprobe (or in the rule) to fix, never an entry to carry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import real_clients
from conformance_rule import Seen, Setup, expected, tls_verdict

from conftest import curl_binary
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, Status, TargetResult
from tlsprobe.runner import Run
from tlsprobe.targets import parse_target

TIMEOUT = 2.0  # tlsprobe's deadline per target, the clients' own (real_clients.DEADLINE)
WORKERS = 24  # clients wait on sockets, not on the CPU

Client = Callable[[str, Path], Seen]
HTTP_CLIENTS: dict[str, Client] = {"httpx": real_clients.httpx_client, "curl": real_clients.curl}
SMTP_CLIENT = "smtplib (Airflow)"

# Endpoints on which real clients disagree: tlsprobe must warn there, naming them.
_CN_FALLBACK = "libpq, Python's ssl and curl fall back to the CN; browsers refuse"
DISPUTED = dict.fromkeys(("https-cn-only", "pg-cn-only", "pg-login-cn-only"), _CN_FALLBACK)


@dataclass(frozen=True)
class Pair:
    """One endpoint used by one client, and what tlsprobe said of it."""

    endpoint: str
    client: str
    seen: Seen
    owed: Status
    given: Status
    checks: str

    def why(self) -> str:
        return (
            f"{self.endpoint} with {self.client}: tlsprobe {self.given} ({self.checks}), "
            f"owed {self.owed}; the client: {self.seen}"
        )


def _clients_for(url: str) -> dict[str, Callable[[Path], Seen]]:
    """Every real client of one endpoint URL, by name, each bound to that URL (an sslmode)."""
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        return {
            f"libpq sslmode={mode}": _bound(real_clients.libpq, real_clients.with_sslmode(url, m))
            for mode in real_clients.SSLMODES
            for m in (mode,)
        }
    if scheme in ("smtp", "smtps"):
        return {SMTP_CLIENT: _bound(real_clients.smtp, url)}
    clients = dict(HTTP_CLIENTS)
    if real_clients.curl_path() is None:
        clients.pop("curl")
    return {name: _bound(client, url) for name, client in clients.items()}


def _bound(client: Client, url: str) -> Callable[[Path], Seen]:
    return lambda ca_file: client(url, ca_file)


def _target_url(url: str, client: str) -> str:
    """The URL tlsprobe probes for this client: a libpq client's own sslmode."""
    mode = client.removeprefix("libpq sslmode=")
    return real_clients.with_sslmode(url, mode) if mode != client else url


def _setup(url: str, client: str, seen: dict[str, Seen], endpoint: str) -> Setup:
    strict = seen.get("libpq sslmode=verify-full", seen[client])
    return Setup(
        never_encrypts=client == "libpq sslmode=disable" or urlsplit(url).scheme == "http",
        strict_refuses=not strict.connected,
        disputed=endpoint in DISPUTED,
    )


def _summary(result: TargetResult) -> str:
    return ", ".join(f"{c.id}={c.status}" for c in result.checks if c.status is not Status.PASS)


@pytest.fixture(scope="module")
def pairs(lab: Lab) -> dict[tuple[str, str], Pair]:
    """Every (endpoint, client) pair: the clients run in a thread pool while tlsprobe probes
    every target once, concurrently, with the same deadline."""
    plan = [(e.name, e.url, _clients_for(e.url)) for e in lab.endpoints]
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {
            (name, client): pool.submit(run, lab.ca_file)
            for name, _, clients in plan
            for client, run in clients.items()
        }
        keys = list(futures)
        urls = {name: url for name, url, _ in plan}
        targets = [parse_target(_target_url(urls[n], c), name=n) for n, c in keys]
        results = asyncio.run(Run(targets, Policy(timeout=TIMEOUT, ca_file=lab.ca_file)).execute())
        seen = {key: future.result() for key, future in futures.items()}
    found = {}
    for (name, client), result in zip(keys, results, strict=True):
        of_endpoint = {c: s for (n, c), s in seen.items() if n == name}
        setup = _setup(urls[name], client, of_endpoint, name)
        owed = expected(seen[name, client], setup)
        found[name, client] = Pair(
            name, client, seen[name, client], owed, tls_verdict(result), _summary(result)
        )
    return found


@pytest.mark.parametrize("client", ["libpq", "smtplib", "httpx", "curl"])
def test_tlsprobe_predicts_the_client(pairs: dict[tuple[str, str], Pair], client: str) -> None:
    """On every lab endpoint, tlsprobe's TLS verdict is the one this client's behaviour calls
    for: no disagreement at all."""
    if client == "curl":
        curl_binary()  # missing, a failure: the pairs above left curl out
    mine = {key: pair for key, pair in pairs.items() if key[1].startswith(client)}
    assert mine, f"no lab endpoint is used by {client}"
    disagree = {key: pair.why() for key, pair in mine.items() if pair.given is not pair.owed}
    assert not disagree, "\n".join(disagree.values())


def test_suite_covers_every_endpoint(lab: Lab, pairs: dict[tuple[str, str], Pair]) -> None:
    """Every lab endpoint, of every protocol, has at least one real client, and the suite spans
    at least 50 endpoints."""
    used = {name for name, _ in pairs}
    assert used == {e.name for e in lab.endpoints}
    assert len(used) >= 50
    for (name, client), _ in pairs.items():
        assert client, name


def test_disputed_names_real_endpoints(pairs: dict[tuple[str, str], Pair]) -> None:
    """Every entry of DISPUTED names an endpoint the suite runs: a renamed case cannot leave a
    stale entry behind."""
    assert set(DISPUTED) <= {name for name, _ in pairs}


@pytest.mark.parametrize("client", list(HTTP_CLIENTS))
def test_a_revoked_certificate_fails_though_clients_connect(
    pairs: dict[tuple[str, str], Pair], client: str
) -> None:
    """cert.revocation is outside the rule's TLS checks: httpx and curl do not check
    revocation and connect to a revoked server, verified; tlsprobe fails cert.revocation all
    the same (they would connect unsafely), and the good-staple twin passes it."""
    if client == "curl":
        curl_binary()
    revoked = pairs["revocation-ocsp-revoked", client]
    assert revoked.seen.connected
    assert revoked.seen.verified
    assert "cert.revocation=fail" in revoked.checks
    assert "cert.revocation" not in pairs["revocation-good-staple", client].checks
