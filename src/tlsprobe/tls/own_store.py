"""Which trust a verdict used, and whether the client's own roots alone verify the chain that
--ca-file made pass: a second verification of the chain already captured, offline, with
cryptography's x509 verification, so there is no second handshake.

It runs only when --ca-file was added and held the root of the verified path; then it costs
well under a millisecond a target (each store is parsed once a run and kept). Without
--ca-file the handshake already trusted the client's own roots alone: nothing to add.
"""

from __future__ import annotations

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
    anchor = certs.load_certificate(handshake.verified_der[-1])
    if added is None or not _holds(_file_certs(str(added)), anchor):
        return TrustUsed(own.client, used, anchor=own.store)
    chain = certs.load_chain(handshake.chain_der)
    needed = not _own_verifies(chain, anchor, own)
    return TrustUsed(
        own.client, used, anchor=CA_FILE if needed else own.store, ca_file_needed=needed
    )


def relied_on_ca_file(verdict: Check, own: ClientTrust) -> Check:
    """cert.chain when it passed only because of --ca-file and the real client will not have
    it: a warning naming the client's own trust, with the fix in that client's terms."""
    detail = f"{verdict.detail}, but only through --ca-file: {own.client} trusts {own.store}"
    hint = own.fix if verdict.status is Status.PASS else f"{verdict.hint}; {own.fix}"
    return Check(verdict.id, Status.WARN, detail, hint)


def _own_verifies(
    chain: Sequence[x509.Certificate], anchor: x509.Certificate, own: ClientTrust
) -> bool:
    """Whether `own`'s roots hold the anchor itself (the same path verifies), or else any
    path from the chain sent to one of them verifies."""
    store = _store_certs(roots_of(own))
    if _holds(store, anchor):
        return True
    if not store or not chain:
        return False
    builder = PolicyBuilder().store(_store(roots_of(own))).time(_moment(chain))
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


def _holds(store: Sequence[x509.Certificate], anchor: x509.Certificate) -> bool:
    """The same root: its subject and key (a reissued root with new dates counts)."""
    key = anchor.public_key()
    return any(c.subject == anchor.subject and c.public_key() == key for c in store)


@functools.lru_cache(maxsize=16)
def _store(roots: Roots) -> Store:
    return Store(list(_store_certs(roots)))


@functools.lru_cache(maxsize=16)
def _store_certs(roots: Roots) -> tuple[x509.Certificate, ...]:
    found: list[x509.Certificate] = []
    if roots.system:
        found += _system_certs()
    for path in roots.files:
        found += _file_certs(path)
    for directory in roots.dirs:
        found += _dir_certs(directory)
    return tuple(found)


def _system_certs() -> tuple[x509.Certificate, ...]:
    """The system bundle as OpenSSL finds it (SSL_CERT_FILE of this process included)."""
    paths = ssl.get_default_verify_paths()
    return _file_certs(os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile)


@functools.lru_cache(maxsize=32)
def _file_certs(path: str) -> tuple[x509.Certificate, ...]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        with warnings.catch_warnings():  # system bundles hold roots with odd serial numbers
            warnings.simplefilter("ignore")
            return tuple(x509.load_pem_x509_certificates(data))
    except (OSError, ValueError):
        return ()


def _dir_certs(directory: str) -> tuple[x509.Certificate, ...]:
    """The roots of a hashed directory: its `<hash>.<n>` files."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return ()
    found: list[x509.Certificate] = []
    for name in names:
        stem, _, suffix = name.partition(".")
        if len(stem) == 8 and suffix.isdigit():
            found += _file_certs(os.path.join(directory, name))
    return tuple(found)
