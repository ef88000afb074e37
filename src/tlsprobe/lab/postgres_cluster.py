"""Real PostgreSQL clusters for the lab: one per PostgreSQL case in CASES.md.

`initdb` runs once into a template that every cluster copies (`cp -a`), and the clusters start
concurrently, with fsync off and tiny buffers: the whole set is up in a few seconds. initdb
refuses to run as root, so as root every server command runs as the `postgres` user.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path

from tlsprobe.lab.certs import Identity
from tlsprobe.records import record

BINDIR = Path(os.environ.get("TLSPROBE_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"
SUPERUSER = "probe"  # the cluster's own superuser; the login targets log in as it
PASSWORD = "s3cret-pw"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30
_PORT_TRIES = 5

# Settings every lab cluster shares: loopback only, its socket in its own directory, and no
# durability (a lab cluster lives for one test session).
_BASE_CONF = {
    "listen_addresses": f"'{HOST}'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "'1MB'",
    "max_connections": "20",
    "autovacuum": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "logging_collector": "off",
    "password_encryption": "'scram-sha-256'",
}
HBA_HOST = f"local all all trust\nhost all all {HOST}/32 scram-sha-256\n"
HBA_HOSTSSL = f"local all all trust\nhostssl all all {HOST}/32 scram-sha-256\n"
# The password and a client certificate under the cluster's client_ca, both.
HBA_CLIENT_CERT = (
    f"local all all trust\nhostssl all all {HOST}/32 scram-sha-256 clientcert=verify-ca\n"
)
# The client certificate's CN must also be the user name (pg_hba clientcert=verify-full).
HBA_CLIENT_CERT_FULL = (
    f"local all all trust\nhostssl all all {HOST}/32 scram-sha-256 clientcert=verify-full\n"
)
# The client certificate is the login (pg_hba cert): its CN must be the user, checked at once.
HBA_CERT = f"local all all trust\nhostssl all all {HOST}/32 cert\n"
# No password asked at all: a client that demands channel binding must refuse to go on.
HBA_TRUST = f"local all all trust\nhostssl all all {HOST}/32 trust\n"
# A cleartext password request: no SCRAM, so no channel binding either.
HBA_PASSWORD = f"local all all trust\nhostssl all all {HOST}/32 password\n"


class Unavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


@record
class ClusterSpec:
    """One cluster: its name, its certificate (None: ssl = off), pg_hba.conf and extra settings.
    With `client_ca` the server asks clients for a certificate issued under that root (pg_hba's
    clientcert and cert methods then have one to check)."""

    name: str
    identity: Identity | None
    hba: str = HBA_HOSTSSL
    settings: Mapping[str, str] = field(default_factory=dict)
    client_ca: Path | None = None


@record
class Running:
    name: str
    port: int
    datadir: Path


def binaries_missing() -> str | None:
    """Why the clusters cannot run here, or None when they can."""
    needed = [BINDIR / tool for tool in ("initdb", "pg_ctl", "postgres")]
    missing = [str(p) for p in needed if not os.access(p, os.X_OK)]
    if missing:
        return f"PostgreSQL server binaries not found ({', '.join(missing)})"
    if not stat.S_ISCHR(os.stat(os.devnull).st_mode):
        # initdb's shell commands write to /dev/null as the postgres user: a regular file there
        # (left by something that replaced the device) makes initdb fail obscurely.
        return f"{os.devnull} is not a device (something replaced it with a regular file)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root but there is no {OS_USER!r} user to run initdb as"
    return None


def _as_server_user(command: Sequence[str]) -> list[str]:
    """initdb and postgres refuse root: run them as `postgres` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", OS_USER, "--", *command]
    return list(command)


def _give_to_server_user(path: Path, mode: int | None = None) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(OS_USER)
        os.chown(path, user.pw_uid, user.pw_gid)
    if mode is not None:
        path.chmod(mode)


