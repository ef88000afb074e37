"""cert.hostname's CN fallback word for word (tls/judge.py): which clients accept a certificate
whose subjectAltName does not cover the host, per protocol and for every client, and the trust
hint each protocol's verdict gives. Crafted certificates, no network: the clients themselves are
the oracle in tests/test_client_model.py; these pin the model's every branch exactly."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509

from certbuild import EC_KEY, build, negotiated
from tlsprobe.model import Check, Policy, Status
from tlsprobe.tls import VerifyError
from tlsprobe.tls.judge import (
    ALL_CLIENTS,
    BROWSERS,
    CLIENTS_OF,
    CURL,
    HTTPX,
    LIBPQ,
    PYTHON_SSL,
    TRUST_HINT,
    TRUST_HINTS,
    cn_fallback,
    hostname_check,
    judge,
    names_text,
)

HOST = "db.example.test"
IP = "10.0.0.5"
PG_HINT = (
    "give libpq the issuing root with sslrootcert (the target's, or PGSSLROOTCERT; "
    "--ca-file stands in when neither names one), or use a certificate from a CA in it"
)
DEFAULT_HINT = "pass the issuing root with --ca-file, or use a certificate from a trusted CA"
PROTOCOLS = (None, "postgresql", "smtp", "smtps", "https")


def ips(*values: str) -> list[x509.GeneralName]:
    return [x509.IPAddress(ipaddress.ip_address(v)) for v in values]


def names(*values: str) -> list[x509.GeneralName]:
    return [x509.DNSName(v) for v in values]


def reissue(host: str) -> str:
    return f"reissue the certificate with {host} in subjectAltName"


# Each certificate whose SAN misses the host but whose CN names it, with the clients of the
# model that accept it (libpq: no SAN entry of the host's kind; Python's ssl and httpx: a DNS
# host and no DNS name; curl: no SAN entry at all; browsers: never).
CN_ONLY = build(HOST)
CN_ONLY_IP = build(IP)
IP_SAN_ONLY = build(HOST, sans=ips("10.9.9.9"))
DNS_SAN_ONLY_IP_HOST = build(IP, sans=names("other.example.test"))
WILDCARD_CN = build("*.example.test")
EMPTY_SAN = build(HOST, sans=[x509.UniformResourceIdentifier("https://db.example.test/")])
CASES = {
    "cn only": (CN_ONLY, HOST, {LIBPQ, PYTHON_SSL, HTTPX, CURL}),
    "cn only, IP host": (CN_ONLY_IP, IP, {LIBPQ, CURL}),
    "IP-only SAN": (IP_SAN_ONLY, HOST, {LIBPQ, PYTHON_SSL, HTTPX}),
    "DNS-only SAN, IP host": (DNS_SAN_ONLY_IP_HOST, IP, {LIBPQ}),
    "wildcard CN": (WILDCARD_CN, HOST, {LIBPQ, PYTHON_SSL, HTTPX, CURL}),
    "wildcard CN, upper-case host": (WILDCARD_CN, HOST.upper(), {LIBPQ, PYTHON_SSL, HTTPX, CURL}),
    "SAN of neither kind": (EMPTY_SAN, HOST, {LIBPQ, PYTHON_SSL, HTTPX, CURL}),
}


def test_clients_of_each_protocol() -> None:
    """The model names each protocol's clients, and every client once for no protocol."""
    assert CLIENTS_OF == {
        "postgresql": (LIBPQ,),
        "smtp": (PYTHON_SSL,),
        "smtps": (PYTHON_SSL,),
        "https": (HTTPX, CURL, BROWSERS),
    }
    assert ALL_CLIENTS == (LIBPQ, PYTHON_SSL, HTTPX, CURL, BROWSERS)
    assert (LIBPQ, PYTHON_SSL, HTTPX, CURL, BROWSERS) == (
        "libpq (verify-full)",
        "Python's ssl (smtplib, Airflow)",
        "httpx",
        "curl",
        "browsers",
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_cn_fallback_per_client_and_protocol(case: str, protocol: str | None) -> None:
    """Among the clients of each protocol (all of them for None), exactly the modelled ones
    accept, in the protocol's order, and the others refuse."""
    cert, host, accepting = CASES[case]
    clients = ALL_CLIENTS if protocol is None else CLIENTS_OF[protocol]
    accept = [c for c in clients if c in accepting]
    refuse = [c for c in clients if c not in accepting]
    assert cn_fallback(cert, host, protocol) == (accept, refuse)


@pytest.mark.parametrize("protocol", [*PROTOCOLS, "ftp"])
@pytest.mark.parametrize(
    ("cert", "host"),
    [
        (build("other.example.test"), HOST),
        (build("*.example.test"), "a.db.example.test"),
        (build("10.0.0.6"), IP),
        (build(HOST), IP),
        (build(IP), HOST),
        (build("x", subject=x509.Name([])), HOST),
    ],
)
def test_no_cn_match_every_client_refuses(
    cert: x509.Certificate, host: str, protocol: str | None
) -> None:
    """When the CN does not name the host (a wildcard covers one label; an IP CN is no DNS
    host's and the reverse), no client accepts; an unknown protocol counts every client."""
    clients = CLIENTS_OF.get(protocol or "", ALL_CLIENTS)
    assert cn_fallback(cert, host, protocol) == ([], list(clients))


def warn(host: str, cn: str, text: str) -> Check:
    return Check(
        "cert.hostname",
        Status.WARN,
        f"{host} matches only the subject CN ({cn}), in no subjectAltName: {text}",
        reissue(host),
    )


@pytest.mark.parametrize(
    ("cert", "host", "protocol", "text"),
    [
        (
            CN_ONLY,
            HOST,
            None,
            "libpq (verify-full) and Python's ssl (smtplib, Airflow) and httpx and curl accept "
            "it by falling back to the CN; browsers refuse it",
        ),
        (
            CN_ONLY,
            HOST,
            "postgresql",
            "libpq (verify-full) accepts it by falling back to the CN; clients without that "
            "fallback refuse it (browsers; RFC 6125 deprecates it)",
        ),
        (
            CN_ONLY,
            HOST,
            "smtp",
            "Python's ssl (smtplib, Airflow) accepts it by falling back to the CN; clients "
            "without that fallback refuse it (browsers; RFC 6125 deprecates it)",
        ),
        (
            CN_ONLY,
            HOST,
            "https",
            "httpx and curl accept it by falling back to the CN; browsers refuse it",
        ),
        (
            CN_ONLY_IP,
            IP,
            None,
            "libpq (verify-full) and curl accept it by falling back to the CN; Python's ssl "
            "(smtplib, Airflow) and httpx and browsers refuse it",
        ),
        (
            CN_ONLY_IP,
            IP,
            "https",
            "curl accepts it by falling back to the CN; httpx and browsers refuse it",
        ),
        (
            IP_SAN_ONLY,
            HOST,
            "https",
            "httpx accepts it by falling back to the CN; curl and browsers refuse it",
        ),
        (
            DNS_SAN_ONLY_IP_HOST,
            IP,
            None,
            "libpq (verify-full) accepts it by falling back to the CN; Python's ssl (smtplib, "
            "Airflow) and httpx and curl and browsers refuse it",
        ),
        (
            DNS_SAN_ONLY_IP_HOST,
            IP,
            "postgresql",
            "libpq (verify-full) accepts it by falling back to the CN; clients without that "
            "fallback refuse it (browsers; RFC 6125 deprecates it)",
        ),
    ],
)
def test_cn_warning_word_for_word(
    cert: x509.Certificate, host: str, protocol: str | None, text: str
) -> None:
    """A host the CN alone names warns, naming who accepts and who refuses, in the model's
    order, with one verb agreeing with one client or many."""
    cn = cert.subject.rfc4514_string().removeprefix("CN=")
    assert hostname_check(cert, host, protocol) == warn(host, cn, text)


def test_wildcard_cn_warning_names_the_cn() -> None:
    """A wildcard CN that covers the host is the CN the warning quotes."""
    check = hostname_check(WILDCARD_CN, HOST, "https")
    assert check == warn(
        HOST,
        "*.example.test",
        "httpx and curl accept it by falling back to the CN; browsers refuse it",
    )


def test_second_cn_that_matches_is_quoted() -> None:
    """With two CNs, the one that names the host is quoted, not the first."""
    subject = x509.Name(
        [
            x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "other.example.test"),
            x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, HOST),
        ]
    )
    check = hostname_check(build("x", subject=subject), HOST, "postgresql")
    assert check.status is Status.WARN
    assert check.detail.startswith(f"{HOST} matches only the subject CN ({HOST}),")


