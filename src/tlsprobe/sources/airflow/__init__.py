"""airflow.cfg and its environment, read the way Airflow 3.3 reads them (config.py): the
metadata database (database.py), the API server and the workers' execution API (api.py), core
email (email.py), and AIRFLOW_CONN_* connections. Airflow 3 is the model: where Airflow 2.x read
a setting differently (smtp_user and smtp_password in [smtp]), the notes say what Airflow 3 does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tlsprobe.sources import Collected
from tlsprobe.sources.airflow import api, database, email
from tlsprobe.sources.airflow.config import AirflowConfig, default_path
from tlsprobe.sources.airflow_backend import backend_notes
from tlsprobe.sources.connections import from_environment

__all__ = ["AirflowConfig", "default_path", "read"]


def read(
    source: Path | AirflowConfig,
    env: Mapping[str, str],
    *,
    allow_cmd: bool = False,
    connections_file: Path | None = None,
) -> Collected:
    """The metadata database, the API server, the execution API, core email, and
    AIRFLOW_CONN_* connections; `connections_file` (an export) stands in for the connections
    in Airflow's metadata database. `source`: airflow.cfg's path, or the AirflowConfig of the
    run (the one --airflow-db reads too, so that each *_cmd runs once)."""
    config = source if isinstance(source, AirflowConfig) else AirflowConfig(source, env, allow_cmd)
    found = Collected()
    for part in (
        database.read(config, env),
        api.read(config, env),
        email.read(config, env, connections_file),
        from_environment(env),
    ):
        found.extend(part)
    found.notes.extend(backend_notes(config.get("secrets", "backend")))
    found.notes[:0] = config.notes
    found.warnings[:0] = config.warnings
    return found
