"""What the exporter serves: a probe's deadline from the scrape timeout, /probe's families
(tlsprobe's own names and blackbox_exporter's), /metrics' rounds, and the policy a module names."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from tlsprobe.exporter import blackbox
from tlsprobe.model import Policy, TargetResult
from tlsprobe.records import record
from tlsprobe.report.prometheus import ResultsCollector
from tlsprobe.sources import PolicyDefaults

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_MARGIN_S = 0.5  # blackbox_exporter's default timeout_offset: time to send the answer
MIN_DEADLINE_S = 0.1


@record
class Round:
    """One finished pass over every configured target."""

    number: int
    results: tuple[TargetResult, ...]
    finished_at: float  # Unix time
    elapsed_s: float


def scrape_deadline(header: str | None, timeout: float) -> float:
    """The probe's deadline: the scrape timeout minus a margin, never above `timeout`."""
    try:
        scrape = float(header) if header else math.nan
    except ValueError:
        scrape = math.nan
    if not math.isfinite(scrape) or scrape <= 0:
        return timeout
    return min(timeout, max(MIN_DEADLINE_S, scrape - SCRAPE_MARGIN_S))


class RoundCollector:
    """/metrics: the last finished round's results, and when that round ended."""

    def __init__(self, last: Callable[[], Round | None]) -> None:
        self.last = last

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        done = self.last()
        yield CounterMetricFamily(
            "tlsprobe_rounds", "rounds finished since start", value=done.number if done else 0
        )
        if done is None:
            return
        yield GaugeMetricFamily(
            "tlsprobe_round_end_timestamp_seconds",
            "when the round served here finished, Unix time",
            value=done.finished_at,
        )
        yield GaugeMetricFamily(
            "tlsprobe_round_duration_seconds",
            "how long the round served here took",
            value=done.elapsed_s,
        )
        yield from ResultsCollector(done.results).collect()


class ProbeCollector:
    """/probe: one result under tlsprobe's names, then under blackbox_exporter's."""

    def __init__(self, result: TargetResult) -> None:
        self.result = result

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from ResultsCollector([self.result]).collect()
        yield from blackbox.collect(self.result)


def module_policies(policy: Policy, modules: Mapping[str, PolicyDefaults]) -> dict[str, Policy]:
    """Each [modules.NAME] over the exporter's policy: a module's keys win over flags and
    [defaults] for the scrapes that name it; the keys it leaves out keep the exporter's."""
    return {name: module_policy(policy, given) for name, given in modules.items()}


def module_policy(policy: Policy, given: PolicyDefaults) -> Policy:
    keys = (
        "timeout",
        "min_tls",
        "expiry_warn_days",
        "ca_file",
        "tls_legacy",
        "expiry_warn_fraction",
        "expiry_fail_days",
        "revocation",
    )
    changes = {key: getattr(given, key) for key in keys if getattr(given, key) is not None}
    return replace(policy, **changes)
