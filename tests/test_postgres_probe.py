"""The PostgreSQL probe against the lab's clusters with libpq's environment, keyword strings and
SQLAlchemy URLs; the exact bytes it sends; password redaction in every output; the lab without
PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import detail, probe_urls, statuses
from tlsprobe.cli import main
from tlsprobe.lab import Lab
from tlsprobe.lab import postgres_cluster as cluster
from tlsprobe.lab.certs import Pki
from tlsprobe.lab.postgres import LabClusters
from tlsprobe.model import Policy, TargetResult
from tlsprobe.probes import postgres
from tlsprobe.probes.postgres import wire
from tlsprobe.report import FORMATS, RunInfo, render
from tlsprobe.targets import parse_target

TIMEOUT = 3.0
SECRETS = ("s3cret", "wrong-pw")


def port(lab: Lab, name: str = "pg-good") -> int:
    found = urlsplit(lab.url(name)).port
    assert found is not None
    return found


def probe(url: str, lab: Lab, env: dict[str, str]) -> TargetResult:
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file)
    return asyncio.run(postgres.probe(parse_target(url), policy, env))


def login_url(lab: Lab, query: str = "") -> str:
    return f"postgresql://probe:s3cret-pw@localhost:{port(lab)}/postgres{query}"


def test_environment_sslmode_and_root_are_used(lab: Lab, tmp_path: Path) -> None:
    """PGSSLMODE and PGSSLROOTCERT configure the login when the target names neither."""
    env = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(lab.ca_file)}
    result = probe(login_url(lab), lab, env)
    assert statuses(result)["pg.login"] == "pass"
    assert "sslmode=verify-full" in detail(result, "pg.login")
    assert "from PGSSLMODE" in detail(result, "client.encryption")


def test_environment_root_that_is_missing_fails_login(lab: Lab, tmp_path: Path) -> None:
    """A PGSSLROOTCERT that does not exist beats --ca-file, and libpq's refusal is explained;
    cert.chain, judged on libpq's roots (none), fails with it (issue 12: no contradiction)."""
    env = {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(tmp_path / "missing.pem")}
    result = probe(login_url(lab), lab, env)
    assert statuses(result)["pg.login"] == "fail"
    assert "libpq cannot read the root certificate" in detail(result, "pg.login")
    assert statuses(result)["cert.chain"] == "fail"


def test_target_sslmode_beats_environment(lab: Lab) -> None:
    """sslmode in the target wins over PGSSLMODE=disable, so the login is encrypted."""
    result = probe(login_url(lab, "?sslmode=verify-full"), lab, {"PGSSLMODE": "disable"})
    assert statuses(result)["pg.login"] == "pass"
    assert statuses(result)["client.encryption"] == "pass"


def test_environment_disable_is_refused_by_hostssl(lab: Lab) -> None:
    """PGSSLMODE=disable against hostssl-only fails the login and client.encryption."""
    result = probe(login_url(lab), lab, {"PGSSLMODE": "disable"})
    assert statuses(result)["pg.login"] == "fail"
    assert "pg_hba.conf has no line" in detail(result, "pg.login")
    assert statuses(result)["client.encryption"] == "fail"


def test_environment_direct_negotiation(lab: Lab) -> None:
    """PGSSLNEGOTIATION=direct makes the probe try direct TLS, which PostgreSQL 15 lacks."""
    result = probe(login_url(lab, "?sslmode=verify-full"), lab, {"PGSSLNEGOTIATION": "direct"})
    assert detail(result, "tls.handshake").startswith("direct TLS unsupported by this server")
    assert statuses(result)["pg.login"] == "skip"