@pytest.mark.parametrize(
    ("cert", "host", "protocol", "detail"),
    [
        (
            CN_ONLY_IP,
            IP,
            "smtp",
            f"the certificate has no subjectAltName (CN={IP}); clients ignore the CN (RFC 6125)",
        ),
        (
            CN_ONLY_IP,
            IP,
            "smtps",
            f"the certificate has no subjectAltName (CN={IP}); clients ignore the CN (RFC 6125)",
        ),
        (
            build("other.example.test"),
            HOST,
            None,
            "the certificate has no subjectAltName (CN=other.example.test); clients ignore the "
            "CN (RFC 6125)",
        ),
        (
            DNS_SAN_ONLY_IP_HOST,
            IP,
            "https",
            f"the certificate is for other.example.test, not {IP}",
        ),
        (
            build(HOST, sans=names("other.example.test")),
            HOST,
            None,
            f"the certificate is for other.example.test, not {HOST}",
        ),
    ],
)
def test_no_client_accepts_fails_word_for_word(
    cert: x509.Certificate, host: str, protocol: str | None, detail: str
) -> None:
    """When no client of the protocol takes the CN, cert.hostname fails as without a CN match:
    no subjectAltName at all, or the names it has."""
    hint = reissue(host)
    if "is for" in detail:
        hint += ", or use a name it covers"
    assert hostname_check(cert, host, protocol) == Check("cert.hostname", Status.FAIL, detail, hint)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_san_match_passes_whatever_the_protocol(protocol: str | None) -> None:
    """A SAN entry of the host's kind passes for every protocol, naming the entry, even when
    the CN names another host; the IP entry for an IP host, never the DNS one."""
    dns_cert = build("cn.example.test", sans=names("other.test", "*.example.test"))
    assert hostname_check(dns_cert, HOST, protocol) == Check(
        "cert.hostname", Status.PASS, f"{HOST} matches *.example.test"
    )
    ip_cert = build(IP, sans=[*names(IP), *ips("10.0.0.4", IP)])
    assert hostname_check(ip_cert, IP, protocol) == Check(
        "cert.hostname", Status.PASS, f"{IP} matches {IP}"
    )


