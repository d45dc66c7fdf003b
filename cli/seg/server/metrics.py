"""``/metrics``: the server's counters in Prometheus' text format, one registry per app.

Every label value comes from a bounded set — the method (seven names or ``OTHER``), the route
template (or ``unmatched``), the status the app answered, the API error code — so no request
can add a series. What the database knows (the lock held per workspace, the pool) is read when
Prometheus scrapes, never kept.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from seg.server.clock import Clock
from seg.store.base import Store, StoreError

__all__ = ["LATENCY_BUCKETS", "Metrics", "metrics_token_ok"]

# Seconds: from a cached read to a slow write under load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_REQUEST_LABELS = ("method", "route", "status")


class Metrics:
    """The application's metrics and the registry that exposes them."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("seg_http_requests", "HTTP requests answered",
                                _REQUEST_LABELS, registry=self.registry)  # fmt: skip
        self.latency = Histogram("seg_http_request_duration_seconds",
                                 "Time from a request's arrival to the end of its answer",
                                 _REQUEST_LABELS, buckets=LATENCY_BUCKETS,
                                 registry=self.registry)  # fmt: skip
        self.in_flight = Gauge("seg_http_requests_in_flight", "Requests being served now",
                               registry=self.registry)  # fmt: skip
        self.api_errors = Counter("seg_api_errors", "Error answers by the API's error code",
                                  ("code",), registry=self.registry)  # fmt: skip
        self.registry.register(_StoreCollector(store, clock))

    def observe(self, method: str, route: str, status: int, seconds: float,
                code: object) -> None:  # fmt: skip
        """Count one answered request (``code``: the API error code of an error answer)."""
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)
        if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 16:
            self.api_errors.labels(str(code)).inc()

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape and its content type: Prometheus text 0.0.4, or OpenMetrics when the
        scraper's ``Accept`` asks for it."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class _StoreCollector(Collector):
    """What the database says at scrape time: whether each workspace's lock is held, the pool's
    use, and whether the database answered at all."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        held = GaugeMetricFamily("seg_workspace_lock_held",
                                 "1 while an unexpired lease on the workspace's lock exists",
                                 labels=["workspace"])  # fmt: skip
        up = GaugeMetricFamily("seg_database_up", "1 when the database answered this scrape")
        try:
            with self.store.tx() as tx:
                expiries = tx.lock_expiries()
        except StoreError:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            now = self.clock.now()
            for workspace, expires_at in sorted(expiries.items()):
                held.add_metric([workspace], 1 if expires_at is not None and expires_at > now
                                else 0)  # fmt: skip
        yield held
        yield up
        pool = self.store.pool_status()
        yield GaugeMetricFamily("seg_db_pool_checked_out", "Database connections in use now",
                                value=pool.checked_out)  # fmt: skip
        yield GaugeMetricFamily("seg_db_pool_size",
                                "Connections the database pool keeps (0: no fixed size)",
                                value=pool.size)  # fmt: skip


def metrics_token_ok(expected: str | None, authorization: str | None) -> bool:
    """Whether ``Authorization`` carries the metrics token (always, when none is set);
    compared in constant time."""
    if expected is None:
        return True
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), expected.encode())
