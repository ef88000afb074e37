"""Trust as the real client has it (issue 13, item 4): each store claim of
targets/client_trust.py proven by running the client against a lab server whose root is only
in --ca-file, and its twin where the client has the root; tlsprobe warns exactly when a pass
needed --ca-file that the client of an Airflow connection does not have."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import pytest
from cryptography import x509

from conftest import curl_binary, probe_targets
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult
from tlsprobe.targets import client_trust, parse_target
from tlsprobe.targets.client_trust import ClientTrust
from tlsprobe.tls import certs

TIMEOUT = 3.0
# The variables that name roots to one client or another: every real client runs without
# them, but for the ones a case gives it.
TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def verified(lab: Lab) -> str:
    """cert.chain's words for a chain verified to the lab's root."""
    root = x509.load_pem_x509_certificate(lab.ca_file.read_bytes())
    return f"verified to the trusted root {certs.short_name(root.subject)}"


def chain(result: TargetResult) -> tuple[str, str]:
    """cert.chain's status and detail."""
    found = result.check("cert.chain")
    assert found is not None
    return found.status.value, found.detail


def chain_hint(result: TargetResult) -> str:
    found = result.check("cert.chain")
    assert found is not None
    return found.hint


def clean_env(**given: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in TRUST_VARIABLES}
    return {**base, **given}


