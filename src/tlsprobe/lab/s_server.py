"""A lab endpoint served by `openssl s_server`, for what the lab's pyOpenSSL servers cannot do.

The case in point: a staple for another certificate. pyOpenSSL's server callback hands OpenSSL
the response, but the OpenSSL that cryptography's wheel bundles (4.0 here) sends only a response
whose CertID matches the leaf, and silently drops the other one; the system's `openssl s_server`
(3.0) sends `-status_file` as it is, as a misconfigured server would.

Each connection gets an s_server of its own (`-naccept 1`, on an ephemeral port it reports),
and the lab relays the bytes: the process lives exactly as long as the connection, so stopping
the lab (which ends every connection) ends every s_server too.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence

from tlsprobe.lab.server import HOST, PEER_ERRORS, READ_LIMIT, Conn, Handler, within

START_TIMEOUT = 10.0


class NoOpenSSL(RuntimeError):
    """The openssl command is not installed."""


def binary() -> str:
    """The path of `openssl`; NoOpenSSL if it is missing."""
    found = shutil.which("openssl")
    if found is None:
        raise NoOpenSSL("the lab's s_server cases need the openssl command")
    return found


def handler(args: Sequence[str]) -> Handler:
    """A behaviour that serves each connection with `openssl s_server ARGS` (one accept)."""
    command = [binary(), "s_server", "-accept", f"{HOST}:0", "-naccept", "1", *args]

    async def serve(conn: Conn) -> None:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            port = await within(START_TIMEOUT, _accepting(proc.stdout))
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                await _relay(conn, reader, writer)
            finally:
                writer.transport.abort()
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()

    return serve


async def _accepting(stdout: asyncio.StreamReader) -> int:
    """The port of s_server's "ACCEPT 127.0.0.1:PORT" line."""
    while line := await stdout.readline():
        if line.startswith(b"ACCEPT "):
            return int(line.rsplit(b":", 1)[1])
    raise ConnectionError("openssl s_server ended before it listened")


async def _relay(conn: Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes both ways until s_server closes; a client gone early closes s_server's side."""

    async def upward() -> None:
        try:
            while data := await conn.read():
                writer.write(data)
                await writer.drain()
            writer.write_eof()
        except PEER_ERRORS:
            writer.transport.abort()  # s_server reads EOF, and the downward read ends

    up = asyncio.get_running_loop().create_task(upward())
    try:
        while data := await reader.read(READ_LIMIT):
            await conn.send(data)
    finally:
        up.cancel()
        await asyncio.gather(up, return_exceptions=True)
