"""Which numbers describe a run at a glance: its headline metrics (the web UI's runs list
and compare page, and ``kubeline.compare`` in a notebook).

A run's headline metrics are what its pipeline returns: numeric output parameters and the
values of the Metrics artifacts among its outputs (the lifecycle pipeline returns its
accuracy and its evaluation metrics). A run whose pipeline returns none falls back to the
Metrics artifacts its tasks logged, keeping only names logged once in the run: a value
logged by every iteration of a loop says nothing about the run as a whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from kubeline.store import RunRecord, RunStore

__all__ = [
    "best_indices",
    "headline_columns",
    "metric_direction",
    "metrics_of_runs",
    "run_metrics",
]

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
        for artifact in store.artifacts.list(run_ids=bare, schema_title=_METRICS):
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


# --------------------------------------------------------------------------- which is best

# Words in a metric's name that say which way it counts. Lower-is-better words win over
# higher-is-better ones ("accuracy_error" is an error), and scikit-learn's ``neg_`` prefix
# flips either ("neg_mean_squared_error" is higher-is-better).
# fmt: off
_LOWER = frozenset((
    "loss", "error", "err", "mse", "mae", "rmse", "mape", "smape", "msle", "rmsle", "brier",
    "perplexity", "hinge", "wer", "cer", "fpr", "fnr", "miss", "latency",
))
_HIGHER = frozenset((
    "accuracy", "acc", "f1", "f2", "fbeta", "auc", "auroc", "roc", "precision", "recall",
    "sensitivity", "specificity", "tpr", "r2", "iou", "dice", "map", "ndcg", "bleu", "rouge",
    "kappa", "mcc", "matthews", "score", "explained", "top1", "top5",
))
# fmt: on
_WORDS = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def metric_direction(name: str) -> str | None:
    """``"higher"`` or ``"lower"`` when a metric's name says which way is better
    (accuracy, f1, auc... up; loss, error, mse, mae... down), else None: a row count or a
    duration has no best."""
    words = _WORDS.findall(_CAMEL.sub("_", name).lower())
    flip = "neg" in words or "negative" in words
    if any(w in _LOWER or w.endswith(("loss", "error")) for w in words):
        found = "lower"
    elif any(w in _HIGHER or w.endswith(("accuracy", "auc", "score")) for w in words):
        found = "higher"
    else:
        return None
    if flip:
        return "lower" if found == "higher" else "higher"
    return found


def best_indices(values: Sequence[float | None], direction: str | None) -> set[int]:
    """Which of ``values`` (one per run) are best in ``direction``: all the tied best ones,
    and none when fewer than two are numbers, when all are equal, or the direction is
    unknown (a mark must tell runs apart)."""
    if direction not in ("higher", "lower"):
        return set()
    numbers = {
        i: float(v)
        for i, v in enumerate(values)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }
    if len(numbers) < 2 or len(set(numbers.values())) < 2:
        return set()
    target = max(numbers.values()) if direction == "higher" else min(numbers.values())
    return {i for i, v in numbers.items() if v == target}
