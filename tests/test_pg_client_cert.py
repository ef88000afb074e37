"""pg.client_cert: a target without a user reads as libpq will when pg_hba.conf demands a client
certificate (clientcert=verify-ca, clientcert=verify-full), with libpq itself as the oracle."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from conftest import check, probe_urls
from tlsprobe.lab import Lab
from tlsprobe.lab.https import CLIENT_IDENTITY
from tlsprobe.lab.postgres_cluster import PASSWORD, SUPERUSER
from tlsprobe.model import Policy, TargetResult
from tlsprobe.probes.postgres.startup import judge_client_cert

REQUIRED = (
    "pg_hba.conf requires a client certificate, and the target has none (FATAL 28000: "
    "connection requires a valid client certificate)"
)
REQUIRED_HINT = (
    "give the target a client certificate and key issued under the server's ssl_ca_file "
    "(libpq: sslcert and sslkey; PGSSLCERT, PGSSLKEY), or drop clientcert from the "
    "pg_hba.conf line"
)


def with_client_cert(lab: Lab, url: str, workdir: Path, mode: int = 0o600) -> str:
    """The lab URL with the lab's client certificate (CN https-client) as sslcert/sslkey, the
    key copied into `workdir` with file mode `mode`."""
    pem = lab.ca_file.with_name(f"{CLIENT_IDENTITY}.pem")
    key = workdir / "client.key"
    shutil.copyfile(pem.with_suffix(".key"), key)
    key.chmod(mode)
    return f"{url}&sslcert={quote(str(pem))}&sslkey={quote(str(key))}"


def probe(lab: Lab, url: str) -> TargetResult:
    return probe_urls([url], Policy(timeout=3.0, ca_file=lab.ca_file))[0]


def libpq_says(lab: Lab, url: str, user: str = SUPERUSER) -> str:
    """What libpq makes of `url` as `user` (the lab's superuser, with its password)."""
    try:
        with psycopg.connect(
            url, user=user, password=PASSWORD, sslrootcert=str(lab.ca_file)
        ) as conn:
            return f"connected, ssl_in_use={conn.pgconn.ssl_in_use}"
    except psycopg.OperationalError as exc:
        return str(exc).splitlines()[-1]


@pytest.mark.parametrize("name", ["pg-client-cert", "pg-client-cert-full", "pg-cert-auth"])
def test_no_client_certificate_fails_as_libpq_does(lab: Lab, name: str) -> None:
    """Without a certificate libpq is refused before any password, and pg.client_cert fails
    with the server's words and the libpq settings to give; pg-good, which asks for none,
    passes."""
    assert "connection requires a valid client certificate" in libpq_says(lab, lab.url(name))
    assert check(probe(lab, lab.url(name)), "pg.client_cert") == (REQUIRED, REQUIRED_HINT)
    good = probe(lab, lab.url("pg-good"))
    assert check(good, "pg.client_cert") == (
        "with no client certificate, a startup as postgres inside TLS got an authentication "
        "request (SASL)",
        "",
    )


def test_client_certificate_under_the_ca_passes_verify_ca(lab: Lab, tmp_path: Path) -> None:
    """clientcert=verify-ca with the lab's client certificate: libpq gets to the password, and
    pg.client_cert passes saying a certificate was sent."""
    url = with_client_cert(lab, lab.url("pg-client-cert"), tmp_path)
    assert libpq_says(lab, url) == "connected, ssl_in_use=True"
    result = probe(lab, url)
    assert check(result, "pg.client_cert") == (
        "with the target's client certificate, a startup as postgres inside TLS got an "
        "authentication request (SASL)",
        "",
    )


def test_key_others_can_read_fails_before_the_handshake(lab: Lab, tmp_path: Path) -> None:
    """A key file with mode 0644 (a Kubernetes Secret's default): libpq refuses it before its
    handshake, and so does tlsprobe, in tls.handshake, with libpq's rule as the hint."""
    url = with_client_cert(lab, lab.url("pg-client-cert"), tmp_path, 0o644)
    assert "has group or world access" in libpq_says(lab, url)
    result = probe(lab, url)
    assert check(result, "tls.handshake") == (
        f"the client key {tmp_path / 'client.key'} can be read by others, and libpq refuses it",
        "chmod 600 the key file (libpq wants u=rw, or u=rw,g=r when root owns it)",
    )
    assert check(result, "pg.client_cert")[0] == "not run: tls.handshake failed"


def test_certificate_for_another_user_fails_cert_auth(lab: Lab, tmp_path: Path) -> None:
    """pg_hba cert makes the certificate the login, its CN the user: libpq is refused with the
    lab's certificate (CN https-client) as postgres, and so is pg.client_cert, naming the user."""
    url = with_client_cert(lab, lab.url("pg-cert-auth"), tmp_path)
    assert "certificate authentication failed for user" in libpq_says(lab, url, "postgres")
    detail, hint = check(probe(lab, url), "pg.client_cert")
    assert detail.startswith(
        "the server refused the target's client certificate for user postgres (FATAL 28000: "
        'certificate authentication failed for user "postgres"'
    )
    assert hint == (
        "use a client certificate whose CN is postgres (sslcert, sslkey), or map it in the "
        "server's pg_ident.conf"
    )


def test_sslmodes_fact_says_every_mode_is_refused(lab: Lab) -> None:
    """The sslmodes fact of a server that demands a client certificate says every TLS mode is
    refused for want of one, as libpq is."""
    modes = dict(probe(lab, lab.url("pg-client-cert")).facts)["sslmodes"]
    assert modes == (
        "disable: refused (pg_hba.conf requires TLS); allow/prefer/require/verify-ca/"
        "verify-full: refuses (no client certificate)"
    )


def test_unjudged_answers_skip() -> None:
    """No answer, another error, or another message type leave pg.client_cert unjudged (skip),
    never a pass or a fail the server did not give."""
    hba = b"SFATAL\0C28000\0Mno pg_hba.conf entry for host\0\0"
    assert judge_client_cert(None, "postgres", False).status.value == "skip"
    assert judge_client_cert((b"E", hba), "postgres", False).detail == (
        "not judged: a startup as postgres inside TLS got FATAL 28000: no pg_hba.conf entry "
        "for host (give the target its user to judge the login)"
    )
    assert judge_client_cert((b"Z", b"I"), "postgres", False).status.value == "skip"
