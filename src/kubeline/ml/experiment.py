"""Experimentation and tuning: score trials by stratified cross-validation, pick the best.

Every trial is scored on the training split only; the test split stays untouched until
assessment, so the chosen model's test score is an honest estimate.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from kubeline.errors import ConfigError, DataValidationError
from kubeline.ml.features import DerivedFeatures, FeatureSpec
from kubeline.ml.transform import build_preprocessor
from kubeline.ml.validate import require_target
from kubeline.ml.zoo import Trial, make_estimator

__all__ = [
    "TrialResult",
    "build_model",
    "evaluate_trial",
    "leaderboard_markdown",
    "select_best",
    "split_xy",
]


@dataclass(frozen=True)
class TrialResult:
    """A trial's cross-validated score (JSON-friendly)."""

    trial_id: str
    family: str
    params: dict[str, Any]
    cv_mean: float
    cv_std: float
    fold_scores: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0
    metric: str = "accuracy"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        return cls(
            trial_id=str(data["trial_id"]),
            family=str(data["family"]),
            params=dict(data.get("params", {})),
            cv_mean=float(data["cv_mean"]),
            cv_std=float(data.get("cv_std", 0.0)),
            fold_scores=[float(s) for s in data.get("fold_scores", [])],
            fit_seconds=float(data.get("fit_seconds", 0.0)),
            metric=str(data.get("metric", "accuracy")),
        )

    @property
    def trial(self) -> Trial:
        return Trial(self.trial_id, self.family, self.params)


def build_model(spec: FeatureSpec, trial: Trial, seed: int = 42) -> Pipeline:
    """The whole model: derived features -> preprocessing -> estimator, one sklearn Pipeline."""
    return Pipeline(
        [
            ("features", DerivedFeatures.from_spec(spec)),
            ("preprocess", build_preprocessor()),
            ("model", make_estimator(trial.family, trial.params, seed)),
        ]
    )


def split_xy(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    require_target(frame, target)
    return frame.drop(columns=[target]), frame[target].astype(str)


def evaluate_trial(
    train: pd.DataFrame,
    target: str,
    spec: FeatureSpec,
    trial: Trial,
    cv_folds: int = 5,
    seed: int = 42,
    metric: str = "accuracy",
) -> TrialResult:
    """Score ``trial`` by stratified ``cv_folds``-fold cross-validation on ``train``.

    Raises:
        ConfigError: ``cv_folds`` < 2 or a bad parameter for the family.
        DataValidationError: a class has fewer rows than folds.
    """
    if int(cv_folds) < 2:
        raise ConfigError(f"cv_folds must be at least 2. Got {cv_folds} instead.")
    X, y = split_xy(train, target)
    smallest = int(y.value_counts().min())
    if smallest < cv_folds:
        raise DataValidationError(
            f"The smallest class has {smallest} training rows, fewer than cv_folds={cv_folds}. "
            "Lower cv_folds or add rows."
        )
    folds = StratifiedKFold(n_splits=int(cv_folds), shuffle=True, random_state=seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        # A trial that does not converge is still a valid (if weaker) candidate.
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            scores = cross_validate(
                build_model(spec, trial, seed),
                X,
                y,
                cv=folds,
                scoring=metric,
                error_score="raise",
            )["test_score"]
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"Trial '{trial.trial_id}' ({trial.family} {trial.params}) failed: {exc}"
            ) from exc
    return TrialResult(
        trial_id=trial.trial_id,
        family=trial.family,
        params=trial.params,
        cv_mean=float(np.mean(scores)),
        cv_std=float(np.std(scores)),
        fold_scores=[float(s) for s in scores],
        fit_seconds=time.perf_counter() - started,
        metric=metric,
    )


def _rank_key(result: TrialResult) -> tuple[float, float, str]:
    # Highest mean first; ties go to the steadier trial, then to the id for determinism.
    return (-round(result.cv_mean, 12), round(result.cv_std, 12), result.trial_id)


def select_best(results: list[TrialResult]) -> TrialResult:
    """The trial with the best mean CV score (ties: lower spread, then trial id)."""
    if not results:
        raise ConfigError("No trial results to choose from: did every trial fail?")
    return sorted(results, key=_rank_key)[0]


def leaderboard_markdown(results: list[TrialResult]) -> str:
    ranked = sorted(results, key=_rank_key)
    metric = ranked[0].metric if ranked else "accuracy"
    lines = [
        f"# Trials ranked by cross-validated {metric}",
        "",
        "| rank | trial | family | CV mean | CV std | fit s | parameters |",
        "| ---: | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for i, r in enumerate(ranked, 1):
        params = (
            ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.params.items()
            )
            or "defaults"
        )
        lines.append(
            f"| {i} | {r.trial_id} | {r.family} | {r.cv_mean:.4f} | {r.cv_std:.4f} "
            f"| {r.fit_seconds:.1f} | {params} |"
        )
    return "\n".join(lines) + "\n"
