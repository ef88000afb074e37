"""The PostgreSQL probe's pure parts: wire bytes, reply judging, sslmodes, psycopg errors."""

from __future__ import annotations

import struct

import psycopg
import pytest

from tlsprobe.model import Check, Status
from tlsprobe.probes.postgres import wire
from tlsprobe.probes.postgres.login import explain_psycopg, judge_login
from tlsprobe.probes.postgres.sslmodes import sslmodes
from tlsprobe.targets import parse_target, pgsettings

P, W, F = Status.PASS, Status.WARN, Status.FAIL


def test_sslrequest_is_exactly_eight_bytes() -> None:
    """The SSLRequest is the 8 bytes 00 00 00 08 04 D2 16 2F, nothing more."""
    assert wire.SSL_REQUEST == b"\x00\x00\x00\x08\x04\xd2\x16\x2f"


def test_startup_message_layout() -> None:
    """The StartupMessage carries its length, protocol 3.0, user and database, NUL-terminated."""
    message = wire.startup_message("probe", "meta")
    length, version = struct.unpack("!II", message[:8])
    assert (length, version) == (len(message), 196608)
    assert message[8:].split(b"\0")[:4] == [b"user", b"probe", b"database", b"meta"]
    assert message.endswith(b"\0\0")


@pytest.mark.parametrize(
    ("answer", "extra", "status", "words"),
    [
        (b"S", b"", P, "answered S"),
        (b"S", b"R\0\0\0\x08", F, "CVE-2021-23222"),
        (b"N", b"", F, "server has ssl = off"),
        (b"E", b"\0\0\0\x10", F, "not a PostgreSQL server, or too old"),
        (b"H", b"TTP/1.1 400", F, "not a PostgreSQL server, or too old"),
    ],
)
def test_sslrequest_answers(answer: bytes, extra: bytes, status: Status, words: str) -> None:
    """S alone passes; S with bytes after it, N, E and anything else fail with the reason."""
    check = wire.judge_answer(answer, extra)
    assert (check.id, check.status) == ("pg.sslrequest", status)
    assert words in check.detail


def error_body(code: str, message: str) -> bytes:
    return f"SFATAL\0VFATAL\0C{code}\0M{message}\0\0".encode()


def test_plaintext_refused_with_no_encryption_passes() -> None:
    """FATAL 28000 naming "no encryption" means pg_hba.conf has hostssl lines only: pass."""
    message = 'no pg_hba.conf entry for host "1.2.3.4", user "u", database "d", no encryption'
    check = wire.judge_plaintext(b"E", error_body("28000", message), "'u'")
    assert check is not None
    assert check.status is P
    assert "28000" in check.detail


def test_plaintext_authentication_request_warns() -> None:
    """An authentication request to a plaintext startup means host lines accept it: warn."""
    check = wire.judge_plaintext(b"R", struct.pack("!I", 10), "'u'")
    assert check is not None
    assert check.status is W
    assert "accepts unencrypted sessions (pg_hba.conf has host/hostnossl lines)" in check.detail
    assert "SASL" in check.detail


def test_plaintext_other_errors_cannot_tell() -> None:
    """Another error (too many clients) neither proves nor disproves plaintext: warn."""
    check = wire.judge_plaintext(b"E", error_body("53300", "sorry, too many clients"), "'u'")
    assert check is not None
    assert check.status is W
    assert "could not tell" in check.detail


def test_plaintext_notice_is_read_past() -> None:
    """A NoticeResponse asks for the next message rather than deciding."""
    assert wire.judge_plaintext(b"N", b"", "'u'") is None


def checks(**statuses: Status) -> dict[str, Check]:
    ids = {"sslrequest": "pg.sslrequest", "handshake": "tls.handshake", "chain": "cert.chain"}
    ids |= {"hostname": "cert.hostname", "expiry": "cert.expiry", "plaintext": "pg.plaintext"}
    found = {ids[k]: Check(ids[k], s) for k, s in statuses.items()}
    if found.get("pg.plaintext", Check("", P)).status is W:
        found["pg.plaintext"] = Check("pg.plaintext", W, "accepts unencrypted sessions")
    return found


def test_sslmodes_all_good() -> None:
    """With hostssl-only and a good certificate, every TLS mode connects, disable is refused."""
    good = checks(sslrequest=P, handshake=P, chain=P, hostname=P, expiry=P, plaintext=P)
    assert sslmodes(good, legacy=False) == (
        "disable: refused (pg_hba.conf requires TLS); allow/prefer/require: TLS without "
        "verifying; verify-ca: TLS, chain verified; verify-full: TLS, chain and host name verified"
    )


