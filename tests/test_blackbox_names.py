"""blackbox_exporter's names on /probe, held to the real blackbox_exporter (Debian's 0.23) probing
the same lab endpoints: the same samples, label for label and value for value; absent where a
value is unknown; and the cipher names to OpenSSL's own table of standard names."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from promtools import free_port, running, tool
from tlsprobe.exporter import Exporter
from tlsprobe.exporter.blackbox import GO_CIPHER_NAMES, _openssl_codes, cipher_name
from tlsprobe.failures import UsageError
from tlsprobe.lab import Lab
from tlsprobe.model import Policy
from tlsprobe.plan import Flags, Sources, make_plan
from tlsprobe.targets import parse_target

TLS_NAMES = (
    "probe_ssl_earliest_cert_expiry",
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "probe_ssl_last_chain_info",
    "probe_tls_version_info",
    "probe_tls_cipher_info",
)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str, names: tuple[str, ...]) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in names
    }


@pytest.fixture(scope="module")
def blackbox(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's blackbox_exporter with a module `tls` that trusts the lab's root."""
    binary = tool("prometheus-blackbox-exporter")
    workdir = tmp_path_factory.mktemp("blackbox")
    config = workdir / "blackbox.yml"
    config.write_text(
        "modules:\n  tls:\n    prober: http\n    timeout: 5s\n    http:\n"
        f"      tls_config:\n        ca_file: {lab.ca_file}\n"
    )
    address = f"127.0.0.1:{free_port()}"
    argv = [binary, f"--config.file={config}", f"--web.listen-address={address}"]
    with running(argv, f"http://{address}/-/healthy", workdir):
        yield f"http://{address}"


@pytest.fixture(scope="module")
def tlsprobe(lab: Lab) -> Iterator[str]:
    with Exporter([], Policy(timeout=5.0, ca_file=lab.ca_file), allow_any=True,
                  listen=("127.0.0.1", 0)) as exporter:  # fmt: skip
        host, port = exporter.address
        yield f"http://{host}:{port}"


def without_serial(key: tuple[str, frozenset[tuple[str, str]]]) -> tuple[str, frozenset[Any]]:
    name, labels = key
    return name, frozenset((k, v) for k, v in labels if k != "serialnumber")


def leaf_serial(url: str) -> str:
    """The served leaf's serial as blackbox writes it: its bytes in hex, an even count."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    pem = ssl.get_server_certificate((host, port or 443))
    digits = f"{x509.load_pem_x509_certificate(pem.encode()).serial_number:x}"
    return digits.zfill(len(digits) + len(digits) % 2)


def scrape(base: str, target: str, **params: str) -> str:
    answer = httpx.get(f"{base}/probe", params={"target": target, **params}, timeout=15)
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.mark.parametrize("endpoint", ["https-good", "tls-ip-san"])
def test_the_same_samples_as_blackbox(
    blackbox: str, tlsprobe: str, lab: Lab, endpoint: str
) -> None:
    """For a verified TLS 1.3 chain (a DNS SAN; an IP-only SAN, whose subjectalternative is
    empty), tlsprobe's probe_ssl_*, probe_tls_version_info and probe_success equal
    blackbox_exporter's (0.23 has no probe_tls_cipher_info: the OpenSSL test covers it)."""
    url = lab.url(endpoint)
    names = (*TLS_NAMES[:-1], "probe_success")
    theirs = samples(scrape(blackbox, url, module="tls"), names)
    ours = samples(scrape(tlsprobe, url), names)
    assert {name for name, _ in theirs} == set(names)
    # 0.23 predates the serialnumber label: compared apart, to the leaf's serial as served.
    serials = {dict(labels).get("serialnumber") for _, labels in ours}
    assert serials == {None, leaf_serial(url)}
    assert {without_serial(key): v for key, v in ours.items()} == theirs
    cipher = samples(scrape(tlsprobe, url), ("probe_tls_cipher_info",))
    assert [dict(labels)["cipher"] for _, labels in cipher] == ["TLS_AES_256_GCM_SHA384"]


def test_an_unverified_chain_has_no_last_chain_expiry(
    blackbox: str, tlsprobe: str, lab: Lab
) -> None:
    """The twin: under an untrusted root blackbox fails with no TLS samples at all; tlsprobe says
    what it saw (the sent chain's expiry, version, cipher) but no verified-chain expiry, and
    never a zero or year-1 timestamp."""
    url = lab.url("https-untrusted-root")
    theirs = samples(scrape(blackbox, url, module="tls"), (*TLS_NAMES, "probe_success"))
    ours = samples(scrape(tlsprobe, url), (*TLS_NAMES, "probe_success"))
    assert theirs == {("probe_success", frozenset()): 0.0}
    assert {name for name, _ in ours} == {*TLS_NAMES, "probe_success"} - {
        "probe_ssl_last_chain_expiry_timestamp_seconds"
    }
    assert ours[("probe_success", frozenset())] == 0.0
    assert min(v for (name, _), v in ours.items() if name.endswith("expiry")) > 1.6e9


