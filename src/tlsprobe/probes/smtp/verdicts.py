"""The SMTP verdicts as small pure functions: what the server said in, checks and hints out."""

from __future__ import annotations

from collections.abc import Sequence

from tlsprobe.model import Check, Status
from tlsprobe.probes.smtp.session import quoted

# Pipelined after STARTTLS by the injection test; .invalid can never be a real host (RFC 2606).
INJECTED = b"EHLO injected.invalid\r\n"
INJECTION_WAIT_MIN = 0.2
INJECTION_WAIT_MAX = 1.0
QUOTED_MAX = 120  # characters of a server's words quoted in a verdict
UNFINISHED_SHOWN = 60  # bytes of a reply with no line end quoted
MECHANISMS = ("plain", "login", "cram-md5")  # all three are safe inside TLS
SMTPS_HINT = (
    "use smtps:// for this port (implicit TLS, usually port 465); smtp:// is for STARTTLS "
    "ports (587, 25). Airflow: smtp_ssl = True, smtp_starttls = False"
)


def not_applicable_to_implicit() -> list[Check]:
    """smtps:// has no plaintext phase: nothing can be offered or injected before TLS."""
    why = "not applicable: smtps:// is TLS from the first byte"
    return [
        Check("smtp.starttls", Status.SKIP, f"{why} (no STARTTLS)"),
        Check("smtp.auth_before_tls", Status.SKIP, f"{why}, so AUTH cannot be offered before it"),
        Check("smtp.starttls_injection", Status.SKIP, f"{why}: no plaintext to inject into"),
    ]


def greeting_refused(lines: Sequence[str]) -> tuple[str, str]:
    return (
        f"the server greets with {quoted(list(lines))}, not 220",
        "the server refuses sessions from this client (address rules, rate limits) or is "
        "shutting down; look at its log",
    )


def greeting_not_smtp(lines: Sequence[str], unfinished: bytes = b"") -> tuple[str, str]:
    """The greeting's lines, or when none ended (aiosmtplib gives up on a reply past 32 KB),
    how much came and how it begins."""
    said = quoted(list(lines))[:QUOTED_MAX]
    if not lines and unfinished:
        begins = unfinished[:UNFINISHED_SHOWN].decode("utf-8", "replace")
        said = f"{len(unfinished)} bytes came with no line end; they begin {begins}"
    return f"the greeting is not SMTP: {said}", "check the port: it serves another protocol"


def implicit_port(waited: float, version: str) -> tuple[str, str]:
    detail = (
        f"no 220 greeting in plaintext within {waited:g} s, but a second connection completed "
        f"a TLS handshake ({version}): this port speaks implicit TLS"
    )
    return detail, SMTPS_HINT


def ehlo_refused(lines: Sequence[str], inside_tls: bool) -> tuple[str, str]:
    where = " inside TLS" if inside_tls else ""
    return (
        f"the server refused EHLO{where}: {quoted(list(lines))}",
        "the server must accept EHLO to offer its extensions (STARTTLS, AUTH); look at its log",
    )


def auth_before_tls(methods: Sequence[str], advertised: bool) -> Check:
    """smtp.auth_before_tls, from the plaintext EHLO."""
    if not advertised:
        return Check("smtp.auth_before_tls", Status.PASS, "AUTH is not offered before TLS")
    names = " ".join(m.upper() for m in methods) or "(no mechanisms listed)"
    return Check(
        "smtp.auth_before_tls",
        Status.FAIL,
        f"AUTH {names} is offered in plaintext, before STARTTLS: a client may send its "
        "password in clear",
        "offer AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes; Exim: "
        "auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}})",
    )


def not_advertised(extensions: dict[str, str]) -> tuple[str, str]:
    offered = ", ".join(k.upper() for k in extensions) or "no extensions"
    return (
        f"STARTTLS is not advertised after EHLO (the server offers: {offered})",
        "enable STARTTLS on the server (Postfix: smtpd_tls_security_level = may with "
        "smtpd_tls_cert_file and smtpd_tls_key_file); without it mail and passwords cross in "
        "clear. If the port is implicit TLS after all, use smtps://",
    )


