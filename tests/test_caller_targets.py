"""A caller-chosen target (`tlsprobe serve --allow-any-target`) gets nothing of the exporter's:
proved over real HTTP against a server that speaks enough of PostgreSQL's protocol (SSLRequest,
TLS asking for an optional client certificate, a cleartext password request) to capture what
the real libpq sends it. Every case has its twin: the same URL configured in the exporter does
get the exporter's password and certificate, so the capture would see a leak."""

from __future__ import annotations

import asyncio
import ssl
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import trustme

from tlsprobe.exporter import Exporter
from tlsprobe.failures import UsageError
from tlsprobe.model import Policy
from tlsprobe.probes.postgres.login import sealed
from tlsprobe.secrets import Secrets
from tlsprobe.targets import caller, parse_target, pgsettings

EPHEMERAL = ("127.0.0.1", 0)
EXPORTER_PASSWORD = "exporter-own-Pa55"
SSL_REQUEST = struct.pack("!II", 8, 80877103)
GSS_REQUEST = struct.pack("!II", 8, 80877104)


@dataclass
class Capture:
    """What a fake PostgreSQL server saw: passwords and client certificates, per session."""

    passwords: list[str] = field(default_factory=list)
    client_certs: list[bytes] = field(default_factory=list)
    connections: int = 0


