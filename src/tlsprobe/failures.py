"""The one boundary where third-party and OS exceptions become plain-language facts: a Kind for
code to branch on, and a detail and hint for people."""

from __future__ import annotations

import enum
import errno
from typing import TYPE_CHECKING

from tlsprobe.model import Fix
from tlsprobe.records import record

if TYPE_CHECKING:
    import ssl

    from tlsprobe.net import EveryAddressFailed


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2, nothing probed."""


class Kind(enum.StrEnum):
    """What sort of failure an Explained is."""

    TIMEOUT = "timeout"
    RESET = "reset"
    EOF = "eof"
    OS = "os"
    DNS = "dns"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    PROTOCOL = "protocol"
    PROXY = "proxy"
    TLS = "tls"
    TLS_VERIFY = "tls-verify"
    TLS_VERSION = "tls-version"
    TLS_ALERT = "tls-alert"
    TLS_PLAINTEXT = "tls-plaintext"
    CLIENT_KEY = "client-key"
    SMTP = "smtp"
    PG = "pg"
    PG_AUTH = "pg-auth"
    PG_HBA = "pg-hba"
    PG_CONFIG = "pg-config"
    PG_NOSSL = "pg-nossl"
    PG_MISSING = "pg-missing"
    INTERNAL = "internal"

    @property
    def is_tls(self) -> bool:
        return self.value.startswith("tls")


# What to change, by kind, for an Explained made without a hint of its own: every failing
# check carries a hint a person can act on, whichever probe raised it.
KIND_HINTS = {
    Kind.TIMEOUT: (
        "the server accepted but did not answer in time: check its load, or raise --timeout"
    ),
    Kind.RESET: "the server or something on the way dropped the connection: look at its log",
    Kind.EOF: "the server closed the connection early: look at its log for the reason",
    Kind.OS: "check the network path to the server: address, port and firewalls",
    Kind.PROTOCOL: "the port may serve another protocol: check the port and the scheme",
    Kind.PROXY: "check the proxy in front of the server",
    Kind.TLS: "compare the server's TLS settings with what current clients accept (run with -v)",
    Kind.TLS_VERIFY: "see cert.chain: the certificate did not verify",
    Kind.SMTP: "the server's reply is quoted: look at its log or policy for that reply",
    Kind.PG: "look at the PostgreSQL server's log for the same moment",
    Kind.INTERNAL: "this is a tlsprobe bug, not a server verdict: please report it with -v output",
}
DEFAULT_HINT = "run with -v to see the transcript of the exchange"


@record
class Explained:
    """An exception said plainly: `kind` for code to branch on, `detail`/`hint` for people.
    Without a hint of its own it takes its kind's (KIND_HINTS)."""

    kind: Kind
    detail: str
    hint: str = ""
    # The kind of client change the hint asks for (model.Fix), for a source to word it.
    fix: str = ""

    def __post_init__(self) -> None:
        if not self.hint:
            object.__setattr__(self, "hint", KIND_HINTS.get(self.kind, DEFAULT_HINT))


# OpenSSL reason codes, grouped by what they mean for the person reading the verdict.
_PLAINTEXT_REASONS = {
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "UNKNOWN_PROTOCOL",
}
_VERSION_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "WRONG_SSL_VERSION",
    "VERSION_TOO_LOW",
    "UNKNOWN_SSL_VERSION",
}
_EOF_REASONS = {"UNEXPECTED_EOF_WHILE_READING", "EOF_OCCURRED_IN_VIOLATION_OF_PROTOCOL"}
_ALERT_TEXT = {
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        "the server aborted the handshake (no cipher or signature algorithm in common, or it"
        " requires a client certificate)",
        "the server may offer only weak ciphers, or require a client certificate",
    ),
    "TLSV1_ALERT_UNKNOWN_CA": (
        "the server rejected the client certificate: it does not trust its issuer",
        "give the target a client certificate issued by a CA the server trusts",
    ),
    "SSLV3_ALERT_BAD_CERTIFICATE": (
        "the server rejected the client certificate as bad",
        "check the client certificate (expiry, key usage) and the key that goes with it",
    ),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": (
        "the server rejected the client certificate",
        "check the client certificate: the server's log says why",
    ),
    "TLSV1_ALERT_ACCESS_DENIED": (
        "the server denied access to this client (its certificate is not allowed)",
        "use a client certificate the server authorizes",
    ),
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        "the server requires a client certificate",
        "give the target a client certificate and key",
    ),
    "TLSV1_UNRECOGNIZED_NAME": (
        "the server does not know the host name sent in SNI",
        "check the host name in the URL: the server has no certificate for it",
    ),
    "TLSV1_ALERT_INTERNAL_ERROR": (
        "the server reported an internal error during the handshake",
        "look at the server's log: its TLS configuration is broken",
    ),
    "DH_KEY_TOO_SMALL": (
        "the server's Diffie-Hellman group is too small (under 2048 bits)",
        "configure a 2048-bit or larger DH group, or ECDHE only",
    ),
}


