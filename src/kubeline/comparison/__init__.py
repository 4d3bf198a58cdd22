"""Runs compared, as plain data: headline metrics and which run is best at each, parameters
side by side, and ClassificationMetrics overlaid (ROC curves, confusion matrices in one
class order).

The web UI's compare page and ``kubeline.compare`` in a notebook both build on it, so they
show the same comparison; it imports only the store and :mod:`kubeline.charts` (an
import-linter contract keeps the server and the notebook views out of it).
"""

from __future__ import annotations

from kubeline.comparison.classification import (
    CLASSIFICATION,
    ArtifactGroup,
    align_confusions,
    classification_group,
    group_artifacts,
)
from kubeline.comparison.metrics import (
    best_indices,
    headline_columns,
    metric_direction,
    metrics_of_runs,
    run_metrics,
)
from kubeline.comparison.rows import DIRECTION_WORDS, metric_charts, metric_rows
from kubeline.comparison.values import format_value, parameters_of, side_by_side

__all__ = [
    "CLASSIFICATION",
    "DIRECTION_WORDS",
    "ArtifactGroup",
    "align_confusions",
    "best_indices",
    "classification_group",
    "format_value",
    "group_artifacts",
    "headline_columns",
    "metric_charts",
    "metric_direction",
    "metric_rows",
    "metrics_of_runs",
    "parameters_of",
    "run_metrics",
    "side_by_side",
]