def starttls_refused(code: int, lines: Sequence[str]) -> tuple[str, str]:
    """The server advertised STARTTLS and then would not do it."""
    detail = f"the server answered STARTTLS with {quoted(list(lines))}"
    if 400 <= code < 500:
        hint = (
            "a temporary refusal: the server advertises STARTTLS but cannot start TLS, usually "
            "because its certificate or key is missing or unreadable; look at its log"
        )
    else:
        hint = "the server advertises STARTTLS but refuses it; look at its TLS configuration"
    return detail, hint


def pick_mechanism(offered: Sequence[str]) -> str | None:
    return next((m for m in MECHANISMS if m in offered), None)


def no_mechanism(extensions: dict[str, str], offered: Sequence[str]) -> Check:
    if "auth" not in extensions:
        return Check(
            "smtp.login",
            Status.FAIL,
            "the server offers no AUTH inside TLS",
            "enable SMTP AUTH on this port (submission), or remove the credentials from the URL",
        )
    names = " ".join(m.upper() for m in offered)
    return Check(
        "smtp.login",
        Status.FAIL,
        f"no AUTH mechanism in common: the server offers {names}; tlsprobe speaks PLAIN, "
        "LOGIN and CRAM-MD5",
        "enable AUTH PLAIN or LOGIN (safe inside TLS) on the server",
    )


def login_withheld(why: str) -> Check:
    """smtp.login when the session is not one a default client would trust with a password."""
    return Check("smtp.login", Status.SKIP, f"not run: credentials withheld: {why}")


def login_check(code: int, mechanism: str, user: str, lines: Sequence[str]) -> Check:
    """smtp.login: 235 passes; anything else fails quoting the server."""
    how = f"AUTH {mechanism.upper()} as {user}"
    if code == 235:
        return Check("smtp.login", Status.PASS, f"{how}: {quoted(list(lines))}")
    if code == 535:
        hint = "check the user name and password (TLS is fine: the checks above passed)"
    else:
        hint = "the server refused the login; its reply says why"
    return Check("smtp.login", Status.FAIL, f"{how} refused: {quoted(list(lines))}", hint)


# --- CVE-2011-0411 ---------------------------------------------------------------------------


def injection_window(handshake_s: float, remaining: float) -> float:
    """How long to listen for an answer to the injected EHLO: three handshakes' worth (a
    vulnerable server answers within one round trip), within bounds and the deadline."""
    window = min(INJECTION_WAIT_MAX, max(INJECTION_WAIT_MIN, 3 * handshake_s))
    return max(0.0, min(window, remaining - 0.1))


def injection_verdict(after_tls: bytes, window: float) -> Check:
    if not after_tls:
        return Check(
            "smtp.starttls_injection",
            Status.PASS,
            f"nothing answered inside TLS within {window:.2f} s: the EHLO pipelined after "
            "STARTTLS was discarded",
        )
    first = after_tls.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")[:100]
    return Check(
        "smtp.starttls_injection",
        Status.FAIL,
        f"the server answered the EHLO pipelined after STARTTLS inside TLS ({first!r}) before "
        "any command was sent in TLS: plaintext injected before the handshake is executed in "
        "the encrypted session (CVE-2011-0411)",
        "upgrade the mail server; it must discard input buffered before the TLS handshake "
        "(a man-in-the-middle can otherwise inject commands into the encrypted session)",
    )


def injection_refused(lines: Sequence[str]) -> Check:
    return Check(
        "smtp.starttls_injection",
        Status.PASS,
        f"the server refused STARTTLS with a command pipelined after it: {quoted(list(lines))}",
    )


def injection_dropped(why: str) -> Check:
    return Check(
        "smtp.starttls_injection",
        Status.PASS,
        f"with an EHLO pipelined after STARTTLS the server did not start TLS ({why}), so "
        "nothing was answered inside TLS",
    )
