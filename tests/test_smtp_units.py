"""The SMTP probe's edges: no password in any output, targets, the aiosmtplib boundary, and a
real aiosmtpd server as a check on the lab's own."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import re
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as AiosmtpdServer
from aiosmtpd.smtp import AuthResult, LoginPassword
from aiosmtplib import errors as smtp_errors

from conftest import detail, statuses
from tlsprobe.cli import main
from tlsprobe.failures import KIND_HINTS, Kind
from tlsprobe.lab import Lab
from tlsprobe.lab.certs import Pki
from tlsprobe.model import Policy, TargetResult
from tlsprobe.probes import smtp
from tlsprobe.probes.base import Step
from tlsprobe.probes.smtp import steps
from tlsprobe.probes.smtp import verdicts as smtp_checks
from tlsprobe.probes.smtp.session import Tap, explain_smtp
from tlsprobe.runner import probe_one
from tlsprobe.targets import parse_target

SECRET = "s3cret-pw"


def secret_forms(user: str, password: str) -> list[str]:
    raw = password.encode()
    return [
        password,
        base64.b64encode(raw).decode(),
        base64.b64encode(b"\0" + user.encode() + b"\0" + raw).decode(),
    ]


@pytest.mark.parametrize("extra", [["-vv"], ["--format", "json"]])
def test_password_in_no_output(
    lab: Lab, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    """Neither the table with -vv nor JSON holds the password in any form; AUTH reads ***."""
    urls = [lab.url("smtp-good"), lab.url("smtps-good"), lab.url("smtp-wrong-password")]
    main(["check", "--timeout", "3", "--ca-file", str(lab.ca_file), *extra, *urls])
    out, err = capsys.readouterr()
    for form in [*secret_forms("probe", SECRET), *secret_forms("probe", "wrong-pw")]:
        assert form not in out + err
    assert "C: AUTH PLAIN ***" in out
    if extra[0] == "--format":
        transcript = json.loads(out)["results"][0]["transcript"]
        assert any(line.endswith("C: AUTH PLAIN ***") for line in transcript)


def run_tap(writes: list[bytes], redact: bool) -> list[str]:
    """Write through a Tap on a fake transport; return what it logged."""
    loop = asyncio.new_event_loop()
    logged: list[str] = []
    try:
        tap = Tap(loop, logged.append)

        class Sink(asyncio.Transport):
            def write(self, data: Any) -> None:
                pass

            def is_closing(self) -> bool:
                return False

        tap.connection_made(Sink())
        tap.redact = redact
        for data in writes:
            tap.write(data)
    finally:
        loop.close()
    return logged


def test_auth_login_payloads_are_redacted() -> None:
    """AUTH LOGIN's user and password lines, and any AUTH payload, are logged as ***."""
    user, password = base64.b64encode(b"probe"), base64.b64encode(SECRET.encode())
    logged = run_tap([b"AUTH LOGIN " + user + b"\r\n", password + b"\r\n"], redact=True)
    assert logged == ["C: AUTH LOGIN ***", "C: ***"]
    # Even outside a login exchange, an AUTH line never shows its payload.
    assert run_tap([b"auth plain AHByb2JlAHMzY3JldC1wdw==\r\n"], redact=False) == [
        "C: AUTH plain ***"
    ]


def test_user_name_with_at_sign() -> None:
    """A user name holding "@", as Airflow writes it, parses; default ports are 587 and 465."""
    target = parse_target("smtp://airflow@example.com:secret@smtp.example.com")
    assert (target.user, target.password) == ("airflow@example.com", "secret")
    assert (target.host, target.port) == ("smtp.example.com", 587)
    assert "secret" not in target.display
    assert parse_target("smtps://mail.example.com").port == 465
    assert smtp.ids_for(target)[-1] == "smtp.login"


def aiosmtplib_exceptions() -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(smtp_errors, inspect.isclass)
        if issubclass(cls, smtp_errors.SMTPException)
    ]


def make(cls: type[BaseException]) -> BaseException:
    for args in (("boom",), (421, "boom"), (550, "boom", "a@b"), ([],)):
        try:
            return cls(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls.__name__}")


@pytest.mark.parametrize("cls", aiosmtplib_exceptions(), ids=lambda c: c.__name__)
def test_every_aiosmtplib_exception_is_explained(cls: type[BaseException]) -> None:
    """Every aiosmtplib exception becomes a plain-language fact, never "unexpected error"."""
    why = explain_smtp(make(cls), steps.GREETING)
    assert why.kind != "internal"
    assert "unexpected" not in why.detail


def test_closed_during_greeting_and_after_220() -> None:
    """A disconnect reads differently before the greeting and after 220 to STARTTLS."""
    closed = smtp_errors.SMTPServerDisconnected("Unexpected EOF received")
    assert "before its greeting" in explain_smtp(closed, steps.GREETING).detail
    after = explain_smtp(closed, steps.HANDSHAKE_AFTER_STARTTLS)
    assert "after answering 220 to STARTTLS" in after.detail


