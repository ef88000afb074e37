"""Probes end within their deadline when a server stalls after a good start: a PostgreSQL server
that logs the client in and never answers its query, and a mail server that serves one
connection and stalls the next (the injection test's). Each against its answering twin."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import struct
import time
from collections.abc import Awaitable, Callable

import pytest

from conftest import detail, statuses
from tlsprobe.lab import smtp as lab_smtp
from tlsprobe.lab.certs import Pki
from tlsprobe.lab.server import Case, Conn, Servers, tls_context
from tlsprobe.model import Policy, TargetResult
from tlsprobe.probes import postgres, smtp
from tlsprobe.probes.postgres.wire import SSL_REQUEST
from tlsprobe.targets import parse_target

TIMEOUT = 2.0
SLACK = 0.5  # scheduling and start-up, not a second deadline


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def timed_probe(
    handler: Callable[[Conn], Awaitable[None]],
    probe: Callable[[int], Awaitable[TargetResult]],
) -> tuple[TargetResult, float]:
    """Serve `handler` on a lab port, probe it, and say how long the probe took."""

    async def scenario() -> tuple[TargetResult, float]:
        servers = Servers()
        port = await servers.listen(Case("fake", "a test server", handler))
        started = time.monotonic()
        try:
            result = await probe(port)
        finally:
            elapsed = time.monotonic() - started
            await servers.close()
        return result, elapsed

    return asyncio.run(scenario())


# --- PostgreSQL: logged in, then the query is never answered ---------------------------------


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", 4 + len(body)) + body


LOGGED_IN = (
    message(b"R", struct.pack("!I", 0))  # AuthenticationOk: trust
    + message(b"S", b"server_version\x0015.0\x00")
    + message(b"K", struct.pack("!II", 1, 2))
    + message(b"Z", b"I")
)


def pg_stat_ssl_row() -> bytes:
    """RowDescription, DataRow, CommandComplete, ReadyForQuery: ssl=t, TLSv1.3, a cipher."""
    fields = [(b"ssl", 16), (b"version", 25), (b"cipher", 25)]
    desc = struct.pack("!H", len(fields)) + b"".join(
        name + b"\0" + struct.pack("!IHIhiH", 0, 0, oid, -1, -1, 0) for name, oid in fields
    )
    values = [b"t", b"TLSv1.3", b"TLS_AES_256_GCM_SHA384"]
    row = struct.pack("!H", len(values)) + b"".join(struct.pack("!I", len(v)) + v for v in values)
    return (
        message(b"T", desc)
        + message(b"D", row)
        + message(b"C", b"SELECT 1\0")
        + message(b"Z", b"I")
    )


async def read_message(conn: Conn, have: bytes = b"") -> bytes:
    """One length-prefixed startup message, of which `have` has already been read."""
    data = have
    while len(data) < 4 or len(data) < struct.unpack("!I", data[:4])[0]:
        chunk = await conn.read()
        if not chunk:
            raise EOFError
        data += chunk
    return data


async def fake_postgres(context: ssl.SSLContext, *, answers: bool, conn: Conn) -> None:
    """TLS after an SSLRequest, trust login, then the pg_stat_ssl query answered or not."""
    first = await read_message(conn)
    if first[:8] != SSL_REQUEST:
        await conn.send(LOGGED_IN)  # the plaintext check's startup: accepted
        return
    await conn.send(b"S")
    await conn.start_tls(context)
    await read_message(conn)
    await conn.send(LOGGED_IN)
    if await conn.read() and answers:
        await conn.send(pg_stat_ssl_row())
    while await conn.read():
        pass


def probe_postgres(pki: Pki, answers: bool) -> tuple[TargetResult, float]:
    context = tls_context(pki.issue("pg-fake"))
    handler = functools.partial(fake_postgres, context, answers=answers)

    async def probe(port: int) -> TargetResult:
        url = f"postgresql://probe:pw@localhost:{port}/postgres?sslmode=verify-full"
        policy = Policy(timeout=TIMEOUT, ca_file=pki.ca_file)
        env = {"PGSSLROOTCERT": str(pki.ca_file)}
        return await postgres.probe(parse_target(url), policy, env)

    return timed_probe(lambda conn: handler(conn=conn), probe)


def test_stalled_query_fails_login_within_the_deadline(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """The query stalls: pg.login fails naming the query, within the deadline, the TLS verdicts
    stand, and psycopg logs nothing (it used to cancel, wait 5 s more, and warn on stderr)."""
    with caplog.at_level(logging.WARNING, logger="psycopg"):
        result, elapsed = probe_postgres(pki, answers=False)
    assert elapsed < TIMEOUT + SLACK
    found = statuses(result)
    assert found["pg.login"] == "fail"
    assert "the pg_stat_ssl query got no answer" in detail(result, "pg.login")
    assert found["tls.handshake"] == found["cert.chain"] == "pass"
    assert not caplog.records


def test_answered_query_passes_login(pki: Pki) -> None:
    """The twin: the same server answering the query gives a passing pg.login, at once."""
    result, elapsed = probe_postgres(pki, answers=True)
    assert elapsed < TIMEOUT
    assert statuses(result)["pg.login"] == "pass"
    assert "the server sees TLSv1.3" in detail(result, "pg.login")


# --- SMTP: the injection test's connection is stalled -----------------------------------------


def probe_smtp(pki: Pki, stall_second: bool) -> tuple[TargetResult, float]:
    mta = lab_smtp.Mta(starttls=tls_context(pki.issue("smtp-fake")))
    connections = 0

    async def handler(conn: Conn) -> None:
        nonlocal connections
        connections += 1
        if connections > 1 and stall_second:  # a connection-rate limit, say
            while await conn.read():
                pass
            return
        await lab_smtp.serve(mta, conn)

    async def probe(port: int) -> TargetResult:
        policy = Policy(timeout=TIMEOUT, ca_file=pki.ca_file)
        return await smtp.probe(parse_target(f"smtp://localhost:{port}"), policy)

    return timed_probe(handler, probe)


def test_stalled_injection_connection_is_not_judged(pki: Pki) -> None:
    """A second connection that gets no greeting leaves the injection test skipped (not
    judged), not failed as if the server were vulnerable; the probe ends in its deadline."""
    result, elapsed = probe_smtp(pki, stall_second=True)
    assert elapsed < TIMEOUT + SLACK
    assert statuses(result)["smtp.starttls_injection"] == "skip"
    assert "no answer on the test connection" in detail(result, "smtp.starttls_injection")
    assert result.status.value == "pass"


def test_answered_injection_connection_is_judged(pki: Pki) -> None:
    """The twin: a second connection that is served gets the injection test judged (pass)."""
    result, _ = probe_smtp(pki, stall_second=False)
    assert statuses(result)["smtp.starttls_injection"] == "pass"
