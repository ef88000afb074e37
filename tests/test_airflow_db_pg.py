"""--airflow-db on PostgreSQL: a metadata database of Airflow's shape in the lab's cluster, read
through psycopg with the URL's sslmode and sslrootcert (and libpq's environment) as Airflow's
driver would connect; its bad twins: the wrong root, nobody listening, a database that is not
Airflow's, the tables in another schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import trustme
from cryptography.fernet import Fernet

from conftest import one_line
from tlsprobe.cli import main
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.lab.postgres_cluster import PASSWORD, SUPERUSER, free_port
from tlsprobe.sources import airflow_db

KEY = Fernet.generate_key().decode()
SECRET = "meta-pw-Rq7"
# Airflow's connection table as its migrations make it on PostgreSQL (team_name from 3.1).
CREATE = """CREATE TABLE {schema}connection (
    id SERIAL PRIMARY KEY,
    conn_id VARCHAR(250) NOT NULL UNIQUE,
    conn_type VARCHAR(500) NOT NULL,
    description VARCHAR(5000),
    host VARCHAR(500),
    schema VARCHAR(500),
    login TEXT,
    port INTEGER,
    team_name VARCHAR(50),
    password TEXT,
    extra TEXT,
    is_encrypted BOOLEAN NOT NULL,
    is_extra_encrypted BOOLEAN NOT NULL
)"""
INSERT = """INSERT INTO {schema}connection
    (conn_id, conn_type, host, login, port, password, extra, is_encrypted, is_extra_encrypted)
    VALUES (%s, 'postgres', 'db.example', 'u', 5432, %s, %s, true, true)"""


UNREADABLE = (
    "tlsprobe: airflow.cfg [database] sql_alchemy_conn: cannot read the metadata database ("
)


def port(lab: Lab) -> int:
    found = urlsplit(lab.url("pg-login")).port
    assert found is not None
    return found


@pytest.fixture(scope="module")
def metadata_db(lab: Lab) -> Iterator[str]:
    """A database holding Airflow's connection table twice: in public and in schema af."""
    name = f"airflow_{uuid.uuid4().hex[:10]}"
    admin = (
        f"host=localhost port={port(lab)} user={SUPERUSER} password={PASSWORD} "
        f"sslmode=verify-full sslrootcert={lab.ca_file}"
    )
    with psycopg.connect(admin + " dbname=postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    fernet = Fernet(KEY)
    extra = fernet.encrypt(b'{"sslmode": "verify-full"}').decode()
    with psycopg.connect(f"{admin} dbname={name}", autocommit=True) as conn:
        conn.execute("CREATE SCHEMA af")
        for schema, conn_id in (("", "in_public"), ("af.", "in_af")):
            conn.execute(CREATE.format(schema=schema))
            token = fernet.encrypt(SECRET.encode()).decode()
            conn.execute(INSERT.format(schema=schema), (conn_id, token, extra))
    yield name
    with psycopg.connect(admin + " dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def write_cfg(tmp_path: Path, url: str, extra: str = "") -> str:
    path = tmp_path / "airflow.cfg"
    path.write_text(f"[database]\nsql_alchemy_conn = {url}\n{extra}[core]\nfernet_key = {KEY}\n")
    return str(path)


def url(lab: Lab, database: str, query: str = "") -> str:
    login = f"{SUPERUSER}:{PASSWORD}@localhost:{port(lab)}"
    return f"postgresql+psycopg2://{login}/{database}{query}"


def test_rows_are_read_through_the_urls_tls_settings(
    lab: Lab, metadata_db: str, tmp_path: Path
) -> None:
    """sslmode=verify-full with the lab's root (the +psycopg2 suffix ignored): the row is read
    and decrypted, its encrypted extra reaching the target's libpq settings."""
    query = f"?sslmode=verify-full&sslrootcert={lab.ca_file}"
    found = airflow_db.read(Path(write_cfg(tmp_path, url(lab, metadata_db, query))), {})
    assert found.notes == []
    ((name, password, params),) = [(t.name, t.password, t.params) for t in found.targets]
    assert (name, password, params) == ("in_public", SECRET, (("sslmode", "verify-full"),))


def test_libpqs_environment_fills_what_the_url_leaves_out(
    lab: Lab, metadata_db: str, tmp_path: Path
) -> None:
    """PGSSLMODE and PGSSLROOTCERT apply, as they would to Airflow's driver: the lab's root
    reads the rows, another root is refused (so the environment was not ignored)."""
    cfg = Path(write_cfg(tmp_path, url(lab, metadata_db)))
    env = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(lab.ca_file)}
    assert [t.name for t in airflow_db.read(cfg, env).targets] == ["in_public"]
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(UsageError, match="certificate verify failed"):
        airflow_db.read(cfg, env | {"PGSSLROOTCERT": str(other)})


def test_the_wrong_root_is_one_line_without_the_password(
    lab: Lab, metadata_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bad twin: verify-full against a root that did not sign the server's certificate is
    libpq's refusal on one line, exit 2: the URL's sslrootcert is used, not the lab's."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    query = f"?sslmode=verify-full&sslrootcert={other}"
    line = one_line(
        [
            "targets",
            "--airflow-cfg",
            write_cfg(tmp_path, url(lab, metadata_db, query)),
            "--airflow-db",
        ],
        capsys,
    )
    assert line.startswith(UNREADABLE)
    assert "certificate verify failed" in line


def test_nobody_listening_is_one_line(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A metadata database that cannot be reached: one line naming the setting, exit 2."""
    closed = f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{free_port()}/airflow"
    line = one_line(
        ["targets", "--airflow-cfg", write_cfg(tmp_path, closed), "--airflow-db"], capsys
    )
    assert line.startswith(UNREADABLE)
    assert "Connection refused" in line


def test_a_database_without_airflows_table_is_one_line(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cluster's own `postgres` database is reachable but not Airflow's."""
    query = f"?sslmode=verify-full&sslrootcert={lab.ca_file}"
    cfg = write_cfg(tmp_path, url(lab, "postgres", query))
    assert one_line(["targets", "--airflow-cfg", cfg, "--airflow-db"], capsys) == (
        "tlsprobe: airflow.cfg [database] sql_alchemy_conn: not an Airflow metadata database "
        '(relation "connection" does not exist)'
    )


def test_sql_alchemy_schema_names_the_tables_schema(
    lab: Lab, metadata_db: str, tmp_path: Path
) -> None:
    """[database] sql_alchemy_schema = af reads af.connection, not public's."""
    query = f"?sslmode=verify-full&sslrootcert={lab.ca_file}"
    cfg = write_cfg(tmp_path, url(lab, metadata_db, query), "sql_alchemy_schema = af\n")
    found = airflow_db.read(Path(cfg), {})
    assert [(t.name, t.password) for t in found.targets] == [("in_af", SECRET)]


def test_rows_are_read_with_sql_alchemy_connect_args(
    lab: Lab, metadata_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The URL names a root that did not sign the server's certificate, and
    sql_alchemy_connect_args (which Airflow lets win) names the right one: --airflow-db reads the
    rows as Airflow connects (it failed with "certificate verify failed" before), and the
    dict's module is imported once a run (one AirflowConfig for every source)."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    imports = tmp_path / "imports.log"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tls_args.py").write_text(
        f"with open({str(imports)!r}, 'a') as log:\n    log.write('imported\\n')\n"
        f"ARGS = {{'sslmode': 'verify-full', 'sslrootcert': {str(lab.ca_file)!r}}}\n"
    )
    query = f"?sslmode=verify-full&sslrootcert={other}"
    args = "sql_alchemy_connect_args = tls_args.ARGS\n"
    cfg = write_cfg(tmp_path, url(lab, metadata_db, query), args)
    assert main(["targets", "--airflow-cfg", cfg, "--airflow-db", "--allow-cmd"]) == 0
    out = capsys.readouterr().out
    assert "in_public" in out
    assert imports.read_text() == "imported\n"


def test_rows_with_the_urls_wrong_root_alone_fail(
    lab: Lab, metadata_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The twin: without --allow-cmd the dict is not imported, and the URL's wrong root is
    refused, as libpq refuses it."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    query = f"?sslmode=verify-full&sslrootcert={other}"
    cfg = write_cfg(tmp_path, url(lab, metadata_db, query), "sql_alchemy_connect_args = x.ARGS\n")
    line = one_line(["targets", "--airflow-cfg", cfg, "--airflow-db"], capsys)
    assert "certificate verify failed" in line
