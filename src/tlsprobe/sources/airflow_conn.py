"""An Airflow connection as its hooks see it: the fields, and the extra as `extra_dejson` holds
it (a JSON object's values as typed; a URI query's values always text)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from tlsprobe.records import record

# Texts people write meaning "false", which Python's bool() (what the hooks apply) reads as true.
FALSE_WORDS = frozenset({"false", "0", "no", "off", "f", "n"})


@record
class Connection:
    conn_id: str
    conn_type: str
    host: str = ""
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)  # may hold tokens

    @property
    def label(self) -> str:
        return label(self.conn_id)


def label(text: object) -> str:
    """A name from a source (a conn_id, a class path) for a one-line message: as it is when
    printable, else its repr (an ESC or a line break stays visible and on one line), at most
    200 characters."""
    name = str(text)
    return name if name.isprintable() and len(name) <= 200 else repr(name[:200])


def truthy(extra: Mapping[str, Any], key: str) -> bool:
    """An extra as the hooks read a flag: `bool(extra.get(key, False))`, so any non-empty text
    is true, "false" included (a URI's query gives only text)."""
    return bool(extra.get(key, False))


def false_text(extra: Mapping[str, Any], key: str) -> bool:
    """The extra is a text meant as false that the hook reads as true."""
    value = extra.get(key)
    return isinstance(value, str) and value.strip().lower() in FALSE_WORDS


def shown(value: object) -> str:
    """An extra's value as JSON would write it, for a message (never a secret: only the
    extras tlsprobe reads for TLS are shown)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{label(value)}"'
    return repr(value)[:200]
