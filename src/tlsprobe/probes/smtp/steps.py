"""The SMTP probe's steps: its own phases of checks, each with how a deadline that catches it
is said, and the whole-check steps it names (from the catalogue)."""

from __future__ import annotations

from tlsprobe.probes.base import Step, step_for

CONNECT = step_for("connect")
STARTTLS = step_for("smtp.starttls")
HANDSHAKE = step_for("tls.handshake")
LOGIN = step_for("smtp.login")
INJECTION = step_for("smtp.starttls_injection")

GREETING = Step(
    "connect/greeting",
    "no 220 greeting within {t:g} s",
    "the server accepts TCP but sends no greeting: it is overloaded, delays greetings on "
    "purpose (e.g. Postfix postscreen), or this is not an SMTP port; raise --timeout or "
    "check the port",
)
BANNER = Step(
    "connect/banner",
    "the 220 greeting did not complete within {t:g} s: only 220- continuation lines came"
    " (a tarpit, or an overloaded server)",
    "the server drips its banner on purpose (a tarpit, e.g. against spam senders) or is "
    "overloaded: have it exempt this client's address, or raise --timeout",
)
EHLO_IMPLICIT = Step("connect/ehlo", "no reply to EHLO within {t:g} s")
EHLO_PLAIN = Step("smtp.starttls/ehlo", "no reply to EHLO within {t:g} s")
EHLO_TLS = Step("smtp.starttls/ehlo-tls", "no reply to EHLO inside TLS within {t:g} s")
HANDSHAKE_AFTER_STARTTLS = Step(
    "tls.handshake/starttls",
    "the server answered 220 to STARTTLS, then sent no TLS ServerHello within {t:g} s",
    "the server accepted STARTTLS but never started TLS: its TLS setup is broken or a "
    "middlebox interferes; look at the mail server's log",
)