class KeyProblem(enum.Enum):
    """Why a client certificate or key cannot be used: (detail, hint) templates."""

    ENCRYPTED = ("the client key {path} is encrypted: give its password", "{give}")
    WRONG_PASSWORD = ("the client key {path} does not decrypt with the password given", "{check}")
    MISSING = ("the client {role} file {path} does not exist", "check the client {role}'s path")
    UNREADABLE = (
        "cannot read the client {role} file {path} ({reason})",
        "let the user tlsprobe runs as read the client {role} file",
    )
    NOT_PEM = ("the client {role} file {path} holds no PEM {role}", "give the {role} in PEM")
    MISMATCH = (
        "the client key {path} does not belong to the certificate {cert}",
        "give the key the client certificate was issued for",
    )
    OPEN_TO_OTHERS = (  # libpq's own rule
        "the client key {path} can be read by others, and libpq refuses it",
        "chmod 600 the key file (libpq wants u=rw, or u=rw,g=r when root owns it)",
    )


# Where a target's client key password is set: (hint when none was given, when it was wrong).
PASSWORD_SETTINGS = {
    "sslpassword": (
        "set sslpassword to the key's passphrase (?sslpassword= in a URL, sslpassword= in a"
        " keyword string)",
        "check sslpassword: it is not this key's passphrase",
    ),
    "client_key_password_env": (
        "set client_key_password_env in tlsprobe.toml to the name of an environment variable"
        " holding the key's passphrase",
        "check the variable client_key_password_env names: it is not this key's passphrase",
    ),
}


class ClientKeyError(Exception):
    """A client certificate (`role` "certificate") or key that cannot be used; `setting` is
    where its password is configured (a key of PASSWORD_SETTINGS). Never holds the password."""

    def __init__(self, problem: KeyProblem, path: str, **words: str) -> None:
        super().__init__(f"{problem.name}: {path}")
        self.problem = problem
        self.words = {"path": path, "role": "key", "setting": "", "cert": "", "reason": ""}
        self.words |= words

    def explained(self) -> Explained:
        give, check = PASSWORD_SETTINGS.get(self.words["setting"], ("give its passphrase",) * 2)
        detail, hint = self.problem.value
        words = self.words | {"give": give, "check": check}
        return Explained(Kind.CLIENT_KEY, detail.format(**words), hint.format(**words))


def explain(exc: BaseException) -> Explained:
    """Translate any exception raised while probing into a plain-language Explained."""
    import ssl  # here, not at the top: `tlsprobe --help` imports this module, not ssl

    if isinstance(exc, ClientKeyError):
        return exc.explained()
    root = _innermost(exc)
    if isinstance(root, ssl.SSLError):
        return _explain_ssl(root)
    if isinstance(root, OSError | TimeoutError):
        return _explain_os(root)
    module = type(exc).__module__
    if module.startswith("httpcore"):
        return _explain_httpcore(exc)
    if module.startswith("h2."):
        return Explained(
            Kind.PROTOCOL,
            f"the server broke the HTTP/2 protocol: {_said(exc)}",
            "the server's HTTP/2 support is broken: look at its log, or turn HTTP/2 off there",
        )
    return Explained(Kind.INTERNAL, f"unexpected error: {type(exc).__name__}: {exc}")


def _said(exc: BaseException) -> str:
    """The exception's own words, or its class name when it has none."""
    return str(exc) or type(exc).__name__


def _innermost(exc: BaseException) -> BaseException:
    """Follow `raise ... from` links to the original socket or TLS error, if there is one; a
    failure of every address of a host is itself the original (it holds each one's error)."""
    import ssl

    from tlsprobe.net import EveryAddressFailed

    seen: set[int] = set()
    found: BaseException | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError | EveryAddressFailed):
            return current
        if isinstance(current, OSError) and (current.errno is not None or found is None):
            found = current
            if current.errno is not None:
                return current
        current = current.__cause__ or current.__context__
    return found or exc


