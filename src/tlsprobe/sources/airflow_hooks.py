"""How Airflow's hooks connect, read from their source (Airflow 3.3.2 with the providers smtp
3.2.0, http 6.3.0, postgres 7.1.1) and proven against the lab: each connection becomes the
target its hook opens, the client as the hook configures it, and hints in the connection's own
terms (the field or extra to change, naming the conn_id)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tlsprobe.failures import UsageError
from tlsprobe.model import Fix
from tlsprobe.sources.airflow_conn import Connection, false_text, shown, truthy
from tlsprobe.targets import Target, client_trust, from_parts, urls
from tlsprobe.targets.client_tls import ClientTls, Encrypts
from tlsprobe.targets.client_trust import ClientTrust

# The extras PostgresHook hands to psycopg as libpq keywords that change how TLS is set up
# (it hands every extra but its own options; the others do not change TLS).
POSTGRES_EXTRAS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "sslcrldir",
    "sslpassword",
    "sslnegotiation",
    "sslsni",
    "sslcertmode",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "connect_timeout",
)
# smtplib's own default ports: SmtpHook passes no port when the connection has none.
SMTP_PORT = 25
SSL_CONTEXTS = (None, "default", "none")  # SmtpHook raises on any other value


def in_extra(connection: Connection) -> str:
    return f"the extra of connection {connection.label}"


# --- SmtpHook --------------------------------------------------------------------------------


def smtp(connection: Connection, where: str) -> tuple[Target, list[str]]:
    """SmtpHook.get_conn: SMTP_SSL unless `disable_ssl`, then starttls() unless `disable_tls`
    (even inside SMTP_SSL), each flag read as Python's bool(); no port is smtplib's default."""
    extra = connection.extra
    ssl, starttls = not truthy(extra, "disable_ssl"), not truthy(extra, "disable_tls")
    target = from_parts(
        "smtps" if ssl else "smtp",
        connection.host,
        # smtps' default is smtplib's 465 and is left out of the display; smtp's is 25, not 587.
        connection.port or (None if ssl else SMTP_PORT),
        user=connection.login,
        password=connection.password,
        name=connection.conn_id,
        source=where,
    )
    client = smtp_client(connection, ssl, starttls, where)
    return replace(target, client=client, terms=smtp_terms(connection)), smtp_notes(connection)


def smtp_client(connection: Connection, ssl: bool, starttls: bool, where: str) -> ClientTls:
    extra, there = connection.extra, in_extra(connection)
    mode = {
        (True, True): "SMTP_SSL, then STARTTLS inside it",
        (True, False): "SMTP_SSL (implicit TLS)",
        (False, True): "SMTP, then STARTTLS",
        (False, False): "SMTP in plaintext",
    }[(ssl, starttls)]
    flags = ", ".join(f'"{k}": {shown(extra[k])}' for k in _SMTP_FLAGS if k in extra)
    setting = f"{where}: SmtpHook: {mode} (extra {{{flags}}})" if flags else f"{where}: {mode}"
    context = extra.get("ssl_context")
    if (ssl or starttls) and context not in SSL_CONTEXTS:
        return ClientTls(
            f'{setting}: "ssl_context" is {shown(context)}: the hook raises on any value but '
            '"default" and "none"',
            Encrypts.YES,
            broken=True,
            hint=f'set "ssl_context" to "default" in {there}, or remove it',
        )
    if ssl and starttls:
        return ClientTls(
            f"{setting}: servers refuse STARTTLS inside TLS",
            Encrypts.YES,
            broken=True,
            hint=f'set {{"disable_tls": true}} in {there} for an implicit-TLS port (465), or '
            '{"disable_ssl": true} for a STARTTLS port (587)',
        )
    if not (ssl or starttls):
        return ClientTls(
            setting,
            Encrypts.NO,
            False,
            False,
            hint=f'remove "disable_tls" from {there} to use STARTTLS (or remove '
            '"disable_ssl" instead, for an implicit-TLS port)',
        )
    verifies = context != "none"
    hint = "" if verifies else f'remove "ssl_context" from {there} (or set it to "default")'
    if not verifies:
        setting = f'{setting}, "ssl_context": "none": smtplib does not verify'
    return ClientTls(setting, Encrypts.YES, verifies, verifies, hint=hint)


_SMTP_FLAGS = ("disable_ssl", "disable_tls", "ssl_context")


def smtp_terms(connection: Connection) -> tuple[tuple[str, str], ...]:
    extra, there = connection.extra, in_extra(connection)
    implicit = f'this port speaks implicit TLS: remove "disable_ssl" from {there}'
    if not truthy(extra, "disable_tls"):
        implicit += ', and set {"disable_tls": true} so that the hook does not also call STARTTLS'
    plaintext = (
        f'this port speaks plaintext first (STARTTLS): set {{"disable_ssl": true}} in {there}'
    )
    if truthy(extra, "disable_tls"):
        plaintext += ', and remove "disable_tls"'
    trust = (
        "give Airflow's workers the issuing root: the file SSL_CERT_FILE names in their "
        f"environment (connection {connection.label} verifies with Python's default store)"
    )
    return (
        (Fix.IMPLICIT_TLS.value, implicit),
        (Fix.PLAINTEXT_FIRST.value, plaintext),
        (Fix.TRUST.value, trust),
    )


def smtp_notes(connection: Connection) -> list[str]:
    extra, label = connection.extra, connection.label
    notes = []
    if "starttls" in extra:
        notes.append(
            f'connection {label}: the extra "starttls" is not read by Airflow\'s SMTP hook: it '
            'calls STARTTLS unless "disable_tls" is true, and speaks implicit TLS unless '
            '"disable_ssl" is true'
        )
    for key in ("disable_ssl", "disable_tls"):
        if false_text(extra, key):
            notes.append(
                f'connection {label}: the extra "{key}" is the text {shown(extra[key])}, which '
                "the hook reads as true (any text but an empty one is true): remove it instead"
            )
    return notes


# --- HttpHook --------------------------------------------------------------------------------


def http(connection: Connection, where: str) -> tuple[Target, list[str]]:
    """HttpHook._set_base_url: the host as it stands when it holds "://", else schema://host
    with the schema field (default http; the type https does not choose it); then ":port" is
    appended to whichever it was. requests then verifies unless the extra `verify` says not."""
    scheme, host, port, path = _base_url(connection)
    target = from_parts(scheme, host, port, path=path, name=connection.conn_id, source=where)
    cert, key = client_cert(connection.extra)
    client = http_client(connection, scheme, where)
    target = replace(target, client=client, terms=http_terms(connection))
    return replace(target, client_cert=cert, client_key=key), http_notes(connection, scheme)


def _base_url(connection: Connection) -> tuple[str, str, int | None, str]:
    """scheme, host, port and path of the hook's base URL. A host without a scheme goes through
    the door as a field (an IPv6 address gets its brackets, where requests would refuse it)."""
    host, schema = connection.host, (connection.schema or "http").lower()
    if "://" not in host:
        if schema not in ("http", "https"):
            raise UsageError(f"schema {shown(schema)}: HttpHook's base URL needs http or https")
        return schema, host, connection.port, "/"
    if connection.port and _has_port(host):
        raise UsageError(
            "host holds a port and the port field adds another: HttpHook's base URL would "
            "have two, which requests refuses"
        )
    base = f"{host}:{connection.port}" if connection.port else host
    parts = urls.split(base)
    if parts is None:
        raise UsageError("host: not a URL and not a host name")
    scheme = parts[parts.scheme].lower()
    if scheme not in ("http", "https"):
        raise urls.refuse(parts, "host: an http:// or https:// URL, or a host name, expected")
    if parts.user is not None or parts.late_at >= 0:
        raise urls.refuse(parts, "host: give the login and password in their own fields")
    port = urls.port_of(parts, scheme) if parts.port and parts[parts.port] else None
    return scheme, urls.host_of(parts), port, parts[parts.path] or "/"


def _has_port(host: str) -> bool:
    parts = urls.split(host)
    return parts is not None and parts.port is not None


def verify_of(extra: Mapping[str, Any]) -> object:
    """requests' `verify` as HttpHook sets it: the extra `verify`, else `verify_ssl`, else True."""
    value = extra.get("verify", extra.get("verify_ssl"))
    return True if value is None else value


