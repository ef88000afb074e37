"""A small HTTP(S) server on an ephemeral loopback port, in a thread with its own event loop:
a test's server reads one request head and writes what `answer` returns, then closes."""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Self

START_S = 10.0


class ThreadedHttpServer:
    """Subclasses say what to answer to a request head; `port` is known once entered."""

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def answer(self, head: str) -> bytes:
        """The whole response to a request whose head (request line and headers) is `head`."""
        raise NotImplementedError

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            writer.write(self.answer(head))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass  # the probe's retry handshakes may leave without a request
        finally:
            writer.close()

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(START_S):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_S)