def test_wildcard_note_and_name_count() -> None:
    """A wildcard one label short is explained (case-insensitively); more than ten names are
    counted, exactly ten are not."""
    cert = build("x", sans=names("*.Example.test", "b.test"))
    host = "A.B.example.TEST"
    assert hostname_check(cert, host, "https").detail == (
        f"the certificate is for *.Example.test, b.test, not {host} "
        f"(*.Example.test covers exactly one label, not {host})"
    )
    assert hostname_check(cert, "example.test").detail == (
        "the certificate is for *.Example.test, b.test, not example.test"
    )
    ten = [f"n{i}.test" for i in range(10)]
    assert names_text(ten) == ", ".join(ten)
    assert names_text([*ten, "k.test"]) == ", ".join(ten) + " and 1 more"
    assert names_text([*ten, "k.test", "l.test"]) == ", ".join(ten) + " and 2 more"


# --- judge(protocol=...) --------------------------------------------------------------------


def test_trust_hints_per_protocol() -> None:
    """PostgreSQL's trust hint speaks of libpq's sslrootcert; every other protocol's is the
    default --ca-file hint."""
    assert TRUST_HINTS == {"postgresql": PG_HINT}
    assert TRUST_HINT == DEFAULT_HINT


SELF_SIGNED = VerifyError(18, "self-signed certificate")


