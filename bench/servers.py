"""Bench endpoints: one good HTTPS server (trustme chain, HSTS, 200) listening on N ephemeral
loopback ports, in its own process so its CPU is not counted in the client's numbers.

Prints one JSON line {"ca_file": ..., "ports": [...]} when ready, then serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import ssl
import sys
import tempfile
from pathlib import Path

import trustme

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n"
    b"Strict-Transport-Security: max-age=31536000\r\n\r\nok"
)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(10):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        pass  # clients that only handshake (the floor) close without a request
    finally:
        writer.close()


async def serve(count: int, workdir: Path) -> None:
    root = trustme.CA()
    leaf = root.create_child_ca().issue_cert("localhost", "127.0.0.1")
    ca_file = workdir / "bench-ca.pem"
    root.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    servers = [
        await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context, backlog=512)
        for _ in range(count)
    ]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(json.dumps({"ca_file": str(ca_file), "ports": ports}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for server in servers:
        server.close()


def main() -> None:
    count = int(sys.argv[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count * 2 + 256)), hard))
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(serve(count, Path(workdir)))


if __name__ == "__main__":
    main()
