"""client.encryption: the connection as configured, judged per CASES.md's last table."""

from __future__ import annotations

import pytest

from tlsprobe.targets.client_tls import for_http, for_postgres_params, for_sslmode, judge


@pytest.mark.parametrize(
    ("sslmode", "root", "status"),
    [
        ("disable", None, "fail"),
        ("allow", None, "warn"),
        ("prefer", None, "warn"),
        (None, None, "warn"),
        ("require", None, "warn"),
        ("verify-ca", "/etc/root.pem", "warn"),
        ("verify-full", "/etc/root.pem", "pass"),
    ],
)
def test_sslmodes(sslmode: str | None, root: str | None, status: str) -> None:
    """Each libpq sslmode gets the verdict CASES.md gives it."""
    client = for_sslmode(sslmode, root)
    assert client is not None
    assert judge(client).status.value == status


def test_require_with_root_certificate_still_skips_host_check() -> None:
    """require plus a root certificate verifies the chain (libpq does) but not the host name."""
    client = for_sslmode("require", "/etc/root.pem")
    assert client is not None
    check = judge(client)
    assert check.status.value == "warn"
    assert "not the host name" in check.detail


def test_unknown_sslmode_is_not_judged_here() -> None:
    """An sslmode libpq does not know is left to the probe, which reports it as an error."""
    assert for_sslmode("verify-everything", None) is None


def test_target_sslmode_wins_over_environment() -> None:
    """The target's own sslmode wins over PGSSLMODE, which wins over libpq's default prefer."""
    own = for_postgres_params({"sslmode": "verify-full"}, {"PGSSLMODE": "disable"})
    from_env = for_postgres_params({}, {"PGSSLMODE": "disable"})
    default = for_postgres_params({}, {})
    assert own is not None
    assert from_env is not None
    assert default is not None
    assert judge(own).status.value == "pass"
    assert judge(from_env).status.value == "fail"
    assert "PGSSLMODE" in judge(from_env).detail
    assert "default prefer" in judge(default).detail


def test_http_base_url() -> None:
    """An http:// web server fails client.encryption and its https:// twin passes."""
    assert judge(for_http("http", "base_url")).status.value == "fail"
    assert judge(for_http("https", "base_url")).status.value == "pass"
