"""cert.expiry, and the rule that decides when a certificate starts to warn.

A certificate warns when less than `--expiry-warn-days` (default 14) or less than
`--expiry-warn-fraction` (default 1/3) of its own lifetime is left, whichever point comes
later: the window is the smaller of the two. A long-lived certificate warns on the days (a
1-year one 14 days before its end, not four months before), and a short-lived one on its
fraction (a 6-day one 2 days before its end: with 14 days it would warn from its first
minute, as it always did). The crossover is a lifetime of warn-days / fraction, 42 days with
the defaults. `--expiry-fail-days` (default 0) fails a certificate with less than that many
days left; an expired or not-yet-valid one always fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509

from tlsprobe.model import DEFAULT_WARN_FRACTION, MAX_WARN_DAYS, Check, Status, utc_text
from tlsprobe.tls import certs

__all__ = ["expiry_check", "fraction_text", "warn_window"]


def warn_window(lifetime: dt.timedelta, warn_days: int, fraction: float) -> dt.timedelta:
    """How long before its end a certificate valid for `lifetime` starts to warn: the smaller
    of `warn_days` and `fraction` of the lifetime."""
    return min(_span(warn_days), lifetime * fraction)


def _span(days: int) -> dt.timedelta:
    # Clamped: beyond a century every certificate warns anyway, and a larger timedelta overflows.
    return dt.timedelta(days=min(max(days, 0), MAX_WARN_DAYS))


def fraction_text(fraction: float) -> str:
    """1/3 for 0.333..., 0.25 as 1/4: how people write a share of a lifetime."""
    from fractions import Fraction  # only for a warning's words: costly to import

    return str(Fraction(fraction).limit_denominator(1000))


def _days(delta: dt.timedelta) -> str:
    """A duration in whole days, rounded, as people say it ("in 3 days" for 2 d 23 h)."""
    days = round(abs(delta).total_seconds() / 86400)
    if days == 0:
        hours = int(abs(delta).total_seconds() // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


def expiry_check(
    chain: Sequence[x509.Certificate],
    now: dt.datetime,
    warn_days: int,
    *,
    fraction: float = DEFAULT_WARN_FRACTION,
    fail_days: int = 0,
) -> Check:
    """cert.expiry: fail on any expired or not-yet-valid certificate and inside `fail_days`,
    warn inside the warning window (warn_window)."""
    if not chain:
        return Check("cert.expiry", Status.SKIP, "no certificate received")
    rule = _Rule(warn_days, fraction, fail_days)
    problems = [p for i, c in enumerate(chain) if (p := rule.dated(i, c, now))]
    if problems:
        return max(problems, key=lambda c: c.status is Status.FAIL)
    leaf_end = chain[0].not_valid_after_utc
    return Check("cert.expiry", Status.PASS, f"leaf valid until {utc_text(leaf_end)}")


class _Rule:
    def __init__(self, warn_days: int, fraction: float, fail_days: int) -> None:
        self.warn_days = warn_days
        self.fraction = fraction
        self.fail_days = fail_days

    def dated(self, index: int, cert: x509.Certificate, now: dt.datetime) -> Check | None:
        """The expiry verdict on one certificate of the chain, when it is not a pass."""
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
        lifetime, left = end - start, end - now
        if start <= now and left >= max(_span(self.fail_days), _span(self.warn_days)):
            return None  # in date and outside every window: the label is not needed
        label = "leaf" if index == 0 else f"{certs.role(index, cert)} "
        label += "" if index == 0 else certs.short_name(cert.subject)
        if now > end:
            text = f"{label} expired {_days(now - end)} ago ({utc_text(end)})"
            return Check("cert.expiry", Status.FAIL, text, "renew the certificate")
        if now < start:
            text = f"{label} is not valid until {utc_text(start)} (in {_days(start - now)})"
            hint = "check the issuing CA's clock, or install the certificate when it is valid"
            return Check("cert.expiry", Status.FAIL, text, hint)
        text = f"{label} expires in {_days(left)} ({utc_text(end)})"
        if left < _span(self.fail_days):
            hint = f"renew it now: --expiry-fail-days is {self.fail_days}"
            return Check("cert.expiry", Status.FAIL, text, hint)
        if left < warn_window(lifetime, self.warn_days, self.fraction):
            return Check("cert.expiry", Status.WARN, text, self._why(lifetime))
        return None

    def _why(self, lifetime: dt.timedelta) -> str:
        share = lifetime * self.fraction
        if share >= _span(self.warn_days):
            return f"renew it: the warning window is {self.warn_days} days"
        return (
            f"renew it: the warning window is the last {fraction_text(self.fraction)} of its "
            f"lifetime of {_days(lifetime)}: {_days(share)}, less than --expiry-warn-days "
            f"{self.warn_days}"
        )
