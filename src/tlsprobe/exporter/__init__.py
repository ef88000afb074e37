"""`tlsprobe serve`: a Prometheus exporter (/probe?target=URL as blackbox_exporter, /metrics)."""

from tlsprobe.exporter.app import Exporter, run_until_stopped
from tlsprobe.exporter.metrics import Round, RoundCollector, scrape_deadline
from tlsprobe.exporter.web import Refused

__all__ = ["Exporter", "Refused", "Round", "RoundCollector", "run_until_stopped", "scrape_deadline"]
