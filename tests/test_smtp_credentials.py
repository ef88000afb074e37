"""SMTP credentials go only where a default client would send them, as HTTPS Basic credentials
do: a chain that verified, in date, for this host, without legacy TLS. Anywhere else smtp.login
is skipped saying why, the transcript says the credentials were withheld, and no AUTH is sent
(a real aiosmtpd server counts the AUTH attempts it receives)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.smtp import SMTP as AiosmtpdServer
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import detail, probe_urls, statuses
from tlsprobe.lab import Lab
from tlsprobe.lab.certs import DAY, Pki
from tlsprobe.lab.smtp import PASSWORD, USER
from tlsprobe.model import Policy, TargetResult
from tlsprobe.probes import smtp
from tlsprobe.targets import parse_target

TIMEOUT = 3.0
WITHHELD = "not run: credentials withheld: "


def with_login(url: str) -> str:
    """The lab URL `url` with the lab's user and password in it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{USER}:{PASSWORD}@{parts.netloc.rpartition('@')[2]}"


def probe(url: str, ca_file: Path | None) -> TargetResult:
    return probe_urls([url], Policy(timeout=TIMEOUT, ca_file=ca_file))[0]


def sent_auth(result: TargetResult) -> bool:
    return any("C: AUTH" in line for line in result.transcript)


def assert_withheld(result: TargetResult, why: str) -> None:
    assert statuses(result)["smtp.login"] == "skip"
    assert detail(result, "smtp.login") == WITHHELD + why
    assert not sent_auth(result)
    assert any(f"credentials in the URL withheld: {why}" in line for line in result.transcript)


def test_implicit_tls_with_a_trusted_chain_logs_in(lab: Lab) -> None:
    """smtps-good with the lab's root trusted: AUTH goes, and the login passes."""
    result = probe(lab.url("smtps-good"), lab.ca_file)
    assert statuses(result)["smtp.login"] == "pass"
    assert sent_auth(result)


def test_implicit_tls_with_an_untrusted_chain_withholds_the_password(lab: Lab) -> None:
    """The twin without --ca-file: the chain does not verify, so no AUTH is sent."""
    result = probe(lab.url("smtps-good"), None)
    assert statuses(result)["cert.chain"] == "fail"
    assert_withheld(result, "the certificate chain did not verify")


def test_starttls_with_a_good_certificate_logs_in(lab: Lab) -> None:
    """smtp-good with credentials and the lab's root: STARTTLS, then AUTH, which passes."""
    result = probe(with_login(lab.url("smtp-good")), lab.ca_file)
    assert statuses(result)["smtp.login"] == "pass"
    assert sent_auth(result)


def test_starttls_with_an_expired_certificate_withholds_the_password(lab: Lab) -> None:
    """The twin: smtp-expired (a trusted chain, but its leaf expired) gets no AUTH."""
    result = probe(with_login(lab.url("smtp-expired")), lab.ca_file)
    assert statuses(result)["cert.expiry"] == "fail"
    assert_withheld(result, "a certificate is expired or not yet valid")


def test_a_certificate_for_another_host_withholds_the_password(lab: Lab) -> None:
    """A trusted, valid certificate that does not name the host asked for gets no AUTH."""
    port = urlsplit(lab.url("smtp-good")).port
    url = f"smtp://{USER}:{PASSWORD}@mail.other.test:{port}#connect=127.0.0.1"
    result = probe(url, lab.ca_file)
    assert statuses(result)["cert.hostname"] == "fail"
    assert_withheld(result, "the certificate is not for mail.other.test")


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


async def probe_aiosmtpd(pki: Pki, expired: bool) -> tuple[TargetResult, list[bytes]]:
    """Probe a real aiosmtpd STARTTLS server with credentials; the passwords it was sent."""
    if expired:
        identity = pki.issue("aiosmtpd", not_before=pki.now - 30 * DAY, not_after=pki.now - DAY)
    else:
        identity = pki.issue("aiosmtpd")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(identity.chain, identity.key)
    received: list[bytes] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if isinstance(data, LoginPassword):
            received.append(data.password)
        return AuthResult(success=True)

    def factory() -> AiosmtpdServer:
        return AiosmtpdServer(Sink(), tls_context=ctx, authenticator=authenticator)

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        target = parse_target(f"smtp://{USER}:{PASSWORD}@localhost:{port}")
        result = await smtp.probe(target, Policy(timeout=TIMEOUT, ca_file=pki.ca_file))
    finally:
        server.close()
        await server.wait_closed()
    return result, received


@pytest.mark.parametrize("expired", [False, True], ids=["in date", "expired"])
def test_aiosmtpd_receives_the_password_only_from_a_trusted_session(
    tmp_path: Path, expired: bool
) -> None:
    """aiosmtpd is sent the password over a session with a good certificate, and is sent
    nothing at all when its certificate expired a day ago."""
    pki = Pki(tmp_path)
    result, received = asyncio.run(probe_aiosmtpd(pki, expired))
    if expired:
        assert received == []
        assert statuses(result)["smtp.login"] == "skip"
    else:
        assert received == [PASSWORD.encode()]
        assert statuses(result)["smtp.login"] == "pass"
