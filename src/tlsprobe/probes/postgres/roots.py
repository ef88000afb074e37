"""The roots libpq trusts for a target, so that cert.chain judges the chain as libpq will.

libpq never uses the system store unless sslrootcert=system. It verifies against one PEM file:
sslrootcert (the target's, else PGSSLROOTCERT), else ~/.postgresql/root.crt when that exists
(fe-secure-openssl.c, initialize_SSL; libpq 18 takes ~ from $HOME first, then the password
database). --ca-file counts where libpq would be given it: when neither the target nor
PGSSLROOTCERT names a root, the probe hands it to libpq as sslrootcert (pgsettings.resolve).
It is not added to a root the target names: libpq takes one file, so a chain trusted only
through --ca-file would pass cert.chain while libpq refuses it, and the result would
contradict its own pg.login.

With no root configured at all (no sslrootcert, no root.crt, no --ca-file) libpq verifies
nothing (sslmode require and below) or refuses to start (verify-ca, verify-full: "root
certificate file does not exist"). cert.chain then judges the chain against the system store,
the roots sslrootcert=system would trust: the verdict still says whether a public CA vouches
for the server, and pg.login and client.encryption say what libpq itself will do.

One resolution (`resolve`) feeds both the handshake and the trust report, so that the report
names the roots the handshake was given and nothing else: a target whose libpq is never given
--ca-file (an Airflow connection) never reports it as used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from tlsprobe.libpq_files import DEFAULT_ROOT, default_root
from tlsprobe.records import record
from tlsprobe.targets import Target, client_trust, pgsettings
from tlsprobe.targets.client_trust import ClientTrust
from tlsprobe.tls import Roots

SYSTEM = "system"
VERIFYING = ("verify-ca", "verify-full")
NO_ROOT = f"no root: no sslrootcert, no ~/{DEFAULT_ROOT}"
# No root at all: the chain is judged against the roots sslrootcert=system would trust.
NO_ROOT_SYSTEM = f"{client_trust.SYSTEM_STORE}, as sslrootcert=system (libpq has {NO_ROOT})"


@record
class LibpqRoots:
    """libpq's trust for one target: `own` its own roots (the report's words and what a pass
    is held to), `roots` the handshake's roots besides `added` (--ca-file, when the probe gives
    it to libpq as sslrootcert)."""

    own: ClientTrust
    roots: Roots
    added: Path | None

    def text(self) -> str:
        """Every root the handshake trusts, in words, for the transcript."""
        added = (str(self.added),) if self.added else ()
        return replace(self.roots, files=(*self.roots.files, *added)).text()


def resolve(target: Target, settings: pgsettings.Settings, env: Mapping[str, str]) -> LibpqRoots:
    """The roots libpq verifies `target`'s server against, with `settings` resolved as the probe
    gives them to libpq (--ca-file as sslrootcert only when the target takes it) in `env`."""
    base = target.trust or client_trust.for_protocol("postgresql")
    root, origin = settings.sslrootcert, settings.origin("sslrootcert")
    default = None if settings.lends_nothing else default_root(env)
    if root is not None and origin == "--ca-file":
        own = _default(base, default) if default else _none(base, system=False)
        return LibpqRoots(own, Roots(system=False), Path(root))
    if root == SYSTEM:
        store = f"sslrootcert=system ({client_trust.SYSTEM_STORE})"
        return _only(replace(base, store=store, system=True, files=()))
    if root is not None:
        setting = "sslrootcert" if origin == "target" else "PGSSLROOTCERT"
        # A missing file trusts nothing, as in libpq (whose verify modes then refuse to start).
        readable = (root,) if Path(root).is_file() else ()
        return _only(replace(base, store=f"{setting} ({root})", system=False, files=readable))
    return _only(_default(base, default) if default else _none(base, system=True))


def weak_with_system(settings: pgsettings.Settings) -> str | None:
    """libpq 16 and later refuse sslrootcert=system with any sslmode but verify-full, in these
    words (fe-connect.c); None when that is not the case."""
    mode = settings.sslmode
    if settings.sslrootcert != SYSTEM or mode == "verify-full":
        return None
    return f'weak sslmode "{mode}" may not be used with sslrootcert=system (use "verify-full")'


def refusal(settings: pgsettings.Settings, roots: LibpqRoots) -> str | None:
    """Why libpq refuses to start with these settings and roots, or None: verify-ca and
    verify-full need a root file (fe-secure-openssl.c: "root certificate file ... does not
    exist"); --ca-file given to libpq, or sslrootcert=system, is one."""
    if settings.sslmode not in VERIFYING or roots.added is not None:
        return None
    root = settings.sslrootcert
    if root is not None and root != SYSTEM and not Path(root).is_file():
        return f'root certificate file "{root}" does not exist'
    if root is None and not roots.own.files:
        return (
            f"no sslrootcert and no ~/{DEFAULT_ROOT}, so its root certificate file does not exist"
        )
    return None


def loads_a_root(settings: pgsettings.Settings, roots: LibpqRoots) -> bool:
    """Whether the client's libpq loads a root file, which makes sslmode=require verify the
    chain as verify-ca does (libpq's documentation; fe-secure-openssl.c sets SSL_VERIFY_PEER
    once a root file is read). A named file that does not exist loads nothing, and libpq then
    verifies nothing. --ca-file counts where it stands in for sslrootcert, as in `refusal`."""
    root = settings.sslrootcert
    if root is not None:
        return root == SYSTEM or Path(root).is_file()
    return bool(roots.own.files)


def _only(own: ClientTrust) -> LibpqRoots:
    """libpq's own roots, and nothing added to them."""
    return LibpqRoots(own, Roots(system=own.system, files=own.files), None)


def _default(base: ClientTrust, default: str) -> ClientTrust:
    return replace(base, store=f"~/{DEFAULT_ROOT} ({default})", system=False, files=(default,))


def _none(base: ClientTrust, *, system: bool) -> ClientTrust:
    """No root of libpq's own: the system store judges the chain unless --ca-file does."""
    store = NO_ROOT_SYSTEM if system else NO_ROOT
    return replace(base, store=store, system=system, files=())
