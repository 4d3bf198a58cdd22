"""kubeline's model server: scikit-learn models behind KServe's V1 and V2 (Open Inference
Protocol) REST APIs, with adaptive batching and Prometheus metrics.

>>> config = ServeConfig(models=[ModelEntry(name="iris", version="1", path="iris.joblib")])
>>> run_server(config, port=8080)  # doctest: +SKIP
"""

from __future__ import annotations

from kubeline.serving.app import create_serving_app, run_server
from kubeline.serving.config import ModelEntry, ServeConfig

__all__ = ["ModelEntry", "ServeConfig", "create_serving_app", "run_server"]
