"""The settings a libpq client would end up with for a postgresql target, once its environment
(PGSSLMODE, PGSSLROOTCERT, ...) fills in what the target leaves unsaid. No I/O; the environment
is passed in. Keyword strings and URIs are parsed in keywords.py and pguri.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from pathlib import Path

from tlsprobe.records import record
from tlsprobe.targets.target import Target
from tlsprobe.targets.vocabulary import LIBPQ_KEYWORDS

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq's environment variables for the settings the probe uses; the target's own value wins.
ENVIRONMENT = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "dbname": "PGDATABASE",
    "password": "PGPASSWORD",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "channel_binding": "PGCHANNELBINDING",
    "sslsni": "PGSSLSNI",
}


@record
class Settings:
    """What a libpq client would use for one target: its own settings, then libpq's
    environment, then tlsprobe's defaults. `origins` says where each value came from."""

    user: str | None
    password: str | None = field(repr=False)
    dbname: str
    sslmode: str
    sslrootcert: str | None
    sslcert: str | None
    sslkey: str | None
    sslnegotiation: str
    connect_timeout: float | None
    extra: tuple[tuple[str, str], ...] = ()  # other libpq keywords, passed on to psycopg
    origins: tuple[tuple[str, str], ...] = ()
    lends_nothing: bool = False  # the target's: no environment, no file under the home

    @property
    def direct(self) -> bool:
        return self.sslnegotiation == "direct"

    def origin(self, key: str) -> str:
        return dict(self.origins).get(key, "default")


def resolve(target: Target, env: Mapping[str, str], ca_file: Path | None = None) -> Settings:
    """The settings for `target` with libpq's environment `env` (a mapping: tests pass a dict).
    `ca_file` (--ca-file) is the root certificate when neither the target nor PGSSLROOTCERT
    names one. A caller's target (lends_nothing) reads no environment at all."""
    if target.lends_nothing:
        env = {}
    own = dict(target.params)
    if target.path.strip("/"):
        own.setdefault("dbname", target.path.strip("/"))
    if target.password is not None:
        own["password"] = target.password
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    for key in ENVIRONMENT.keys() | own.keys():
        if key in own:
            values[key], origins[key] = own[key], "target"
        elif key in ENVIRONMENT and ENVIRONMENT[key] in env:
            values[key], origins[key] = env[ENVIRONMENT[key]], ENVIRONMENT[key]
    if "sslrootcert" not in values and ca_file is not None:
        values["sslrootcert"], origins["sslrootcert"] = str(ca_file), "--ca-file"
    if "sslpassword" not in values and target.client_key_password:
        # tlsprobe.toml's client_key_password_env: libpq's sslpassword by another name.
        values["sslpassword"] = target.client_key_password
        origins["sslpassword"] = "client_key_password_env"
    user = target.user
    used = {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslnegotiation", "connect_timeout"}
    used |= {"dbname", "password", "hostaddr", "user", "host", "port"}
    return Settings(
        user=user,
        password=values.get("password"),
        dbname=values.get("dbname") or user or "postgres",
        # libpq 16 and later: sslrootcert=system makes verify-full the default (and refuses
        # any other sslmode; probes/postgres/roots.py says so).
        sslmode=values.get("sslmode", SYSTEM_DEFAULT if _system(values) else "prefer").lower(),
        sslrootcert=values.get("sslrootcert") or None,
        # A client certificate from the target's source (an Airflow connection's extras, say)
        # stands in for sslcert/sslkey when libpq's own settings name none.
        sslcert=values.get("sslcert") or target.client_cert,
        sslkey=values.get("sslkey") or target.client_key,
        sslnegotiation=values.get("sslnegotiation", "postgres").lower(),
        connect_timeout=_seconds(values.get("connect_timeout")),
        extra=tuple(
            sorted((k, v) for k, v in values.items() if k in LIBPQ_KEYWORDS and k not in used)
        ),
        origins=tuple(sorted(origins.items())),
        lends_nothing=target.lends_nothing,
    )


SYSTEM_DEFAULT = "verify-full"


def _system(values: Mapping[str, str]) -> bool:
    return values.get("sslrootcert") == "system"


def _seconds(value: str | None) -> float | None:
    """libpq's connect_timeout: whole seconds, 0 or less (or nonsense) meaning "wait forever"."""
    try:
        seconds = float(value) if value is not None else 0.0
    except ValueError:
        return None
    return seconds if seconds > 0 else None
