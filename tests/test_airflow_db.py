"""--airflow-db on SQLite: the metadata database real Airflow 3.3.2 wrote (fixtures/airflow/
metadata.db, made by fixtures/airflow/make_metadata_db.py), read with the right key, the new key
alone, the old key alone and no key; tables of Airflow's shape built here with cryptography's
Fernet for the rows Airflow's CLI will not write (a hostile conn_id, a malformed extra); a
database that is missing or not Airflow's; the [secrets] backend note; and a decrypted password
that logs in to the lab's PostgreSQL yet shows in no report format."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet

from conftest import one_line
from tlsprobe.cli import main
from tlsprobe.lab import Lab
from tlsprobe.sources import Collected, airflow, airflow_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "airflow"
WHERE = "Airflow metadata database"


def _maker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_metadata_db", FIXTURES / "make_metadata_db.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MADE = _maker()  # the keys and values the real Airflow was given
UNDECRYPTABLE = (
    "cannot be decrypted with [core] fernet_key (encrypted with another key: list the old key "
    "after the new one, comma-separated, as Airflow's key rotation does); not probed"
)


def cfg(tmp_path: Path, database: Path, extra: str = "") -> Path:
    path = tmp_path / "airflow.cfg"
    path.write_text(f"[database]\nsql_alchemy_conn = sqlite:///{database}\n{extra}")
    return path


def read(tmp_path: Path, key: str | None, database: Path = FIXTURES / "metadata.db") -> Collected:
    env = {} if key is None else {"AIRFLOW__CORE__FERNET_KEY": key}
    return airflow_db.read(cfg(tmp_path, database), env)


def passwords(found: Collected) -> dict[str, str | None]:
    return {t.name: t.password for t in found.targets}


# --- the database real Airflow wrote --------------------------------------------------------


# The targets airflow.cfg itself names even when it sets nothing (Airflow's API server defaults).
CFG_TARGETS = ("api-server", "execution-api")


def db_names(listing: str) -> list[str]:
    """The target names of a `tlsprobe targets` listing, less those airflow.cfg names."""
    names = [line.split("\t")[0] for line in listing.splitlines()]
    return [n for n in names if n not in CFG_TARGETS]


def test_rotated_keys_decrypt_every_row_airflow_wrote(tmp_path: Path) -> None:
    """With "new,old" (Airflow's rotation), every row real Airflow wrote is decrypted, each
    connection made as an export's would be, and the extra's token kept for the scrub; the
    file (opened read-only) is left byte for byte as it was, with no journal beside it."""
    before = (FIXTURES / "metadata.db").read_bytes()
    found = read(tmp_path, MADE.ROTATED)
    assert (FIXTURES / "metadata.db").read_bytes() == before
    assert sorted(p.name for p in FIXTURES.glob("metadata.db*")) == ["metadata.db"]
    assert found.notes == []
    assert passwords(found) == {
        "http_api": None,
        "pg_new": MADE.NEW_PASSWORD,
        "pg_old": MADE.OLD_PASSWORD,
        "smtp_plain": MADE.PLAIN_PASSWORD,
    }
    shown = {t.name: t.display for t in found.targets}
    assert shown == {
        "http_api": "https://api.example/",
        "pg_new": "postgresql://probe:***@db2.example/app?sslmode=require",
        "pg_old": "postgresql://probe:***@db.example:5433/app?sslmode=verify-full",
        "smtp_plain": "smtps://bot:***@mail.example:465",
    }
    (api,) = (t for t in found.targets if t.name == "http_api")
    assert MADE.API_TOKEN in api.hidden
    assert {t.source for t in found.targets} == {f"{WHERE}: {t.name}" for t in found.targets}


def test_new_key_alone_cannot_read_the_row_the_old_key_wrote(tmp_path: Path) -> None:
    """The bad twin: without the old key, the old row is one note naming it (no ciphertext)."""
    found = read(tmp_path, MADE.KEY_NEW)
    assert found.notes == [f"{WHERE}: pg_old: its password {UNDECRYPTABLE}"]
    assert passwords(found) == {
        "http_api": None,
        "pg_new": MADE.NEW_PASSWORD,
        "smtp_plain": MADE.PLAIN_PASSWORD,
    }
    assert "gAAAAA" not in "".join(found.notes)


def test_old_key_alone_cannot_read_the_rows_the_new_key_wrote(tmp_path: Path) -> None:
    """The old key alone reads the old row only; an encrypted extra is named as the extra."""
    found = read(tmp_path, MADE.KEY_OLD)
    assert found.notes == [
        f"{WHERE}: http_api: its extra {UNDECRYPTABLE}",
        f"{WHERE}: pg_new: its password {UNDECRYPTABLE}",
    ]
    assert passwords(found) == {"pg_old": MADE.OLD_PASSWORD, "smtp_plain": MADE.PLAIN_PASSWORD}


def test_no_fernet_key_leaves_the_unencrypted_row_only(tmp_path: Path) -> None:
    """No fernet_key: each encrypted row is a note saying so; the plaintext row is probed."""
    found = read(tmp_path, None)
    missing = "is encrypted and no [core] fernet_key is set; not probed"
    assert found.notes == [
        f"{WHERE}: http_api: its extra {missing}",
        f"{WHERE}: pg_new: its password {missing}",
        f"{WHERE}: pg_old: its password {missing}",
    ]
    assert passwords(found) == {"smtp_plain": MADE.PLAIN_PASSWORD}


def test_key_from_a_command_is_used_only_with_allow_cmd(tmp_path: Path) -> None:
    """fernet_key_cmd is one of Airflow's sensitive options: run with --allow-cmd, else noted
    and the encrypted rows left unread."""
    path = cfg(
        tmp_path, FIXTURES / "metadata.db", f"[core]\nfernet_key_cmd = echo {MADE.ROTATED}\n"
    )
    ran = airflow_db.read(path, {}, allow_cmd=True)
    assert ran.notes == []
    assert passwords(ran)["pg_old"] == MADE.OLD_PASSWORD
    not_run = airflow_db.read(path, {})
    assert not_run.notes[0] == (
        "airflow.cfg [core] fernet_key_cmd: a command, not run (pass --allow-cmd to run it)"
    )
    assert sorted(passwords(not_run)) == ["smtp_plain"]


def test_connect_args_are_not_imported_for_sqlite(tmp_path: Path) -> None:
    """sql_alchemy_connect_args of a SQLite metadata database is no libpq keyword: --airflow-db
    neither imports it (with --allow-cmd) nor notes it (without); the rows are read."""
    extra = (
        f"sql_alchemy_connect_args = not_a_module_Zq.ARGS\n[core]\nfernet_key = {MADE.ROTATED}\n"
    )
    path = cfg(tmp_path, FIXTURES / "metadata.db", extra)
    for allow in (True, False):
        found = airflow_db.read(path, {}, allow_cmd=allow)
        assert found.notes == []
        assert passwords(found)["pg_old"] == MADE.OLD_PASSWORD


def test_a_fernet_key_that_is_not_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed key stops the run with one line naming where it came from, never the key;
    its twin (the same key, well formed) lists the targets."""
    path = str(cfg(tmp_path, FIXTURES / "metadata.db", "[core]\nfernet_key = not-a-key-Zq\n"))
    assert main(["targets", "--airflow-cfg", path, "--airflow-db"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "tlsprobe: airflow.cfg [core] fernet_key: not a Fernet key (each of its comma-separated "
        "keys is 32 bytes in URL-safe base64, as `airflow` or cryptography's "
        "Fernet.generate_key() makes one)\n"
    )
    Path(path).write_text(Path(path).read_text().replace("not-a-key-Zq", MADE.ROTATED))
    assert main(["targets", "--airflow-cfg", path, "--airflow-db"]) == 0
    assert db_names(capsys.readouterr().out) == ["http_api", "pg_new", "pg_old", "smtp_plain"]


# --- tables of Airflow's shape, rows made here ----------------------------------------------


def airflow_table(path: Path, rows: list[dict[str, Any]], key: str) -> Path:
    """An SQLite file with Airflow's own CREATE TABLE connection (from the fixture) and `rows`,
    password and extra encrypted with `key` where the row says so."""
    with sqlite3.connect(FIXTURES / "metadata.db") as fixture:
        (create,) = fixture.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'connection'"
        ).fetchone()
    fernet = Fernet(key)
    db = sqlite3.connect(path)
    with db:
        db.execute(create)
        for number, given in enumerate(rows, 1):
            row = {"is_encrypted": False, "is_extra_encrypted": False} | given
            for field, flag in (("password", "is_encrypted"), ("extra", "is_extra_encrypted")):
                if row[flag] and row.get(field):
                    row[field] = fernet.encrypt(row[field].encode()).decode()
            keys = ", ".join(row)
            marks = ", ".join("?" * (len(row) + 1))
            db.execute(
                f"INSERT INTO connection (id, {keys}) VALUES ({marks})", [number, *row.values()]
            )
    db.close()
    return path


def pg_row(conn_id: str, password: str = "pw-Hx4", **more: Any) -> dict[str, Any]:
    row = {"conn_id": conn_id, "conn_type": "postgres", "host": "db.example", "login": "u"}
    return row | {"password": password, "is_encrypted": True} | more


def test_hostile_conn_id_is_a_visible_note(tmp_path: Path) -> None:
    """A conn_id with an escape sequence (Airflow's CLI refuses one; the table takes it) is one
    note with the ESC written out; its twin with a plain conn_id is probed."""
    key = Fernet.generate_key().decode()
    hostile = "evil\x1b]0;owned\x07"
    path = airflow_table(tmp_path / "a.db", [pg_row(hostile), pg_row("plain")], key)
    found = read(tmp_path, key, path)
    assert [t.name for t in found.targets] == ["plain"]
    assert found.notes == [
        f"{WHERE}: 'evil\\x1b]0;owned\\x07': the name: contains a control character; not probed"
    ]


def test_malformed_extra_is_a_note_for_its_row_only(tmp_path: Path) -> None:
    """An (encrypted) extra that is not JSON is one note naming its connection; the other rows
    are read; its twin, a JSON extra, reaches the target's libpq settings."""
    key = Fernet.generate_key().decode()
    rows = [
        pg_row("bad_extra", extra='{"sslmode": "require"', is_extra_encrypted=True),
        pg_row("good_extra", extra='{"sslmode": "require"}', is_extra_encrypted=True),
    ]
    found = read(tmp_path, key, airflow_table(tmp_path / "a.db", rows, key))
    assert [(t.name, t.params) for t in found.targets] == [
        ("good_extra", (("sslmode", "require"),))
    ]
    (note,) = found.notes
    assert note.startswith(f"{WHERE}: bad_extra: extra: ")
    assert note.endswith("; not probed")
    assert "gAAAAA" not in note


def test_unencrypted_rows_are_read_with_any_key(tmp_path: Path) -> None:
    """Rows stored in plaintext (is_encrypted false) are taken as they are, key or none; an
    encrypted twin in the same table needs the key."""
    key = Fernet.generate_key().decode()
    rows = [pg_row("clear", "clear-pw", is_encrypted=False), pg_row("sealed", "sealed-pw")]
    path = airflow_table(tmp_path / "a.db", rows, key)
    assert passwords(read(tmp_path, None, path)) == {"clear": "clear-pw"}
    assert passwords(read(tmp_path, key, path)) == {"clear": "clear-pw", "sealed": "sealed-pw"}


# --- databases that cannot be read ----------------------------------------------------------


def test_a_database_that_is_not_airflows_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An SQLite file without Airflow's connection table: one line, exit 2."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    path = str(cfg(tmp_path, other))
    assert one_line(["targets", "--airflow-cfg", path, "--airflow-db"], capsys) == (
        "tlsprobe: airflow.cfg [database] sql_alchemy_conn: not an Airflow metadata database "
        "(no such table: connection)"
    )


def test_a_missing_database_is_one_line_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sql_alchemy_conn naming no file: one line, exit 2, and (read-only) no file made."""
    missing = tmp_path / "gone.db"
    path = str(cfg(tmp_path, missing))
    assert one_line(["targets", "--airflow-cfg", path, "--airflow-db"], capsys) == (
        f"tlsprobe: airflow.cfg [database] sql_alchemy_conn: {missing}: no such file "
        "(Airflow's SQLite database)"
    )
    assert not missing.exists()


def test_an_in_memory_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sqlite:// (memory) holds nothing tlsprobe could read."""
    path = tmp_path / "airflow.cfg"
    path.write_text("[database]\nsql_alchemy_conn = sqlite://\n")
    assert one_line(["targets", "--airflow-cfg", str(path), "--airflow-db"], capsys) == (
        "tlsprobe: airflow.cfg [database] sql_alchemy_conn: an SQLite database in memory or "
        "without a file to read"
    )


def test_the_default_database_is_airflow_homes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No sql_alchemy_conn: Airflow's default, $AIRFLOW_HOME/airflow.db, is read."""
    (tmp_path / "airflow.db").write_bytes((FIXTURES / "metadata.db").read_bytes())
    (tmp_path / "airflow.cfg").write_text(f"[core]\nfernet_key = {MADE.ROTATED}\n")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert main(["targets", "--airflow-db"]) == 0
    assert db_names(capsys.readouterr().out) == ["http_api", "pg_new", "pg_old", "smtp_plain"]


# --- [secrets] backend ----------------------------------------------------------------------


def backend_notes(tmp_path: Path, section: str) -> list[str]:
    path = tmp_path / "airflow.cfg"
    path.write_text(section)
    return [n for n in airflow.read(path, {}).notes if "[secrets]" in n]


def test_secrets_backend_is_named_without_its_kwargs(tmp_path: Path) -> None:
    """A configured backend is one note naming its class; backend_kwargs (a token) never shows."""
    notes = backend_notes(
        tmp_path,
        "[secrets]\nbackend = airflow.providers.hashicorp.secrets.vault.VaultBackend\n"
        'backend_kwargs = {"token": "hvs.Tk9q"}\n',
    )
    assert notes == [
        "airflow.cfg [secrets] backend: Airflow looks up connections in "
        "airflow.providers.hashicorp.secrets.vault.VaultBackend first; tlsprobe cannot see the "
        "connections kept there (it still reads AIRFLOW_CONN_* variables, and the metadata "
        "database with --airflow-db)"
    ]


def test_no_secrets_backend_no_note(tmp_path: Path) -> None:
    """The twin: an empty backend (Airflow's default) is no note."""
    assert backend_notes(tmp_path, "[secrets]\nbackend =\n") == []


def test_hostile_backend_name_is_escaped(tmp_path: Path) -> None:
    """A backend name with a line break or an ESC is shown as its repr, on one line."""
    (note,) = backend_notes(tmp_path, "[secrets]\nbackend = a.B\n")
    assert "in a.B first" in note
    env = {"AIRFLOW__SECRETS__BACKEND": "x.\x1b[2JY"}
    path = tmp_path / "airflow.cfg"
    (shown,) = [n for n in airflow.read(path, env).notes if "SECRETS" in n]
    assert shown.startswith(
        "AIRFLOW__SECRETS__BACKEND: Airflow looks up connections in 'x.\\x1b[2JY'"
    )


# --- a decrypted password at work, and never shown ------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "table", "junit"])
def test_decrypted_password_logs_in_and_shows_nowhere(
    lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """The decrypted password logs in to the lab's PostgreSQL (pg.login passes; its wrong twin
    fails), and neither password, in any form, shows in the report or on stderr."""
    address = urlsplit(lab.url("pg-login"))
    key = Fernet.generate_key().decode()
    extra = f'{{"sslmode": "verify-full", "sslrootcert": "{lab.ca_file}"}}'
    common = {"host": "localhost", "port": address.port, "schema": "postgres", "extra": extra}
    rows = [
        pg_row("right", "s3cret-pw", login="probe", **common),
        pg_row("wrong", "wr0ng-Pw-x", login="probe", **common),
    ]
    path = str(
        cfg(tmp_path, airflow_table(tmp_path / "a.db", rows, key), f"[core]\nfernet_key = {key}\n")
    )
    main(["check", "--format", fmt, "--airflow-cfg", path, "--airflow-db", "--no-tls-legacy"])
    out, err = capsys.readouterr()
    assert "right" in out
    assert "wrong" in out
    for secret in ("s3cret-pw", "wr0ng-Pw-x", key):
        assert secret not in out + err
    if fmt == "json":
        results = {r["name"]: r for r in json.loads(out)["results"] if r["name"] not in CFG_TARGETS}
        login = {
            n: next(c["status"] for c in r["checks"] if c["id"] == "pg.login")
            for n, r in results.items()
        }
        assert login == {"right": "pass", "wrong": "fail"}


def test_a_cmd_runs_once_with_airflow_db(tmp_path: Path) -> None:
    """sql_alchemy_conn_cmd with --allow-cmd --airflow-db: the command (here one that appends
    to a file) runs once a run, not once for airflow.cfg and again for the metadata database
    (it ran twice before: two AirflowConfigs)."""
    ran = tmp_path / "ran.log"
    command = f"echo ran >> {ran}; echo sqlite:///{FIXTURES / 'metadata.db'}"
    path = tmp_path / "airflow.cfg"
    path.write_text(f"[database]\nsql_alchemy_conn_cmd = sh -c '{command}'\n")
    argv = ["targets", "--airflow-cfg", str(path), "--airflow-db", "--allow-cmd"]
    assert main(argv) == 0
    assert ran.read_text() == "ran\n"


def listed(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[dict[str, list[str]], str]:
    """`tlsprobe targets`: each name's (target, source) lines, and the notes on stderr."""
    assert main(argv) == 0
    out, err = capsys.readouterr()
    names: dict[str, list[str]] = {}
    for line in out.splitlines():
        name, target, source = line.split("\t")
        names.setdefault(name, []).append(f"{target} | {source}")
    return names, err


SHADOWED = (
    "shadowed by AIRFLOW_CONN_PG_NEW, which Airflow looks up first (environment variables "
    "before the metadata database): not probed, the variable's connection is"
)


def test_a_conn_id_in_the_environment_shadows_the_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_new both in AIRFLOW_CONN_PG_NEW and in the metadata database: only the variable's
    connection is probed (Airflow's lookup order; tests_airflow proves it with Airflow), the
    row is noted as shadowed (both were probed before)."""
    monkeypatch.setenv("AIRFLOW_CONN_PG_NEW", "postgresql://probe:pw-env-1@localhost:5999/app")
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", MADE.ROTATED)
    path = cfg(tmp_path, FIXTURES / "metadata.db")
    names, err = listed(capsys, ["targets", "--airflow-cfg", str(path), "--airflow-db"])
    assert names["pg_new"] == ["postgresql://probe:***@localhost:5999/app | AIRFLOW_CONN_PG_NEW"]
    assert f"tlsprobe: note: {WHERE}: pg_new: {SHADOWED}\n" in err


def test_without_the_variable_the_row_is_probed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin: no AIRFLOW_CONN_PG_NEW, so the row is probed and nothing is shadowed."""
    monkeypatch.delenv("AIRFLOW_CONN_PG_NEW", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", MADE.ROTATED)
    path = cfg(tmp_path, FIXTURES / "metadata.db")
    names, err = listed(capsys, ["targets", "--airflow-cfg", str(path), "--airflow-db"])
    assert names["pg_new"] == [
        f"postgresql://probe:***@db2.example/app?sslmode=require | {WHERE}: pg_new"
    ]
    assert "shadowed" not in err


def test_a_conn_id_in_the_environment_shadows_the_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export stands in for the metadata database, and is shadowed the same way."""
    monkeypatch.setenv("AIRFLOW_CONN_PG_NEW", "postgresql://probe:pw-env-1@localhost:5999/app")
    export = tmp_path / "connections.json"
    export.write_text(json.dumps({"pg_new": "postgresql://u:p-export-1@db.example/app"}))
    path = tmp_path / "airflow.cfg"
    path.write_text("[core]\n")
    argv = ["targets", "--airflow-cfg", str(path), "--airflow-connections", str(export)]
    names, err = listed(capsys, argv)
    assert names["pg_new"] == ["postgresql://probe:***@localhost:5999/app | AIRFLOW_CONN_PG_NEW"]
    assert f"tlsprobe: note: connections.json: pg_new: {SHADOWED}\n" in err
