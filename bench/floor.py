"""The floor: a bare asyncio loop that does only the TLS handshake, verification and chain
capture on the same targets with the same concurrency. tlsprobe cannot be faster than this.

Usage: python bench/floor.py CA_FILE CONCURRENCY URL...
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from urllib.parse import urlsplit


async def handshake(url: str, context: ssl.SSLContext, limit: asyncio.Semaphore) -> int:
    parts = urlsplit(url)
    async with limit:
        _, writer = await asyncio.open_connection(
            parts.hostname, parts.port, ssl=context, server_hostname=parts.hostname
        )
        ssl_object = writer.get_extra_info("ssl_object")
        chain = ssl_object._sslobj.get_unverified_chain()  # what tlsprobe captures too
        writer.close()
        await writer.wait_closed()
        return len(chain)


async def run(ca_file: str, concurrency: int, urls: list[str]) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    limit = asyncio.Semaphore(concurrency)
    counts = await asyncio.gather(*(handshake(u, context, limit) for u in urls))
    assert all(c == 2 for c in counts), counts  # leaf + intermediate, every time


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
