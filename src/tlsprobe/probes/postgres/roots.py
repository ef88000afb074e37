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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from tlsprobe.libpq_files import libpq_homes
from tlsprobe.targets import Target, client_trust, pgsettings
from tlsprobe.targets.client_trust import ClientTrust
from tlsprobe.tls import Roots

SYSTEM = "system"
DEFAULT_ROOT = os.path.join(".postgresql", "root.crt")
NO_ROOT = f"no root: no sslrootcert, no ~/{DEFAULT_ROOT}"


def libpq_roots(settings: pgsettings.Settings, env: Mapping[str, str]) -> Roots:
    """The roots libpq would verify this target's server against, --ca-file included when
    it stands in for sslrootcert."""
    if settings.sslrootcert is not None:
        if settings.sslrootcert == SYSTEM:
            return Roots(system=True)
        # A missing file trusts nothing, as in libpq (whose verify modes then refuse to start).
        readable = os.path.isfile(settings.sslrootcert)
        return Roots(system=False, files=(settings.sslrootcert,) if readable else ())
    default = None if settings.lends_nothing else default_root(env)
    return Roots(system=False, files=(default,)) if default else Roots(system=True)


def default_root(env: Mapping[str, str]) -> str | None:
    """libpq's ~/.postgresql/root.crt, when it exists (~ as libpq_files finds it)."""
    homes = libpq_homes(env)
    path = Path(homes[0]) / DEFAULT_ROOT if homes else None
    return str(path) if path is not None and path.is_file() else None


def libpq_trust(
    target: Target, env: Mapping[str, str], ca_file: Path | None
) -> tuple[ClientTrust, Path | None]:
    """libpq's own roots for `target` (as its source names the client, else the command
    line's), and --ca-file when the probe gives it to libpq as sslrootcert."""
    own = pgsettings.resolve(target, env)
    base = target.trust or client_trust.for_protocol("postgresql")
    root = own.sslrootcert
    if root == SYSTEM:
        store = replace(base, store=f"sslrootcert=system ({client_trust.SYSTEM_STORE})")
    elif root is not None:
        setting = "sslrootcert" if own.origin("sslrootcert") == "target" else "PGSSLROOTCERT"
        readable = (root,) if os.path.isfile(root) else ()
        store = replace(base, store=f"{setting} ({root})", system=False, files=readable)
    elif not target.lends_nothing and (default := default_root(env)) is not None:
        store = replace(base, store=f"~/{DEFAULT_ROOT} ({default})", system=False, files=(default,))
    else:
        store = replace(base, store=NO_ROOT, system=False, files=())
    return store, ca_file if root is None else None
