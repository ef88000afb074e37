"""What the exporter serves: a probe's deadline from the scrape timeout, and /metrics' rounds."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from tlsprobe.model import TargetResult
from tlsprobe.report.prometheus import ResultsCollector

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_MARGIN_S = 0.5  # blackbox_exporter's default timeout_offset: time to send the answer
MIN_DEADLINE_S = 0.1


@dataclass(frozen=True)
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