@pytest.mark.parametrize(
    ("protocol", "hint"),
    [
        ("postgresql", PG_HINT),
        (None, DEFAULT_HINT),
        ("smtp", DEFAULT_HINT),
        ("https", DEFAULT_HINT),
        ("unknown", DEFAULT_HINT),
    ],
)
def test_judge_trust_hint_and_cn_per_protocol(protocol: str | None, hint: str) -> None:
    """judge() gives cert.chain the protocol's trust hint and cert.hostname the protocol's
    clients: a self-signed CN-only certificate, judged for each."""
    cert = build(HOST, key=EC_KEY)
    checks = {
        c.id: c
        for c in judge(negotiated([cert], error=SELF_SIGNED), HOST, Policy(), None, protocol)
    }
    assert checks["cert.chain"] == Check(
        "cert.chain", Status.FAIL, f"self-signed certificate (CN={HOST})", hint
    )
    accept, refuse = cn_fallback(cert, HOST, protocol)
    assert checks["cert.hostname"].status is Status.WARN
    assert checks["cert.hostname"] == hostname_check(cert, HOST, protocol)
    assert accept
    assert refuse == ([BROWSERS] if protocol in (None, "https", "unknown") else [])


def test_judge_hostname_for_ip_host_per_protocol() -> None:
    """The same IP-host certificate warns for PostgreSQL (libpq falls back) and fails for
    SMTP (Python's ssl never does for an IP): judge() passes the protocol through."""
    neg = negotiated([CN_ONLY_IP], error=SELF_SIGNED)
    pg = {c.id: c for c in judge(neg, IP, Policy(), None, "postgresql")}
    smtp = {c.id: c for c in judge(neg, IP, Policy(), None, "smtp")}
    assert pg["cert.hostname"].status is Status.WARN
    assert smtp["cert.hostname"].status is Status.FAIL
    assert pg["cert.chain"].hint == PG_HINT
    assert smtp["cert.chain"].hint == DEFAULT_HINT


def test_missing_issuer_hint_embeds_the_protocol_hint() -> None:
    """A lone leaf from an unknown issuer hints the intermediate, then the protocol's trust
    hint for a private root."""
    leaf = build(HOST, issuer=("Private Root", EC_KEY))
    error = VerifyError(20, "unable to get local issuer certificate")
    for protocol, hint in (("postgresql", PG_HINT), ("smtp", DEFAULT_HINT)):
        checks = {
            c.id: c for c in judge(negotiated([leaf], error=error), HOST, Policy(), None, protocol)
        }
        assert checks["cert.chain"].hint == (
            "the server does not send its intermediate: configure the full chain (leaf + "
            f"intermediates) on the server; or, if CN=Private Root is a private root, {hint}"
        )


def test_ip_cn_matched_as_an_address_not_as_text() -> None:
    """An IPv6 CN written out in full names the host ::1: the CN is compared as an address
    for an IP host, so libpq and curl accept it."""
    cert = build("0:0:0:0:0:0:0:1")
    assert cn_fallback(cert, "::1") == ([LIBPQ, CURL], [PYTHON_SSL, HTTPX, BROWSERS])
    assert hostname_check(cert, "::1", "postgresql") == warn(
        "::1",
        "0:0:0:0:0:0:0:1",
        "libpq (verify-full) accepts it by falling back to the CN; clients without that "
        "fallback refuse it (browsers; RFC 6125 deprecates it)",
    )
