"""Prometheus metrics of the model server, in a registry per app (no globals).

- ``kubeline_serving_requests_total{model, protocol, code}``: inference requests answered
  (``model`` is empty for a model the server does not have, so that a client probing
  names cannot grow the label set without bound);
- ``kubeline_serving_request_duration_seconds{model, protocol}``: their latency;
- ``kubeline_serving_batch_size{model, version}``: rows per ``predict`` call, so that one
  can see how much the batcher groups.

With several workers, each process counts its own requests; when
``PROMETHEUS_MULTIPROC_DIR`` is set (``run_server`` sets it for ``workers > 1``),
prometheus_client keeps every worker's values in files there and ``/metrics`` adds them up,
whichever worker answers the scrape.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

__all__ = ["MULTIPROC_ENV", "ServingMetrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)


class ServingMetrics:
    """The server's counters and histograms, and their text exposition."""

    def __init__(self) -> None:
        self.multiproc_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "kubeline_serving_requests",
            "Inference requests answered, by model, protocol and HTTP status code.",
            ["model", "protocol", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kubeline_serving_request_duration_seconds",
            "Time from a request's arrival to its response, in seconds.",
            ["model", "protocol"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "kubeline_serving_batch_size",
            "Rows in each predict call (several requests' rows when batched).",
            ["model", "version"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        # Children by their labels: (requests, latency), or (batch size,).
        self._children: dict[tuple[str | int, ...], tuple[Any, ...]] = {}

    def observe_request(self, model: str, protocol: str, code: int, seconds: float) -> None:
        key = (model, protocol, code)
        children = self._children.get(key)
        if children is None:  # labels() costs more than the increment: cache the children
            children = (
                self.requests.labels(model, protocol, str(code)),
                self.latency.labels(model, protocol),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, model: str, version: str, rows: int) -> None:
        key = ("batch", model, version)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = (self.batch_size.labels(model, version),)
        child[0].observe(rows)

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type: every worker's values added up when
        the server runs in multiprocess mode, this process's otherwise."""
        if self.multiproc_dir:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            # prometheus_client leaves this constructor unannotated (strict mypy flags the call).
            multiprocess.MultiProcessCollector(registry, path=self.multiproc_dir)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
