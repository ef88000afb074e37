"""Unit tests for the exception boundary (errors.py): every error said plainly, none "internal"."""

from __future__ import annotations

import errno
import inspect
import socket
import ssl

import h2.exceptions
import httpcore
import pytest

from tlsprobe import failures as errors
from tlsprobe import net
from tlsprobe.failures import Explained, explain


def ssl_error(reason: str, cls: type[ssl.SSLError] = ssl.SSLError) -> ssl.SSLError:
    exc = cls(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')}")
    exc.reason = reason
    exc.library = "SSL"
    return exc


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    """`outer` as raised `from cause`, with the traceback links Python sets."""
    try:
        raise outer from cause
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpcore.ConnectTimeout("t"), "timeout"),
        (httpcore.ReadTimeout("t"), "timeout"),
        (httpcore.RemoteProtocolError("bad"), "protocol"),
        (httpcore.ProxyError("p"), "proxy"),
        (httpcore.ConnectError("c"), "os"),
    ],
)
def test_httpcore_exception_kinds(exc: Exception, kind: str) -> None:
    """httpcore errors without an underlying OS or TLS error map by their own class."""
    assert explain(exc).kind == kind


def test_unknown_exception_is_internal() -> None:
    """The bad twin: an exception that is not a network, TLS or HTTP error is "internal"."""
    explained = explain(ValueError("oops"))
    assert explained.kind == "internal"
    assert explained.detail == "unexpected error: ValueError: oops"


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("WRONG_VERSION_NUMBER", "tls-plaintext"),
        ("HTTP_REQUEST", "tls-plaintext"),
        ("UNSUPPORTED_PROTOCOL", "tls-version"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "tls-version"),
        ("UNEXPECTED_EOF_WHILE_READING", "eof"),
        ("SSLV3_ALERT_HANDSHAKE_FAILURE", "tls-alert"),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tls-alert"),
        ("SOME_NEW_REASON", "tls"),
    ],
)
def test_ssl_reasons(reason: str, kind: str) -> None:
    """OpenSSL reason codes map to the kind that says what they mean."""
    assert explain(ssl_error(reason)).kind == kind


def test_plaintext_hint_names_the_port() -> None:
    """A plaintext answer on a TLS port says so, with a hint about port and scheme."""
    explained = explain(ssl_error("WRONG_VERSION_NUMBER"))
    assert explained.detail == "the server did not answer with TLS"
    assert "plaintext" in explained.hint


def test_unknown_reason_is_said_plainly() -> None:
    """An unlisted reason reads as plain words, not as an OpenSSL constant."""
    assert explain(ssl_error("SOME_NEW_REASON")).detail == "TLS error: some new reason"


def test_ssl_eof_error_without_reason() -> None:
    """An SSLEOFError without a reason code is still "eof"."""
    assert explain(ssl.SSLEOFError(8, "EOF occurred")).kind == "eof"


def test_cert_verification_error() -> None:
    """A certificate verification error is "tls-verify" and quotes OpenSSL's message."""
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = 20
    exc.verify_message = "unable to get local issuer certificate"
    explained = explain(exc)
    assert explained.kind == "tls-verify"
    assert "unable to get local issuer certificate" in explained.detail


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "refused"),
        (ConnectionRefusedError(), "refused"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns"),
        (TimeoutError(), "timeout"),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "reset"),
        (ConnectionResetError("Connection lost"), "eof"),  # asyncio's word for a closed peer
        (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
        (OSError(errno.EACCES, "Permission denied"), "os"),
    ],
)
def test_os_errors(exc: OSError, kind: str) -> None:
    """Socket-level errors map to the kind a person can act on."""
    assert explain(exc).kind == kind


def test_all_addresses_failed_is_refused() -> None:
    """ConnectError from net.EveryAddressFailed of per-address refusals (localhost's ::1 and
    127.0.0.1) is "refused", and its detail names each address."""
    failed = net.EveryAddressFailed(
        (
            net.Attempt("::1", 1, ConnectionRefusedError(errno.ECONNREFUSED, "Connect call")),
            net.Attempt("127.0.0.1", 1, ConnectionRefusedError(errno.ECONNREFUSED, "Connect")),
        ),
    )
    explained = explain(chained(httpcore.ConnectError(failed), failed))
    assert explained.kind == "refused"
    assert explained.detail == (
        "every address failed: ::1: connection refused; 127.0.0.1: connection refused"
    )


def test_single_refusal_through_httpcore_is_refused() -> None:
    """httpcore.ConnectError from one refusal is "refused", not "os"."""
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    assert explain(chained(httpcore.ConnectError(refused), refused)) == explain(refused)


def test_all_attempts_failed_without_cause_is_os() -> None:
    """The twin: the same OSError with no cause is a generic network error."""
    explained = explain(OSError("All connection attempts failed"))
    assert explained.kind == "os"
    assert "All connection attempts failed" in explained.detail


