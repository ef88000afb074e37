"""tls.legacy: servers that also accept versions below --min-tls, for every protocol, with
`openssl s_client` as the oracle that they really do (or really refuse)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import probe_targets, probe_urls, statuses
from tlsprobe.cli.options import build_parser, flags_of
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.model import Check, MinTls, Policy, Status, TargetResult
from tlsprobe.plan import Flags, Sources, make_plan
from tlsprobe.probes.legacy import OFF
from tlsprobe.report import FORMATS, RunInfo, render
from tlsprobe.targets import parse_target
from tlsprobe.tls import legacy

TIMEOUT = 3.0
LEGACY = ("legacy-https", "legacy-smtp", "legacy-smtps", "legacy-pg")
TWINS = ("https-good", "smtp-good", "smtps-good", "pg-good")
NGINX = (
    "turn them off: nginx ssl_protocols TLSv1.2 TLSv1.3; (Apache SSLProtocol, or the setting of "
    "the proxy or load balancer that ends TLS)"
)
POSTFIX = (
    "turn them off: Postfix smtpd_tls_protocols = >=TLSv1.2 and smtpd_tls_mandatory_protocols = "
    ">=TLSv1.2 (or the MTA's own TLS protocol setting)"
)
POSTGRES = "turn them off: ssl_min_protocol_version = 'TLSv1.2' in postgresql.conf, then reload"
ACCEPTS = "also accepts TLS 1.1 and TLS 1.0, below the minimum TLS 1.2"
REFUSES = "refuses TLS 1.1 and TLS 1.0 (offered in a ClientHello of their own)"


def policy(lab: Lab, **changes: object) -> Policy:
    return dataclasses.replace(Policy(timeout=TIMEOUT, ca_file=lab.ca_file), **changes)


def probe(lab: Lab, names: tuple[str, ...], **changes: object) -> dict[str, TargetResult]:
    results = probe_urls([lab.url(n) for n in names], policy(lab, **changes))
    return dict(zip(names, results, strict=True))


def legacy_check(result: TargetResult) -> Check:
    found = result.check("tls.legacy")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def results(lab: Lab) -> dict[str, TargetResult]:
    return probe(lab, LEGACY + TWINS + ("https-tls10-only", "https-close", "pg-ssl-off"))


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("legacy-https", NGINX),
        ("legacy-smtp", POSTFIX),
        ("legacy-smtps", POSTFIX),
        ("legacy-pg", POSTGRES),
    ],
)
def test_legacy_servers_warn_naming_versions_and_setting(
    results: dict[str, TargetResult], name: str, hint: str
) -> None:
    """A server that negotiates TLS 1.3 but also accepts TLS 1.0 and 1.1 warns, naming both and
    the server setting of its protocol; every other check passes."""
    result = results[name]
    assert legacy_check(result) == Check("tls.legacy", Status.WARN, ACCEPTS, hint)
    assert result.tls is not None
    assert result.tls.version == "TLSv1.3"
    assert {s for i, s in statuses(result).items() if i != "tls.legacy"} <= {"pass", "skip"}
    assert result.status is Status.WARN


@pytest.mark.parametrize("name", TWINS)
def test_refusing_twins_pass_saying_what_was_tried(
    results: dict[str, TargetResult], name: str
) -> None:
    """The good endpoints (TLS 1.2-1.3 only) pass tls.legacy, naming the versions offered."""
    assert legacy_check(results[name]) == Check("tls.legacy", Status.PASS, REFUSES)
    assert results[name].status is Status.PASS


def s_client(lab: Lab, name: str, version: str) -> bool:
    """Whether `openssl s_client`, limited to `version` (-tls1, -tls1_1), completes a handshake
    with the lab endpoint `name`, after the protocol's STARTTLS or SSLRequest."""
    url = urlsplit(lab.url(name))
    starttls = {"smtp": ["-starttls", "smtp"], "postgresql": ["-starttls", "postgres"]}
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{url.port}", f"-{version}"]
    argv += ["-cipher", "DEFAULT:@SECLEVEL=0", "-servername", "localhost", "-brief"]
    argv += starttls.get(url.scheme, [])
    done = subprocess.run(argv, input=b"", capture_output=True, timeout=20, check=False)
    return done.returncode == 0


