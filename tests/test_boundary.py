"""The runner is the one boundary: whatever a probe returns, or however it fails, the result that
reaches a report has no secret of its target in any form and no raw control character, in every
text it carries; tlsprobe's own words (check ids, the protocol, fact names) pass untouched."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import unicodedata
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import psycopg
import pytest

from tlsprobe import runner
from tlsprobe.escaping import HIDDEN_CATEGORIES
from tlsprobe.model import CertInfo, Check, Policy, Status, TargetResult, TlsInfo, map_texts
from tlsprobe.probes.postgres.login import explain_psycopg
from tlsprobe.targets import Target, parse_target, pgsettings

PASSWORD = "Hunter?2 x"
SSLPASSWORD = "key-phrase:9"
KEY_PASSWORD = "client-key-pass"
PGPASSWORD = "from-the-environment"
NASTY = "\x1b]0;x\x07\x00\u202e\n"

Probe = Callable[[Target, Policy], Awaitable[TargetResult]]


def every_form() -> list[str]:
    """What a careless probe might carry: each secret raw, encoded and in base64."""
    user = b"probe"
    found = [PASSWORD, quote(PASSWORD, safe=""), SSLPASSWORD, KEY_PASSWORD, PGPASSWORD]
    found += [base64.b64encode(b"\0" + user + b"\0" + PASSWORD.encode()).decode()]
    found += [base64.b64encode(user + b":" + PASSWORD.encode()).decode()]
    return found


def dirty() -> str:
    return " ".join(f"<{form}>{NASTY}" for form in every_form())


def target() -> Target:
    url = f"postgresql://probe:{quote(PASSWORD, safe='')}@db.example/app"
    base = parse_target(f"{url}?sslpassword={quote(SSLPASSWORD, safe='')}")
    return dataclasses.replace(base, name=f"db {dirty()}", client_key_password=KEY_PASSWORD)


def careless(target: Target, policy: Policy) -> TargetResult:
    """A result with every secret and control character in every text it has."""
    del policy
    cert = CertInfo(
        *(dirty() for _ in range(7)),
        san=(dirty(), dirty()),
        serial=dirty(),
        dns_names=(dirty(), dirty()),
    )
    return TargetResult(
        name=dirty(),
        target=dirty(),
        protocol=target.protocol,
        host=dirty(),
        port=5432,
        source=dirty(),
        checks=(
            Check("pg.login", Status.FAIL, dirty(), dirty()),
            Check("connect", Status.PASS, dirty()),
        ),
        elapsed_ms=1.0,
        tls=TlsInfo(dirty(), dirty(), dirty(), (cert, cert)),
        transcript=(dirty(), dirty()),
        facts=(("server_version", dirty()), ("pg_stat_ssl", dirty())),
    )


def texts_of(result: TargetResult) -> list[str]:
    seen: list[str] = []
    map_texts(result, lambda text: seen.append(text) or text)
    return seen


def run_with(probe: Probe, monkeypatch: pytest.MonkeyPatch, timeout: float = 5.0) -> TargetResult:
    """One target through the real Run, with `probe` in place of the PostgreSQL probe; the
    result handed to `on_result` (the progress display) must be the one returned."""
    monkeypatch.setattr(runner, "probe_for", lambda protocol: probe)
    monkeypatch.setenv("PGPASSWORD", PGPASSWORD)
    given: list[TargetResult] = []
    run = runner.Run([target()], Policy(timeout=timeout), on_result=given.append)
    results = asyncio.run(run.execute())
    assert results == given
    return results[0]


def assert_clean(result: TargetResult) -> None:
    for text in texts_of(result):
        for form in every_form():
            assert form not in text
        assert not [c for c in text if unicodedata.category(c) in HIDDEN_CATEGORIES], text


def test_every_text_of_a_careless_result_is_scrubbed_and_escaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A probe that returns every secret (password, sslpassword, client key passphrase,
    PGPASSWORD; raw, percent-encoded, in AUTH PLAIN and Basic) and ESC, NUL, BEL, a bidi
    override and a newline in every text: the runner hands on none of them."""

    async def probe(target: Target, policy: Policy) -> TargetResult:
        return careless(target, policy)

    result = run_with(probe, monkeypatch)
    assert len(texts_of(result)) == 39  # every text: none was skipped
    assert_clean(result)
    assert result.checks[0].detail.startswith("<***>\\x1b]0;x\\x07\\x00\\u202e\\n <***>")
    assert [c.id for c in result.checks] == ["pg.login", "connect"]
    assert [k for k, _ in result.facts] == ["server_version", "pg_stat_ssl"]
    assert result.protocol == "postgresql"


def test_the_same_result_without_the_runner_is_dirty() -> None:
    """The twin: the careless result itself holds every form and every control character."""
    texts = " ".join(texts_of(careless(target(), Policy())))
    assert all(form in texts for form in every_form())
    assert all(c in texts for c in NASTY)


# psycopg's own errors quote the password (a blank in it) or the whole URI (a broken host).
QUOTING = [
    (f"postgresql://probe:{PASSWORD}@db/x", 'unexpected spaces found in "***"'),
    (
        f"postgresql://probe:{quote(PASSWORD, safe='')}@[db/x",
        '"postgresql://probe:***@[db/x',
    ),
]


@pytest.mark.parametrize(("uri", "shown"), QUOTING)
def test_a_crash_quoting_the_connection_string_is_scrubbed(
    uri: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe that dies of psycopg's own error, which quotes the password or the connection
    URI, becomes the safety net's result without the password."""

    async def probe(target: Target, policy: Policy) -> TargetResult:
        psycopg.conninfo.conninfo_to_dict(uri + NASTY)
        raise AssertionError("psycopg accepted a broken URI")

    with pytest.raises(psycopg.ProgrammingError, match="Hunter"):
        psycopg.conninfo.conninfo_to_dict(uri)
    result = run_with(probe, monkeypatch)
    assert_clean(result)
    assert "the probe itself crashed" in result.checks[0].detail
    assert shown in result.checks[0].detail


@pytest.mark.parametrize(("uri", "shown"), QUOTING)
def test_an_explained_psycopg_error_is_scrubbed(
    uri: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg.login's own translation of that error carries the password out of the probe (the
    probe no longer redacts); the runner hides it."""
    settings = pgsettings.resolve(target(), {})

    async def probe(target: Target, policy: Policy) -> TargetResult:
        try:
            psycopg.conninfo.conninfo_to_dict(uri)
        except psycopg.Error as exc:
            why = explain_psycopg(exc, settings)
        assert "Hunter" in why.detail
        check = Check("pg.login", Status.FAIL, why.detail, why.hint)
        return dataclasses.replace(careless(target, policy), checks=(check,))

    result = run_with(probe, monkeypatch)
    assert_clean(result)
    assert shown in result.checks[0].detail


def test_an_overrun_is_named_without_the_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe that overruns its deadline and grace becomes the safety net's result; its name
    (here holding secrets and controls) is scrubbed and escaped like any other text."""
    monkeypatch.setattr(runner, "SAFETY_GRACE_S", 0.05)

    async def probe(target: Target, policy: Policy) -> TargetResult:
        await asyncio.sleep(10)
        return careless(target, policy)

    result = run_with(probe, monkeypatch, timeout=0.05)
    assert_clean(result)
    assert "the probe itself overran" in result.checks[0].detail
    assert result.name.startswith("db <***>\\x1b]0;x\\x07")
