"""cert.expiry's warning window for short-lived certificates: the rule at its boundaries (pure),
its flags and tlsprobe.toml keys at the door, and real TLS servers with lab certificates of
chosen lifetimes probed end to end."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from certbuild import DAY, EC_KEY, NOW, RSA_2048, build
from tlsprobe.cli import main
from tlsprobe.failures import UsageError
from tlsprobe.lab.certs import Identity, Pki
from tlsprobe.model import Check, Policy, Status, TargetResult, utc_text, warn_fraction
from tlsprobe.plan import Flags, Sources, make_plan
from tlsprobe.runner import probe_one
from tlsprobe.targets import parse_target
from tlsprobe.tls import expiry_check
from tlsprobe.tls.expiry import warn_window

SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
THIRD = 1 / 3
DAYS_HINT = "renew it: the warning window is 14 days"
SIX_DAY_HINT = (
    "renew it: the warning window is the last 1/3 of its lifetime of 6 days: 2 days, less "
    "than --expiry-warn-days 14"
)


# --- the rule, pure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifetime_days", "warn_days", "fraction", "window"),
    [
        (365, 14, THIRD, 14 * DAY),  # 1 year: the days come later
        (90, 14, THIRD, 14 * DAY),  # Let's Encrypt
        (47, 14, THIRD, 14 * DAY),  # 15.7 days of a third: the days still come later
        (42, 14, THIRD, 14 * DAY),  # the crossover: both are 14 days
        (41, 14, THIRD, 41 * DAY / 3),  # just under it: the fraction comes later
        (6, 14, THIRD, 2 * DAY),  # short-lived
        (6, 1, THIRD, 1 * DAY),  # fewer days than the fraction: the days come later
        (6, 14, 0.25, 1.5 * DAY),
        (6, 0, THIRD, dt.timedelta(0)),  # no warning at all
        (6, 10**12, THIRD, 2 * DAY),  # clamped days, no overflow
    ],
)
def test_warn_window_is_the_later_of_the_two_points(
    lifetime_days: int, warn_days: int, fraction: float, window: dt.timedelta
) -> None:
    """The window is the smaller of warn_days and fraction x lifetime: the later point."""
    assert warn_window(lifetime_days * DAY, warn_days, fraction) == window


def cert_left(lifetime: dt.timedelta, left: dt.timedelta) -> x509.Certificate:
    """A leaf of `lifetime` with `left` of it remaining at NOW."""
    return build("db.lab.test", not_before=NOW + left - lifetime, not_after=NOW + left)


def end_text(left: dt.timedelta) -> str:
    return utc_text(NOW + left)


@pytest.mark.parametrize(
    ("lifetime", "left", "expected"),
    [
        (6 * DAY, 5 * DAY, None),
        (6 * DAY, 2 * DAY, None),
        (6 * DAY, 2 * DAY - SECOND, ("2 days", SIX_DAY_HINT)),
        (6 * DAY, 1 * DAY, ("1 day", SIX_DAY_HINT)),
        (365 * DAY, 14 * DAY, None),
        (365 * DAY, 14 * DAY - SECOND, ("14 days", DAYS_HINT)),
        (47 * DAY, 14 * DAY - SECOND, ("14 days", DAYS_HINT)),
        (90 * DAY, 15 * DAY, None),
    ],
    ids=["6d-5left", "6d-2left", "6d-2left-1s", "6d-1left", "1y-14", "1y-14-1s", "47d", "90d"],
)
def test_expiry_check_at_the_window_boundary(
    lifetime: dt.timedelta, left: dt.timedelta, expected: tuple[str, str] | None
) -> None:
    """Exactly the window left passes; a second less warns, with the hint naming which rule."""
    check = expiry_check([cert_left(lifetime, left)], NOW, 14)
    if expected is None:
        assert check == Check("cert.expiry", Status.PASS, f"leaf valid until {end_text(left)}")
    else:
        said, hint = expected
        detail = f"leaf expires in {said} ({end_text(left)})"
        assert check == Check("cert.expiry", Status.WARN, detail, hint)


@pytest.mark.parametrize(
    ("left", "status"),
    [(2 * DAY, Status.WARN), (2 * DAY - SECOND, Status.FAIL), (HOUR, Status.FAIL)],
)
def test_expiry_fail_days_boundary(left: dt.timedelta, status: Status) -> None:
    """With fail_days 2, exactly 2 days left warns (inside 14) and a second less fails."""
    check = expiry_check([cert_left(365 * DAY, left)], NOW, 14, fail_days=2)
    assert check.status is status
    if status is Status.FAIL:
        assert check.hint == "renew it now: --expiry-fail-days is 2"


def test_expiry_fail_days_zero_fails_only_once_expired() -> None:
    """The default fail_days 0: a certificate at its last second warns; one second past, fails."""
    cert = cert_left(6 * DAY, dt.timedelta(0))
    assert expiry_check([cert], NOW, 14).status is Status.WARN
    late = expiry_check([cert], NOW + SECOND, 14)
    assert (late.status, late.hint) == (Status.FAIL, "renew the certificate")


def test_each_certificate_is_judged_on_its_own_lifetime() -> None:
    """A 6-day leaf with 3 days left passes; its 1-year intermediate with 10 days left warns."""
    issuer = ("Lab Intermediate", RSA_2048)
    leaf = build("db.lab.test", issuer=issuer, not_before=NOW - 3 * DAY, not_after=NOW + 3 * DAY)
    inter = build(
        "Lab Intermediate",
        key=RSA_2048,
        issuer=("Lab Root", EC_KEY),
        not_before=NOW - 355 * DAY,
        not_after=NOW + 10 * DAY,
    )
    check = expiry_check([leaf, inter], NOW, 14)
    assert (check.status, check.hint) == (Status.WARN, DAYS_HINT)
    assert check.detail.startswith("intermediate CN=Lab Intermediate expires in 10 days")
    assert expiry_check([leaf], NOW, 14).status is Status.PASS


# --- the door: flags and tlsprobe.toml ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "share"),
    [("1/3", 1 / 3), ("0.25", 0.25), (".5", 0.5), ("1/4", 0.25), (0.2, 0.2), ("99/100", 0.99)],
)
def test_warn_fraction_accepts_shares(value: object, share: float) -> None:
    """A decimal or a ratio strictly between 0 and 1 is a fraction."""
    assert warn_fraction(value) == share


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "1",
        "1/1",
        "3/2",
        "1/0",
        "-1/3",
        " 1/3",
        "1e-1",
        "nan",
        "\u0661/\u0663",
        "",
        True,
        0,
        1,
        float("nan"),
        float("inf"),
        None,
        [0.5],
    ],
)
def test_warn_fraction_refuses_the_rest(value: object) -> None:
    """0 (never warns), 1 (always), outside, signs, blanks, exponents, other digits: none."""
    assert warn_fraction(value) is None


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        (
            "--expiry-warn-fraction",
            "1",
            "expected a share of the lifetime between 0 and 1, "
            "exclusive (e.g. 1/3 or 0.25), got '1'",
        ),
        ("--expiry-warn-fraction", "0", "got '0'"),
        ("--expiry-warn-fraction", "-0.5", "got '-0.5'"),
        ("--expiry-fail-days", "-1", "invalid number of days (0 to 36500) value: '-1'"),
    ],
)
def test_bad_expiry_flags_are_one_line_and_exit_2(
    flag: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fraction outside (0, 1) or negative fail days: one stderr line, exit 2, nothing probed."""
    assert run(["check", f"{flag}={value}", "https://127.0.0.1:1/"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"tlsprobe check: error: argument {flag}: ")
    assert line.endswith(f"{says} (see tlsprobe check --help)")


def plan_policy(tmp_path: Path, defaults: str, flags: Flags | None = None) -> Policy:
    config = tmp_path / "tlsprobe.toml"
    config.write_text(f"[defaults]\n{defaults}\n")
    sources = Sources(urls=("https://db.lab.test/",), config=config)
    return make_plan(sources, flags or Flags(), {}, default_timeout=10.0).policy


def test_toml_keys_set_the_policy_and_flags_win(tmp_path: Path) -> None:
    """[defaults] expiry_warn_fraction ("1/4" or 0.25) and expiry_fail_days reach the Policy;
    the flags win over them; neither given leaves 1/3 and 0."""
    policy = plan_policy(tmp_path, 'expiry_warn_fraction = "1/4"\nexpiry_fail_days = 3')
    assert (policy.expiry_warn_fraction, policy.expiry_fail_days) == (0.25, 3)
    flags = Flags(expiry_warn_fraction=0.5, expiry_fail_days=1)
    policy = plan_policy(tmp_path, "expiry_warn_fraction = 0.25\nexpiry_fail_days = 3", flags)
    assert (policy.expiry_warn_fraction, policy.expiry_fail_days) == (0.5, 1)
    policy = plan_policy(tmp_path, "")
    assert (policy.expiry_warn_fraction, policy.expiry_fail_days) == (THIRD, 0)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            "expiry_warn_fraction = 1.0",
            "expiry_warn_fraction: expected a number between 0 and 1, "
            'exclusive, or a text such as "1/3", got 1.0',
        ),
        (
            'expiry_warn_fraction = "a third"',
            "expiry_warn_fraction: expected a number between 0 "
            'and 1, exclusive, or a text such as "1/3", got a string',
        ),
        (
            "expiry_fail_days = -1",
            "expiry_fail_days: expected a whole number of days, 0 to 36500, got -1",
        ),
    ],
)
def test_bad_toml_expiry_keys_are_usage_errors(tmp_path: Path, line: str, says: str) -> None:
    """An out-of-range fraction or fail days in [defaults] is a UsageError naming file and key."""
    with pytest.raises(UsageError) as refused:
        plan_policy(tmp_path, line)
    assert str(refused.value).endswith(f"tlsprobe.toml: defaults.{says}")