@pytest.mark.parametrize("name", LEGACY + TWINS)
def test_openssl_agrees(lab: Lab, name: str) -> None:
    """The oracle: openssl s_client -tls1 and -tls1_1 connect to exactly the endpoints that
    tlsprobe warns about, and are refused by the twins it passes."""
    expected = name in LEGACY
    assert s_client(lab, name, "tls1") is expected
    assert s_client(lab, name, "tls1_1") is expected


def test_skipped_when_only_a_legacy_version_gets_through(
    results: dict[str, TargetResult],
) -> None:
    """A server offering only TLS 1.0-1.1 fails tls.version; tls.legacy is skipped, saying why."""
    result = results["https-tls10-only"]
    assert statuses(result)["tls.version"] == "fail"
    assert legacy_check(result) == Check(
        "tls.legacy", Status.SKIP, "not run: only TLS 1.1 got through (see tls.version)"
    )


def test_skipped_when_the_handshake_fails(results: dict[str, TargetResult]) -> None:
    """No session, no verdict: a server that closes at once skips tls.legacy with the reason."""
    check = legacy_check(results["https-close"])
    assert check == Check("tls.legacy", Status.SKIP, "not run: tls.handshake failed")


def test_skipped_when_postgres_has_ssl_off(results: dict[str, TargetResult]) -> None:
    """ssl = off: tls.legacy is skipped as every TLS check is."""
    check = legacy_check(results["pg-ssl-off"])
    assert check == Check("tls.legacy", Status.SKIP, "not run: the server has ssl = off")


def test_min_tls_13_names_tls_12(lab: Lab) -> None:
    """With --min-tls 1.3, TLS 1.2 is a legacy version: a TLS 1.2-1.3 server warns, naming it,
    and a TLS 1.3-only server passes, naming all three versions tried."""
    found = probe(lab, ("https-good", "https-tls13-only", "legacy-pg"), min_tls=MinTls.TLS13)
    good, only13, pg = (legacy_check(found[n]) for n in found)
    assert good.status is Status.WARN
    assert good.detail == "also accepts TLS 1.2, below the minimum TLS 1.3"
    assert good.hint.startswith("turn them off: nginx ssl_protocols TLSv1.3;")
    assert only13 == Check(
        "tls.legacy",
        Status.PASS,
        "refuses TLS 1.2, TLS 1.1 and TLS 1.0 (offered in a ClientHello of their own)",
    )
    assert pg.detail == "also accepts TLS 1.2, TLS 1.1 and TLS 1.0, below the minimum TLS 1.3"
    assert pg.hint == POSTGRES.replace("TLSv1.2", "TLSv1.3")


def test_turned_off(lab: Lab) -> None:
    """tls_legacy=False: the check is skipped and says how it was turned off; the twin of the
    warning above, on the same server."""
    result = probe(lab, ("legacy-https",), tls_legacy=False)["legacy-https"]
    assert legacy_check(result) == Check("tls.legacy", Status.SKIP, OFF)
    assert result.status is Status.PASS


def test_flag_and_toml_key_turn_it_off(tmp_path: Path) -> None:
    """--no-tls-legacy and tlsprobe.toml's tls_legacy = false reach the policy; the flag wins
    over the file, and neither given leaves it on."""
    config = tmp_path / "tlsprobe.toml"
    config.write_text('[defaults]\ntls_legacy = false\n[[targets]]\nurl = "https://a.test"\n')
    args = build_parser().parse_args(["check", "--no-tls-legacy", "https://a.test"])
    assert flags_of(args).tls_legacy is False
    assert flags_of(build_parser().parse_args(["check", "https://a.test"])).tls_legacy is None
    from_file = make_plan(Sources(config=config), Flags(), {}, default_timeout=10.0)
    assert from_file.policy.tls_legacy is False
    unset = make_plan(Sources(urls=("https://a.test",)), Flags(), {}, default_timeout=10.0)
    assert unset.policy.tls_legacy is True
    both = make_plan(Sources(config=config), Flags(tls_legacy=True), {}, default_timeout=10.0)
    assert both.policy.tls_legacy is True


