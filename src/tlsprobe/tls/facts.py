"""Facts of a session's certificates, keyed by their bytes and computed once per run (memo.py):
every target that sent the same chain shares them. Keys are the DER bytes as the handshake
captured them, never cryptography's Certificate objects, whose hash and equality cost
microseconds each. Nothing here depends on the time or on a host name."""

from __future__ import annotations

import datetime as dt

from tlsprobe import memo
from tlsprobe.model import CertInfo
from tlsprobe.tls import certs

Ders = tuple[bytes, ...]


def shown(
    sent: Ders, verified: Ders
) -> tuple[tuple[CertInfo, ...], tuple[str, ...], tuple[bool, ...]]:
    """What a report shows: each sent certificate's facts, the verified path's fingerprints, and
    for each sent certificate whether the path uses it (empty when nothing was verified)."""
    return memo.once(("shown", sent, verified), lambda: _shown(sent, verified))


def _shown(
    sent: Ders, verified: Ders
) -> tuple[tuple[CertInfo, ...], tuple[str, ...], tuple[bool, ...]]:
    chain, path = certs.load_chain(sent), certs.load_chain(verified)
    return (
        tuple(certs.cert_info(c) for c in chain),
        tuple(certs.cert_info(c).sha256 for c in path),
        tuple(p is not None for p in positions(sent, verified)) if path else (),
    )


def positions(sent: Ders, verified: Ders) -> tuple[int | None, ...]:
    """certs.path_positions of the sent certificates on the verified path."""
    return memo.once(
        ("positions", sent, verified),
        lambda: certs.path_positions(certs.load_chain(sent), certs.load_chain(verified)),
    )


def weaknesses(sent: Ders, verified: Ders) -> tuple[str, ...]:
    """certs.chain_weaknesses of the verified path, or of the chain as sent when none was built."""
    judged = verified or sent
    return memo.once(
        ("weaknesses", judged), lambda: tuple(certs.chain_weaknesses(certs.load_chain(judged)))
    )


def path_not_after(verified: Ders) -> dt.datetime | None:
    """The earliest end of validity on the verified path (None when nothing was verified)."""
    return memo.once(
        ("path_not_after", verified),
        lambda: min((c.not_valid_after_utc for c in certs.load_chain(verified)), default=None),
    )