def test_keyword_string_logs_in(lab: Lab) -> None:
    """A libpq keyword string is probed like the URI, login included, shown without password."""
    dsn = (
        f"host=localhost port={port(lab)} user=probe password=s3cret-pw dbname=postgres "
        "sslmode=verify-full"
    )
    (result,) = probe_urls([dsn], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    assert set(statuses(result).values()) == {"pass"}
    assert result.target == dsn.replace("s3cret-pw", "***")


@pytest.mark.parametrize(
    ("scheme", "password", "verdict"),
    [
        ("postgresql+psycopg2", "s3cret%2Dpw", "pass"),
        ("postgresql+psycopg", "s3cret%2Dpx", "fail"),
    ],
)
def test_sqlalchemy_url_with_percent_encoded_password(
    lab: Lab, scheme: str, password: str, verdict: str
) -> None:
    """SQLAlchemy URLs log in with the decoded password; a wrong one fails pg.login alone."""
    url = f"{scheme}://probe:{password}@localhost:{port(lab)}/postgres?sslmode=verify-full"
    (result,) = probe_urls([url], Policy(timeout=TIMEOUT, ca_file=lab.ca_file))
    assert statuses(result)["pg.login"] == verdict
    assert statuses(result)["cert.chain"] == "pass"


def test_refused_port_fails_connect() -> None:
    """Nothing listening: connect fails with the address, and every later check is skipped."""
    (result,) = probe_urls(["postgresql://probe:pw@127.0.0.1:1/x"], Policy(timeout=TIMEOUT))
    assert detail(result, "connect").startswith("127.0.0.1 port 1: connection refused")
    assert statuses(result)["pg.login"] == "skip"


async def recording_server(answer: bytes) -> tuple[list[bytes], TargetResult]:
    """Probe a raw server that records what each connection sends first and answers `answer`."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(1024))
        writer.write(answer)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"postgresql://127.0.0.1:{server.sockets[0].getsockname()[1]}/meta"
    async with server:
        result = await postgres.probe(parse_target(url), Policy(timeout=TIMEOUT), {})
    return received, result


def test_exact_bytes_on_the_wire() -> None:
    """The probe sends exactly the 8-byte SSLRequest, then a plaintext StartupMessage."""
    received, result = asyncio.run(recording_server(b"N"))
    assert received[0] == wire.SSL_REQUEST
    assert received[1] == wire.startup_message("postgres", "meta")
    assert statuses(result)["pg.sslrequest"] == "fail"
    assert "could not tell" in detail(result, "pg.plaintext")


def test_closing_without_answer_fails_sslrequest() -> None:
    """A server that closes instead of answering the SSLRequest fails it in plain words."""
    _, result = asyncio.run(recording_server(b""))
    assert detail(result, "pg.sslrequest") == (
        "the server closed the connection without answering the SSLRequest"
    )


@pytest.fixture(scope="module")
def secret_results(lab: Lab) -> list[TargetResult]:
    """Results of targets that carry passwords: good, wrong, keyword string and SQLAlchemy."""
    urls = [
        lab.url("pg-login"),
        lab.url("pg-login-wrong-password"),
        f"host=localhost port={port(lab)} user=probe password=wrong-pw sslmode=verify-full",
        f"postgresql+psycopg2://probe:s3cret-pw@localhost:{port(lab, 'pg-ssl-off')}/postgres",
    ]
    return probe_urls(urls, Policy(timeout=TIMEOUT, ca_file=lab.ca_file))


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_password_in_any_report(secret_results: list[TargetResult], fmt: str) -> None:
    """No report format, at the highest verbosity, contains a password."""
    text = render(
        fmt,
        secret_results,
        RunInfo(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 1.0, verbosity=2),
        color=False,
    )
    assert not any(secret in text for secret in SECRETS)
    assert "***" in text or fmt == "prometheus"


def test_no_password_in_transcripts_facts_or_checks(secret_results: list[TargetResult]) -> None:
    """Transcripts, facts and every check's words are free of passwords."""
    for result in secret_results:
        words = [*result.transcript, *(v for _, v in result.facts), result.target, repr(result)]
        words += [c.detail + c.hint for c in result.checks]
        assert not any(secret in w for secret in SECRETS for w in words)
    assert any("password=***" in line for line in secret_results[0].transcript)


def test_no_password_from_the_command_line(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """`tlsprobe check -vv` (table and JSON) and a usage error never print the password."""
    ca = ["--ca-file", str(lab.ca_file)]
    assert main(["check", "-vv", *ca, lab.url("pg-login-wrong-password")]) == 1
    assert main(["check", "--format", "json", *ca, lab.url("pg-login")]) == 0
    assert main(["check", "host=db password=s3cret-pw bogus=1"]) == 2
    out, err = capsys.readouterr()
    assert not any(secret in out + err for secret in SECRETS)
    assert "pg.login" in out
    assert "bogus" in err


def test_json_names_the_target_without_password(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The JSON result's target is the URL with *** for the password."""
    main(["check", "--format", "json", "--ca-file", str(lab.ca_file), lab.url("pg-login")])
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert result["target"] == lab.url("pg-login").replace("s3cret-pw", "***")
    assert result["facts"]["pg_stat_ssl"] == "TLSv1.3 TLS_AES_256_GCM_SHA384"


def test_missing_binaries_leave_clusters_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside CI, missing server binaries leave the clusters out with one clear note."""
    monkeypatch.setattr(cluster, "BINDIR", tmp_path / "nowhere")
    monkeypatch.delenv("CI", raising=False)
    clusters = LabClusters(Pki(tmp_path))
    assert clusters.start() == []
    assert clusters.note.startswith("PostgreSQL clusters left out of the lab:")
    assert "binaries not found" in clusters.note


def test_missing_binaries_fail_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With CI=true, missing server binaries are an error, never a silent skip."""
    monkeypatch.setattr(cluster, "BINDIR", tmp_path / "nowhere")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match="CI=true and the PostgreSQL lab cannot run"):
        LabClusters(Pki(tmp_path)).start()
