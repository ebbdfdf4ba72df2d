"""Prometheus metrics, summed over the worker processes (prometheus_client's multiprocess mode).

With several workers ``server.serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before any worker starts, so every worker writes its counters there and ``GET /metrics`` on any
worker shows the total. One worker keeps them in an ordinary registry.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..classifier import Classifier

__all__ = ["MULTIPROC_ENV", "Metrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; one short text takes about a millisecond, a thousand texts a few hundred.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        # Imported here: the value class is chosen from MULTIPROC_ENV at import time.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._own = CollectorRegistry()  # used only without a multiprocess folder
        # In multiprocess mode the values live in the folder's files, read back by render().
        registry = None if os.environ.get(MULTIPROC_ENV) else self._own
        self.requests = Counter("edgelstm_requests", "HTTP requests by route and status.",
                                ["route", "status"], registry=registry)
        self.texts = Counter("edgelstm_texts", "Texts classified, by route and status.",
                             ["route", "status"], registry=registry)
        self.latency = Histogram("edgelstm_request_duration_seconds", "Time from request to response, by route.",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=registry)
        self.model = Gauge("edgelstm_model_loaded", "1 for the model loaded (and warmed up) by the workers.",
                           ["name", "path", "arch", "int8"], multiprocess_mode="max", registry=registry)
        self.ready_workers = Gauge("edgelstm_ready_workers", "Worker processes whose model answers.",
                                   multiprocess_mode="livesum", registry=registry)

    def model_loaded(self, name: str, classifier: Classifier) -> None:
        config = classifier.config
        self.model.labels(name, classifier.source, config.arch,
                          "true" if config.quantization is not None else "false").set(1)
        self.ready_workers.set(1)

    def observe(self, route: str, status: int, texts: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        if texts:
            self.texts.labels(route, str(status)).inc(texts)
        self.latency.labels(route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = self._own
        return generate_latest(registry), CONTENT_TYPE_LATEST
