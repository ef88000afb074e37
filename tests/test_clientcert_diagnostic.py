"""The diagnostic handshake that tells "asked for a client certificate" from "no cipher suite in
common" (probes/https/clientcert.py): when it fails itself (the lab's server resets it), the
question stays open and the handshake's own error is reported, never an answer it did not get."""

from __future__ import annotations

from conftest import check, probe_urls, statuses
from test_client_model import curl_status, lab_client
from tlsprobe.lab import Lab
from tlsprobe.model import Policy, TargetResult

RESETS = "https-client-cert-diagnostic-reset"


def probe(lab: Lab, name: str) -> TargetResult:
    (result,) = probe_urls([lab.url(name)], Policy(timeout=3.0, ca_file=lab.ca_file))
    return result


def test_a_reset_diagnostic_leaves_the_question_open(lab: Lab) -> None:
    """A server that refuses without a certificate (curl: exit 35, and 200 with one) and resets
    the diagnostic handshake: tls.handshake keeps the alert's own two readings, not "no
    cipher suite in common", and the transcript says the diagnostic told nothing."""
    assert curl_status(lab, RESETS) == "exit 35"
    assert curl_status(lab, RESETS, *lab_client(lab)) == "200"
    result = probe(lab, RESETS)
    assert statuses(result)["tls.handshake"] == "fail"
    assert check(result, "tls.handshake") == (
        "the server aborted the handshake (no cipher or signature algorithm in common, or it "
        "requires a client certificate)",
        "the server may offer only weak ciphers, or require a client certificate",
    )
    assert any(
        line.endswith(
            "diagnostic handshake: failed too, before any CertificateRequest: whether the "
            "server asks for one is unknown"
        )
        for line in result.transcript
    )


def test_a_diagnostic_that_answers_still_tells(lab: Lab) -> None:
    """The twin: the same refusal with a diagnostic that completes says the server asked for
    a client certificate."""
    result = probe(lab, "https-client-cert-required-tls12")
    assert check(result, "tls.handshake")[0] == (
        "the server asked for a client certificate (CertificateRequest), then aborted the "
        "handshake when none came (handshake_failure alert)"
    )
