"""The process's Prometheus metrics, on a registry of its own (built by the bootstrap, never at
import): HTTP requests and latency, the outbox backlog, read-cache hits and misses, and every
circuit breaker's state."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shelfmark.seedwork.infrastructure.breaker import BreakerRegistry

STATES = ("closed", "open", "half_open")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BreakerCollector(Collector):
    """Reads the breakers at scrape time, so the figures are never stale."""

    def __init__(self, breakers: BreakerRegistry) -> None:
        self._breakers = breakers

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "shelfmark_circuit_breaker_state",
            "1 for the state each circuit breaker is in.",
            labels=["breaker", "state"],
        )
        failure_rate = GaugeMetricFamily(
            "shelfmark_circuit_breaker_failure_rate",
            "Failure percentage in the breaker's window (-1 below its minimum calls).",
            labels=["breaker"],
        )
        rejected = GaugeMetricFamily(
            "shelfmark_circuit_breaker_not_permitted_calls",
            "Calls rejected without touching the dependency since the process started.",
            labels=["breaker"],
        )
        for snapshot in self._breakers.snapshots():
            for name in STATES:
                state.add_metric([snapshot.name, name], 1.0 if snapshot.state == name else 0.0)
            failure_rate.add_metric([snapshot.name], snapshot.failure_rate)
            rejected.add_metric([snapshot.name], snapshot.not_permitted_calls)
        yield from (state, failure_rate, rejected)


class Metrics:
    def __init__(self, breakers: BreakerRegistry) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shelfmark_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shelfmark_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "shelfmark_outbox_pending",
            "Outbox rows not yet published (sampled by the relay).",
            registry=self.registry,
        )
        self.projection_lag = Gauge(
            "shelfmark_projection_lag_seconds",
            "Time from an event to the search index applying it (the last one applied).",
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "shelfmark_cache_hits",
            "Reads answered from the read cache (or by a concurrent load), by route template.",
            ["route"],
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "shelfmark_cache_misses",
            "Reads the read cache could not answer, loaded from the database, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.registry.register(BreakerCollector(breakers))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