def http_client(connection: Connection, scheme: str, where: str) -> ClientTls:
    there = in_extra(connection)
    if scheme == "http":
        return ClientTls(
            f"{where}: HttpHook's base URL is plain http://",
            Encrypts.NO,
            False,
            False,
            hint=f"set the schema field of connection {connection.label} to https (the "
            "type does not choose the scheme), or write https:// in its host",
        )
    verify = verify_of(connection.extra)
    key = "verify" if "verify" in connection.extra else "verify_ssl"
    if isinstance(verify, str) and verify.strip().lower() in ("true", "false", "0", "1"):
        return ClientTls(
            f'{where}: extra "{key}" is the text {shown(verify)}: requests takes a text as the '
            "path of a CA bundle and fails when no such file exists",
            Encrypts.YES,
            broken=True,
            hint=f'give "{key}" as a JSON boolean in {there} (a URI\'s query gives only '
            "text: use __extra__ with JSON), or the path of a CA bundle",
        )
    if isinstance(verify, str):
        return ClientTls(
            f'{where}: https://, verified against "{key}" {shown(verify)}', Encrypts.YES
        )
    if not verify:
        return ClientTls(
            f'{where}: https:// with extra "{key}": {shown(verify)}: requests does not verify',
            Encrypts.YES,
            False,
            False,
            hint=f'remove "{key}" from {there} (or set it to the path of a CA bundle)',
        )
    return ClientTls(f"{where}: https://", Encrypts.YES)


