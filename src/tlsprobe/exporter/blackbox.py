"""blackbox_exporter's names for one /probe result, computed and labelled as its prober/tls.go
and prober/http.go do, so that a blackbox user's alert rules and dashboards work unchanged:

- `probe_success`, `probe_duration_seconds`: no labels (Prometheus adds instance and job).
- `probe_ssl_earliest_cert_expiry`: the earliest expiry among the certificates the server sent.
- `probe_ssl_last_chain_expiry_timestamp_seconds`: the earliest expiry on the verified path,
  trust anchor included (blackbox: the latest of its verified chains' earliest expiries; OpenSSL
  builds one path). Absent when the chain did not verify, where blackbox would say year 1.
- `probe_ssl_last_chain_info{fingerprint_sha256,subject,issuer,subjectalternative,serialnumber}`:
  the leaf as the server sent it (blackbox reads PeerCertificates[0], not the verified chain).
- `probe_tls_version_info{version="TLS 1.3"}`, `probe_tls_cipher_info{cipher}`: the cipher's
  IANA name as Go's tls.CipherSuiteName gives it, "0x%04X" for a suite Go does not know.

Every TLS family is left out when there was no TLS session: an unknown value is never a zero.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from tlsprobe.model import CertInfo, Status, TargetResult, TlsInfo
from tlsprobe.report.prometheus import earliest_not_after

# Go's crypto/tls CipherSuites() and InsecureCipherSuites(), by IANA code: the only suites
# tls.CipherSuiteName names. OpenSSL has no call for the IANA name in Python's ssl module.
GO_CIPHER_NAMES = {
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
}
# Go's getTLSVersion: anything else is "unknown".
GO_VERSION_NAMES = {
    "TLSv1": "TLS 1.0",
    "TLSv1.1": "TLS 1.1",
    "TLSv1.2": "TLS 1.2",
    "TLSv1.3": "TLS 1.3",
}


@functools.cache
def _openssl_codes() -> dict[str, int]:
    """OpenSSL's cipher names to their IANA codes (the low 16 bits of OpenSSL's id), for
    every suite this OpenSSL knows."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return {c["name"]: c["id"] & 0xFFFF for c in context.get_ciphers()}


def cipher_name(openssl_name: str) -> str:
    """A negotiated suite as blackbox labels it; an OpenSSL name without a code as it is."""
    code = _openssl_codes().get(openssl_name)
    if code is None:
        return openssl_name
    return GO_CIPHER_NAMES.get(code, f"0x{code:04X}")


def version_name(openssl_version: str) -> str:
    return GO_VERSION_NAMES.get(openssl_version, "unknown")


def unix_seconds(moment_s: float) -> float:
    """Whole seconds, as Go's Time.Unix() gives them."""
    return float(int(moment_s // 1))


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _info(name: str, help_text: str, labels: dict[str, str]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=list(labels))
    family.add_metric(list(labels.values()), 1.0)
    return family


def leaf_labels(leaf: CertInfo) -> dict[str, str]:
    """probe_ssl_last_chain_info's labels, from the leaf the server sent."""
    return {
        "fingerprint_sha256": leaf.sha256,
        "subject": "" if leaf.subject == "(empty)" else leaf.subject,
        "issuer": "" if leaf.issuer == "(empty)" else leaf.issuer,
        "subjectalternative": ",".join(leaf.dns_names),
        "serialnumber": leaf.serial,
    }


def collect(result: TargetResult) -> Iterator[GaugeMetricFamily]:
    """blackbox_exporter's families for one result."""
    success = 0.0 if result.status is Status.FAIL else 1.0
    yield _gauge("probe_success", "Displays whether or not the probe was a success", success)
    yield _gauge(
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        result.elapsed_ms / 1000,
    )
    if result.tls is not None:
        yield from _tls(result.tls)


def _tls(tls: TlsInfo) -> Iterator[GaugeMetricFamily]:
    earliest = earliest_not_after(tls.chain)
    if earliest is not None:
        yield _gauge(
            "probe_ssl_earliest_cert_expiry",
            "Returns last SSL chain expiry in unixtime",
            unix_seconds(earliest),
        )
    if tls.path_not_after is not None:
        yield _gauge(
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            "Returns last SSL chain expiry in timestamp",
            unix_seconds(tls.path_not_after.timestamp()),
        )
    if tls.chain:
        yield _info(
            "probe_ssl_last_chain_info",
            "Contains SSL leaf certificate information",
            leaf_labels(tls.chain[0]),
        )
    yield _info(
        "probe_tls_version_info",
        "Returns the TLS version used or NaN when unknown",
        {"version": version_name(tls.version)},
    )
    yield _info(
        "probe_tls_cipher_info",
        "Returns the TLS cipher negotiated during handshake",
        {"cipher": cipher_name(tls.cipher)},
    )
