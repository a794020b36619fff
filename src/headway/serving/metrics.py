"""Prometheus metrics of a prediction server, served on ``GET /metrics``.

With several worker processes, ``headway serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh folder, and every worker's numbers are summed on each scrape (prometheus_client's
multiprocess mode), so one scrape sees the whole server.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """The server's counters, histograms and gauges, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "headway_requests",
            "Requests answered, by deployment, route, endpoint and HTTP status.",
            ["deployment", "route", "endpoint", "status"],
            registry=r,
        )
        self.errors = Counter(
            "headway_request_errors",
            "Requests answered with a 4xx or 5xx status, by deployment, endpoint and status.",
            ["deployment", "endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "headway_request_latency_seconds",
            "Time from request to response, by deployment and route.",
            ["deployment", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "headway_batch_size_rows",
            "Rows per model call (micro-batch), by deployment and model version.",
            ["deployment", "model_version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "headway_queue_depth_rows",
            "Rows waiting for a model, by deployment and model version.",
            ["deployment", "model_version"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.fallbacks = Counter(
            "headway_fallbacks",
            "Requests answered by the fallback route, by deployment and the route that failed.",
            ["deployment", "route"],
            registry=r,
        )
        self.shadow_dropped = Counter(
            "headway_shadow_dropped",
            "Shadow copies dropped because the shadow's queue was full.",
            ["deployment"],
            registry=r,
        )
        self.overloaded = Counter(
            "headway_overloaded",
            "Requests refused with 503 because a queue was full.",
            ["deployment"],
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every worker (or of this process alone)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            combined = CollectorRegistry()
            _multiprocess.MultiProcessCollector(combined)
            return generate_latest(combined)
        return generate_latest(self.registry)
