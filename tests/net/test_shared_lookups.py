"""net.shared_lookups: a run's connections to one name ask the resolver once (the tls.legacy
hello and the probe's own connection at the same moment, every port of one host, every probe of
the run), with real sockets on loopback; an answer is kept LOOKUP_KEEP_S; a failed lookup fails
every connection that shared it, and no later one; nothing is shared outside the block."""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any

import pytest

from tlsprobe import net


async def _accepting() -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    asked: list[tuple[str, int]] = []
    real = net._resolve

    async def counted(host: str, port: int) -> Any:
        asked.append((host, port))
        return await real(host, port)

    monkeypatch.setattr(net, "_resolve", counted)
    return asked


async def _connect_twice(host: str, port: int) -> None:
    socks = await asyncio.gather(net.connect(host, port), net.connect(host, port))
    for sock in socks:
        assert sock.getpeername() == ("127.0.0.1", port)
        sock.close()


def test_connections_in_one_block_share_one_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two connections at once inside the block: one resolver call (for the name, port 0), both
    connected."""
    asked = _counting(monkeypatch)

    async def main() -> None:
        server, port = await _accepting()
        async with server:
            with net.shared_lookups():
                await _connect_twice("localhost", port)
        assert asked == [("localhost", 0)]

    asyncio.run(main())


def test_two_ports_and_an_inner_block_share_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two servers on two ports of one name, the second asked in a block of its own inside the
    first (a probe's, inside a run's): one resolver call, and each connection reaches its own
    port."""
    asked = _counting(monkeypatch)

    async def main() -> None:
        first, one = await _accepting()
        second, two = await _accepting()
        async with first, second:
            with net.shared_lookups():
                await _connect_twice("localhost", one)
                with net.shared_lookups():
                    await _connect_twice("localhost", two)
        assert asked == [("localhost", 0)]

    asyncio.run(main())


def test_an_answer_older_than_it_is_kept_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: with LOOKUP_KEEP_S passed between them, two connections in one block each ask
    the resolver (a name may resolve otherwise later)."""
    asked = _counting(monkeypatch)
    monkeypatch.setattr(net, "LOOKUP_KEEP_S", -1.0)

    async def main() -> None:
        server, port = await _accepting()
        async with server:
            with net.shared_lookups():
                for _ in range(2):
                    (await net.connect("localhost", port)).close()
        assert asked == [("localhost", 0)] * 2

    asyncio.run(main())


def test_without_the_block_every_connection_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: outside the block each connection asks the resolver itself."""
    asked = _counting(monkeypatch)

    async def main() -> None:
        server, port = await _accepting()
        async with server:
            await _connect_twice("localhost", port)
        assert asked == [("localhost", port)] * 2

    asyncio.run(main())


def test_a_failure_is_not_kept_for_the_next_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that fails once (a moment's EAI_AGAIN), then answers: the connection that
    shared the failure fails, the next one in the same block asks again and connects."""
    asked: list[str] = []
    real = net._resolve

    async def fails_first(host: str, port: int) -> Any:
        asked.append(host)
        if len(asked) == 1:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return await real(host, port)

    monkeypatch.setattr(net, "_resolve", fails_first)

    async def main() -> None:
        server, port = await _accepting()
        async with server:
            with net.shared_lookups():
                with pytest.raises(socket.gaierror):
                    await net.connect("localhost", port)
                (await net.connect("localhost", port)).close()
                (await net.connect("localhost", port)).close()
        assert asked == ["localhost", "localhost"]

    asyncio.run(main())


def test_a_failed_lookup_fails_every_connection_that_shared_it() -> None:
    """A name that does not resolve: both connections raise gaierror, and the block ends
    without asyncio reporting an exception nobody retrieved."""

    reported: list[dict[str, Any]] = []

    async def main() -> list[BaseException | socket.socket]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: reported.append(context))
        with net.shared_lookups():
            results = await asyncio.gather(
                net.connect("nonexistent.invalid", 443),
                net.connect("nonexistent.invalid", 443),
                return_exceptions=True,
            )
        gc.collect()
        return results

    results = asyncio.run(main())
    assert [type(r) for r in results] == [socket.gaierror, socket.gaierror]
    assert reported == []


def test_a_lookup_that_fails_after_its_connection_gave_up_is_not_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The only connection waiting gives up (its deadline) before the lookup fails: the failure
    is marked seen when the block ends, so asyncio reports no exception nobody retrieved."""
    answer = asyncio.Event()

    async def slow_failure(host: str, port: int) -> Any:
        await answer.wait()
        raise socket.gaierror(socket.EAI_NONAME, "no such name")

    monkeypatch.setattr(net, "_resolve", slow_failure)
    reported: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, c: reported.append(c))
        with net.shared_lookups():
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01):
                    await net.connect("example.invalid", 443)
            answer.set()
            for _ in range(5):
                await asyncio.sleep(0)  # the lookup fails now, with nobody waiting
        gc.collect()

    asyncio.run(main())
    assert reported == []


def test_a_run_asks_once_for_all_its_targets_of_one_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """runner.Run holds one block for the run: three targets on two ports of one name, one
    resolver call; every target still reaches its own server (its verdict names its port)."""
    from tlsprobe.model import Policy
    from tlsprobe.runner import Run
    from tlsprobe.targets import parse_target

    asked = _counting(monkeypatch)

    async def main() -> list[str]:
        first, one = await _accepting()
        second, two = await _accepting()
        async with first, second:
            urls = [f"http://localhost:{port}/" for port in (one, two, one)]
            results = await Run([parse_target(u) for u in urls], Policy(timeout=2.0)).execute()
        connected = [r.check("connect") for r in results]
        assert [c.detail if c else None for c in connected] == [
            f"localhost:{port}" for port in (one, two, one)
        ]
        return [r.target for r in results]

    assert len(asyncio.run(main())) == 3
    assert asked == [("localhost", 0)]
