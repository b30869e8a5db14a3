"""Prometheus metrics of one server, in its own registry (several servers may share a process,
as they do in tests), served over HTTP on ``server.metrics_port`` when set."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)

__all__ = ["ServerMetrics"]

log = logging.getLogger("omnivec.server")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServerMetrics:
    """Request counts and latencies by method and status, items indexed, encoder batch sizes."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "omnivec_requests_total", "RPCs handled, by method and status code.",
            ["method", "code"], registry=self.registry,
        )
        self.latency = Histogram(
            "omnivec_request_duration_seconds", "RPC duration, by method and status code.",
            ["method", "code"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.items = Counter(
            "omnivec_items_indexed_total",
            "Items processed by Upsert and IndexPath, by outcome (indexed, unchanged, failed).",
            ["status"], registry=self.registry,
        )
        self.batch_size = Histogram(
            "omnivec_encoder_batch_size",
            "Inputs per encoder forward pass made by the dynamic batcher, by encoder and kind.",
            ["encoder", "kind"], buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self._http: Any = None

    def observe_request(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        self.latency.labels(method, code).observe(seconds)

    def observe_item(self, status: str) -> None:
        self.items.labels(status).inc()

    def observe_batch(self, encoder: str, kind: str, size: int) -> None:
        self.batch_size.labels(encoder, kind).observe(size)

    def render(self) -> bytes:
        """The text exposition format, as the HTTP endpoint serves it."""
        return bytes(generate_latest(self.registry))

    def serve_http(self, host: str, port: int) -> int:
        """Starts the /metrics endpoint; returns its port (useful with port 0)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._http = server
        bound = int(server.server_address[1])
        log.info("metrics on http://%s:%d/metrics", host, bound)
        return bound

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
