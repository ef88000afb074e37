"""Airflow 3's API server and the workers' way to it.

The API server (airflow api-server: uvicorn or gunicorn) listens on [api] host and port
(defaults 0.0.0.0 and 8080; the deprecated [webserver] web_server_host and web_server_port are
still read) and speaks TLS only when [api] ssl_cert and ssl_key are both set (the deprecated
web_server_ssl_* likewise); with one of them only it does not start. base_url is what users
type (a proxy may stand in front): it says nothing about where the server listens.

Workers reach it at [core] execution_api_server_url (deprecated: [workers]), by default
base_url + /execution/, or http://localhost:8080/execution/ when base_url is unset or a path
(executors/base_executor.py get_execution_api_server_url). Their client (the task SDK's httpx
client) trusts the system store, certifi's bundle, [api] ssl_ca_file and [api] ssl_cert."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from tlsprobe.failures import UsageError
from tlsprobe.model import Fix
from tlsprobe.sources import Collected
from tlsprobe.sources.airflow.config import AirflowConfig, Value, setting, variable
from tlsprobe.targets import Target, client_trust, from_parts, parse_target
from tlsprobe.targets.client_tls import ClientTls, Encrypts

WILDCARDS = ("0.0.0.0", "::", "[::]", "")
ANY_STATUS = (range(100, 600),)  # workers call paths below it: any HTTP answer is the server


def read(config: AirflowConfig, env: Mapping[str, str]) -> Collected:
    found = Collected()
    found.extend(_api_server(config))
    found.extend(_execution_api(config, env))
    return found


def _api_server(config: AirflowConfig) -> Collected:
    found = Collected()
    cert, key = config.get("api", "ssl_cert"), config.get("api", "ssl_key")
    host, port = config.get("api", "host"), config.get("api", "port")
    has_cert, has_key = _set(cert), _set(key)
    if has_cert != has_key:
        given, missing = ("ssl_cert", "ssl_key") if has_cert else ("ssl_key", "ssl_cert")
        found.warnings.append(
            f"[api] {given} is set but {missing} is not: Airflow's API server does not start "
            f"(it needs both): set {missing} in [api] ({variable('api', missing)})"
        )
    tls = has_cert and has_key
    if not any((cert, key, host, port)):
        found.notes.append(
            "[api]: no host, port, ssl_cert or ssl_key: Airflow's defaults assumed "
            "(0.0.0.0:8080, plain HTTP)"
        )
    base_url = config.get("api", "base_url")
    if base_url is not None and base_url.text.strip():
        found.notes.append(
            f"{base_url.origin}: the address users type (a proxy may stand in front); the "
            "API server is probed where it listens ([api] host and port)"
        )
    origin = _origin(cert if tls else None, host, port)
    target = _listening(host, port, "https" if tls else "http", origin)
    found.targets.append(replace(target, client=_server_client(tls, origin), terms=SERVER_TERMS))
    return found


def _set(value: Value | None) -> bool:
    return value is not None and bool(value.text.strip())


def _origin(*values: Value | None) -> str:
    for value in values:
        if value is not None:
            return value.origin
    return "airflow.cfg [api] (defaults)"


def _listening(host: Value | None, port: Value | None, scheme: str, origin: str) -> Target:
    """The API server where it listens: a wildcard address means this machine."""
    name = host.text.strip() if host else ""
    name = "localhost" if name in WILDCARDS else name
    number = port.text.strip() if port else 8080
    try:
        return from_parts(scheme, name, number, name="api-server", source=origin)
    except UsageError as exc:
        raise UsageError(f"{origin}: {exc}") from None


def _server_client(tls: bool, origin: str) -> ClientTls:
    if tls:
        return ClientTls(f"{origin}: https://", Encrypts.YES)
    hint = (
        "set ssl_cert and ssl_key in [api] (AIRFLOW__API__SSL_CERT and AIRFLOW__API__SSL_KEY): "
        "without them the API server speaks plain HTTP"
    )
    return ClientTls(f"{origin}: no ssl_cert: plain http://", Encrypts.NO, False, False, hint)


SERVER_TERMS = (
    (
        Fix.ADDRESS.value,
        "the API server listens on [api] host and port (AIRFLOW__API__HOST, AIRFLOW__API__PORT;"
        " defaults 0.0.0.0 and 8080): check them, and that `airflow api-server` is running",
    ),
    (
        Fix.TRUST.value,
        "the API server's certificate ([api] ssl_cert) does not chain to a root its clients "
        "trust: serve the full chain in ssl_cert, or give the clients the issuing root",
    ),
    (
        Fix.PLAINTEXT_FIRST.value,
        "the API server speaks plain HTTP here: set ssl_cert and ssl_key in [api] "
        "(AIRFLOW__API__SSL_CERT, AIRFLOW__API__SSL_KEY)",
    ),
)


def _execution_api(config: AirflowConfig, env: Mapping[str, str]) -> Collected:
    found = Collected()
    explicit = config.get("core", "execution_api_server_url")
    base_url = config.get("api", "base_url")
    if explicit is not None and explicit.text.strip():
        url, source = explicit.text.strip(), explicit.origin
    else:
        url = derived(base_url.text if base_url is not None else None)
        source = base_url.origin if base_url is not None else "airflow.cfg [api] (defaults)"
        how = "[api] base_url + /execution/" if base_url is not None else "no [api] base_url"
        found.notes.append(
            f"[core] execution_api_server_url not set: workers use {url} (Airflow's default: {how})"
        )
    try:
        target = parse_target(url, name="execution-api", source=source)
    except UsageError as exc:
        raise UsageError(f"{source}: {exc}") from None
    client = _worker_client(target.protocol, source)
    terms = _execution_terms(explicit is not None and bool(explicit.text.strip()))
    trust = client_trust.for_airflow_execution_api(
        env,
        _text(config.get("api", "ssl_ca_file")),
        _text(config.get("api", "ssl_cert")),
        use_public_certs=config.boolean("api", "client_use_public_certs", default=True)[0],
    )
    found.targets.append(
        replace(target, client=client, expect_status=ANY_STATUS, terms=terms, trust=trust)
    )
    return found


def _text(value: Value | None) -> str | None:
    return value.text.strip() or None if value is not None else None


def derived(base_url: str | None) -> str:
    """Airflow's default: base_url + /execution/, on http://localhost:8080 for a missing
    base_url or one that is only a path."""
    text = (base_url or "/").strip()
    base = f"http://localhost:8080{text}" if not text or text.startswith("/") else text
    return f"{base.rstrip('/')}/execution/"


def _worker_client(scheme: str, origin: str) -> ClientTls:
    if scheme == "https":
        return ClientTls(f"{origin}: https://", Encrypts.YES)
    hint = "serve the API server over TLS and point the workers at it: " + setting(
        "core", "execution_api_server_url", "https://HOST:PORT/execution/"
    )
    return ClientTls(f"{origin}: plain http://", Encrypts.NO, False, False, hint)


def _execution_terms(explicit: bool) -> tuple[tuple[str, str], ...]:
    section, key = ("core", "execution_api_server_url") if explicit else ("api", "base_url")
    return (
        (
            Fix.ADDRESS.value,
            f"workers reach the execution API at [{section}] {key} ({variable(section, key)}): "
            "check it, and that `airflow api-server` is running there",
        ),
        (
            Fix.TRUST.value,
            "give the workers the issuing root: "
            + setting("api", "ssl_ca_file", "/path/to/root.pem")
            + " (the task SDK client also trusts [api] ssl_cert, certifi and SSL_CERT_FILE)",
        ),
        (
            Fix.PLAINTEXT_FIRST.value,
            f"this address speaks plain HTTP: use http:// in [{section}] {key} "
            f"({variable(section, key)}), or serve TLS there",
        ),
    )
