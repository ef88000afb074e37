"""cryptography.x509, loaded without compiling its RFC 4514 name parser's patterns until used.

Why: importing cryptography.x509 compiles the regular expressions of `Name.from_rfc4514_string`
(one spans every code point above U+007F, which `re` turns into a large charset) in a class
body, and tlsprobe never parses a name from text. That compilation was 88M of the 1,861M
instructions of a 100-target `make bench` run (callgrind), the largest single cost of
tlsprobe's start-up. No library compiles another module's patterns lazily; the least that does
it is to hand that one module a pattern compiled at first use, for the length of its import, and
only for its own calls to re.compile. A cryptography that is already loaded, or that no longer
has such patterns, is left as it is.
"""

from __future__ import annotations

import re
import sys
from typing import Any

PARSER_MODULE = "cryptography.x509.name"


class LazyPattern:
    """A regular expression compiled when it is first used; it answers as the compiled one."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(*self._args)
        return getattr(compiled, name)


def load() -> None:
    """Import cryptography.x509 (once), its name parser's patterns left to compile on use."""
    if PARSER_MODULE in sys.modules:
        return
    compile_now = re.compile

    def compile_on_use(pattern: Any, flags: int = 0) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__")
        if caller == PARSER_MODULE and isinstance(pattern, str):
            return LazyPattern(pattern, flags)
        return compile_now(pattern, flags)

    re.compile = compile_on_use
    try:
        import cryptography.x509  # noqa: F401
    finally:
        re.compile = compile_now


load()  # on import: `tlsprobe.tls` imports this module before any other