def client_cert(extra: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The extra `cert` as requests takes it: a PEM path, or [certificate, key]."""
    cert = extra.get("cert")
    if isinstance(cert, str) and cert:
        return cert, None
    if isinstance(cert, list | tuple) and len(cert) == 2 and all(isinstance(c, str) for c in cert):
        return str(cert[0]), str(cert[1])
    return None, None


def http_terms(connection: Connection) -> tuple[tuple[str, str], ...]:
    there, label = in_extra(connection), connection.label
    verify = verify_of(connection.extra)
    if isinstance(verify, str):
        trust = f"add the issuing root to the CA bundle {shown(verify)} that {there} names"
    else:
        trust = f'give connection {label} the issuing root: set {{"verify": "/path/to/ca.pem"}} in'
        trust += " its extra"
        if truthy(connection.extra, "trust_env") or "trust_env" not in connection.extra:
            trust += ", or REQUESTS_CA_BUNDLE in the environment of Airflow's workers (requests "
            trust += "does not read SSL_CERT_FILE)"
    return (
        (
            Fix.IMPLICIT_TLS.value,
            f"this port speaks TLS: set the schema of connection {label} to https",
        ),
        (
            Fix.PLAINTEXT_FIRST.value,
            f"this port does not speak TLS: check the host and port of connection {label}",
        ),
        (Fix.TRUST.value, trust),
        (
            Fix.CLIENT_CERT.value,
            f"give connection {label} a client certificate issued under a CA the server "
            f'trusts: set {{"cert": ["/path/to/client.crt", "/path/to/client.key"]}} in {there} '
            "(requests' cert: a PEM file, or a certificate and its key)",
        ),
    )


def http_notes(connection: Connection, scheme: str) -> list[str]:
    if connection.conn_type == "https" and scheme == "http":
        return [
            f"connection {connection.label} is of type https but HttpHook builds an http:// "
            "URL: the scheme comes from the schema field (default http) or the host"
        ]
    return []


# --- PostgresHook ----------------------------------------------------------------------------


def postgres(connection: Connection, where: str) -> tuple[Target, list[str]]:
    """PostgresHook.get_conn: host, port, login, password, schema as dbname, and every extra
    but its own options as a libpq keyword (those that change TLS are kept here)."""
    params = [(k, _scalar(k, v)) for k, v in connection.extra.items() if k in POSTGRES_EXTRAS]
    target = from_parts(
        "postgresql",
        connection.host,
        connection.port,
        user=connection.login,
        password=connection.password,
        path="/" + connection.schema,
        params=params,
        name=connection.conn_id,
        source=where,
    )
    root = connection.extra.get("sslrootcert")
    trust = (
        f"add the issuing root to the file {shown(root)} that {in_extra(connection)} names as "
        '"sslrootcert"'
        if isinstance(root, str) and root
        else f'set {{"sslrootcert": "/path/to/root.crt"}} in {in_extra(connection)}'
    )
    terms = ((Fix.TRUST.value, trust), (Fix.ENCRYPTION.value, _sslmode_hint(connection)))
    # Airflow's libpq is never given --ca-file: its root is sslrootcert or ~/.postgresql/root.crt.
    changed = replace(target, terms=terms, takes_ca_file=False)
    return changed, []


def _sslmode_hint(connection: Connection) -> str:
    """client.encryption's change in the connection's terms: its extra's sslmode (which wins
    over PGSSLMODE), and a root for it to verify against when the extra names none."""
    root = connection.extra.get("sslrootcert")
    wanted = '"sslmode": "verify-full"'
    if not (isinstance(root, str) and root):
        wanted += ', "sslrootcert": "/path/to/root.crt"'
    return f"set {{{wanted}}} in {in_extra(connection)}"


def _scalar(key: str, value: Any) -> str:
    """An extra's value as libpq takes it: text, a number or a boolean, written as text."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str | int | float):
        return str(value)
    raise UsageError(f"extra {key}: expected a string, got {type(value).__name__}")


# --- trust -----------------------------------------------------------------------------------


def trust_for(connection: Connection, env: Mapping[str, str]) -> ClientTrust | None:
    """The roots the hook's client trusts when Airflow's workers run with `env` (tlsprobe's
    own environment stands in for theirs): smtplib's default paths, requests' bundle, libpq's
    sslrootcert (resolved by the PostgreSQL probe)."""
    kind = connection.conn_type
    if kind in ("smtp", "email"):
        return client_trust.for_airflow_smtp(env, f"connection {connection.label}")
    if kind in ("http", "https"):
        extra = connection.extra
        trust_env = truthy(extra, "trust_env") or "trust_env" not in extra
        verify = verify_of(extra)
        return client_trust.for_airflow_http(env, verify, connection.label, trust_env=trust_env)
    if kind in ("postgres", "postgresql"):
        return client_trust.for_airflow_postgres(in_extra(connection))
    return None