# --- end to end: lab certificates on a real TLS server ----------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("expiry-pki"))


async def probe_with(identity: Identity, pki: Pki, policy: Policy) -> TargetResult:
    """Serve `identity` over TLS (answering HTTP 200 with HSTS) and probe it as https://."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(identity.chain, identity.key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n"
                b"Strict-Transport-Security: max-age=31536000\r\n\r\n"
            )
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=ctx)
    async with server:
        port = server.sockets[0].getsockname()[1]
        target = parse_target(f"https://localhost:{port}/#connect=127.0.0.1")
        return await probe_one(target, policy)


def verdict(result: TargetResult, check_id: str) -> tuple[str, str, str]:
    found = result.check(check_id)
    assert found is not None, check_id
    return found.status.value, found.detail, found.hint


def not_after(identity: Identity) -> str:
    return utc_text(x509.load_pem_x509_certificate(identity.chain.read_bytes()).not_valid_after_utc)


@pytest.mark.parametrize(
    ("name", "lifetime", "left", "expected"),
    [
        ("six-day-5-left", 6 * DAY, 5 * DAY, None),
        ("six-day-1-left", 6 * DAY, 1 * DAY, ("1 day", SIX_DAY_HINT)),
        ("one-year-10-left", 365 * DAY, 10 * DAY, ("10 days", DAYS_HINT)),
    ],
)
def test_lab_certificates_of_chosen_lifetimes(
    pki: Pki,
    name: str,
    lifetime: dt.timedelta,
    left: dt.timedelta,
    expected: tuple[str, str] | None,
) -> None:
    """Probed for real: a 6-day certificate with 5 days left passes, with 1 day left warns on its
    fraction, and a 1-year one with 10 days left warns on --expiry-warn-days, exactly worded."""
    identity = pki.issue(name, not_before=pki.now + left - lifetime, not_after=pki.now + left)
    result = asyncio.run(probe_with(identity, pki, Policy(timeout=5.0, ca_file=pki.ca_file)))
    assert verdict(result, "cert.chain")[0] == "pass"
    end = not_after(identity)
    if expected is None:
        assert verdict(result, "cert.expiry") == ("pass", f"leaf valid until {end}", "")
        assert result.status is Status.PASS
    else:
        said, hint = expected
        assert verdict(result, "cert.expiry") == ("warn", f"leaf expires in {said} ({end})", hint)
        assert result.status is Status.WARN


def test_lab_six_day_certificate_warned_always_with_a_fraction_near_one(pki: Pki) -> None:
    """The bad twin: with --expiry-warn-fraction 0.99 the 6-day certificate with 5 days left
    warns, as every short-lived certificate did before (14 days of warning)."""
    identity = pki.issue("six-day-twin", not_before=pki.now - DAY, not_after=pki.now + 5 * DAY)
    policy = Policy(timeout=5.0, ca_file=pki.ca_file, expiry_warn_fraction=0.99)
    result = asyncio.run(probe_with(identity, pki, policy))
    assert verdict(result, "cert.expiry")[0] == "warn"