def _explain_ssl(exc: ssl.SSLError) -> Explained:
    import ssl

    reason = getattr(exc, "reason", None) or ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Explained(Kind.TLS_VERIFY, f"certificate verification failed: {exc.verify_message}")
    if reason in _PLAINTEXT_REASONS:
        return Explained(
            Kind.TLS_PLAINTEXT,
            "the server did not answer with TLS",
            "this port speaks plaintext: check the port and the scheme",
        )
    if reason in _VERSION_REASONS:
        return Explained(
            Kind.TLS_VERSION, "no TLS version in common (the server offers only old ones)"
        )
    if reason in _EOF_REASONS or isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return Explained(
            Kind.EOF,
            "the server closed the connection during the TLS handshake",
            "the server may not speak TLS on this port, or refuses this client",
        )
    if reason in _ALERT_TEXT:
        detail, hint = _ALERT_TEXT[reason]
        # TLS 1.3's own alert for a missing client certificate: the source says where one goes.
        fix = Fix.CLIENT_CERT if reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED" else ""
        return Explained(Kind.TLS_ALERT, detail, hint, fix)
    plain = reason.replace("_", " ").lower() if reason else str(exc)
    return Explained(Kind.TLS, f"TLS error: {plain}")


def _explain_os(exc: OSError | TimeoutError) -> Explained:
    import socket

    from tlsprobe.net import EveryAddressFailed

    if isinstance(exc, EveryAddressFailed):
        return _explain_addresses(exc)
    if isinstance(exc, TimeoutError):
        return Explained(Kind.TIMEOUT, "timed out")
    if isinstance(exc, socket.gaierror):
        return Explained(
            Kind.DNS,
            "cannot resolve the host name",
            "check the host name, or the resolver of the machine running tlsprobe",
        )
    if isinstance(exc, ConnectionRefusedError):
        return Explained(
            Kind.REFUSED,
            "connection refused (nothing listens on that port)",
            "check the port, and that the service is running",
        )
    if isinstance(exc, ConnectionResetError) and exc.errno is None:
        # asyncio's "Connection lost": the peer closed; a real reset carries ECONNRESET.
        return Explained(Kind.EOF, "the server closed the connection")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return Explained(Kind.RESET, "the server reset the connection")
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Explained(
            Kind.UNREACHABLE, "no route to the host", "check the address and firewalls"
        )
    return Explained(Kind.OS, f"network error: {exc.strerror or exc}")


# When the addresses of a host fail in different ways, the kind is that of the one that got
# furthest: a refusal means the host is there and the service is not, which is what to mend;
# an unreachable IPv6 address beside it is only a machine without IPv6.
_FURTHEST_FIRST = (Kind.REFUSED, Kind.RESET, Kind.EOF, Kind.TIMEOUT, Kind.UNREACHABLE)


def _explain_addresses(exc: EveryAddressFailed) -> Explained:
    """Each address with its own reason; the kind follows from theirs."""
    each = [explain(attempt.error) for attempt in exc.attempts]
    kinds = [why.kind for why in each]
    kind = next((k for k in _FURTHEST_FIRST if k in kinds), kinds[0])
    hint = next(why.hint for why in each if why.kind is kind)
    # Without the port: the connect step's detail names the host and port in front of it.
    said = "; ".join(f"{attempt.address}: {attempt.reason}" for attempt in exc.attempts)
    return Explained(kind, f"every address failed: {said}", hint)


def _explain_httpcore(exc: BaseException) -> Explained:
    """httpcore's errors, when no socket or TLS error lies under them."""
    import httpcore

    if isinstance(exc, httpcore.TimeoutException):
        return Explained(Kind.TIMEOUT, "timed out")
    if isinstance(exc, httpcore.RemoteProtocolError):
        return Explained(
            Kind.PROTOCOL,
            f"the server broke the HTTP protocol: {_said(exc)}",
            "the port may serve something other than HTTP",
        )
    if isinstance(exc, httpcore.ProtocolError | httpcore.UnsupportedProtocol):
        return Explained(Kind.PROTOCOL, f"HTTP protocol error: {_said(exc)}")
    if isinstance(exc, httpcore.ProxyError):
        return Explained(Kind.PROXY, f"proxy error: {_said(exc)}")
    return Explained(Kind.OS, f"network error: {_said(exc)}")