def test_no_tls_session_no_tls_samples(tlsprobe: str, lab: Lab) -> None:
    """Nothing listening: probe_success 0 and probe_duration_seconds, no TLS family at all."""
    text = scrape(tlsprobe, f"https://localhost:{free_port()}/")
    found = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    assert {n for n in found if n.startswith("probe_")} == {
        "probe_success",
        "probe_duration_seconds",
    }


def test_cipher_names_are_openssl_standard_names() -> None:
    """Every suite Go names gets OpenSSL's own standard (IANA) name; any other its 0x code."""
    listing = subprocess.run(
        [tool("openssl"), "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    pairs = [line.split(" - ") for line in listing.splitlines() if " - " in line]
    standard = {ours.split()[0]: iana.strip() for iana, ours in pairs}
    assert len(standard) > 30
    codes = _openssl_codes()
    for openssl_name, iana in standard.items():
        expected = (
            iana if codes[openssl_name] in GO_CIPHER_NAMES else f"0x{codes[openssl_name]:04X}"
        )
        assert cipher_name(openssl_name) == expected, openssl_name
    assert cipher_name("ECDHE-ECDSA-AES256-SHA384") == "0xC024"


def test_a_module_picks_its_options_and_an_unknown_one_is_ignored(lab: Lab, tmp_path: Path) -> None:
    """[modules.NAME] from tlsprobe.toml applies to the scrapes that name it: with
    expiry_warn_days = 0 a certificate 5 days from expiry passes cert.expiry; without a module,
    or with one not configured, the exporter's own 14 days make it warn."""
    config = tmp_path / "tlsprobe.toml"
    config.write_text("[modules.relaxed]\nexpiry_warn_days = 0\ntimeout = 4\n")
    plan = make_plan(Sources(config=config), Flags(), {}, default_timeout=5.0, required=False)
    policy = Policy(timeout=5.0, ca_file=lab.ca_file)
    url = lab.url("https-expiring-soon")
    with Exporter(
        [parse_target(url)], policy, modules=plan.modules, listen=("127.0.0.1", 0)
    ) as exporter:
        host, port = exporter.address
        base = f"http://{host}:{port}"
        severity = {
            module: samples(scrape(base, url, module=module), ("tlsprobe_check_severity",))
            for module in ("", "relaxed", "nonesuch")
        }
    expiry = {"cert.expiry"}
    assert {dict(k[1])["check"] for k in severity[""]} == expiry
    assert {dict(k[1])["check"] for k in severity["nonesuch"]} == expiry
    assert severity["relaxed"] == {}
    assert exporter.policy_for("relaxed").timeout == 4.0


def test_a_module_with_a_wrong_key_is_one_line(tmp_path: Path) -> None:
    """The twin: a module's unknown key (concurrency is a round's, not a scrape's) stops the
    run with one line naming the file, the module and the allowed keys."""
    config = tmp_path / "tlsprobe.toml"
    config.write_text("[modules.fast]\nconcurrency = 5\n")
    with pytest.raises(UsageError) as raised:
        make_plan(Sources(config=config), Flags(), {}, default_timeout=5.0, required=False)
    assert str(raised.value) == (
        f"{config}: modules.fast.concurrency: unknown key "
        "(expected one of: timeout, min_tls, expiry_warn_days, ca_file, tls_legacy, "
        "expiry_warn_fraction, expiry_fail_days, revocation)"
    )


def test_a_module_sets_the_expiry_thresholds(tmp_path: Path) -> None:
    """A module's expiry_warn_fraction and expiry_fail_days reach the policy of its scrapes;
    a module that sets neither keeps the exporter's own."""
    from tlsprobe.exporter.metrics import module_policy
    from tlsprobe.sources import PolicyDefaults

    base = Policy(expiry_warn_fraction=0.25, expiry_fail_days=0)
    given = PolicyDefaults(expiry_warn_fraction=0.5, expiry_fail_days=3)
    changed = module_policy(base, given)
    assert (changed.expiry_warn_fraction, changed.expiry_fail_days) == (0.5, 3)
    kept = module_policy(base, PolicyDefaults(timeout=2.0))
    assert (kept.expiry_warn_fraction, kept.expiry_fail_days) == (0.25, 0)
