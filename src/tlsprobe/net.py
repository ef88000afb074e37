"""Name what a port speaks when it does not speak TLS: the hint that saves an hour."""

from __future__ import annotations

import asyncio
import contextlib

# Server-first protocols announce themselves; (prefix, what it is, what to change).
_BANNERS: tuple[tuple[bytes, str, str], ...] = (
    (b"220", "an SMTP greeting", "use smtp:// (STARTTLS) for this port, or smtps:// on port 465"),
    (b"HTTP/", "a plaintext HTTP response", "enable TLS on this port, or probe the HTTPS port"),
    (b"SSH-", "an SSH banner", "this is an SSH port: check the port number"),
    (b"+OK", "a POP3 greeting", "this is a POP3 port: check the port number"),
    (b"* OK", "an IMAP greeting", "this is an IMAP port: check the port number"),
)
SNIFF_BYTES = 256


def describe_plaintext(data: bytes) -> tuple[str, str]:
    """(detail, hint) for the first bytes a non-TLS server sent."""
    if not data:
        return (
            "on a plain connection it closes without sending anything",
            "the service may not speak TLS on this port, or refuses this client's address",
        )
    first_line = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0][:80]
    for prefix, what, hint in _BANNERS:
        if data.startswith(prefix):
            text = first_line.decode("ascii", "replace")
            return f"on a plain connection the port answers with {what}: {text!r}", hint
    return (
        f"on a plain connection the server sends non-TLS bytes: {data[:24]!r}",
        "the port does not speak TLS: check the port and the scheme",
    )


async def sniff(host: str, port: int, budget: float) -> bytes | None:
    """First bytes a plain TCP connection yields within `budget` seconds (None: nothing came).

    Server-first protocols speak at once; others get a line that HTTP and most text protocols
    answer, so the reply names the service.
    """
    try:
        async with asyncio.timeout(budget):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(budget / 2):
                        return await reader.read(SNIFF_BYTES)
                writer.write(b"GET / HTTP/1.0\r\n\r\n")
                await writer.drain()
                return await reader.read(SNIFF_BYTES)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return None