def test_sslmodes_wrong_host_and_plaintext_allowed() -> None:
    """A wrong host name stops only verify-full; host lines let disable and allow in clear."""
    bad = checks(sslrequest=P, handshake=P, chain=P, hostname=F, expiry=P, plaintext=W)
    assert sslmodes(bad, legacy=False) == (
        "disable/allow: plaintext; prefer/require: TLS without verifying; "
        "verify-ca: TLS, chain verified; verify-full: refuses (host name)"
    )


def test_sslmodes_ssl_off() -> None:
    """With ssl = off the modes that need TLS refuse and the others go plaintext."""
    off = checks(sslrequest=F, plaintext=W)
    assert sslmodes(off, legacy=False) == (
        "disable/allow/prefer: plaintext; require/verify-ca/verify-full: refuses "
        "(server has ssl = off)"
    )


def test_sslmodes_after_direct_tls() -> None:
    """With direct TLS (no SSLRequest sent) the modes are judged from the handshake alone."""
    direct = checks(sslrequest=Status.SKIP, handshake=P, chain=P, hostname=P, expiry=P, plaintext=P)
    assert sslmodes(direct, legacy=False).endswith("verify-full: TLS, chain and host name verified")


def test_sslmodes_legacy_server_fails_every_tls_mode() -> None:
    """A server libpq's OpenSSL refuses (TLS 1.0) leaves prefer in plaintext, require refused."""
    old = checks(sslrequest=P, handshake=P, chain=P, hostname=P, expiry=P, plaintext=W)
    outcome = sslmodes(old, legacy=True)
    assert outcome == (
        "disable/allow/prefer: plaintext; require/verify-ca/verify-full: refuses "
        "(TLS handshake fails)"
    )


SETTINGS = pgsettings.resolve(parse_target("postgresql://probe:hunter2@db/x"), {})


def test_login_pass_and_fallback_fail() -> None:
    """TLS in pg_stat_ssl passes; no TLS under prefer fails; no TLS under disable warns."""
    assert judge_login(SETTINGS, True, "TLSv1.3 X").status is P
    assert judge_login(SETTINGS, False, "None None").status is F
    disable = pgsettings.resolve(parse_target("postgresql://probe@db/x?sslmode=disable"), {})
    assert judge_login(disable, False, "None None").status is W


@pytest.mark.parametrize(
    ("message", "kind", "words"),
    [
        ('FATAL:  password authentication failed for user "probe"', "pg-auth", "28P01"),
        ("fe_sendauth: no password supplied", "pg-auth", "none was given"),
        ('FATAL:  no pg_hba.conf entry for host "1.2.3.4"', "pg-hba", "pg_hba.conf"),
        ('server certificate for "x" does not match host name "y"', "tls-verify", "host name"),
        ("SSL error: certificate verify failed", "tls-verify", "refused the certificate"),
        ('root certificate file "/r.pem" does not exist', "pg-config", "root certificate"),
        ("server does not support SSL, but SSL was required", "pg-nossl", "sslmode=prefer"),
        ("timeout expired", "timeout", "connect timeout"),
        ("Connection refused", "refused", "connection refused"),
        ('could not translate host name "nope"', "dns", "resolve"),
        ('FATAL:  database "x" does not exist', "pg-missing", "does not exist"),
    ],
)
def test_libpq_errors_in_plain_language(message: str, kind: str, words: str) -> None:
    """Each libpq failure a login can meet is named plainly."""
    exc = psycopg.OperationalError(f"connection failed: {message}")
    why = explain_psycopg(exc, SETTINGS)
    assert (why.kind, words in why.detail) == (kind, True)


def every_subclass(cls: type[BaseException]) -> list[type[BaseException]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += every_subclass(sub)
    return found


def test_every_psycopg_exception_is_mapped() -> None:
    """Every psycopg exception class becomes an explained fact, never "internal" (the
    runner's scrub hides passwords in it: tests/test_secrets.py)."""
    for cls in every_subclass(psycopg.Error):
        why = explain_psycopg(cls("boom"), SETTINGS)
        assert why.kind != "internal", cls
        assert "boom" in why.detail, cls


def test_non_psycopg_errors_are_explained_and_redacted() -> None:
    """An OS error at login is explained by the shared boundary."""
    why = explain_psycopg(ConnectionResetError(104, "reset"), SETTINGS)
    assert why.kind == "reset"
