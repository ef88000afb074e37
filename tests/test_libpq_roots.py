"""libpq's roots resolved once for the handshake and the trust report (probes/postgres/roots.py):
an Airflow connection's libpq is never given --ca-file, so the report never says it was used,
and cert.chain is never downgraded to "only through --ca-file" for it; with no root at all the
report names the system store the chain was judged against."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tlsprobe.lab import Lab

TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "PGSSLROOTCERT", "PGSSLMODE")


def run(argv: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A program run in a process whose home is `home`, without the trust variables of this
    one (plus `env`)."""
    base = {k: v for k, v in os.environ.items() if k not in TRUST_VARIABLES}
    return subprocess.run(
        argv,
        env={**base, "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def tlsprobe_json(home: Path, cfg: str, name: str, *flags: str, **env: str) -> dict[str, Any]:
    """`tlsprobe check --airflow-cfg` with airflow.cfg's text `cfg`, in JSON: the result `name`."""
    (home / "airflow.cfg").write_text(cfg)
    argv = ["check", "--airflow-cfg", str(home / "airflow.cfg"), "--format", "json", *flags]
    done = run([sys.executable, "-m", "tlsprobe", *argv, "--timeout", "5"], home, **env)
    report = json.loads(done.stdout)
    (result,) = [r for r in report["results"] if r["name"] == name]
    assert isinstance(result, dict)
    return result


def airflow_check(lab: Lab, home: Path, extra: dict[str, str], **env: str) -> dict[str, Any]:
    """`tlsprobe check --airflow-cfg ... --ca-file <lab root>` with one Airflow postgres
    connection (AIRFLOW_CONN_PG_X) to the lab's pg-good; its one result."""
    port = urlsplit(lab.url("pg-good")).port
    connection = {"conn_type": "postgres", "host": "localhost", "port": port, "extra": extra}
    env["AIRFLOW_CONN_PG_X"] = json.dumps(connection)
    return tlsprobe_json(home, "[core]\n", "pg_x", "--ca-file", str(lab.ca_file), **env)


def chain(result: dict[str, Any]) -> tuple[str, str]:
    (found,) = [c for c in result["checks"] if c["id"] == "cert.chain"]
    return found["status"], found["detail"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home without ~/.postgresql/root.crt."""
    return tmp_path


def test_airflow_connection_without_a_root_never_uses_ca_file(lab: Lab, home: Path) -> None:
    """No sslrootcert, no root.crt, the lab's root in the system store (SSL_CERT_FILE): the
    handshake trusted the system store only, so the report names it and cert.chain passes
    (it was "only through --ca-file", with --ca-file reported as used, before)."""
    result = airflow_check(lab, home, {"sslmode": "verify-full"}, SSL_CERT_FILE=str(lab.ca_file))
    status, detail = chain(result)
    assert status == "pass"
    assert "--ca-file" not in detail
    assert result["trust"]["used"] == [
        "the system store, as sslrootcert=system (libpq has no root: no sslrootcert, "
        "no ~/.postgresql/root.crt)"
    ]
    assert result["trust"]["ca_file_needed"] is False


def test_airflow_connection_without_a_root_fails_on_a_private_root(lab: Lab, home: Path) -> None:
    """The twin: the system store without the lab's root: cert.chain fails although --ca-file
    holds the root (libpq in Airflow is never given it)."""
    result = airflow_check(lab, home, {"sslmode": "verify-full"})
    assert chain(result)[0] == "fail"
    assert all("--ca-file" not in used for used in result["trust"]["used"])


def test_airflow_connection_with_its_sslrootcert(lab: Lab, home: Path) -> None:
    """The connection's own sslrootcert is the only root reported, and the chain passes."""
    extra = {"sslmode": "verify-full", "sslrootcert": str(lab.ca_file)}
    result = airflow_check(lab, home, extra)
    assert chain(result)[0] == "pass"
    assert result["trust"]["used"] == [f"sslrootcert ({lab.ca_file})"]


def test_airflow_connection_with_root_crt(lab: Lab, home: Path) -> None:
    """~/.postgresql/root.crt is libpq's root when nothing names one: reported, and it passes."""
    (home / ".postgresql").mkdir()
    (home / ".postgresql" / "root.crt").write_bytes(lab.ca_file.read_bytes())
    result = airflow_check(lab, home, {"sslmode": "verify-full"})
    assert chain(result)[0] == "pass"
    assert result["trust"]["used"] == [f"~/.postgresql/root.crt ({home}/.postgresql/root.crt)"]


LIBPQ = "import sys, psycopg\npsycopg.connect(sys.argv[1], connect_timeout=5).close()\n"


def libpq_says(home: Path, conninfo: str) -> str:
    """psycopg (libpq) in a process whose home is `home`: "ok" or its error, on one line."""
    done = run([sys.executable, "-c", LIBPQ, conninfo], home)
    return "ok" if done.returncode == 0 else " ".join(done.stderr.split())


def encryption(result: dict[str, Any]) -> tuple[str, str, str]:
    (found,) = [c for c in result["checks"] if c["id"] == "client.encryption"]
    return found["status"], found["detail"], found["hint"]


def test_verify_full_without_any_root_cannot_connect(lab: Lab, home: Path) -> None:
    """An Airflow connection with no login (so no pg.login), sslmode verify-full and no root
    anywhere: libpq refuses to start, and client.encryption fails saying so, with the fix in
    the connection's extra (it passed before: the roots were not asked)."""
    port = urlsplit(lab.url("pg-good")).port
    said = libpq_says(home, f"host=localhost port={port} sslmode=verify-full user=probe")
    assert "root certificate file" in said
    assert "does not exist" in said
    result = airflow_check(lab, home, {"sslmode": "verify-full"})
    assert encryption(result) == (
        "fail",
        "the client as configured cannot connect (sslmode=verify-full: libpq refuses to start: "
        "no sslrootcert and no ~/.postgresql/root.crt, so its root certificate file does not "
        "exist)",
        'set {"sslrootcert": "/path/to/root.crt"} in the extra of connection pg_x',
    )


def test_verify_full_with_a_missing_sslrootcert_cannot_connect(lab: Lab, home: Path) -> None:
    """The same with an sslrootcert naming no file: libpq names the file it cannot find."""
    port = urlsplit(lab.url("pg-good")).port
    missing = home / "nowhere.crt"
    conninfo = f"host=localhost port={port} sslmode=verify-full sslrootcert={missing} user=probe"
    assert f'root certificate file "{missing}" does not exist' in libpq_says(home, conninfo)
    result = airflow_check(lab, home, {"sslmode": "verify-full", "sslrootcert": str(missing)})
    status, detail, _ = encryption(result)
    assert (status, detail) == (
        "fail",
        "the client as configured cannot connect (sslmode=verify-full: libpq refuses to start: "
        f'root certificate file "{missing}" does not exist)',
    )


def test_require_without_a_root_still_connects(lab: Lab, home: Path) -> None:
    """The twin: sslmode require needs no root (libpq connects as far as the password), and
    client.encryption warns that it does not verify, as before."""
    port = urlsplit(lab.url("pg-good")).port
    said = libpq_says(home, f"host=localhost port={port} sslmode=require user=probe")
    assert "root certificate" not in said
    result = airflow_check(lab, home, {"sslmode": "require"})
    assert encryption(result)[0] == "warn"


def metadata_db_check(lab: Lab, home: Path, query: str) -> dict[str, Any]:
    """`tlsprobe check --airflow-cfg` whose sql_alchemy_conn is the lab's pg-good with `query`."""
    port = urlsplit(lab.url("pg-good")).port
    cfg = f"[database]\nsql_alchemy_conn = postgresql://localhost:{port}/x?{query}\n"
    return tlsprobe_json(home, cfg, "metadata-db")


def test_metadata_db_with_a_missing_sslrootcert_cannot_connect(lab: Lab, home: Path) -> None:
    """sql_alchemy_conn with verify-full and an sslrootcert naming no file: libpq refuses, and
    so does client.encryption, with airflow.cfg's words for the fix (the source alone judged
    this before, and took the missing file for a root)."""
    missing = home / "r.crt"
    result = metadata_db_check(lab, home, f"sslmode=verify-full&sslrootcert={missing}")
    assert encryption(result) == (
        "fail",
        "the client as configured cannot connect (sslmode=verify-full: libpq refuses to start: "
        f'root certificate file "{missing}" does not exist)',
        "give libpq the issuing root: add sslrootcert=/path/to/root.crt to the query of "
        "[database] sql_alchemy_conn (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)",
    )


def test_metadata_db_without_any_root_cannot_connect(lab: Lab, home: Path) -> None:
    """verify-full, no sslrootcert, no root.crt: the same refusal, said as libpq has it."""
    result = metadata_db_check(lab, home, "sslmode=verify-full")
    assert encryption(result)[:2] == (
        "fail",
        "the client as configured cannot connect (sslmode=verify-full: libpq refuses to start: "
        "no sslrootcert and no ~/.postgresql/root.crt, so its root certificate file does not "
        "exist)",
    )


def test_metadata_db_with_its_root_passes(lab: Lab, home: Path) -> None:
    """The twin: the lab's root as sslrootcert: client.encryption passes."""
    result = metadata_db_check(lab, home, f"sslmode=verify-full&sslrootcert={lab.ca_file}")
    assert encryption(result)[0] == "pass"