def run_client(code: str, env: Mapping[str, str], *args: str) -> str:
    """ "ok", or the client's error output, for `code` run in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return "ok" if done.returncode == 0 else done.stderr.strip()


def probe_as(lab: Lab, url: str, trust: ClientTrust | None) -> TargetResult:
    """`url` probed with --ca-file (the lab's root), as the client `trust` says connects."""
    target = dataclasses.replace(parse_target(url, source="a test"), trust=trust)
    (result,) = probe_targets([target], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    return result


# --- Python's ssl as Airflow's SmtpHook and core email call it --------------------------------

SMTPLIB = (
    "import smtplib, ssl, sys\n"
    "host, port = sys.argv[1], int(sys.argv[2])\n"
    "with smtplib.SMTP_SSL(host, port, context=ssl.create_default_context(), timeout=5) as s:\n"
    "    s.noop()\n"
)


def smtps(lab: Lab) -> tuple[str, str, str]:
    url = lab.url("smtps-good")
    parts = urlsplit(url)
    return url, str(parts.hostname), str(parts.port)


def test_smtplib_trusts_ssl_cert_file(lab: Lab) -> None:
    """smtplib with ssl.create_default_context() connects when SSL_CERT_FILE names the root;
    an Airflow SMTP target in that environment passes cert.chain, its own root the anchor."""
    url, host, port = smtps(lab)
    env = {"SSL_CERT_FILE": str(lab.ca_file)}
    assert run_client(SMTPLIB, clean_env(**env), host, port) == "ok"
    result = probe_as(lab, url, client_trust.for_airflow_smtp(env, "connection smtp_default"))
    assert chain(result) == ("pass", verified(lab))
    assert result.trust is not None
    assert result.trust.used == (
        f"SSL_CERT_FILE ({lab.ca_file}), the system store",
        f"--ca-file ({lab.ca_file})",
    )
    assert (result.trust.anchor, result.trust.ca_file_needed) == (
        f"SSL_CERT_FILE ({lab.ca_file}), the system store",
        False,
    )


def test_smtplib_without_the_root_warns(lab: Lab) -> None:
    """The twin: without SSL_CERT_FILE smtplib refuses the chain; tlsprobe's pass came only
    from --ca-file, so cert.chain warns, naming the client's trust and the fix in its terms."""
    url, host, port = smtps(lab)
    said = run_client(SMTPLIB, clean_env(), host, port)
    assert "certificate verify failed: unable to get local issuer certificate" in said
    result = probe_as(lab, url, client_trust.for_airflow_smtp({}, "connection smtp_default"))
    assert chain(result) == (
        "warn",
        f"{verified(lab)}, but only through --ca-file: smtplib in Airflow (connection "
        "smtp_default) trusts the system store",
    )
    assert chain_hint(result) == (
        "give the Airflow worker the root in its own environment: SSL_CERT_FILE=<a bundle "
        "with it> (or add it to the system store: update-ca-certificates)"
    )
    assert result.trust is not None
    assert (result.trust.anchor, result.trust.ca_file_needed) == ("--ca-file", True)


# --- requests as Airflow's HttpHook calls it ---------------------------------------------------

# The HttpHook's way: the session's verify from the extra, then merge_environment_settings.
REQUESTS = (
    "import json, sys, requests\n"
    "url, verify, trust_env = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == '1'\n"
    "s = requests.Session(); s.verify = True if verify is None else verify\n"
    "s.trust_env = trust_env\n"
    "p = s.prepare_request(requests.Request('GET', url))\n"
    "settings = s.merge_environment_settings(p.url, {}, False, s.verify, None)\n"
    "s.send(p, timeout=5, **settings)\n"
)
# (environment, the extra's verify, the extra's trust_env): whether requests has the root.
REQUESTS_CASES = {
    "REQUESTS_CA_BUNDLE": ({"REQUESTS_CA_BUNDLE": "{ca}"}, None, True, True),
    "CURL_CA_BUNDLE": ({"CURL_CA_BUNDLE": "{ca}"}, None, True, True),
    "extra verify path": ({}, "{ca}", True, True),
    "extra verify path over the environment": (
        {"REQUESTS_CA_BUNDLE": certifi.where()},
        "{ca}",
        True,
        True,
    ),
    "SSL_CERT_FILE is not read": ({"SSL_CERT_FILE": "{ca}"}, None, True, False),
    "certifi only": ({}, None, True, False),
    "trust_env false ignores REQUESTS_CA_BUNDLE": (
        {"REQUESTS_CA_BUNDLE": "{ca}"},
        None,
        False,
        False,
    ),
}


@pytest.mark.parametrize("case", REQUESTS_CASES)
def test_requests_trust_as_httphook_has_it(lab: Lab, case: str) -> None:
    """Real requests, driven as HttpHook drives it, connects exactly when tlsprobe's cert.chain
    for the same connection passes without leaning on --ca-file, and warns otherwise."""
    given, verify, trust_env, has_root = REQUESTS_CASES[case]
    ca = str(lab.ca_file)
    env = {k: v.format(ca=ca) for k, v in given.items()}
    extra = verify.format(ca=ca) if isinstance(verify, str) else verify
    url = lab.url("https-good")
    said = run_client(REQUESTS, clean_env(**env), url, _json(extra), "1" if trust_env else "0")
    trust = client_trust.for_airflow_http(env, extra, "http_lab", trust_env=trust_env)
    result = probe_as(lab, url, trust)
    assert result.trust is not None
    if has_root:
        assert said == "ok"
        assert chain(result) == ("pass", verified(lab))
        assert result.trust.ca_file_needed is False
    else:
        assert "certificate verify failed" in said
        status, detail = chain(result)
        assert status == "warn"
        assert detail.startswith(f"{verified(lab)}, but only through --ca-file: requests in ")
        assert result.trust.ca_file_needed is True


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def test_httphook_certifi_is_named(lab: Lab) -> None:
    """With nothing configured requests trusts certifi's bundle: the warning says so, and the
    hint gives the root in requests' terms (REQUESTS_CA_BUNDLE or the extra verify)."""
    trust = client_trust.for_airflow_http({}, None, "http_lab")
    result = probe_as(lab, lab.url("https-good"), trust)
    assert chain(result) == (
        "warn",
        f"{verified(lab)}, but only through --ca-file: requests in Airflow's HttpHook (connection "
        f"http_lab) trusts certifi's bundle ({certifi.where()})",
    )
    assert chain_hint(result) == (
        "give the Airflow worker REQUESTS_CA_BUNDLE=<a bundle with the root> (requests ignores "
        'SSL_CERT_FILE), or set {"verify": "<that bundle>"} in the extra of connection http_lab'
    )


def test_httphook_verify_false_does_not_warn(lab: Lab) -> None:
    """A client that verifies nothing needs no root: requests with verify false connects, and
    cert.chain is not a trust warning (client.encryption is the place for that)."""
    url = lab.url("https-good")
    assert run_client(REQUESTS, clean_env(), url, "false", "1") == "ok"
    result = probe_as(lab, url, client_trust.for_airflow_http({}, False, "http_lab"))
    assert chain(result) == ("pass", verified(lab))


def test_handshake_uses_the_clients_own_roots(lab: Lab) -> None:
    """Without --ca-file, an Airflow HTTP target whose REQUESTS_CA_BUNDLE holds the root
    passes (as requests connects), and the twin with certifi fails (as requests refuses)."""
    url = lab.url("https-good")
    own = client_trust.for_airflow_http({"REQUESTS_CA_BUNDLE": str(lab.ca_file)}, None, "h")
    target = dataclasses.replace(parse_target(url), trust=own)
    bare = dataclasses.replace(target, trust=client_trust.for_airflow_http({}, None, "h"))
    good, bad = probe_targets([target, bare], Policy(timeout=TIMEOUT))
    assert chain(good) == ("pass", verified(lab))
    assert chain(bad)[0] == "fail"
    assert good.trust is not None
    assert bad.trust is not None
    assert good.trust.used == (f"REQUESTS_CA_BUNDLE ({lab.ca_file})",)
    assert bad.trust.used == (f"certifi's bundle ({certifi.where()})",)


# --- the command line: --ca-file means "my clients have this root" -------------------------


def test_command_line_target_reports_but_does_not_warn(lab: Lab) -> None:
    """A URL on the command line with --ca-file passes as before; its trust says the root came
    from --ca-file (curl, its client, is given it by CURL_CA_BUNDLE), without a warning."""
    url = lab.url("https-good")
    curl = [curl_binary(), "-sS", "-o", "/dev/null", "--max-time", "5", url]
    plain = subprocess.run(curl, env=clean_env(), capture_output=True, text=True, check=False)
    assert plain.returncode == 60  # curl: the peer's certificate cannot be authenticated
    given = clean_env(CURL_CA_BUNDLE=str(lab.ca_file))
    assert subprocess.run(curl, env=given, capture_output=True, check=False).returncode == 0
    result = probe_as(lab, url, None)
    assert chain(result) == ("pass", verified(lab))
    assert result.trust is not None
    assert result.trust.client == "HTTP clients (httpx, curl, browsers)"
    assert result.trust.used == ("the system store", f"--ca-file ({lab.ca_file})")
    assert (result.trust.anchor, result.trust.ca_file_needed) == ("--ca-file", True)


# --- libpq as Airflow's PostgresHook has it ----------------------------------------------------

PSYCOPG = (
    "import sys, psycopg\npsycopg.connect(sys.argv[1], connect_timeout=5, user='nobody').close()\n"
)


def test_libpq_with_sslrootcert_passes(lab: Lab, home: Path) -> None:
    """libpq with the connection's sslrootcert verifies the chain (it gets as far as asking
    for a password); the Airflow target with that sslrootcert passes with no --ca-file needed."""
    url = lab.url("pg-good") + f"&sslrootcert={lab.ca_file}"
    said = run_client(PSYCOPG, clean_env(HOME=str(home)), url)
    assert "certificate" not in said
    assert said.endswith("fe_sendauth: no password supplied")
    own = client_trust.for_airflow_postgres("the extra of connection postgres_lab")
    result = probe_as(lab, url, own)
    assert chain(result) == ("pass", verified(lab))
    assert result.trust is not None
    assert result.trust.used == (f"sslrootcert ({lab.ca_file})",)
    assert result.trust.ca_file_needed is False


def test_libpq_without_a_root_warns(lab: Lab, home: Path) -> None:
    """The twin: no sslrootcert and no ~/.postgresql/root.crt: libpq verify-full refuses to
    start; tlsprobe, which gave libpq --ca-file, warns that the pass needed it."""
    url = lab.url("pg-good")
    said = run_client(PSYCOPG, clean_env(HOME=str(home)), url)
    assert "root certificate file" in said
    assert "does not exist" in said
    own = client_trust.for_airflow_postgres("the extra of connection postgres_lab")
    result = probe_as(lab, url, own)
    assert chain(result) == (
        "warn",
        f"{verified(lab)}, but only through --ca-file: libpq in Airflow (the extra of connection "
        "postgres_lab) trusts no root: no sslrootcert, no ~/.postgresql/root.crt",
    )
    assert chain_hint(result) == (
        "set sslrootcert to the root's file in the extra of connection postgres_lab (or put "
        "the root in ~/.postgresql/root.crt of the user Airflow runs as)"
    )
    assert result.trust is not None
    assert result.trust.used == (f"--ca-file ({lab.ca_file})",)


def test_ssl_cert_dir_is_python_ssls_too(lab: Lab, tmp_path: Path) -> None:
    """smtplib trusts a hashed SSL_CERT_DIR holding the root; so does the second verification
    (the directory's roots are read), and no warning follows."""
    from test_trust import hashed_dir

    directory = hashed_dir(tmp_path, lab.ca_file)
    url, host, port = smtps(lab)
    env = {"SSL_CERT_DIR": str(directory)}
    assert run_client(SMTPLIB, clean_env(**env), host, port) == "ok"
    result = probe_as(lab, url, client_trust.for_airflow_smtp(env, "connection smtp_default"))
    assert chain(result) == ("pass", verified(lab))
    assert result.trust is not None
    assert result.trust.ca_file_needed is False


def test_execution_api_trust_is_airflows(tmp_path: Path) -> None:
    """The task SDK's context: [api] ssl_ca_file alone (not the default paths), certifi
    added by default, [api] ssl_cert loaded as a root too; without ssl_ca_file the default
    paths, SSL_CERT_FILE included."""
    ca, cert = tmp_path / "ca.pem", tmp_path / "api.crt"
    ca.write_text("")
    own = client_trust.for_airflow_execution_api({}, str(ca), str(cert))
    assert (own.system, own.files, own.known) == (
        False,
        (str(ca), certifi.where(), str(cert)),
        True,
    )
    assert own.store == f"[api] ssl_ca_file ({ca}), certifi's bundle, [api] ssl_cert ({cert})"
    plain = client_trust.for_airflow_execution_api(
        {"SSL_CERT_FILE": "/x.pem"}, None, None, use_public_certs=False
    )
    assert (plain.system, plain.files, plain.store) == (
        True,
        ("/x.pem",),
        "SSL_CERT_FILE (/x.pem), the system store",
    )


def test_a_missing_bundle_is_named_missing(lab: Lab, tmp_path: Path) -> None:
    """REQUESTS_CA_BUNDLE naming no file: requests refuses to start, and tlsprobe's warning
    says the bundle does not exist (the handshake trusted --ca-file alone)."""
    missing = str(tmp_path / "nowhere.pem")
    url = lab.url("https-good")
    said = run_client(REQUESTS, clean_env(REQUESTS_CA_BUNDLE=missing), url, "null", "1")
    assert "Could not find a suitable TLS CA certificate bundle" in said
    own = client_trust.for_airflow_http({"REQUESTS_CA_BUNDLE": missing}, None, "h")
    result = probe_as(lab, url, own)
    assert chain(result) == (
        "warn",
        f"{verified(lab)}, but only through --ca-file: requests in Airflow's HttpHook "
        f"(connection h) trusts REQUESTS_CA_BUNDLE ({missing}, which does not exist)",
    )
