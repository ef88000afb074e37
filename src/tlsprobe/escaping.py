"""Text shown visibly: the characters that act on a terminal or hide what text says, written out.

A server's words reach every report (a banner, a reply, a reason phrase, a header). Printed raw,
ESC can retitle or clear the user's terminal, NUL and the other C0 and C1 controls can hide or
rewrite what came before, and the Unicode bidi controls and invisible format characters can
make a report read otherwise than it says. The runner applies `visible` once, to every text of
every result (after the secrets scrub), so each report and the exporter get the same text and
none needs to know about it.

Shown visibly, as Python writes them: `\\t`, `\\n`, `\\r`, `\\x1b`, `\\x00`, `\\x85`, `\\u202e`,
`\\U000e0041`. The characters are those of the Unicode categories Cc (C0, DEL, C1), Cf
(format: bidi embeddings, overrides and isolates, zero-width characters, the BOM, the tag
characters), Zl and Zp (line and paragraph separators, which break lines like \\n), and Cs (lone
surrogates, which no terminal can be sent). unicodedata is the standard library's copy of the
Unicode database: no list of ranges is kept here. A backslash is left as it is: the visible forms
are there to keep the terminal safe, not to make the text reversible, and doubling every
backslash would mangle ordinary text (a Windows path in a source name).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["HIDDEN_CATEGORIES", "visible"]

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Printable ASCII needs no look-up; everything else is judged by its category.
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")


def visible(text: str) -> str:
    """`text` with every control and invisible format character written out."""
    if text.isascii() and text.isprintable():  # the common case, judged in C: nothing to do
        return text
    return _NOT_PRINTABLE_ASCII.sub(_shown, text)


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if unicodedata.category(char) not in HIDDEN_CATEGORIES:
        return char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
