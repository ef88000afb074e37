"""Passwords libpq finds by itself (~/.pgpass, PGPASSFILE, passfile=, and the service files of a
`service=` target) are secrets of the target: a fake PostgreSQL server that asks for a cleartext
password and quotes it back in its ErrorResponse gets it printed as ***. The files are read as
libpq reads them, once while unchanged, and never make a run fail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import detail, statuses
from tlsprobe import libpq_files
from tlsprobe.model import Policy, TargetResult
from tlsprobe.probes import postgres
from tlsprobe.runner import probe_one
from tlsprobe.secrets import Secrets
from tlsprobe.targets import parse_target

PGPASS_PASSWORD = "Pgpass:Secret-1"
ESCAPED = PGPASS_PASSWORD.replace(":", "\\:")  # as a password file holds it
SERVICE_PASSWORD = "Service-Secret-2"
READ_TIMEOUT = 5.0


# --- a server that echoes the password ------------------------------------------------------


async def read_message(reader: asyncio.StreamReader, typed: bool) -> tuple[bytes, bytes]:
    kind = await reader.readexactly(1) if typed else b""
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    return kind, await reader.readexactly(length - 4)


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", 4 + len(body)) + body


async def echo_password(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """N to the SSLRequest, AuthenticationCleartextPassword to the StartupMessage, and an
    ErrorResponse quoting the password that comes."""
    _, first = await read_message(reader, typed=False)
    if first == struct.pack("!I", 80877103):  # an SSLRequest: no TLS here
        writer.write(b"N")
        await read_message(reader, typed=False)  # the StartupMessage
    writer.write(message(b"R", struct.pack("!I", 3)))
    kind, body = await read_message(reader, typed=True)
    said = body.rstrip(b"\0").decode("utf-8", "replace") if kind == b"p" else "(none)"
    fields = b"SFATAL\0VFATAL\0C28P01\0M" + f'password "{said}" is wrong'.encode() + b"\0\0"
    writer.write(message(b"E", fields))
    await writer.drain()


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[int]:
    tasks: list[asyncio.Task[Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            async with asyncio.timeout(READ_TIMEOUT):
                await echo_password(reader, writer)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        if tasks:
            await asyncio.wait(tasks, timeout=READ_TIMEOUT)
        await server.wait_closed()


def probed(url: str, raw: bool = False) -> TargetResult:
    """Probe `url` (with {port}) on the echoing server: through the runner, or the probe alone."""

    async def run() -> TargetResult:
        async with serving() as port:
            target = parse_target(url.format(port=port))
            policy = Policy(timeout=5.0)
            return await (postgres.probe(target, policy) if raw else probe_one(target, policy))

    return asyncio.run(run())


@pytest.fixture
def libpq_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A home of its own, and none of libpq's password variables from the outside."""
    for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGSERVICEFILE", "PGSYSCONFDIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def pgpass(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o600)  # libpq ignores a password file others can read
    return path


