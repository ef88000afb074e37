"""Which checks become columns, in what order, under what heading: shared by the table and the
Markdown report, and free of rich so that Markdown alone stays cheap to import."""

from __future__ import annotations

from collections.abc import Sequence

from tlsprobe.model import TargetResult

# Columns appear in this order; a check id not listed here goes last, in order of appearance.
COLUMN_ORDER = (
    "client.encryption",
    "connect",
    "pg.sslrequest",
    "smtp.starttls",
    "tls.handshake",
    "tls.version",
    "cert.chain",
    "cert.hostname",
    "cert.expiry",
    "http.status",
    "http.hsts",
    "smtp.auth_before_tls",
    "smtp.starttls_injection",
    "smtp.login",
    "pg.plaintext",
    "pg.login",
)


def columns(results: Sequence[TargetResult]) -> list[str]:
    seen: list[str] = []
    for result in results:
        seen.extend(c.id for c in result.checks if c.id not in seen)
    known = [c for c in COLUMN_ORDER if c in seen]
    return known + [c for c in seen if c not in COLUMN_ORDER]


def header(check_id: str, others: Sequence[str] = ()) -> str:
    """The id without its protocol prefix, unless another column would then read the same
    (smtp.login and pg.login)."""
    short = check_id.split(".", 1)[-1].replace("_", " ")
    clash = any(o != check_id and o.split(".", 1)[-1].replace("_", " ") == short for o in others)
    return check_id if clash else short
