"""Sources and flags -> a Plan: the targets to probe, the policy to judge them by, and what the
sources noticed on the way. Shared by the command line and the exporter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TypeVar

from tlsprobe.failures import UsageError
from tlsprobe.model import MinTls, Policy
from tlsprobe.records import record
from tlsprobe.sources import Collected, PolicyDefaults, ca_file_problem
from tlsprobe.targets import Target, parse_target

DEFAULT_CONFIG = Path("tlsprobe.toml")  # read from the working directory when it is there
T = TypeVar("T")


@record
class Sources:
    """Where targets come from: the command line's URLs and the files it names."""

    urls: Sequence[str] = ()
    config: Path | None = None
    airflow_cfg: Path | None = None
    airflow_home: bool = False  # --airflow: $AIRFLOW_HOME/airflow.cfg
    airflow_connections: Path | None = None
    allow_cmd: bool = False
    airflow_db: bool = False  # --airflow-db: also the connections in the metadata database


@record
class Flags:
    """The policy flags as given; None where not given (tlsprobe.toml or a default applies)."""

    timeout: float | None = None
    min_tls: MinTls | None = None
    expiry_warn_days: int | None = None
    ca_file: Path | None = None
    concurrency: int | None = None
    tls_legacy: bool | None = None
    expiry_warn_fraction: float | None = None
    expiry_fail_days: int | None = None
    revocation: bool | None = None


@record
class Plan:
    targets: tuple[Target, ...]
    policy: Policy
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    modules: Mapping[str, PolicyDefaults] = field(default_factory=dict)  # tlsprobe.toml's


def make_plan(
    sources: Sources,
    flags: Flags,
    env: Mapping[str, str],
    *,
    default_timeout: float,
    required: bool = True,
) -> Plan:
    """Read every source, then settle the policy; UsageError for anything malformed."""
    found = collect(sources, env, required=required)
    policy = policy_from(flags, found.defaults, default_timeout)
    return Plan(
        tuple(found.targets),
        policy,
        tuple(found.notes),
        tuple(found.warnings),
        modules=dict(found.modules),
    )


def collect(sources: Sources, env: Mapping[str, str], *, required: bool = True) -> Collected:
    """Every target the sources name, in order: command line, config file, Airflow. Each
    source's module is imported only when it is used: a start-up cost for the rest."""
    found = Collected(targets=[parse_target(url) for url in sources.urls])
    config_path = sources.config
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    if config_path is not None:
        from tlsprobe.sources import config as config_file

        found.extend(config_file.load(config_path, env))
    airflow_cfg = sources.airflow_cfg
    if airflow_cfg is None and (sources.airflow_home or sources.airflow_db):
        from tlsprobe.sources.airflow import default_path

        airflow_cfg = default_path(env)
    if airflow_cfg is not None:
        from tlsprobe.sources import airflow

        # One reading of airflow.cfg a run: its *_cmd commands run once, and --airflow-db
        # connects with the same settings (sql_alchemy_connect_args too) as the rest.
        config = airflow.AirflowConfig(airflow_cfg, env, sources.allow_cmd)
        found.extend(airflow.read(config, env, connections_file=sources.airflow_connections))
        if sources.airflow_db:
            from tlsprobe.sources import airflow_db

            found.extend(airflow_db.read(config, env))
    if sources.airflow_connections is not None:
        from tlsprobe.sources import connections

        # With airflow.cfg, AIRFLOW_CONN_* are probed, and Airflow finds them first.
        env_first = airflow_cfg is not None
        found.extend(connections.from_file(sources.airflow_connections, env, env_first=env_first))
    if required and not found.targets:
        raise UsageError(
            "no targets: give URLs (tlsprobe check https://host), -c tlsprobe.toml, "
            "or --airflow-cfg FILE"
        )
    return found


def policy_from(flags: Flags, defaults: PolicyDefaults, default_timeout: float) -> Policy:
    """Flags win over tlsprobe.toml's [defaults], which win over the built-in defaults."""
    if flags.ca_file is not None:  # tlsprobe.toml's was checked when read
        problem = ca_file_problem(flags.ca_file)
        if problem is not None:
            raise UsageError(f"--ca-file {flags.ca_file}: {problem}")
    built_in = Policy()
    ca_file = _first(flags.ca_file, defaults.ca_file, otherwise=None)
    return Policy(
        timeout=_first(flags.timeout, defaults.timeout, otherwise=default_timeout),
        min_tls=_first(flags.min_tls, defaults.min_tls, otherwise=built_in.min_tls),
        expiry_warn_days=_first(
            flags.expiry_warn_days, defaults.expiry_warn_days, otherwise=built_in.expiry_warn_days
        ),
        ca_file=ca_file.resolve() if ca_file is not None else None,
        concurrency=_first(flags.concurrency, defaults.concurrency, otherwise=built_in.concurrency),
        tls_legacy=_first(flags.tls_legacy, defaults.tls_legacy, otherwise=built_in.tls_legacy),
        revocation=_first(flags.revocation, defaults.revocation, otherwise=built_in.revocation),
        expiry_warn_fraction=_first(
            flags.expiry_warn_fraction,
            defaults.expiry_warn_fraction,
            otherwise=built_in.expiry_warn_fraction,
        ),
        expiry_fail_days=_first(
            flags.expiry_fail_days, defaults.expiry_fail_days, otherwise=built_in.expiry_fail_days
        ),
    )


def _first(*given: T | None, otherwise: T) -> T:
    """The first value given (not None: 0 days is a value), else `otherwise`."""
    return next((value for value in given if value is not None), otherwise)