def test_toml_key_must_be_a_boolean(tmp_path: Path) -> None:
    """tls_legacy = "no" is a usage error naming the file, the key and what it must be."""
    config = tmp_path / "tlsprobe.toml"
    config.write_text('[defaults]\ntls_legacy = "no"\n')
    with pytest.raises(UsageError) as raised:
        make_plan(Sources(config=config), Flags(), {}, default_timeout=10.0, required=False)
    assert str(raised.value).endswith("defaults.tls_legacy: expected true or false, got a string")


def test_exporter_honours_it(lab: Lab) -> None:
    """The exporter probes with its plan's policy: on, tls.legacy warns (severity 1); turned off
    there, it is skipped and has no severity sample."""
    from tlsprobe.exporter import Exporter

    target = parse_target(lab.url("legacy-https"))
    for on, expected in ((True, 1.0), (False, None)):
        exporter = Exporter([target], policy(lab, tls_legacy=on), listen=("127.0.0.1", 0))
        with exporter:
            text = _get_probe(exporter, lab.url("legacy-https"))
        assert _status_of(text, "tls.legacy") == expected


def _status_of(text: str, check_id: str) -> float | None:
    """The check's tlsprobe_check_severity (1 warn, 2 fail), None when it has no sample."""
    from prometheus_client.parser import text_string_to_metric_families

    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "tlsprobe_check_severity" and sample.labels["check"] == check_id
    ]
    assert len(found) <= 1, text
    return found[0] if found else None


def _get_probe(exporter: object, url: str) -> str:
    import httpx

    host, port = exporter.address  # type: ignore[attr-defined]
    answer = httpx.get(f"http://{host}:{port}/probe", params={"target": url}, timeout=15)
    assert answer.status_code == 200
    return answer.text


# --- a server that never answers an old ClientHello ------------------------------------------


class DropsOldHellos:
    """A relay to `upstream` that swallows any ClientHello whose client_version (bytes 9-10 of
    the first record) is below TLS 1.2, as some middleboxes do (or, `drop` false, passes it on);
    in a thread with its own loop. Every such hello is kept in `old_hellos`."""

    def __init__(self, upstream: int, *, drop: bool = True) -> None:
        self.upstream = upstream
        self.drop = drop
        self.old_hellos: list[bytes] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),))
        self._writers: list[asyncio.StreamWriter] = []

    async def _run(self) -> None:
        self._stop = self._loop.create_future()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop
        server.close()
        for writer in self._writers:
            writer.transport.abort()
        await server.wait_closed()
        await asyncio.sleep(0.05)  # the handlers see their sockets go

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            head = await reader.readexactly(5)
            hello = head + await reader.readexactly(int.from_bytes(head[3:5], "big"))
            if hello[9:11] < b"\x03\x03":
                self.old_hellos.append(hello)
                if self.drop:
                    await reader.read()  # never answer; wait for the client to leave
                    return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
            self._writers.append(up_writer)
            up_writer.write(hello)
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        writer.transport.abort()

    def __enter__(self) -> DropsOldHellos:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)
        self._loop.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@pytest.fixture
def drops_old_hellos(lab: Lab) -> Iterator[str]:
    """The URL of a DropsOldHellos relay in front of https-good."""
    port = urlsplit(lab.url("https-good")).port
    assert port is not None
    with DropsOldHellos(port) as relay:
        yield f"https://localhost:{relay.port}/"


def test_no_answer_is_skipped_within_the_deadline(lab: Lab, drops_old_hellos: str) -> None:
    """A server that never answers an old ClientHello: every other verdict stands, tls.legacy is
    skipped in the catalogue's words before the target's deadline, never a deadline failure."""
    (result,) = probe_targets([parse_target(drops_old_hellos)], policy(lab, timeout=1.0))
    assert legacy_check(result) == Check(
        "tls.legacy",
        Status.SKIP,
        "not judged: no answer to a ClientHello offering only versions below the minimum "
        "within 1 s",
    )
    assert result.status is Status.PASS
    assert result.elapsed_ms < 1000