@pytest.mark.parametrize(
    ("step", "detail", "hint"),
    [
        (steps.CONNECT, "before its greeting was complete", "refuses this client"),
        (steps.BANNER, "before its greeting was complete", "refuses this client"),
        (steps.EHLO_IMPLICIT, "instead of answering EHLO", "refuses this client"),
        (steps.EHLO_TLS, "instead of answering EHLO inside TLS", ""),
        (steps.HANDSHAKE, "during the TLS handshake", "may not speak TLS on this port"),
        (steps.LOGIN, "during AUTH", ""),
        (steps.INJECTION, "during smtp.starttls_injection", ""),
    ],
)
def test_closed_words_are_the_steps_own_or_its_checks(step: Step, detail: str, hint: str) -> None:
    """A closed connection is said by its step's own words, else its check's, part by part
    (an EHLO phase of connect has its own place and connect's hint); else the step is named."""
    why = explain_smtp(smtp_errors.SMTPServerDisconnected("Unexpected EOF received"), step)
    assert why.detail == f"the server closed the connection {detail}"
    assert hint in why.hint
    if not hint:
        assert why.hint == KIND_HINTS[Kind.EOF]


def test_injection_window_stays_inside_the_deadline() -> None:
    """The injection wait is bounded below, above, and by what is left of the deadline."""
    assert smtp_checks.injection_window(0.001, 10) == smtp_checks.INJECTION_WAIT_MIN
    assert smtp_checks.injection_window(5, 10) == smtp_checks.INJECTION_WAIT_MAX
    assert smtp_checks.injection_window(0.1, 0.25) == pytest.approx(0.15)


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"probe", b"s3cret-pw")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535


async def probe_aiosmtpd(pki: Pki, password: str) -> TargetResult:
    identity = pki.issue("aiosmtpd")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(identity.chain, identity.key)

    def factory() -> AiosmtpdServer:
        return AiosmtpdServer(
            Sink(), hostname="aiosmtpd.lab", tls_context=ctx, authenticator=authenticator
        )

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        target = parse_target(f"smtp://probe:{password}@localhost:{port}")
        return await smtp.probe(target, Policy(timeout=3.0, ca_file=pki.ca_file))
    finally:
        server.close()
        await server.wait_closed()


def test_real_aiosmtpd_server(tmp_path: Path) -> None:
    """aiosmtpd (AUTH only inside TLS) passes STARTTLS, TLS and login; a wrong password fails."""
    pki = Pki(tmp_path)
    good = asyncio.run(probe_aiosmtpd(pki, SECRET))
    bad = asyncio.run(probe_aiosmtpd(pki, "wrong-pw"))
    every = {
        "connect": "pass",
        "smtp.starttls": "pass",
        "tls.handshake": "pass",
        "tls.version": "pass",
        "cert.chain": "pass",
        "cert.hostname": "pass",
        "cert.expiry": "pass",
        "smtp.auth_before_tls": "pass",
        "smtp.starttls_injection": "pass",
        "smtp.login": "pass",
        "tls.legacy": "pass",  # aiosmtpd's default context refuses TLS 1.0 and 1.1
    }
    assert statuses(good) == every
    assert statuses(bad) == {**every, "smtp.login": "fail"}


async def probe_greeting(greeting: bytes) -> TargetResult:
    """Probe, through the runner, a server that greets with `greeting` and then waits."""

    handlers: list[asyncio.Task[Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        writer.write(greeting)
        with contextlib.suppress(OSError):
            await writer.drain()
            await reader.read()  # until the probe hangs up
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await probe_one(parse_target(f"smtp://localhost:{port}"), Policy(timeout=3.0))
    finally:
        server.close()
        await asyncio.wait(handlers, timeout=2.0)
        await server.wait_closed()


def test_a_greeting_with_no_line_end_says_what_came() -> None:
    """64 KB with no line end reads as that many bytes with no line end, quoting their start
    with its control characters written out, not as "(nothing)"."""
    result = asyncio.run(probe_greeting(b"\x1b[2J" + b"A" * 65532))
    assert statuses(result)["connect"] == "fail"
    said = re.fullmatch(
        r"the greeting is not SMTP: (\d+) bytes came with no line end; they begin (.*)",
        detail(result, "connect"),
    )
    assert said is not None
    assert 32768 < int(said.group(1)) <= 65536
    assert said.group(2) == "\\x1b[2J" + "A" * 56


def test_a_greeting_line_that_is_not_smtp_is_quoted() -> None:
    """The twin: a complete line that is not SMTP (an SSH banner) is quoted as it came."""
    result = asyncio.run(probe_greeting(b"SSH-2.0-OpenSSH_9.6\r\n"))
    assert statuses(result)["connect"] == "fail"
    assert detail(result, "connect") == "the greeting is not SMTP: SSH-2.0-OpenSSH_9.6"