class FakePostgres:
    """A PostgreSQL server in a thread of its own: TLS on SSLRequest, asks every startup for a
    cleartext password, records it, then refuses the login."""

    def __init__(self, ca: trustme.CA) -> None:
        self.capture = Capture()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(self.ctx)
        ca.configure_trust(self.ctx)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakePostgres:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.capture.connections += 1
        try:
            await self._session(reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.transport.abort()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readexactly(8)
        if first == GSS_REQUEST:
            writer.write(b"N")
            first = await reader.readexactly(8)
        if first == SSL_REQUEST:
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(self.ctx)
            ssl_object = writer.get_extra_info("ssl_object")
            if (cert := ssl_object.getpeercert(binary_form=True)) is not None:
                self.capture.client_certs.append(cert)
            first = await reader.readexactly(8)
        (length,) = struct.unpack("!I", first[:4])
        await reader.readexactly(length - 8)  # the rest of the StartupMessage
        writer.write(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        await writer.drain()
        kind = await reader.readexactly(1)
        (size,) = struct.unpack("!I", await reader.readexactly(4))
        body = await reader.readexactly(size - 4)
        if kind == b"p":
            self.capture.passwords.append(body.rstrip(b"\0").decode())
        error = b"SFATAL\0C28P01\0Mpassword authentication failed for user probe\0\0"
        writer.write(b"E" + struct.pack("!I", len(error) + 4) + error)
        await writer.drain()


@pytest.fixture
def fake_pg(ca: trustme.CA) -> Iterator[FakePostgres]:
    with FakePostgres(ca) as server:
        yield server


@pytest.fixture
def exporter_home(tmp_path: Path, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The exporter's own libpq credentials: PGPASSWORD, ~/.pgpass and a client certificate
    in ~/.postgresql, as an operator would leave them for the configured targets."""
    home = tmp_path / "home"
    (home / ".postgresql").mkdir(parents=True)
    leaf = ca.issue_cert("exporter-client")
    leaf.cert_chain_pems[0].write_to_path(home / ".postgresql" / "postgresql.crt")
    leaf.private_key_pem.write_to_path(home / ".postgresql" / "postgresql.key")
    (home / ".pgpass").write_text(f"*:*:*:*:{EXPORTER_PASSWORD}-pgpass\n")
    for secret in (home / ".pgpass", home / ".postgresql" / "postgresql.key"):
        secret.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PGPASSWORD", EXPORTER_PASSWORD)
    return home


def exporter_cert(home: Path, name: str = "postgresql.crt") -> bytes:
    return ssl.PEM_cert_to_DER_cert((home / ".postgresql" / name).read_text())


def scrape(url: str, *, configured: bool) -> httpx.Response:
    """One /probe scrape of `url` from an exporter with --allow-any-target, the URL configured
    in it or not."""
    policy = Policy(timeout=4.0)
    targets = [parse_target(url)] if configured else []
    with Exporter(targets, policy, interval=3600.0, allow_any=True, listen=EPHEMERAL) as exp:
        host, listen_port = exp.address
        return httpx.get(f"http://{host}:{listen_port}/probe", params={"target": url}, timeout=20)


def pg_url(server: FakePostgres) -> str:
    return f"postgresql://probe@127.0.0.1:{server.port}/app?sslmode=require"


def test_caller_target_gets_no_password_from_pgpassword(
    fake_pg: FakePostgres, exporter_home: Path
) -> None:
    """libpq sends no password for a caller's target, with PGPASSWORD set in the exporter."""
    answer = scrape(pg_url(fake_pg), configured=False)
    assert answer.status_code == 200
    assert fake_pg.capture.connections >= 3  # the probe's own, the plaintext one, libpq's
    assert fake_pg.capture.passwords == []
    assert EXPORTER_PASSWORD not in answer.text


def test_configured_target_gets_the_exporters_password(
    fake_pg: FakePostgres, exporter_home: Path
) -> None:
    """The twin: the same URL configured gets PGPASSWORD, so the capture sees a leak."""
    answer = scrape(pg_url(fake_pg), configured=True)
    assert answer.status_code == 200
    assert set(fake_pg.capture.passwords) == {EXPORTER_PASSWORD}  # the scrape, and a round


def test_caller_target_gets_nothing_from_pgpass(
    fake_pg: FakePostgres, exporter_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without PGPASSWORD, ~/.pgpass goes to the configured twin and not to a caller's target."""
    monkeypatch.delenv("PGPASSWORD")
    scrape(pg_url(fake_pg), configured=False)
    assert fake_pg.capture.passwords == []
    scrape(pg_url(fake_pg), configured=True)
    assert set(fake_pg.capture.passwords) == {f"{EXPORTER_PASSWORD}-pgpass"}


def test_caller_target_gets_no_client_certificate(
    fake_pg: FakePostgres, exporter_home: Path
) -> None:
    """~/.postgresql/postgresql.crt, which libpq sends the configured twin, never goes to a
    caller's target."""
    scrape(pg_url(fake_pg), configured=False)
    assert fake_pg.capture.client_certs == []
    scrape(pg_url(fake_pg), configured=True)
    assert set(fake_pg.capture.client_certs) == {exporter_cert(exporter_home)}


def test_caller_target_gets_no_certificate_from_pgsslcert(
    fake_pg: FakePostgres, exporter_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PGSSLCERT and PGSSLKEY name the exporter's certificate for its own targets only: the
    configured twin sends it in the probe's handshake and libpq's."""
    key_dir = exporter_home / ".postgresql"
    monkeypatch.setenv("PGSSLCERT", str(key_dir / "postgresql.crt"))
    monkeypatch.setenv("PGSSLKEY", str(key_dir / "postgresql.key"))
    (key_dir / "postgresql.crt").rename(key_dir / "elsewhere.crt")
    monkeypatch.setenv("PGSSLCERT", str(key_dir / "elsewhere.crt"))
    scrape(pg_url(fake_pg), configured=False)
    assert fake_pg.capture.client_certs == []
    scrape(pg_url(fake_pg), configured=True)
    assert set(fake_pg.capture.client_certs) == {exporter_cert(exporter_home, "elsewhere.crt")}


@pytest.mark.parametrize("keyword", ["sslcert", "sslkey", "sslrootcert", "sslcrl", "passfile"])
def test_existing_and_missing_files_get_the_same_answer(
    fake_pg: FakePostgres, keyword: str
) -> None:
    """A keyword naming a local file is a 400 before any connection, the same for a file that
    exists and one that does not: the answer tells a caller nothing about the exporter's files."""
    base = pg_url(fake_pg)
    bodies = []
    for path in ("/etc/hostname", "/nonexistent"):
        answer = scrape(f"{base}&{keyword}={path}", configured=False)
        assert answer.status_code == 400
        bodies.append(answer.text.replace(path, "PATH"))
    assert bodies == 2 * [
        f"bad target: {base}&{keyword}=PATH: {keyword} names a file on the "
        "exporter's machine: not accepted in a caller's target\n"
    ]
    assert fake_pg.capture.connections == 0


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("postgresql://u@h/db?sslkeylogfile=/tmp/keys", "sslkeylogfile"),
        ("postgresql://u@h/db?service=prod", "service"),
        ("postgresql://u@h/db?sslcrldir=/etc/ssl", "sslcrldir"),
        ("postgresql://u@h/db?sslrootcert=/etc/ssl/certs/ca-certificates.crt", "sslrootcert"),
        ("host=h user=u sslcert=/etc/hostname", "sslcert"),
        ("postgresql+psycopg2://u@h/db?passfile=/root/.pgpass", "passfile"),
        ("postgresql://u@h/db?gssencmode=require", "gssencmode"),
        ("postgresql://u@h/db?krbsrvname=postgres", "krbsrvname"),
        ("postgresql://u@h/db?require_auth=gss", "require_auth"),
        ("postgresql://u@h/db?oauth_issuer=https://idp", "oauth_issuer"),
    ],
)
def test_for_caller_refuses_what_a_caller_may_not_have(text: str, keyword: str) -> None:
    """Each keyword that names a file or the exporter's credentials is a UsageError naming the
    keyword and why."""
    with pytest.raises(UsageError) as refused:
        caller.for_caller(text)
    assert f": {keyword} {caller.REFUSED[keyword]}: not accepted in a caller's target" in str(
        refused.value
    )


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://u:own@h/db?sslrootcert=system&sslmode=verify-full",
        "host=h user=u password=own sslmode=require channel_binding=require",
        "https://h/path?token=x",
        "smtp://u:own@h",
    ],
)
def test_for_caller_accepts_and_marks_what_lends_nothing(text: str) -> None:
    """Targets naming no local file are accepted, marked lends_nothing, with no client
    certificate, no configured trust, and the /probe request as their source."""
    target = caller.for_caller(text)
    assert (target.lends_nothing, target.client_cert, target.client_key, target.trust) == (
        True,
        None,
        None,
        None,
    )
    assert target.source == "/probe request"
    assert not parse_target(text).lends_nothing


def test_caller_targets_libpq_settings_ignore_the_environment() -> None:
    """pgsettings.resolve reads no PG* variable for a caller's target, and --ca-file (trust,
    not a secret) still stands in for sslrootcert; the configured twin takes all of them."""
    env = {"PGPASSWORD": "pw", "PGSSLCERT": "/c", "PGSSLKEY": "/k", "PGSSLMODE": "disable"}
    text = "postgresql://u@h/db"
    mine = pgsettings.resolve(caller.for_caller(text), env, Path("/ca.pem"))
    theirs = pgsettings.resolve(parse_target(text), env, Path("/ca.pem"))
    assert (mine.password, mine.sslcert, mine.sslkey, mine.sslmode, mine.sslrootcert) == (
        None,
        None,
        None,
        "prefer",
        "/ca.pem",
    )
    assert (theirs.password, theirs.sslcert, theirs.sslkey, theirs.sslmode) == (
        "pw",
        "/c",
        "/k",
        "disable",
    )


def test_sealed_sets_every_keyword_libpq_reads_from_the_environment() -> None:
    """libpq is left nothing to read from the exporter's environment but service: files point
    nowhere, the password is empty, GSSAPI is refused."""
    info = sealed({"host": "h", "user": "u"})
    from_env = {
        o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults() if o.envvar is not None
    }
    assert from_env - info.keys() == {"service"}
    files = ("sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir", "passfile")
    assert [info[key] for key in files] == len(files) * [caller.NOWHERE]
    assert (info["password"], info["require_auth"], info["sslcertmode"]) == (
        "",
        "!gss,!sspi",
        "disable",
    )
    assert sealed({"sslrootcert": "/ca.pem"})["sslrootcert"] == "/ca.pem"


def test_the_scrub_does_not_hide_the_exporters_password_in_a_callers_result() -> None:
    """A caller's server echoing guesses must not learn which one is PGPASSWORD (it would come
    back as ***); a configured target's scrub does hide it."""
    env = {"PGPASSWORD": "exporter-pw"}
    text = "postgresql://u@h/db"
    assert Secrets.of(caller.for_caller(text), env).scrub("exporter-pw") == "exporter-pw"
    assert Secrets.of(parse_target(text), env).scrub("exporter-pw") == "***"
