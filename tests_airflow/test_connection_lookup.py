"""Which definition of a conn_id Airflow 3.3.2 uses when AIRFLOW_CONN_<ID> and the metadata
database both hold one, asked of Airflow itself (Connection.get_connection_from_secrets, its
default secrets search path), and tlsprobe --airflow-db probing that one only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METADATA_DB = ROOT / "fixtures" / "airflow" / "metadata.db"
# fixtures/airflow/make_metadata_db.py: the keys real Airflow encrypted the rows with.
FERNET_KEY = (
    "qH3kZt0z8mJ1C2pYw9e6Xo4N5sL7uR0aVbDf1GhJkLM=,5VCfXw2x4LZr0cKDmVQ5Bb7w3qD1gQ7hB0a8S9yjWcs="
)
LOOKUP = (
    "import json, sys\n"
    "from airflow.models.connection import Connection\n"
    "found = Connection.get_connection_from_secrets(sys.argv[1])\n"
    "print(json.dumps({'host': found.host, 'port': found.port}))\n"
)
IN_ENV = "postgresql://probe:env-pw-1@localhost:5999/app"


def environment(home: Path, **given: str) -> dict[str, str]:
    """Airflow's environment, built from nothing but PATH: a copy of the metadata database
    real Airflow wrote (Airflow may write to it), and its Fernet keys."""
    shutil.copyfile(METADATA_DB, home / "airflow.db")
    (home / "airflow.cfg").write_text(
        f"[database]\nsql_alchemy_conn = sqlite:///{home / 'airflow.db'}\n"
        f"[core]\nfernet_key = {FERNET_KEY}\n"
    )
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return base | {"HOME": str(home), "AIRFLOW_HOME": str(home)} | given


def airflow_finds(python: Path, env: dict[str, str], conn_id: str) -> dict[str, object]:
    done = subprocess.run(
        [str(python), "-c", LOOKUP, conn_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def tlsprobe_lists(env: dict[str, str], home: Path) -> list[str]:
    """`tlsprobe targets --airflow-cfg --airflow-db`: the pg_new lines (target, source)."""
    program = Path(sys.executable).with_name("tlsprobe")
    argv = [str(program), "targets", "--airflow-cfg", str(home / "airflow.cfg"), "--airflow-db"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t", 1)[1] for line in done.stdout.splitlines() if line[:7] == "pg_new\t"]


def test_the_environment_variable_wins(airflow_python: Path, tmp_path: Path) -> None:
    """AIRFLOW_CONN_PG_NEW and the row pg_new: Airflow uses the variable's (localhost:5999),
    and tlsprobe lists that one only."""
    env = environment(tmp_path, AIRFLOW_CONN_PG_NEW=IN_ENV)
    assert airflow_finds(airflow_python, env, "pg_new") == {"host": "localhost", "port": 5999}
    assert tlsprobe_lists(env, tmp_path) == [
        "postgresql://probe:***@localhost:5999/app\tAIRFLOW_CONN_PG_NEW"
    ]


def test_without_it_the_row_is_used(airflow_python: Path, tmp_path: Path) -> None:
    """The twin: no variable, Airflow reads the row (db2.example), and so does tlsprobe."""
    env = environment(tmp_path)
    assert airflow_finds(airflow_python, env, "pg_new") == {"host": "db2.example", "port": None}
    assert tlsprobe_lists(env, tmp_path) == [
        "postgresql://probe:***@db2.example/app?sslmode=require\tAirflow metadata database: pg_new"
    ]


def test_an_empty_variable_is_ignored(airflow_python: Path, tmp_path: Path) -> None:
    """AIRFLOW_CONN_PG_NEW set but empty: Airflow reads the row (db2.example) as if it were
    unset, and tlsprobe lists the row, not an error (it refused the empty value before)."""
    env = environment(tmp_path, AIRFLOW_CONN_PG_NEW="")
    assert airflow_finds(airflow_python, env, "pg_new") == {"host": "db2.example", "port": None}
    assert tlsprobe_lists(env, tmp_path) == [
        "postgresql://probe:***@db2.example/app?sslmode=require\tAirflow metadata database: pg_new"
    ]
