"""Which trust a verdict used, and whether the client's own roots alone verify the chain that
--ca-file made pass: a second verification of the chain already captured, offline, with
cryptography's x509 verification, so there is no second handshake.

It runs only when --ca-file was added and held the root of the verified path; then it costs
well under a millisecond a target (each store is parsed once a run and kept). Without
--ca-file the handshake already trusted the client's own roots alone: nothing to add.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import os
import ssl
import warnings
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from tlsprobe.model import Check, Status, TrustUsed
from tlsprobe.targets.client_trust import ClientTrust
from tlsprobe.tls import certs
from tlsprobe.tls.negotiate import Handshake
from tlsprobe.tls.trust import Roots

CA_FILE = "--ca-file"


def roots_of(trust: ClientTrust) -> Roots:
    """The roots a handshake trusts for this client (--ca-file aside). A named file that does
    not exist trusts nothing (requests refuses to start then; OpenSSL would raise)."""
    return Roots(
        system=trust.system,
        files=tuple(f for f in trust.files if os.path.isfile(f)),
        dirs=tuple(d for d in trust.dirs if os.path.isdir(d)),
    )


def trust_used(handshake: Handshake, own: ClientTrust, added: Path | None) -> TrustUsed:
    """The trust behind the verdicts on `handshake`, made trusting `own`'s roots plus `added`
    (--ca-file, when the probe gave it to the handshake)."""
    has_roots = own.system or own.files or own.dirs
    used = (*([own.store] if has_roots else ()), *([f"{CA_FILE} ({added})"] if added else ()))
    if not handshake.verified_der:
        return TrustUsed(own.client, used)
    if added is None:
        return TrustUsed(own.client, used, anchor=own.store)
    anchor = handshake.verified_der[-1]
    if not _index(Roots(system=False, files=(str(added),))).holds(anchor):
        return TrustUsed(own.client, used, anchor=own.store)
    needed = not _own_verifies(handshake, anchor, own)
    return TrustUsed(
        own.client, used, anchor=CA_FILE if needed else own.store, ca_file_needed=needed
    )


def relied_on_ca_file(verdict: Check, own: ClientTrust) -> Check:
    """cert.chain when it passed only because of --ca-file and the real client will not have
    it: a warning naming the client's own trust, with the fix in that client's terms."""
    detail = f"{verdict.detail}, but only through --ca-file: {own.client} trusts {own.store}"
    hint = own.fix if verdict.status is Status.PASS else f"{verdict.hint}; {own.fix}"
    return Check(verdict.id, Status.WARN, detail, hint)


def _own_verifies(handshake: Handshake, anchor: bytes, own: ClientTrust) -> bool:
    """Whether `own`'s roots hold the anchor itself (the same path verifies), or else, for a
    client whose source is known (the only ones that warn), whether any path from the chain
    sent to one of them verifies: the search is left out for the command line's targets, which
    run with --ca-file by design (the bench's thousand targets among them)."""
    index = _index(roots_of(own))
    if index.holds(anchor):
        return True
    chain = certs.load_chain(handshake.chain_der)
    if not own.known or not index.ders or not chain:
        return False
    builder = PolicyBuilder().store(index.store()).time(_moment(chain))
    # Only the path is asked about: the host name and the leaf's extensions are judged by
    # cert.hostname and cert.chain already (a client verifier checks no name).
    verifier = builder.extension_policies(
        ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
    ).build_client_verifier()
    try:
        verifier.verify(chain[0], list(chain[1:]))
    except VerificationError:
        return False
    return True


def _moment(chain: Sequence[x509.Certificate]) -> dt.datetime:
    """When to verify: now, or inside every certificate's validity when now is not (dates are
    cert.expiry's to judge, not this path's)."""
    now = dt.datetime.now(dt.UTC)
    start = max(c.not_valid_before_utc for c in chain)
    end = min(c.not_valid_after_utc for c in chain)
    if start <= now <= end or end < start:
        return now
    return start


class _Index:
    """A set of roots as DER bytes, read without parsing them: whether a target's anchor is
    among them costs a set look-up. They are parsed only for a path search (_own_verifies)."""

    def __init__(self, ders: Sequence[bytes]) -> None:
        self.ders = frozenset(ders)
        self._store: Store | None = None

    def holds(self, anchor_der: bytes) -> bool:
        return anchor_der in self.ders

    def store(self) -> Store:
        if self._store is None:
            with warnings.catch_warnings():  # system bundles hold roots with odd serial numbers
                warnings.simplefilter("ignore")
                parsed = [x509.load_der_x509_certificate(der) for der in sorted(self.ders)]
            self._store = Store(parsed)
        return self._store


@functools.lru_cache(maxsize=16)
def _index(source: Roots) -> _Index:
    """The roots of `source`, read once a run."""
    found: list[bytes] = []
    if source.system:
        found += _system_ders()
    for path in source.files:
        found += _file_ders(path)
    for directory in source.dirs:
        found += _dir_ders(directory)
    return _Index(found)


def _system_ders() -> tuple[bytes, ...]:
    """The system bundle as OpenSSL finds it (SSL_CERT_FILE of this process included)."""
    paths = ssl.get_default_verify_paths()
    return _file_ders(os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile)


_BEGIN, _END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"


@functools.lru_cache(maxsize=32)
def _file_ders(path: str) -> tuple[bytes, ...]:
    """The certificates of a PEM file as DER: base64 alone, not a parse (the system bundle's
    150 roots take about a millisecond so, several parsed), split by hand as a regular
    expression over the 200 kB bundle took longer than the decoding."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return ()
    found = []
    for block in data.split(_END):
        body = block.partition(_BEGIN)[2]
        if body:
            try:
                found.append(base64.b64decode(body))
            except ValueError:
                continue
    return tuple(found)


def _dir_ders(directory: str) -> tuple[bytes, ...]:
    """The roots of a hashed directory: its `<hash>.<n>` files."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return ()
    found: list[bytes] = []
    for name in names:
        stem, _, suffix = name.partition(".")
        if len(stem) == 8 and suffix.isdigit():
            found += _file_ders(os.path.join(directory, name))
    return tuple(found)
