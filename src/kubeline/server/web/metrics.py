"""Which numbers describe a run at a glance: its headline metrics. They live in
:mod:`kubeline.comparison.metrics` (the notebook's ``kubeline.compare`` shares them); this
module keeps the web UI's imports where they were."""

from __future__ import annotations

from kubeline.comparison.metrics import (
    best_indices,
    headline_columns,
    metric_direction,
    metrics_of_runs,
    run_metrics,
)

__all__ = [
    "best_indices",
    "headline_columns",
    "metric_direction",
    "metrics_of_runs",
    "run_metrics",
]