def test_a_pgpass_password_echoed_by_the_server_is_hidden(
    libpq_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libpq sends the PGPASSFILE password it found; the server's quote of it reads ***."""
    path = pgpass(libpq_env / "pgpass", "other:*:*:*:Another-One", f"*:*:*:probe:{ESCAPED}")
    monkeypatch.setenv("PGPASSFILE", str(path))
    result = probed("postgresql://probe@localhost:{port}/app?sslmode=prefer")
    assert statuses(result)["pg.login"] == "fail"
    assert 'password "***" is wrong' in detail(result, "pg.login")
    assert PGPASS_PASSWORD not in repr(result)


def test_the_same_echo_without_the_runner_shows_the_password(
    libpq_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin: the probe's own result quotes the password, so the server really had it and
    only the runner's scrub, knowing the file, hides it."""
    monkeypatch.setenv("PGPASSFILE", str(pgpass(libpq_env / "pgpass", f"*:*:*:*:{ESCAPED}")))
    result = probed("postgresql://probe@localhost:{port}/app?sslmode=prefer", raw=True)
    assert f'password "{PGPASS_PASSWORD}" is wrong' in detail(result, "pg.login")


def test_a_home_pgpass_password_is_hidden(libpq_env: Path) -> None:
    """~/.pgpass, with no variable naming it, counts too."""
    pgpass(libpq_env / ".pgpass", f"localhost:*:app:probe:{ESCAPED}")
    result = probed("postgresql://probe@localhost:{port}/app?sslmode=prefer")
    assert 'password "***" is wrong' in detail(result, "pg.login")


def test_a_service_file_password_echoed_by_the_server_is_hidden(
    libpq_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `service=` target: libpq sends the service file's password, which reads ***, and the
    keyword string logged before the login shows no password either."""
    services = libpq_env / "services.conf"
    services.write_text(f"# lab\n[lab]\nuser=probe\npassword={SERVICE_PASSWORD}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    result = probed("postgresql://probe@localhost:{port}/app?sslmode=prefer&service=lab")
    assert 'password "***" is wrong' in detail(result, "pg.login")
    assert SERVICE_PASSWORD not in repr(result)


def test_a_password_in_the_url_is_logged_by_libpq_keyword_as_stars(libpq_env: Path) -> None:
    """The keyword string the login passes to psycopg is logged whole, and the runner's scrub
    (not the probe) hides the password in it, as in the server's echo."""
    result = probed("postgresql://probe:Url-Secret-3@localhost:{port}/app?sslmode=prefer")
    (line,) = [line for line in result.transcript if "psycopg connect" in line]
    assert line.endswith(" password=***")
    assert " user=probe " in line
    assert 'password "***" is wrong' in detail(result, "pg.login")
    assert "Url-Secret-3" not in repr(result)


# --- the files, read as libpq reads them ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("db:5432:app:probe:plain-pw\n", ("plain-pw",)),
        ("db:5432:app:probe:with\\:colon\r\n", ("with:colon",)),
        ("db:5432:app:probe:back\\\\slash\n", ("back\\slash",)),
        ("db\\:x:5432:app:probe:after-escaped-host\n", ("after-escaped-host",)),
        ("*:*:*:*:un:escaped\n", ("un", "un:escaped")),
        ("*:*:*:*:ends-in\\", ("ends-in\\",)),
        ("#db:5432:app:probe:commented\nhost:1:2:3\n\n", ()),
        ("a:1:b:c:first\nd:2:e:f:second", ("first", "second")),
        ("a:1:b:c:form\x0cfeed\n", ("form\x0cfeed",)),
        ("a:1:b:c:blank-and-X-kept \tX\r\n", ("blank-and-X-kept \tX",)),
        ("a:1:b:c:trailing-blanks-kept \t\r\n", ("trailing-blanks-kept \t",)),
    ],
)
def test_pgpass_passwords(text: str, found: tuple[str, ...]) -> None:
    """The fifth field, with libpq's backslash escapes undone, ending at an unescaped ":" (and
    all after the fourth, in case); comments and short lines hold none."""
    assert libpq_files.pgpass_passwords(text) == (found, ())


def test_service_file_entries() -> None:
    """Every section's password and sslpassword, as written and trimmed, and the password
    files a service names; comments and other keys count for nothing."""
    text = (
        "[a]\nhost=db\n  password= spaced \n#password=commented\npassword\n"
        "[b=c]\nsslpassword=k=v\npassfile=/p\n"
    )
    assert libpq_files.service_file_entries(text) == ((" spaced", "spaced", "k=v"), ("/p",))


def postgres_target(query: str = "") -> Any:
    return parse_target(f"postgresql://probe@db.example/app{query}")


def test_every_place_libpq_looks_is_read(tmp_path: Path) -> None:
    """passfile=, PGPASSFILE, ~/.pgpass, and for a service PGSERVICEFILE, ~/.pg_service.conf,
    PGSYSCONFDIR/pg_service.conf and the passfile a service names."""
    (tmp_path / "etc").mkdir()
    pgpass(tmp_path / "named", "*:*:*:*:from-passfile-keyword")
    pgpass(tmp_path / "env", "*:*:*:*:from-pgpassfile")
    pgpass(tmp_path / ".pgpass", "*:*:*:*:from-home")
    pgpass(tmp_path / "service-named", "*:*:*:*:from-service-passfile")
    (tmp_path / "services").write_text(f"[s]\npassfile={tmp_path / 'service-named'}\n")
    (tmp_path / ".pg_service.conf").write_text("[s]\npassword=from-home-services\n")
    (tmp_path / "etc" / "pg_service.conf").write_text("[t]\nsslpassword=from-sysconfdir\n")
    env = {
        "HOME": str(tmp_path),
        "PGPASSFILE": str(tmp_path / "env"),
        "PGSERVICEFILE": str(tmp_path / "services"),
        "PGSYSCONFDIR": str(tmp_path / "etc"),
    }
    target = postgres_target(f"?passfile={tmp_path / 'named'}&service=s")
    assert set(libpq_files.passwords(target, env)) == {
        "from-passfile-keyword",
        "from-pgpassfile",
        "from-home",
        "from-service-passfile",
        "from-home-services",
        "from-sysconfdir",
    }
    assert "from-home-services" in set(
        libpq_files.passwords(postgres_target(), env | {"PGSERVICE": "s"})
    )


def test_service_files_only_for_a_service_and_nothing_for_other_protocols(tmp_path: Path) -> None:
    """The twins: without service= or PGSERVICE the service files are not read; an HTTPS
    target, which libpq never serves, has no file passwords at all."""
    pgpass(tmp_path / ".pgpass", "*:*:*:*:from-home")
    (tmp_path / ".pg_service.conf").write_text("[s]\npassword=from-home-services\n")
    env = {"HOME": str(tmp_path)}
    assert "from-home-services" not in libpq_files.passwords(postgres_target(), env)
    assert "from-home" in libpq_files.passwords(postgres_target(), env)
    assert libpq_files.passwords(parse_target("https://db.example/"), env) == []


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "nul", "loop", "not-a-dir"])
def test_a_file_that_cannot_be_read_holds_no_password(tmp_path: Path, kind: str) -> None:
    """A missing file, a directory, a FIFO (which would block), a path with NUL, a symbolic
    link loop, a path through a file: no password, no error, no wait."""
    path = tmp_path / "pgpass"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        path.symlink_to(path)
    elif kind == "not-a-dir":
        pgpass(path, "*:*:*:*:beside")
        path = path / "pgpass"
    spelled = f"{path}\0x" if kind == "nul" else str(path)
    env = {"PGPASSFILE": spelled, "HOME": "/nonexistent"}
    assert libpq_files.passwords(postgres_target(), env) == []