def test_connect_error_from_verification_error() -> None:
    """httpcore.ConnectError raised from an SSLCertVerificationError is "tls-verify"."""
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_code = 18
    cause.verify_message = "self-signed certificate"
    exc = chained(httpcore.ConnectError("certificate verify failed"), cause)
    explained = explain(exc)
    assert explained.kind == "tls-verify"
    assert "self-signed certificate" in explained.detail


def test_connect_error_from_plaintext_answer() -> None:
    """The twin: httpcore.ConnectError from WRONG_VERSION_NUMBER is "tls-plaintext"."""
    exc = chained(httpcore.ConnectError("wrong version"), ssl_error("WRONG_VERSION_NUMBER"))
    assert explain(exc).kind == "tls-plaintext"


def test_implicit_context_is_followed() -> None:
    """An error raised while handling a refusal (no explicit `from`) is traced to the refusal."""
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        except ConnectionRefusedError:
            raise httpcore.ConnectError("connect failed")  # noqa: B904
    except httpcore.ConnectError as exc:
        implicit = exc
    assert explain(implicit).kind == "refused"


def _exported_exceptions(module: object, names: list[str]) -> list[type[Exception]]:
    found = [getattr(module, n) for n in names]
    return [c for c in found if isinstance(c, type) and issubclass(c, Exception)]


HTTPCORE_EXCEPTIONS = _exported_exceptions(httpcore, list(httpcore.__all__))
H2_EXCEPTIONS = _exported_exceptions(h2.exceptions, dir(h2.exceptions))


def make_plain(cls: type[Exception]) -> Exception:
    """Instantiate an exception with whatever positional arguments its constructor requires."""
    params = [
        p
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
        if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    return cls(*[1] * len(params)) if params else cls()


@pytest.mark.parametrize(
    "cls",
    HTTPCORE_EXCEPTIONS + H2_EXCEPTIONS,
    ids=lambda c: f"{c.__module__}.{c.__name__}",
)
def test_every_httpcore_h2_exception_is_mapped(cls: type[Exception]) -> None:
    """Every exception httpcore exports and h2's errors are explained
    with a non-empty detail, never as "internal"."""
    explained = explain(make_plain(cls))
    assert explained.kind != "internal"
    assert explained.detail.split(": ")[-1]


def test_dependency_lists_are_not_empty() -> None:
    """The lists the test above iterates over still find httpcore's and h2's exceptions."""
    assert httpcore.ReadError in HTTPCORE_EXCEPTIONS
    assert h2.exceptions.ProtocolError in H2_EXCEPTIONS


@pytest.mark.parametrize(
    ("exc", "kind", "detail"),
    [
        (httpcore.ReadTimeout("t"), "timeout", "timed out"),
        (httpcore.RemoteProtocolError("bad"), "protocol", "the server broke the HTTP protocol"),
        (httpcore.ConnectError(""), "os", "network error: ConnectError"),
        (h2.exceptions.ProtocolError("x"), "protocol", "the server broke the HTTP/2 protocol"),
    ],
)
def test_dependency_exception_kinds(exc: Exception, kind: str, detail: str) -> None:
    """httpcore and h2 errors map by their own class, with words a person can act on."""
    explained = explain(exc)
    assert explained.kind == kind
    assert explained.detail.startswith(detail)


@pytest.mark.parametrize(
    ("reason", "detail"),
    [
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "the server requires a client certificate"),
        ("TLSV1_ALERT_UNKNOWN_CA", "the server rejected the client certificate: it does not"),
        ("SSLV3_ALERT_BAD_CERTIFICATE", "the server rejected the client certificate as bad"),
        ("SSLV3_ALERT_CERTIFICATE_UNKNOWN", "the server rejected the client certificate"),
        ("TLSV1_ALERT_ACCESS_DENIED", "the server denied access to this client"),
    ],
)
def test_client_certificate_alerts_say_so(reason: str, detail: str) -> None:
    """Alerts a server sends about the client's certificate name it, with a hint to act on."""
    explained = explain(ssl_error(reason))
    assert (explained.kind, explained.detail.startswith(detail)) == ("tls-alert", True)
    assert explained.hint


def test_unlisted_alert_is_generic() -> None:
    """The twin: an alert not in the table reads as a generic TLS error in plain words."""
    explained = explain(ssl_error("TLSV1_ALERT_DECODE_ERROR"))
    assert (explained.kind, explained.detail) == ("tls", "TLS error: tlsv1 alert decode error")


@pytest.mark.parametrize("kind", [*sorted(errors.KIND_HINTS), "no-such-kind"])
def test_every_kind_has_a_hint(kind: str) -> None:
    """An Explained made without a hint takes its kind's, so no failing check lacks one."""
    assert Explained(kind, "detail").hint != ""


def test_own_hint_wins_over_the_kind_hint() -> None:
    """The twin: a hint given explicitly is kept as it is."""
    assert Explained("timeout", "detail", "raise --timeout").hint == "raise --timeout"
