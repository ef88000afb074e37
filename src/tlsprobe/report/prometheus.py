"""--format prometheus: the text exposition format, with names in the style of blackbox_exporter.

Every sample carries `target` (the URL with any password as ***) and `name` (the target's name,
or the same URL when it has none):

- `tlsprobe_success{target,name,protocol}`: 1 when the target did not fail (pass or warn), else 0,
  as blackbox's `probe_success`; warnings are alerted on through `tlsprobe_check_status`.
- `tlsprobe_check_status{target,name,check,status}`: one sample per status (pass, warn, fail,
  skip) for every check, 1 for the check's status and 0 for the other three (the
  kube-state-metrics convention): `tlsprobe_check_status{status="fail"} == 1` alerts, and a series
  never disappears when a status changes.
- `tlsprobe_tls_version_info{target,name,version}`: 1, for the negotiated version (absent
  without a handshake).
- `tlsprobe_cert_not_after_seconds{target,name,cert="leaf"}`: the leaf's expiry, Unix time.
- `tlsprobe_cert_earliest_not_after_seconds{target,name}`: the earliest expiry in the chain the
  server sent (blackbox's `probe_ssl_earliest_cert_expiry`): an intermediate can expire first.
- `tlsprobe_duration_seconds{target,name}`: how long the probe took.

A target listed twice (same URL and name) is exported once: duplicate series are invalid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tlsprobe.model import CertInfo, Status, TargetResult
from tlsprobe.report import RunInfo

STATUSES = (Status.PASS, Status.WARN, Status.FAIL, Status.SKIP)


def earliest_not_after(chain: Sequence[CertInfo]) -> float | None:
    """The earliest expiry among the certificates the server sent, as Unix time."""
    return min((c.not_after.timestamp() for c in chain), default=None)


def unique(results: Iterable[TargetResult]) -> list[TargetResult]:
    """Results with a (target, name) pair seen before dropped: their series would collide."""
    seen: set[tuple[str, str]] = set()
    kept: list[TargetResult] = []
    for result in results:
        key = (result.target, result.name)
        if key not in seen:
            seen.add(key)
            kept.append(result)
    return kept


class ResultsCollector:
    """A prometheus_client collector over a fixed list of results (also used by `serve`)."""

    def __init__(self, results: Sequence[TargetResult]) -> None:
        self.results = unique(results)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ident = ["target", "name"]
        success = GaugeMetricFamily(
            "tlsprobe_success",
            "1 when no check failed (warnings allowed), else 0",
            labels=[*ident, "protocol"],
        )
        checks = GaugeMetricFamily(
            "tlsprobe_check_status",
            "1 for the check's status (pass, warn, fail, skip), 0 for the others",
            labels=[*ident, "check", "status"],
        )
        version = GaugeMetricFamily(
            "tlsprobe_tls_version_info", "the negotiated TLS version", labels=[*ident, "version"]
        )
        leaf = GaugeMetricFamily(
            "tlsprobe_cert_not_after_seconds",
            "expiry of the certificate, Unix time",
            labels=[*ident, "cert"],
        )
        earliest = GaugeMetricFamily(
            "tlsprobe_cert_earliest_not_after_seconds",
            "earliest expiry in the chain the server sent, Unix time",
            labels=ident,
        )
        duration = GaugeMetricFamily(
            "tlsprobe_duration_seconds", "how long the probe took", labels=ident
        )
        for r in self.results:
            who = [r.target, r.name]
            success.add_metric([*who, r.protocol], 0.0 if r.status is Status.FAIL else 1.0)
            for check in r.checks:
                for status in STATUSES:
                    value = 1.0 if check.status is status else 0.0
                    checks.add_metric([*who, check.id, status.value], value)
            duration.add_metric(who, r.elapsed_ms / 1000)
            if r.tls is None:
                continue
            version.add_metric([*who, r.tls.version], 1.0)
            if r.tls.chain:
                leaf.add_metric([*who, "leaf"], r.tls.chain[0].not_after.timestamp())
            if (first := earliest_not_after(r.tls.chain)) is not None:
                earliest.add_metric(who, first)
        yield from (success, checks, version, leaf, earliest, duration)


def exposition(collector: Collector) -> str:
    """The text exposition of one collector, from a registry of its own (no process metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode("utf-8")


def render(results: Sequence[TargetResult], info: RunInfo, color: bool = False) -> str:
    del info, color  # a scrape is a snapshot: run timing lives in tlsprobe_duration_seconds
    return exposition(ResultsCollector(results))
