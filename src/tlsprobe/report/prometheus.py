"""--format prometheus: the text exposition format, with names in the style of blackbox_exporter.

Every sample carries `target` (the URL with any password as ***) and `name` (the target's name,
or the same URL when it has none):

- `tlsprobe_success{target,name,protocol}`: 1 when the target did not fail (pass or warn), else 0,
  as blackbox's `probe_success`; warnings are alerted on through `tlsprobe_check_status`.
- `tlsprobe_check_severity{target,name,check}`: one sample for each check that did not pass, 1
  when it warns and 2 when it fails (a passed or skipped check has none: a skip follows from a
  failure that has its own sample, and a target whose checks were all skipped has success 0).
  Alerts read `tlsprobe_check_severity == 2` (fail) and `>= 1` (warn or fail), per check with
  `{check="tls.legacy"}`; a sample ends (and its alert resolves) when the check passes again.
  Only the problems: a series per check would be 10 to 12 series a target, most of them passes.
- `tlsprobe_tls_version_info{target,name,version}`: 1, for the negotiated version (absent
  without a handshake).
- `tlsprobe_cert_not_after_seconds{target,name,cert="leaf"}`: the leaf's expiry, Unix time.
- `tlsprobe_cert_not_before_seconds{target,name,cert="leaf"}`: the leaf's start of validity: with
  the expiry it gives the lifetime, for "the last fifth of its lifetime" alerts.
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

# tlsprobe_check_severity's values; a status not here has no sample.
SEVERITY = {Status.WARN: 1.0, Status.FAIL: 2.0}


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
            "tlsprobe_check_severity",
            "a check that did not pass: 1 warn, 2 fail (passed and skipped checks have none)",
            labels=[*ident, "check"],
        )
        version = GaugeMetricFamily(
            "tlsprobe_tls_version_info", "the negotiated TLS version", labels=[*ident, "version"]
        )
        leaf = GaugeMetricFamily(
            "tlsprobe_cert_not_after_seconds",
            "expiry of the certificate, Unix time",
            labels=[*ident, "cert"],
        )
        not_before = GaugeMetricFamily(
            "tlsprobe_cert_not_before_seconds",
            "start of the certificate's validity, Unix time",
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
                if (severity := SEVERITY.get(check.status)) is not None:
                    checks.add_metric([*who, check.id], severity)
            duration.add_metric(who, r.elapsed_ms / 1000)
            if r.tls is None:
                continue
            version.add_metric([*who, r.tls.version], 1.0)
            if r.tls.chain:
                leaf.add_metric([*who, "leaf"], r.tls.chain[0].not_after.timestamp())
                not_before.add_metric([*who, "leaf"], r.tls.chain[0].not_before.timestamp())
            if (first := earliest_not_after(r.tls.chain)) is not None:
                earliest.add_metric(who, first)
        yield from (success, checks, version, leaf, not_before, earliest, duration)


def exposition(collector: Collector) -> str:
    """The text exposition of one collector, from a registry of its own (no process metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode("utf-8")


def render(results: Sequence[TargetResult], info: RunInfo, color: bool = False) -> str:
    del info, color  # a scrape is a snapshot: run timing lives in tlsprobe_duration_seconds
    return exposition(ResultsCollector(results))
