"""client.encryption exactly: the ClientTls each configuration gives (every field) and the Check
each ClientTls is judged to, word for word, so that no flag or verdict can change unseen."""

from __future__ import annotations

import pytest

from tlsprobe.model import Check, Status
from tlsprobe.targets.client_tls import (
    ClientTls,
    Encrypts,
    for_http,
    for_postgres_params,
    for_sslmode,
    judge,
)

NO, MAYBE, YES = Encrypts.NO, Encrypts.MAYBE, Encrypts.YES
DEFAULT = "sslmode not set: libpq's default prefer"


def test_judge_of_a_client_that_does_not_encrypt() -> None:
    """A client configured not to encrypt fails, quoting its setting, whatever it verifies."""
    assert judge(ClientTls("sslmode=disable", NO, True, True)) == Check(
        "client.encryption",
        Status.FAIL,
        "the client is configured not to encrypt (sslmode=disable)",
        "enable TLS in the client's configuration",
    )


def test_judge_of_a_client_that_may_fall_back() -> None:
    """A client that may fall back to plaintext warns, even if it would verify."""
    assert judge(ClientTls("sslmode=prefer", MAYBE, True, True)) == Check(
        "client.encryption",
        Status.WARN,
        "the client falls back to plaintext without a word (sslmode=prefer)",
        "require TLS and verify the certificate (for PostgreSQL: sslmode=verify-full)",
    )


def test_judge_of_a_client_that_does_not_verify_the_chain() -> None:
    """Encrypting without verifying the chain warns (the host check alone is worth nothing)."""
    assert judge(ClientTls("sslmode=require", YES, False, True)) == Check(
        "client.encryption",
        Status.WARN,
        "the client encrypts but does not verify the certificate (sslmode=require)",
        "verify the certificate chain (for PostgreSQL: sslmode=verify-full and sslrootcert)",
    )


def test_judge_of_a_client_that_does_not_verify_the_host() -> None:
    """Verifying the chain but not the host name warns."""
    assert judge(ClientTls("sslmode=verify-ca", YES, True, False)) == Check(
        "client.encryption",
        Status.WARN,
        "the client verifies the chain but not the host name (sslmode=verify-ca)",
        "check the host name too (for PostgreSQL: sslmode=verify-full)",
    )


def test_judge_of_a_client_that_encrypts_and_verifies() -> None:
    """Encrypting and verifying chain and host passes, with no hint."""
    assert judge(ClientTls("sslmode=verify-full", YES)) == Check(
        "client.encryption", Status.PASS, "encrypts and verifies (sslmode=verify-full)", ""
    )


@pytest.mark.parametrize(
    ("sslmode", "root", "expected"),
    [
        ("disable", None, ClientTls("sslmode=disable", NO, False, False)),
        ("allow", None, ClientTls("sslmode=allow", MAYBE, False, False)),
        ("prefer", None, ClientTls("sslmode=prefer", MAYBE, False, False)),
        ("require", None, ClientTls("sslmode=require", YES, False, False)),
        ("verify-ca", None, ClientTls("sslmode=verify-ca", YES, True, False)),
        ("verify-full", None, ClientTls("sslmode=verify-full", YES, True, True)),
        (None, None, ClientTls(DEFAULT, MAYBE, False, False)),
        # libpq verifies the chain in require mode when a root certificate is given; in no
        # mode does a root certificate make it check the host name, and without TLS
        # (disable) there is nothing to verify.
        ("require", "/r.pem", ClientTls("sslmode=require", YES, True, False)),
        ("disable", "/r.pem", ClientTls("sslmode=disable", NO, False, False)),
        ("verify-ca", "/r.pem", ClientTls("sslmode=verify-ca", YES, True, False)),
        ("require", "", ClientTls("sslmode=require", YES, False, False)),
        # libpq reads sslmode case-insensitively.
        ("REQUIRE", "/r.pem", ClientTls("sslmode=require", YES, True, False)),
        ("Verify-Full", None, ClientTls("sslmode=verify-full", YES, True, True)),
    ],
)
def test_for_sslmode(sslmode: str | None, root: str | None, expected: ClientTls) -> None:
    """Each sslmode, with and without a root certificate, behaves as libpq documents."""
    assert for_sslmode(sslmode, root) == expected


def test_for_sslmode_names_where_the_mode_came_from() -> None:
    """The origin follows the mode in the setting quoted by the verdict."""
    assert for_sslmode("require", None, " from PGSSLMODE") == ClientTls(
        "sslmode=require from PGSSLMODE", YES, False, False
    )


@pytest.mark.parametrize("sslmode", ["verify-everything", "requires", ""])
def test_for_sslmode_unknown(sslmode: str) -> None:
    """An sslmode libpq does not know gives None (the probe reports it); empty is the default."""
    expected = ClientTls(DEFAULT, MAYBE, False, False) if sslmode == "" else None
    assert for_sslmode(sslmode, "/r.pem") == expected


@pytest.mark.parametrize(
    ("params", "env", "expected"),
    [
        # The target's own sslmode, with the target's own root certificate.
        (
            {"sslmode": "require", "sslrootcert": "/own.pem"},
            {"PGSSLMODE": "disable"},
            ClientTls("sslmode=require", YES, True, False),
        ),
        ({"sslmode": "require"}, {}, ClientTls("sslmode=require", YES, False, False)),
        # PGSSLMODE, with a root certificate from the target or from PGSSLROOTCERT.
        (
            {"sslrootcert": "/own.pem"},
            {"PGSSLMODE": "require"},
            ClientTls("sslmode=require from PGSSLMODE", YES, True, False),
        ),
        (
            {},
            {"PGSSLMODE": "require", "PGSSLROOTCERT": "/env.pem"},
            ClientTls("sslmode=require from PGSSLMODE", YES, True, False),
        ),
        (
            {},
            {"PGSSLMODE": "require"},
            ClientTls("sslmode=require from PGSSLMODE", YES, False, False),
        ),
        (
            {},
            {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/env.pem"},
            ClientTls("sslmode=verify-full from PGSSLMODE", YES, True, True),
        ),
        # Neither: libpq's default prefer, which may fall back whatever the root certificate.
        ({}, {"PGSSLROOTCERT": "/env.pem"}, ClientTls(DEFAULT, MAYBE, False, False)),
        ({"sslrootcert": "/own.pem"}, {}, ClientTls(DEFAULT, MAYBE, False, False)),
    ],
)
def test_for_postgres_params(
    params: dict[str, str], env: dict[str, str], expected: ClientTls
) -> None:
    """The target's sslmode wins over PGSSLMODE, which wins over prefer; the root certificate
    that makes require verify comes from the target, else from PGSSLROOTCERT."""
    assert for_postgres_params(params, env) == expected


def test_for_postgres_params_unknown_mode() -> None:
    """An unknown sslmode from the target or from PGSSLMODE gives None, for the probe to report."""
    assert for_postgres_params({"sslmode": "sure"}, {}) is None
    assert for_postgres_params({}, {"PGSSLMODE": "sure"}) is None


def test_for_http() -> None:
    """A plain http:// base URL neither encrypts nor verifies; https:// does both."""
    assert for_http("http", "base_url") == ClientTls("base_url: plain http://", NO, False, False)
    assert for_http("https", "base_url") == ClientTls("base_url: https://", YES, True, True)
