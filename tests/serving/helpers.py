"""Test helpers: a real model server on a free loopback port (uvicorn in a thread), and an
estimator that fails on purpose (importable by module path, so joblib can load it)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import httpx
import numpy as np
import uvicorn

from kubeline.serving import ServeConfig, create_serving_app
from tests.live import serve_in_thread


@dataclass
class LiveServer:
    url: str
    config: ServeConfig
    server: uvicorn.Server
    thread: threading.Thread

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


def start_server(config: ServeConfig) -> LiveServer:
    url, server, thread = serve_in_thread(create_serving_app(config))
    return LiveServer(url, config, server, thread)


class FailingClassifier:
    """Predicts class 0, except that ``predict`` raises for any row whose first value is
    negative: a model that breaks on some inputs at run time."""

    n_features_in_ = 2
    classes_ = np.array([0, 1])

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        if (rows[:, 0] < 0).any():
            raise RuntimeError("negative input reached the model")
        return np.zeros(len(rows), dtype=np.int64)


_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$"
)


def metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one metric in a Prometheus text exposition: (labels, value)."""
    found = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match["name"] != name:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        found.append((labels, float(match["value"])))
    return found
