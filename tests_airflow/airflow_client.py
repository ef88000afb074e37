"""Run one real Airflow client, inside `.venv-airflow`, and print what it did as one JSON line.

`python airflow_client.py KIND CONN_ID`; KIND is smtp_hook, send_email, postgres_hook,
http_hook, db_check or execution_api. The last line of standard output is
{"connected": bool, "encrypted": bool, "verified": bool, "said": str}.

This file is run by Airflow's interpreter, never imported by tlsprobe's: it imports only
Airflow, its providers and the standard library. It watches the client at the boundary where
the client hands over to its library (smtplib's socket, requests' adapter, libpq's connection
info) and never changes what the client does, except to stop an email at MAIL FROM: the lab's
SMTP servers speak no MAIL, and reaching it means connecting, TLS and the login all worked.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import subprocess
import sys
from typing import Any

PG_SSL_QUERY = "select ssl from pg_stat_ssl where pid = pg_backend_pid()"


def _tls_of(sock: Any) -> tuple[bool, bool]:
    """(encrypted, verified) of a socket: verified when its context checks chain and name."""
    if not isinstance(sock, ssl.SSLSocket):
        return False, False
    context = sock.context
    return True, context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def smtp_hook(conn_id: str) -> dict[str, Any]:
    """The SMTP provider's hook as a context manager: connect, STARTTLS, login as it decides."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        client = hook._smtp_client
        encrypted, verified = _tls_of(client.sock)
        logged_in = "logged in" if hook.smtp_user and hook.smtp_password else "no login"
        return _seen(True, encrypted, verified, f"EHLO answered, {logged_in}")


class _ReachedMail(Exception):
    """The email got as far as MAIL FROM."""


def send_email(conn_id: str) -> dict[str, Any]:
    """Airflow's core email path (send_email_smtp -> send_mime_email), stopped at MAIL FROM."""
    from airflow.utils.email import send_email_smtp

    reached: dict[str, Any] = {}
    logins: list[str] = []
    real_login = smtplib.SMTP.login

    def login(self: smtplib.SMTP, user: str, password: str, **kwargs: Any) -> Any:
        logins.append(user)
        return real_login(self, user, password, **kwargs)

    def sendmail(self: smtplib.SMTP, *args: Any, **kwargs: Any) -> Any:
        reached["tls"] = _tls_of(self.sock)
        reached["where"] = f"{self._host}:{self.sock.getpeername()[1]}"
        raise _ReachedMail

    smtplib.SMTP.login = login  # type: ignore[method-assign]
    smtplib.SMTP.sendmail = sendmail  # type: ignore[method-assign]
    try:
        send_email_smtp("to@example.com", "tlsprobe", "<b>test</b>", conn_id=conn_id)
    except _ReachedMail:
        encrypted, verified = reached["tls"]
        login_said = f"logged in as {logins[0]}" if logins else "no login"
        return _seen(
            True, encrypted, verified, f"MAIL FROM reached at {reached['where']}, {login_said}"
        )
    raise AssertionError("send_email_smtp returned without sending")


def _pg_seen(ssl_on: bool, sslmode: str, via: str) -> dict[str, Any]:
    # libpq verifies chain and host name only at verify-full (verify-ca: the chain alone).
    return _seen(
        True, ssl_on, ssl_on and sslmode == "verify-full", f"{via}: ssl={ssl_on}, sslmode={sslmode}"
    )


def _sslmode(conninfo: Any) -> str:
    """The sslmode libpq used, from its own connection options (its default included)."""
    for option in conninfo:
        if option.keyword == b"sslmode":
            value = option.val if option.val is not None else option.compiled
            return value.decode() if value else "prefer"
    return "prefer"


def postgres_hook(conn_id: str) -> dict[str, Any]:
    """PostgresHook.get_first on pg_stat_ssl; the sslmode libpq used, from a second connection
    made the same way."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=conn_id)
    (ssl_on,) = hook.get_first(PG_SSL_QUERY)
    conn = hook.get_conn()
    try:
        sslmode = _sslmode(conn.pgconn.info)
    finally:
        conn.close()
    return _pg_seen(bool(ssl_on), sslmode, "PostgresHook")


def http_hook(conn_id: str) -> dict[str, Any]:
    """HttpHook(method="GET").run("/"): the URL and `verify` requests was given, at its adapter."""
    import requests.adapters
    from airflow.providers.http.hooks.http import HttpHook

    sent: dict[str, Any] = {}
    real_send = requests.adapters.HTTPAdapter.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        sent.update(url=request.url, verify=kwargs.get("verify"))
        return real_send(self, request, **kwargs)

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
    response = HttpHook(method="GET", http_conn_id=conn_id).run("/")
    encrypted = str(sent["url"]).startswith("https://")
    verified = encrypted and sent["verify"] is not False
    said = f"HTTP {response.status_code} from {sent['url']} (verify={sent['verify']!r})"
    return _seen(True, encrypted, verified, said)


def execution_api(conn_id: str) -> dict[str, Any]:
    """A worker's Task SDK client (httpx, its SSL context from [api] ssl_cert / ssl_ca_file and
    the default paths) at the URL the executor hands its workers: [core]
    execution_api_server_url, else [api] base_url + /execution/, else localhost:8080."""
    del conn_id
    from airflow.executors.base_executor import get_execution_api_server_url
    from airflow.sdk.api.client import Client

    url = get_execution_api_server_url()
    with Client(base_url=url, token="tlsprobe") as client:
        response = client.get("")
        encrypted = response.url.scheme == "https"
        return _seen(True, encrypted, encrypted, f"HTTP {response.status_code} from {response.url}")


def db_check(conn_id: str) -> dict[str, Any]:
    """`airflow db check` decides; when it passes, Airflow's own engine asks pg_stat_ssl."""
    del conn_id
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip(" ^~\t")]
        return _seen(False, False, False, " | ".join(lines[-3:]))
    from airflow import settings
    from sqlalchemy import text

    settings.configure_orm()
    with settings.engine.connect() as conn:
        ssl_on = bool(conn.execute(text(PG_SSL_QUERY)).scalar())
        raw = conn.connection.dbapi_connection
        params = raw.get_dsn_parameters() if hasattr(raw, "get_dsn_parameters") else {}
        sslmode = params.get("sslmode", "prefer")
    return _pg_seen(ssl_on, sslmode, "airflow db check")


def _seen(connected: bool, encrypted: bool, verified: bool, said: str) -> dict[str, Any]:
    return {"connected": connected, "encrypted": encrypted, "verified": verified, "said": said}


KINDS = {
    "smtp_hook": smtp_hook,
    "send_email": send_email,
    "postgres_hook": postgres_hook,
    "http_hook": http_hook,
    "db_check": db_check,
    "execution_api": execution_api,
}


def main() -> None:
    kind, conn_id = sys.argv[1], sys.argv[2]
    try:
        seen = KINDS[kind](conn_id)
    except Exception as exc:  # what the client raised is the outcome, in its own words
        seen = _seen(False, False, False, f"{type(exc).__name__}: {exc}")
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
