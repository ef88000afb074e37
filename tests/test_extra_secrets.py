"""A secret in a connection's extra (an Authorization header) is hidden whatever the source
says it: AIRFLOW_CONN_*, an `airflow connections export`, a row of the metadata database.
Each connection reaches a real HTTPS server that repeats the secret in its status line, and no
report format at -vv prints it (before, only the database's rows were scrubbed so)."""

from __future__ import annotations

import contextlib
import io
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from test_airflow_db import MADE, airflow_table
from threaded import ThreadedHttpServer
from tlsprobe.cli import main

# The secret each source's connection carries, and the word its server adds after it.
TOKENS = {"env": "Bearer tok-env-Q8w3", "export": "Bearer tok-exp-R5t1", "db": "Bearer tok-db-M2p7"}
FORMATS = ["json", "table", "markdown", "junit", "prometheus"]


class Repeater(ThreadedHttpServer):
    """An HTTPS server that refuses every request, quoting the token it was set up with."""

    def __init__(self, leaf: trustme.LeafCert, said: str) -> None:
        super().__init__(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
        assert self.tls is not None
        leaf.configure_cert(self.tls)
        self.said = said

    def answer(self, head: str) -> bytes:
        del head
        return (
            f"HTTP/1.1 401 rejected {self.said} here\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")


def connection(port: int, source: str) -> dict[str, object]:
    extra = {"headers": {"Authorization": TOKENS[source]}, "timeout": "5"}
    return {"conn_type": "http", "host": "localhost", "port": port, "schema": "https"} | {
        "extra": extra
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int]]]:
    """Three servers, one for each source's connection, and the CA that signed them."""
    tmp = tmp_path_factory.mktemp("extra-secrets")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    leaf = ca.issue_cert("localhost")
    with contextlib.ExitStack() as stack:
        servers = {s: stack.enter_context(Repeater(leaf, t)) for s, t in TOKENS.items()}
        yield tmp, {s: server.port for s, server in servers.items()}


def run(tmp: Path, ports: dict[str, int], fmt: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`tlsprobe check` on all three sources at once, at -vv; its stdout and stderr."""
    monkeypatch.setenv("AIRFLOW_CONN_HTTP_ENV", json.dumps(connection(ports["env"], "env")))
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", MADE.ROTATED)
    export = tmp / "connections.json"
    export.write_text(json.dumps({"http_export": connection(ports["export"], "export")}))
    row = connection(ports["db"], "db") | {"conn_id": "http_db", "is_extra_encrypted": True}
    row["extra"] = json.dumps(row["extra"])
    database = tmp / f"airflow-{fmt}.db"
    airflow_table(database, [row], MADE.KEY_NEW)
    cfg = tmp / "airflow.cfg"
    cfg.write_text(f"[database]\nsql_alchemy_conn = sqlite:///{database}\n")
    argv = ["check", "--airflow-cfg", str(cfg), "--airflow-db", "--airflow-connections"]
    argv += [str(export), "--ca-file", str(tmp / "ca.pem"), "--format", fmt, "-vv"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(argv) == 1  # the 401s fail http.status
    return out.getvalue() + err.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_source_prints_an_extras_secret(
    setup: tuple[Path, dict[str, int]], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each server said its token (the status line's other words are printed); no token is."""
    tmp, ports = setup
    said = run(tmp, ports, fmt, monkeypatch)
    for source, token in TOKENS.items():
        assert token not in said, (fmt, source)
        assert token.split()[1] not in said, (fmt, source)
    if fmt != "prometheus":  # its series carry no details
        assert said.count("401 rejected *** here") >= len(TOKENS), fmt
