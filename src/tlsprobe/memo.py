"""Results of pure functions, kept for the length of one run.

Why: the targets of a run often share certificates (many ports of one load balancer, one
wildcard certificate on a fleet), and what is read off a certificate's bytes is the same for
every target that sent them. Why only for a run: the exporter runs for weeks, and a memo that
outlived its run would keep every certificate it ever saw. What goes in must be a pure function
of its key: nothing that depends on the time, or on a host name that is not in the key.

`runner.Run` opens the scope; every target's task inherits it (asyncio copies the context into
each task), and outside a scope (a lone probe, a test) every call computes afresh.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_RUN: contextvars.ContextVar[dict[Hashable, Any] | None] = contextvars.ContextVar(
    "tlsprobe_run_memo", default=None
)


@contextlib.contextmanager
def run_scope() -> Iterator[None]:
    """A fresh memo for the run under way, dropped when it ends."""
    token = _RUN.set({})
    try:
        yield
    finally:
        _RUN.reset(token)


def once(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, computed once per run for `key` (every call, outside a run)."""
    memo = _RUN.get()
    if memo is None:
        return compute()
    if key in memo:
        found: T = memo[key]
        return found
    value = memo[key] = compute()
    return value
