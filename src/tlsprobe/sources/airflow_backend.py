"""`[secrets] backend`: where Airflow looks for a connection before its environment variables
and its metadata database. tlsprobe cannot read a secrets backend (Vault, AWS Secrets Manager,
...), so it says which one is set and what stays unseen."""

from __future__ import annotations

from typing import Protocol

from tlsprobe.sources.airflow_conn import label


class Setting(Protocol):
    """An airflow.cfg value and where it came from (sources.airflow.Value)."""

    @property
    def text(self) -> str: ...

    @property
    def origin(self) -> str: ...


def backend_notes(backend: Setting | None) -> list[str]:
    """A note naming the configured backend class, or none when none is set. Only the class
    path is shown, never [secrets] backend_kwargs: those may hold a token."""
    if backend is None or not backend.text.strip():
        return []
    name = backend.text.strip()
    shown = label(name)
    return [
        f"{backend.origin}: Airflow looks up connections in {shown} first; tlsprobe cannot "
        "see the connections kept there (it still reads AIRFLOW_CONN_* variables, and the "
        "metadata database with --airflow-db)"
    ]
