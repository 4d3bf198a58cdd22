"""Which numbers describe a run at a glance: its headline metrics.

A run's headline metrics are what its pipeline returns: numeric output parameters and the
values of the Metrics artifacts among its outputs (the lifecycle pipeline returns its
accuracy and its evaluation metrics). A run whose pipeline returns none falls back to the
Metrics artifacts its tasks logged, keeping only names logged once in the run: a value
logged by every iteration of a loop says nothing about the run as a whole.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from kubeline.store import RunRecord, RunStore

__all__ = ["headline_columns", "metrics_of_runs", "run_metrics"]

_METRICS = "system.Metrics"
# Names people look for first, when a page must choose a few columns.
_PREFERRED = ("accuracy", "roc_auc", "auc", "f1", "precision", "recall", "rmse", "mae", "r2")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(float(value)) else float(value)


def run_metrics(run: RunRecord) -> dict[str, float]:
    """Numeric values among the run's pipeline outputs, Metrics artifacts' values included."""
    found: dict[str, float] = {}
    for name, value in (run.outputs or {}).items():
        if isinstance(value, dict) and value.get("type") == _METRICS:
            for key, metric in (value.get("metadata") or {}).items():
                number = _number(metric)
                if number is not None:
                    found.setdefault(key, number)
        else:
            number = _number(value)
            if number is not None:
                found[name] = number
    return found


def metrics_of_runs(store: RunStore, runs: list[RunRecord]) -> dict[str, dict[str, float]]:
    """Headline metrics of each run (by id), with one store query for those that need it."""
    result = {run.run_id: run_metrics(run) for run in runs}
    bare = [run_id for run_id, found in result.items() if not found]
    if bare:
        per_run: dict[str, list[dict[str, Any]]] = {}
        for artifact in store.list_artifacts(run_ids=bare, schema_title=_METRICS):
            per_run.setdefault(artifact.run_id, []).append(artifact.metadata or {})
        for run_id, logged in per_run.items():
            counts = Counter(key for metadata in logged for key in metadata)
            for metadata in logged:
                for key, value in metadata.items():
                    number = _number(value)
                    if number is not None and counts[key] == 1:
                        result[run_id][key] = number
    return result


def headline_columns(metrics: dict[str, dict[str, float]], limit: int = 4) -> list[str]:
    """The metric names worth a column: the most common on the page, well-known ones first."""
    counts = Counter(name for found in metrics.values() for name in found)

    def rank(name: str) -> tuple[int, int, str]:
        preferred = _PREFERRED.index(name) if name in _PREFERRED else len(_PREFERRED)
        return (-counts[name], preferred, name)

    return sorted(counts, key=rank)[:limit]