def _run(command: Sequence[str], what: str) -> None:
    done = subprocess.run(
        _as_server_user(command), capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {(done.stderr or done.stdout).strip()[-500:]}")


def _scratch() -> str | None:
    """Memory-backed /dev/shm when there is one: copying a 28 MB data directory there takes
    milliseconds, where a slow disk takes a second per copy."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


_template_lock = threading.Lock()
_templates: list[Path] = []


def _template() -> Path:
    """initdb once per process; every cluster of every lab copies the result."""
    with _template_lock:
        if _templates and _templates[0].is_dir():
            return _templates[0]
        root = Path(tempfile.mkdtemp(prefix="tlsprobe-pg-template-", dir=_scratch()))
        atexit.register(shutil.rmtree, root, True)
        _give_to_server_user(root, 0o700)
        pwfile = root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        _give_to_server_user(pwfile, 0o600)
        template = root / "data"
        command = [str(BINDIR / "initdb"), "-D", str(template), "-U", SUPERUSER]
        command += [f"--pwfile={pwfile}", "-A", "scram-sha-256", "--auth-local=trust"]
        # -N: no fsync; 1 MB WAL segments instead of 16 make every copy cheaper.
        command += ["-N", "-E", "UTF8", "--locale=C", "--wal-segsize=1"]
        _run(command, "initdb")
        pwfile.unlink()
        _templates[:] = [template]
        return template


def _start_reaper(root: Path, template: Path) -> subprocess.Popen[bytes]:
    command = _as_server_user([str(BINDIR / "pg_ctl")])
    return subprocess.Popen(
        [sys.executable, "-c", _REAPER, str(os.getpid()), str(root), str(template), *command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a signal to the lab's process group must not reach it first
    )


def free_port() -> int:
    """A port that was free a moment ago (the caller retries if it is taken by then)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# Run by a watchdog process: once its parent (the lab) is gone, however it went (SIGKILL, a CI
# time-out), stop every cluster under the root and remove it. atexit covers every other ending.
_REAPER = """
import os, shutil, subprocess, sys, time
parent, root, template, command = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
while os.getppid() == parent:
    time.sleep(0.5)
for name in os.listdir(root):
    datadir = os.path.join(root, name)
    if os.path.exists(os.path.join(datadir, "postmaster.pid")):
        subprocess.run(
            [*command, "stop", "-D", datadir, "-m", "immediate", "-w"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
shutil.rmtree(root, ignore_errors=True)
shutil.rmtree(template, ignore_errors=True)
"""


class Clusters:
    """Creates, starts and removes a set of clusters in one temporary directory."""

    def __init__(self, specs: Sequence[ClusterSpec]) -> None:
        self._specs = list(specs)
        self._root: Path | None = None
        self._running: list[Running] = []
        self._reaper: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    def start(self) -> list[Running]:
        """initdb once, copy it per cluster, configure and start them all; stop them on error."""
        started = time.monotonic()
        if (why := binaries_missing()) is not None:
            raise Unavailable(why)
        atexit.register(self.stop)  # a crashed test session must not leave servers behind
        try:
            self._root = Path(tempfile.mkdtemp(prefix="tlsprobe-pg-", dir=_scratch()))
            _give_to_server_user(self._root, 0o700)
            template = _template()
            self._reaper = _start_reaper(self._root, template.parent)
            for spec in self._specs:
                self._prepare(spec, template)
            self._start_all()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return list(self._running)

    def stop(self) -> None:
        """Stop every cluster (immediate shutdown: nothing to keep) and remove the directory."""
        if self._reaper is not None:
            self._reaper.kill()  # this orderly stop does its work
            self._reaper.wait()
            self._reaper = None
        pg_ctl = str(BINDIR / "pg_ctl")
        stopping = [
            subprocess.Popen(
                _as_server_user([pg_ctl, "stop", "-D", str(r.datadir), "-m", "immediate", "-w"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for r in self._running
        ]
        for process in stopping:
            process.wait(timeout=30)
        self._running = []
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        atexit.unregister(self.stop)

    def _dir(self, name: str) -> Path:
        assert self._root is not None
        return self._root / name

    def _prepare(self, spec: ClusterSpec, template: Path) -> None:
        datadir = self._dir(spec.name)
        subprocess.run(["cp", "-a", str(template), str(datadir)], check=True)
        settings = {**_BASE_CONF, "unix_socket_directories": f"'{datadir}'", "ssl": "off"}
        if spec.identity is not None:
            for source, target in (
                (spec.identity.chain, "server.crt"),
                (spec.identity.key, "server.key"),
            ):
                shutil.copyfile(source, datadir / target)
                # PostgreSQL refuses a key that others can read: owned by postgres, mode 0600.
                _give_to_server_user(datadir / target, 0o600)
            settings |= {
                "ssl": "on",
                "ssl_cert_file": "'server.crt'",
                "ssl_key_file": "'server.key'",
            }
        if spec.client_ca is not None:
            shutil.copyfile(spec.client_ca, datadir / "root.crt")
            _give_to_server_user(datadir / "root.crt", 0o600)
            settings["ssl_ca_file"] = "'root.crt'"
        settings |= spec.settings
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        with (datadir / "postgresql.conf").open("a") as handle:
            handle.write(conf)
        (datadir / "pg_hba.conf").write_text(spec.hba)

    def _start_all(self) -> None:
        """Start every cluster at once; one whose port was taken meanwhile retries elsewhere."""
        pending = [spec.name for spec in self._specs]
        for _ in range(_PORT_TRIES):
            ports = {name: free_port() for name in pending}
            launched = {name: self._launch(name, port) for name, port in ports.items()}
            failed: dict[str, str] = {}
            for name, process in launched.items():
                _out, err = process.communicate(timeout=START_TIMEOUT_S + 5)
                if process.returncode == 0:
                    self._running.append(Running(name, ports[name], self._dir(name)))
                else:
                    failed[name] = self._log(name) or err
            for name, why in failed.items():
                if "already in use" not in why:
                    raise RuntimeError(f"cluster {name} did not start: {why.strip()[-500:]}")
            pending = list(failed)
            if not pending:
                return
        raise RuntimeError(f"clusters {', '.join(pending)} found no free port")

    def _launch(self, name: str, port: int) -> subprocess.Popen[str]:
        datadir = self._dir(name)
        command = [str(BINDIR / "pg_ctl"), "start", "-D", str(datadir), "-w"]
        command += ["-t", str(START_TIMEOUT_S), "-l", str(datadir / "server.log")]
        command += ["-o", f"-p {port}"]
        return subprocess.Popen(
            _as_server_user(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def _log(self, name: str) -> str:
        try:
            return (self._dir(name) / "server.log").read_text()
        except OSError:
            return ""
