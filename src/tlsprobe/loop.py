"""Which event loop runs the probes: uvloop where it is installed, asyncio's own otherwise.

Why: profiles of a thousand HTTPS targets show the client is CPU-bound in event-loop and
transport code; uvloop (libuv, a well-kept library) cut that run's CPU time by about a fifth.
Nothing in tlsprobe depends on which loop runs: both give the same verdicts (the tests run the
command line on uvloop and the probes directly on asyncio).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, on uvloop when it can be imported; Ctrl-C behaves the same on both."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
