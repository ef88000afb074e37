"""Hints in the source's own terms: a probe names the kind of change (model.Fix), the source
words it (Target.terms), and the runner puts the source's words in place of the generic hint."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import hint, probe_targets, statuses
from tlsprobe.lab import Lab
from tlsprobe.model import Check, Fix, Policy, Status, TargetResult, in_terms
from tlsprobe.targets import client_tls, parse_target
from tlsprobe.targets.client_tls import ClientTls, Encrypts

TIMEOUT = 2.0
TERMS = (
    (Fix.IMPLICIT_TLS.value, "remove disable_ssl from the extra of connection smtp_default"),
    (Fix.PLAINTEXT_FIRST.value, 'set {"disable_ssl": true} in the extra of connection x'),
    (Fix.TRUST.value, "give the worker the root in SSL_CERT_FILE"),
)


def probed(lab: Lab, name: str, *, terms: bool, ca: bool = True) -> TargetResult:
    target = parse_target(lab.url(name))
    if terms:
        target = replace(target, terms=TERMS)
    policy = Policy(timeout=TIMEOUT, ca_file=lab.ca_file if ca else None)
    return probe_targets([target], policy)[0]


def test_implicit_port_hint_in_source_terms(lab: Lab) -> None:
    """smtp:// on an implicit-TLS port fails with the source's words for using implicit TLS."""
    result = probed(lab, "smtp-on-implicit-port", terms=True)
    assert statuses(result)["connect"] == "fail"
    assert hint(result, "connect") == TERMS[0][1]


def test_implicit_port_hint_generic_without_terms(lab: Lab) -> None:
    """The same failure without source terms keeps the URL-terms hint (smtps://)."""
    result = probed(lab, "smtp-on-implicit-port", terms=False)
    assert statuses(result)["connect"] == "fail"
    assert hint(result, "connect").startswith("use smtps:// for this port")


def test_plaintext_port_hint_in_source_terms(lab: Lab) -> None:
    """smtps:// on a STARTTLS port fails the handshake with the source's words for STARTTLS."""
    result = probed(lab, "smtps-on-starttls-port", terms=True)
    assert statuses(result)["tls.handshake"] == "fail"
    assert hint(result, "tls.handshake") == TERMS[1][1]
    generic = probed(lab, "smtps-on-starttls-port", terms=False)
    assert hint(generic, "tls.handshake") != TERMS[1][1]
    assert hint(generic, "tls.handshake")


def test_untrusted_root_hint_in_source_terms(lab: Lab) -> None:
    """An unknown root fails cert.chain with the source's words for giving the client the root;
    the same server trusted passes, and the terms leave a passing check's empty hint alone."""
    result = probed(lab, "https-untrusted-root", terms=True)
    assert statuses(result)["cert.chain"] == "fail"
    assert hint(result, "cert.chain") == TERMS[2][1]
    generic = probed(lab, "https-untrusted-root", terms=False)
    assert "--ca-file" in hint(generic, "cert.chain")
    good = probed(lab, "https-good", terms=True)
    assert statuses(good)["cert.chain"] == "pass"
    assert hint(good, "cert.chain") == ""


def test_in_terms_replaces_only_worded_fixes() -> None:
    """in_terms touches a check whose fix the source words, and no other."""
    worded = Check("cert.chain", Status.FAIL, "untrusted", "generic", Fix.TRUST)
    other = Check("tls.handshake", Status.FAIL, "refused", "generic", Fix.IMPLICIT_TLS)
    plain = Check("cert.expiry", Status.FAIL, "expired", "renew")
    result = TargetResult("t", "t", "https", "h", 1, "s", (worded, other, plain), 1.0)
    terms = ((Fix.TRUST.value, "SSL_CERT_FILE"),)
    got = in_terms(result, terms)
    assert [c.hint for c in got.checks] == ["SSL_CERT_FILE", "generic", "renew"]


@pytest.mark.parametrize(
    ("client", "status", "hint_text"),
    [
        (ClientTls("x", Encrypts.YES, hint="own words"), "pass", ""),
        (ClientTls("x", Encrypts.YES, False, False, hint="own words"), "warn", "own words"),
        (ClientTls("x", Encrypts.NO, False, False, hint="own words"), "fail", "own words"),
        (ClientTls("x", Encrypts.YES, broken=True, hint="own words"), "fail", "own words"),
        (
            ClientTls("x", Encrypts.NO, False, False),
            "fail",
            "enable TLS in the client's configuration",
        ),
    ],
)
def test_client_encryption_takes_the_source_hint(
    client: ClientTls, status: str, hint_text: str
) -> None:
    """client.encryption uses the source's hint when it is not a pass, and a broken client fails."""
    verdict = client_tls.judge(client)
    assert (verdict.status.value, verdict.hint) == (status, hint_text)


def test_connect_failure_hint_in_source_terms() -> None:
    """Nothing listening: the connect failure's hint is the source's words for where the client
    connects; without terms it stays the generic port hint."""
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    target = parse_target(f"https://127.0.0.1:{port}/")
    worded = replace(target, terms=((Fix.ADDRESS.value, "check [smtp] smtp_host"),))
    policy = Policy(timeout=TIMEOUT)
    with_terms, without = probe_targets([worded, target], policy)
    assert statuses(with_terms)["connect"] == "fail"
    assert hint(with_terms, "connect") == "check [smtp] smtp_host"
    assert hint(without, "connect") == "check the port, and that the service is running"