def test_each_target_sends_its_own_name_in_the_old_hellos(lab: Lab) -> None:
    """The old ClientHello, made once per host name and reused (legacy.client_hello), names
    its own target: one target by name and one by address (no SNI) on one server that accepts
    TLS 1.1 and TLS 1.0, each asked twice."""
    port = urlsplit(lab.url("legacy-https")).port
    assert port is not None
    with DropsOldHellos(port, drop=False) as relay:
        urls = [f"https://{host}:{relay.port}/" for host in ("localhost", "127.0.0.1")]
        results = probe_urls(urls, policy(lab))
    assert [legacy_check(r) for r in results] == [
        Check("tls.legacy", Status.WARN, ACCEPTS, NGINX)
    ] * 2
    assert sorted(b"localhost" in hello for hello in relay.old_hellos) == [0, 0, 1, 1]


# --- the parser of the first record (edge cases no lab server sends) -------------------------


@pytest.mark.parametrize(
    ("head", "version"),
    [
        (bytes.fromhex("160301003102000031030200"), "TLSv1.1"),
        (bytes.fromhex("16030100310200003103010000"), "TLSv1"),
        (bytes.fromhex("1603000031020000310300"), "SSLv3"),
    ],
)
def test_server_hello_version(head: bytes, version: str) -> None:
    """The version is the ServerHello's own (bytes 9-10), not the record layer's."""
    assert legacy.hello_version(head) == version


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"", "the server closed the connection"),
        (bytes.fromhex("15030100020246"), "alert: protocol version"),
        (bytes.fromhex("15030100020228"), "alert: handshake failure"),
        (bytes.fromhex("1503010002020a"), "alert: number 10"),
        (b"HTTP/1.1 400 Bad", "an answer that is not a ServerHello: 485454502f312e31203430"),
        (bytes.fromhex("16030300310b00003103030000"), "an answer that is not a ServerHello: "),
        (bytes.fromhex("16030100310200003103"), "an answer that is not a ServerHello: "),
        (bytes.fromhex("1603010031020000310304"), "an answer that is not a ServerHello: "),
    ],
)
def test_anything_else_is_not_accepted(head: bytes, says: str) -> None:
    """An alert, a close, plaintext, another handshake message, a short record or an unknown
    version is no acceptance, and says what it was."""
    with pytest.raises(legacy.NotAccepted) as raised:
        legacy.hello_version(head)
    assert str(raised.value).startswith(says)


def test_versions_below() -> None:
    """The versions offered below each minimum, newest first; SSLv3 only where this OpenSSL
    was built with it."""
    ssl3 = ("SSLv3",) if ssl.HAS_SSLv3 else ()
    assert legacy.versions_below(MinTls.TLS12) == ("TLSv1.1", "TLSv1", *ssl3)
    assert legacy.versions_below(MinTls.TLS13) == ("TLSv1.2", "TLSv1.1", "TLSv1", *ssl3)


def test_readme_names_the_flag_and_key() -> None:
    """The README documents the check, the flag and the tlsprobe.toml key."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for words in ("tls.legacy", "--no-tls-legacy", "tls_legacy = false"):
        assert words in text, words


# Where each format shows tls.legacy's warning: its column title, its id, its words.
SHOWN = {
    "table": ("legacy", ACCEPTS),
    "markdown": ("legacy", ACCEPTS),
    "json": ('"id": "tls.legacy"', ACCEPTS),
    "junit": ('name="tls.legacy"', ACCEPTS),
    "prometheus": ('check="tls.legacy"',),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_shows_it(results: dict[str, TargetResult], fmt: str) -> None:
    """Every report format shows tls.legacy, with the warning's words where the format has them
    (none lists check ids by hand: a format that did would leave it out)."""
    info = RunInfo(started_at=dt.datetime(2026, 11, 26, 6, tzinfo=dt.UTC), elapsed_s=0.5)
    text = render(fmt, [results["legacy-https"], results["https-good"]], info, color=False)
    for words in SHOWN[fmt]:
        assert words in text, (fmt, words)
    if fmt == "prometheus":
        alone = render(fmt, [results["legacy-https"]], info, color=False)
        assert _status_of(alone, "tls.legacy") == 1.0
