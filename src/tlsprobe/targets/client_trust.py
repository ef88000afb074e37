"""Which client will connect to a target, and the roots it trusts of its own: what a verdict
that --ca-file made pass is held to (tls/own_store.py checks the chain against them).

Each real client's trust, as measured by running it (tests/test_client_trust.py):
- Python's ssl as smtplib and Airflow call it (ssl.create_default_context()): OpenSSL's default
  paths, SSL_CERT_FILE and SSL_CERT_DIR of the process environment each replacing the system
  bundle or the system directory.
- requests (Airflow's HttpHook): the extra `verify` when it is a path, else REQUESTS_CA_BUNDLE,
  else CURL_CA_BUNDLE (both unless the extra `trust_env` is false), else certifi's bundle; never
  the system store, never SSL_CERT_FILE.
- httpx (Airflow's task SDK to the execution API): SSL_CERT_FILE, else SSL_CERT_DIR, else
  certifi; Airflow's own client passes [api] ssl_ca_file (or the default paths) plus certifi.
- curl: the system store, or CURL_CA_BUNDLE / SSL_CERT_FILE.
- libpq: its sslrootcert (probes/postgres/roots.py resolves it).

Pure and light: the sources and the door read it, and must not import the TLS machinery.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from tlsprobe.records import record

# Where OpenSSL, Python's ssl and curl look when the environment names nothing.
SYSTEM_STORE = "the system store"
NO_VERIFY = "nothing: it does not verify"


@record
class ClientTrust:
    """The client of a target and its own roots. `known`: the source says which process
    connects and the environment it runs with (an Airflow connection), so a pass that needed
    --ca-file is a warning; on the command line --ca-file means "my clients have this root"."""

    client: str
    store: str  # the client's own roots, in words
    fix: str  # how to give this client a private root, in its own terms
    system: bool = True
    files: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()  # hashed directories (SSL_CERT_DIR, c_rehash)
    known: bool = False
    verifies: bool = True


HTTP_CLIENTS = "HTTP clients (httpx, curl, browsers)"
PYTHON_SSL = "Python's ssl (smtplib)"
LIBPQ = "libpq"
COMMAND_LINE_FIX = "pass the issuing root with --ca-file, or use a certificate from a trusted CA"


def for_protocol(protocol: str) -> ClientTrust:
    """A target from the command line or tlsprobe.toml: the system store, to which --ca-file
    adds (libpq's store is resolved by the PostgreSQL probe)."""
    if protocol in ("smtp", "smtps"):
        client = PYTHON_SSL
    elif protocol == "postgresql":
        client = LIBPQ
    else:
        client = HTTP_CLIENTS
    return ClientTrust(client, SYSTEM_STORE, COMMAND_LINE_FIX)


def _env_path(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "")
    return value or None


def python_ssl(env: Mapping[str, str], client: str, fix: str) -> ClientTrust:
    """ssl.create_default_context() in a process with `env`: SSL_CERT_FILE replaces the system
    bundle and SSL_CERT_DIR the system directory, each on its own; Debian's bundle and
    directory hold the same roots, so the system store remains while either is unset."""
    cert_file, cert_dir = _env_path(env, "SSL_CERT_FILE"), _env_path(env, "SSL_CERT_DIR")
    named = [
        *([f"SSL_CERT_FILE ({cert_file})"] if cert_file else []),
        *([f"SSL_CERT_DIR ({cert_dir})"] if cert_dir else []),
    ]
    system = not (cert_file and cert_dir)
    store = ", ".join([*named, *([SYSTEM_STORE] if system else [])])
    return ClientTrust(
        client,
        store,
        fix,
        system=system,
        files=(cert_file,) if cert_file else (),
        dirs=(cert_dir,) if cert_dir else (),
        known=True,  # its callers are Airflow's clients, whose environment tlsprobe reads
    )


def _bundle(client: str, words: str, path: str, fix: str) -> ClientTrust:
    """A client that trusts one PEM file or hashed directory, and nothing else."""
    is_dir = os.path.isdir(path)
    # requests refuses to start without it ("Could not find a suitable TLS CA certificate
    # bundle"): the words say so, and the handshake trusts nothing of it.
    missing = "" if is_dir or os.path.isfile(path) else ", which does not exist"
    return ClientTrust(
        client,
        f"{words} ({path}{missing})",
        fix,
        system=False,
        files=() if is_dir else (path,),
        dirs=(path,) if is_dir else (),
        known=True,
    )


def for_airflow_smtp(env: Mapping[str, str], where: str) -> ClientTrust:
    """Airflow's SmtpHook and core email (smtplib with ssl.create_default_context()), run with
    `env`; `where` names the connection or setting ("connection smtp_default")."""
    fix = (
        "give the Airflow worker the root in its own environment: SSL_CERT_FILE=<a bundle "
        "with it> (or add it to the system store: update-ca-certificates)"
    )
    return python_ssl(env, f"smtplib in Airflow ({where})", fix)


def for_airflow_http(
    env: Mapping[str, str], verify: object, conn_id: str, *, trust_env: bool = True
) -> ClientTrust:
    """Airflow's HttpHook (requests) for connection `conn_id`, run with `env`; `verify` is the
    connection's extra `verify` (or `verify_ssl`) as JSON gives it, None when absent;
    `trust_env` the extra of that name (False: requests ignores REQUESTS_CA_BUNDLE)."""
    client = f"requests in Airflow's HttpHook (connection {conn_id})"
    fix = (
        "give the Airflow worker REQUESTS_CA_BUNDLE=<a bundle with the root> (requests ignores "
        f'SSL_CERT_FILE), or set {{"verify": "<that bundle>"}} in the extra of connection {conn_id}'
    )
    if verify is False:
        # The chain is still judged against what requests would trust were it to verify: a
        # server that verifying client refuses is one this client connects to unsafely.
        would = for_airflow_http(env, None, conn_id, trust_env=trust_env)
        return replace(
            would, store=f"{NO_VERIFY} (verify false; else {would.store})", verifies=False
        )
    if isinstance(verify, str) and verify:
        return _bundle(client, "the extra verify", verify, fix)
    if trust_env:
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            if path := _env_path(env, name):
                return _bundle(client, name, path, fix)
    return _bundle(client, "certifi's bundle", _certifi(), fix)


def for_airflow_postgres(where: str) -> ClientTrust:
    """libpq in Airflow (PostgresHook, or SQLAlchemy for sql_alchemy_conn): the store is the
    target's sslrootcert, resolved by the PostgreSQL probe; `where` says where to set it
    ("the extra of connection postgres_default", "[database] sql_alchemy_conn")."""
    fix = (
        f"set sslrootcert to the root's file in {where} (or put the root in "
        "~/.postgresql/root.crt of the user Airflow runs as)"
    )
    return ClientTrust(f"libpq in Airflow ({where})", "", fix, known=True)


def for_airflow_execution_api(
    env: Mapping[str, str],
    ssl_ca_file: str | None,
    ssl_cert: str | None,
    *,
    use_public_certs: bool = True,
) -> ClientTrust:
    """Airflow 3's task SDK (httpx) to [core] execution_api_server_url: [api] ssl_ca_file
    (else OpenSSL's default paths), plus certifi when [api] client_use_public_certs (the
    default), plus [api] ssl_cert loaded as a root."""
    fix = "set [api] ssl_ca_file (AIRFLOW__API__SSL_CA_FILE) to a bundle with the root"
    client = "httpx in Airflow's task SDK (the execution API)"
    base = (
        _bundle(client, "[api] ssl_ca_file", ssl_ca_file, fix)
        if ssl_ca_file
        else python_ssl(env, client, fix)
    )
    extra = [*([_certifi()] if use_public_certs else []), *([ssl_cert] if ssl_cert else [])]
    words = [
        base.store,
        *(["certifi's bundle"] if use_public_certs else []),
        *([f"[api] ssl_cert ({ssl_cert})"] if ssl_cert else []),
    ]
    return ClientTrust(
        client,
        ", ".join(words),
        fix,
        system=base.system,
        files=(*base.files, *extra),
        dirs=base.dirs,
        known=True,
    )


def _certifi() -> str:
    import certifi  # httpx's dependency; imported only for the sources that need it

    return str(certifi.where())