def test_homes_are_home_and_the_password_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """~ is $HOME and the user's home in the password database, each once; without an entry
    there (a container's unnamed uid) $HOME alone."""
    import pwd

    own = pwd.getpwuid(os.geteuid()).pw_dir
    assert libpq_files.libpq_homes({"HOME": "/h"}) == ["/h", own]
    assert libpq_files.libpq_homes({"HOME": own}) == [own]
    assert libpq_files.libpq_homes({}) == [own]

    def no_entry(uid: int) -> Any:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    assert libpq_files.libpq_homes({"HOME": "/h"}) == ["/h"]


def test_homes_without_a_password_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Python has no password database module (Windows), ~ is $HOME alone, or nowhere."""
    monkeypatch.setitem(sys.modules, "pwd", None)  # `import pwd` then raises ImportError
    assert libpq_files.libpq_homes({"HOME": "/h"}) == ["/h"]
    assert libpq_files.libpq_homes({}) == []


def test_a_file_is_read_once_while_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secrets.of runs per target: the file is opened once, and again once it changes."""
    path = pgpass(tmp_path / "pgpass", "*:*:*:*:first-version")
    env = {"PGPASSFILE": str(path), "HOME": "/nonexistent"}
    opened: list[str] = []
    real_open = os.open

    def counting_open(name: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    target = postgres_target()
    for _ in range(3):
        assert Secrets.of(target, env).scrub("x first-version y") == "x *** y"
    assert opened.count(str(path)) == 1
    pgpass(path, "*:*:*:*:second-version-longer")
    assert Secrets.of(target, env).scrub("second-version-longer") == "***"
    assert opened.count(str(path)) == 2


def test_any_change_of_the_file_is_seen(tmp_path: Path) -> None:
    """A file rewritten in place at the same size, one grown with its time set back, and one
    replaced by another of the same size and time are each read anew."""
    path = pgpass(tmp_path / "pgpass", "*:*:*:*:version-1")
    env = {"PGPASSFILE": str(path), "HOME": "/nonexistent"}

    def seen() -> list[str]:
        return libpq_files.passwords(postgres_target(), env)

    def keep_time(change: Callable[[], object]) -> None:
        before = path.stat().st_mtime_ns
        change()
        os.utime(path, ns=(before, before))

    assert seen() == ["version-1"]
    path.write_text("*:*:*:*:version-2\n")  # same size, same inode, a new time
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert seen() == ["version-2"]
    keep_time(lambda: path.write_text("*:*:*:*:version-three\n"))  # only the size differs
    assert seen() == ["version-three"]
    other = pgpass(tmp_path / "other", "*:*:*:*:version-four!")  # only the inode differs
    os.utime(other, ns=(path.stat().st_mtime_ns,) * 2)
    os.replace(other, path)
    assert seen() == ["version-four!"]
