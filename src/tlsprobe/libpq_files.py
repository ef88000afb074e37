"""The passwords libpq finds in files by itself, for the secrets scrub: a server may echo a
password the target never gave (libpq sent it from ~/.pgpass), and the scrub can only hide what
it knows. The files are read the way libpq reads them, but every entry counts, not only the one
libpq would pick, and every place libpq may look, not only the first it would use: hiding a
password of another host hides nothing that matters, and missing one leaks it.

Parsed by hand: the formats are libpq's own (no library reads them as libpq does; configparser
would trim values, take ";" for comments and refuse repeated keys), and each is a few lines.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Callable, Mapping

from tlsprobe.targets import SECRET_KEYWORDS, Target

__all__ = ["default_root", "libpq_homes", "passwords", "pgpass_passwords", "service_file_entries"]

# A password or service file is a few lines: past this, the rest of a file is not read (a
# PGPASSFILE naming a huge file must not hold the run up).
FILE_MAX_BYTES = 1 << 20
# The service files' directory when PGSYSCONFDIR is not set: the one compiled into the libpq
# psycopg ships (and Debian's), as `strings libpq.so` shows.
DEFAULT_SYSCONFDIR = "/etc/postgresql-common"


def passwords(target: Target, env: Mapping[str, str]) -> list[str]:
    """Every password libpq may find in files for a postgresql target: in the password files
    (passfile=, PGPASSFILE, ~/.pgpass) and, for a service (service=, PGSERVICE), in the service
    files (PGSERVICEFILE, ~/.pg_service.conf, PGSYSCONFDIR/pg_service.conf) and the password
    files they name. A file that cannot be read holds none. A caller's target (lends_nothing)
    is given none of these files, and its scrub must not hide what they hold."""
    if target.protocol != "postgresql" or target.lends_nothing:
        return []
    params = {key.lower(): value for key, value in target.params}
    homes = libpq_homes(env)
    passfiles = [params.get("passfile"), env.get("PGPASSFILE")]
    passfiles += [os.path.join(home, ".pgpass") for home in homes]
    found: list[str] = []
    if params.get("service") or env.get("PGSERVICE"):
        sysconfdir = env.get("PGSYSCONFDIR") or DEFAULT_SYSCONFDIR
        services = [env.get("PGSERVICEFILE"), os.path.join(sysconfdir, "pg_service.conf")]
        services += [os.path.join(home, ".pg_service.conf") for home in homes]
        for path in filter(None, services):
            secrets, named = _file_entries(path, service_file_entries)
            found += secrets
            passfiles += named
    for path in filter(None, passfiles):
        found += _file_entries(path, pgpass_passwords)[0]
    return found


# libpq's root when no sslrootcert names one (fe-secure-openssl.c, initialize_SSL).
DEFAULT_ROOT = os.path.join(".postgresql", "root.crt")


def default_root(env: Mapping[str, str]) -> str | None:
    """libpq's ~/.postgresql/root.crt, when it exists (~ as libpq finds it)."""
    homes = libpq_homes(env)
    path = os.path.join(homes[0], DEFAULT_ROOT) if homes else None
    return path if path is not None and os.path.isfile(path) else None


def libpq_homes(env: Mapping[str, str]) -> list[str]:
    """Where libpq looks for ~, in the order libpq 18 does: $HOME, then the effective user's
    home in the password database (older libpq versions ask the database first)."""
    homes = [env.get("HOME", "")]
    with contextlib.suppress(KeyError, ImportError):
        import pwd

        homes.append(pwd.getpwuid(os.geteuid()).pw_dir)
    return [home for home in dict.fromkeys(homes) if home]


Entries = tuple[tuple[str, ...], tuple[str, ...]]  # (secrets, password files named)


def _file_entries(path: str, parse: Callable[[str], Entries]) -> Entries:
    """What `parse` finds in the file at `path`, read once for as long as the file is unchanged
    (Secrets.of runs for every target); nothing when it is not a regular file or unreadable."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return (), ()
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        return (), ()
    return _cached_entries(path, info.st_ino, info.st_mtime_ns, info.st_size, parse)


@functools.lru_cache(maxsize=64)
def _cached_entries(
    path: str, inode: int, mtime_ns: int, size: int, parse: Callable[[str], Entries]
) -> Entries:
    del inode, mtime_ns, size  # the cache key: a changed file is read again
    try:
        # Non-blocking: a file swapped for a FIFO since the stat above must not hang the run.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return (), ()
            data = handle.read(FILE_MAX_BYTES)
    except OSError:
        return (), ()
    return parse(data.decode("utf-8", "surrogateescape"))


def pgpass_passwords(text: str) -> Entries:
    """The passwords of a password file: `host:port:database:user:password` lines, where "\\"
    escapes the next character, "#" starts a comment, and the password ends at the next
    unescaped ":" (libpq's passwordFromFile); and, in case a ":" in it was not escaped, all
    that follows the fourth."""
    found: list[str] = []
    for line in _lines(text):
        fields = _pgpass_fields(line)
        if len(fields) >= 5 and not line.startswith("#"):
            found += {fields[4]: None, ":".join(fields[4:]): None}
    return tuple(found), ()


def _lines(text: str) -> list[str]:
    """Lines as libpq's fgets reads them: split at "\\n" only, line ends stripped."""
    return [line.rstrip("\r\n") for line in text.split("\n")]


def _pgpass_fields(line: str) -> list[str]:
    fields, current, chars = [], [], iter(line)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    return [*fields, "".join(current)]


def service_file_entries(text: str) -> Entries:
    """The secret keywords' values in a service file, in every section, and the password files
    it names (passfile=): `[name]` sections of `key=value` lines, "#" comments (libpq's
    parseServiceFile, which keeps the value exactly as written after the first "="). A comment
    or a section line needs no test of its own: its key ("#password", "[name") is none of these."""
    secrets: list[str] = []
    passfiles: list[str] = []
    for line in _lines(text):
        key, equals, value = line.strip().partition("=")
        key = key.strip().lower()
        if equals and key in SECRET_KEYWORDS:
            secrets += dict.fromkeys((value, value.strip()))
        elif equals and key == "passfile":
            passfiles.append(value.strip())
    return tuple(secrets), tuple(passfiles)
