"""The real clients, each run once against one lab endpoint and reduced to a `Seen`.

Blocking calls (the clients are blocking libraries and a program), run from a thread pool.
Every one has a short deadline: an endpoint that stalls costs its deadline and no more.
"""

from __future__ import annotations

import contextlib
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import httpx
import psycopg
from conformance_rule import Seen

from tlsprobe.lab.postgres_cluster import PASSWORD, SUPERUSER

DEADLINE = 2.0  # libpq's connect_timeout cannot go lower (it raises anything under 2 to 2)
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq's words when the session came up and only the password was wrong: psycopg gives no
# SQLSTATE for a failed connection, so the message is all there is.


def where(url: str) -> tuple[str, str, int]:
    """(name asked for, address to connect to, port), honouring tlsprobe's #connect=."""
    parts = urlsplit(url)
    fragment = dict(parse_qsl(parts.fragment))
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, fragment.get("connect", parts.hostname), parts.port


def with_sslmode(url: str, mode: str) -> str:
    """A libpq URL with its sslmode set to `mode` (other parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "sslmode"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("sslmode", mode)])))


# --- PostgreSQL: libpq through psycopg ------------------------------------------------------


def libpq(url: str, ca_file: Path) -> Seen:
    """psycopg.connect as an application would: the URL's sslmode, the URL's own sslrootcert or
    else the lab CA (as tlsprobe's --ca-file stands in for it), and the lab's superuser where
    the URL names no user. Refused credentials are a failure like any other: the client is
    not in."""
    query = dict(parse_qsl(urlsplit(url).query))
    mode = query.get("sslmode", "prefer")
    extra: dict[str, Any] = {"connect_timeout": int(DEADLINE)}
    if "sslrootcert" not in query:
        extra["sslrootcert"] = str(ca_file)
    if urlsplit(url).username is None:
        extra |= {"user": SUPERUSER, "password": PASSWORD}
    try:
        with psycopg.connect(url, **extra) as conn:
            encrypted = conn.pgconn.ssl_in_use
    except psycopg.Error as exc:
        return Seen(False, False, False, str(exc))
    return Seen(True, encrypted, encrypted and mode == "verify-full", f"ssl_in_use={encrypted}")


# --- SMTP: smtplib as Airflow's email code calls it ----------------------------------------


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: the client finished first
        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """smtplib's timeout is per read: a tarpit that drips a line every 0.25 s never trips it.
    This shuts the socket at the deadline, as a caller's overall deadline would, and closes it
    at the end: SMTP_SSL leaks its plain socket when the handshake fails."""

    def __init__(self) -> None:
        self.timer: threading.Timer | None = None
        self.sock: socket.socket | None = None

    def arm(self, sock: socket.socket) -> socket.socket:
        self.sock = sock
        self.timer = threading.Timer(DEADLINE, _shut, (sock,))
        self.timer.start()
        return sock

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer.join()
        if self.sock is not None:
            self.sock.close()  # a no-op once a TLS socket has taken it over


def _airflow_smtp(
    implicit: bool, host: str, port: int, context: ssl.SSLContext, login: tuple[str, str] | None
) -> Seen:
    """airflow.utils.email: SMTP_SSL(host, port, timeout, context) for smtp_ssl, else
    SMTP(host, port, timeout) then starttls(context); the context ssl.create_default_context()
    (here trusting the lab CA, as if it were in the system store); then login(user, password)
    when credentials are configured."""
    watchdog = _Watchdog()
    base = smtplib.SMTP_SSL if implicit else smtplib.SMTP

    class Guarded(base):  # type: ignore[valid-type,misc]
        def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
            return watchdog.arm(super()._get_socket(host, port, timeout))

    try:
        client = (
            Guarded(host, port, timeout=DEADLINE, context=context)
            if implicit
            else Guarded(host, port, timeout=DEADLINE)
        )
        with client:
            if not implicit:
                client.starttls(context=context)
            client.ehlo()
            if login is not None:
                client.login(*login)
    except (smtplib.SMTPException, OSError) as exc:
        return Seen(False, False, False, f"{type(exc).__name__}: {exc}")
    finally:
        watchdog.disarm()
    return Seen(True, True, True, "EHLO answered inside TLS" + (", logged in" if login else ""))


def smtp(url: str, ca_file: Path) -> Seen:
    host, address, port = where(url)
    assert host == address, "the SMTP cases need no #connect="
    context = ssl.create_default_context(cafile=str(ca_file))
    parts = urlsplit(url)
    login = None
    if parts.username is not None:
        login = (unquote(parts.username), unquote(parts.password or ""))
    return _airflow_smtp(parts.scheme == "smtps", host, port, context, login)


# --- HTTPS: httpx and curl -----------------------------------------------------------------


def _bare(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


def httpx_client(url: str, ca_file: Path) -> Seen:
    """httpx with verify = the lab CA; a #connect= address is dialled with the name as SNI."""
    host, address, port = where(url)
    encrypted = urlsplit(url).scheme == "https"
    request_url = _bare(url).replace(f"//{host}:", f"//{address}:", 1)
    verify = ssl.create_default_context(cafile=str(ca_file))
    dialled = host != address
    extensions = {"sni_hostname": host} if dialled else {}
    headers = {"Host": f"{host}:{port}"} if dialled else {}
    try:
        with (
            httpx.Client(verify=verify, timeout=DEADLINE) as client,
            client.stream("GET", request_url, headers=headers, extensions=extensions) as response,
        ):
            said = f"HTTP {response.status_code}"
    except httpx.ReadTimeout as exc:
        # The request went out over an established (verified) session; the answer never came.
        said = f"ReadTimeout after the handshake: {exc}"
    except httpx.HTTPError as exc:
        return Seen(False, False, False, f"{type(exc).__name__}: {exc}")
    return Seen(True, encrypted, encrypted, said)


CURL_TIMED_OUT = 28


def curl_path() -> str | None:
    return shutil.which("curl")


def curl(url: str, ca_file: Path) -> Seen:
    """Debian's curl with --cacert; --resolve stands in for #connect=."""
    program = curl_path()
    assert program is not None
    host, address, port = where(url)
    command = [program, "-sS", "-o", "/dev/null", "--max-time", f"{DEADLINE:g}"]
    command += ["--cacert", str(ca_file), "-w", "%{http_code} %{time_appconnect}"]
    if host != address:
        command += ["--resolve", f"{host}:{port}:{address}"]
    done = subprocess.run(
        [*command, _bare(url)], capture_output=True, text=True, check=False, timeout=10
    )
    code, appconnect = done.stdout.split()
    said = f"exit {done.returncode}, HTTP {code}: {done.stderr.strip()}"
    # A timeout after the handshake (or after the response head) is the application's stall.
    stalled_late = done.returncode == CURL_TIMED_OUT and (code != "000" or float(appconnect) > 0)
    if done.returncode != 0 and not stalled_late:
        return Seen(False, False, False, said)
    encrypted = urlsplit(url).scheme == "https"
    return Seen(True, encrypted, encrypted, said)
