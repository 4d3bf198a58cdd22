"""Experimentation: cross-validated trials, the leaderboard, and the choice of the best."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kubeline.errors import ConfigError, DataValidationError
from kubeline.ml.experiment import (
    TrialResult,
    build_model,
    evaluate_trial,
    leaderboard_markdown,
    select_best,
    split_xy,
)
from kubeline.ml.features import DerivedFeatures, FeatureSpec
from kubeline.ml.zoo import Trial

# Small, fast settings for every family.
FAST_TRIALS = [
    Trial("lr", "logistic_regression", {"C": 1.0}),
    Trial("rf", "random_forest", {"n_estimators": 10, "max_depth": 3}),
    Trial("hgb", "hist_gradient_boosting", {"max_iter": 10, "min_samples_leaf": 3}),
    Trial("svm", "svm", {"C": 1.0}),
    Trial("knn", "knn", {"n_neighbors": 3}),
]
SPEC = FeatureSpec(log_columns=["skewed"], ratios=[("skewed", "uniform")])


def test_split_xy(binary_frame: pd.DataFrame) -> None:
    X, y = split_xy(binary_frame.assign(target=[0, 1] * 20), "target")
    assert list(X.columns) == ["signal", "skewed", "uniform", "colour"]
    assert y.tolist() == ["0", "1"] * 20  # labels are compared as strings everywhere


def test_split_xy_without_the_target(binary_frame: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="Target column 'label' is missing"):
        split_xy(binary_frame, "label")


def test_build_model_chains_features_preprocessing_and_estimator() -> None:
    model = build_model(SPEC, Trial("rf", "random_forest", {"n_estimators": 7}), seed=5)
    assert [name for name, _ in model.steps] == ["features", "preprocess", "model"]
    features = model.named_steps["features"]
    assert isinstance(features, DerivedFeatures)
    assert (features.log_columns, features.ratios) == (SPEC.log_columns, SPEC.ratios)
    assert model.named_steps["model"].get_params()["n_estimators"] == 7
    assert model.named_steps["model"].get_params()["random_state"] == 5


@pytest.mark.parametrize("trial", FAST_TRIALS, ids=lambda t: t.family)
def test_evaluate_trial_for_each_family(binary_frame: pd.DataFrame, trial: Trial) -> None:
    result = evaluate_trial(binary_frame, "target", SPEC, trial, cv_folds=2, seed=0)
    assert (result.trial_id, result.family, result.params) == (
        trial.trial_id,
        trial.family,
        trial.params,
    )
    assert len(result.fold_scores) == 2
    assert all(0.0 <= s <= 1.0 for s in result.fold_scores)
    assert result.cv_mean == pytest.approx(np.mean(result.fold_scores))
    assert result.cv_std == pytest.approx(np.std(result.fold_scores))
    assert result.metric == "accuracy"
    assert result.cv_mean > 0.6  # the signal column separates the classes well


def test_separable_classes_score_perfectly() -> None:
    frame = pd.DataFrame(
        {"x": np.r_[np.arange(12.0), np.arange(12.0) + 100], "t": ["a"] * 12 + ["b"] * 12}
    )
    result = evaluate_trial(frame, "t", FeatureSpec(), FAST_TRIALS[0], cv_folds=3)
    assert result.fold_scores == [1.0, 1.0, 1.0]
    assert result.cv_std == 0.0


def test_same_seed_same_cv_scores(binary_frame: pd.DataFrame) -> None:
    trial = Trial("rf", "random_forest", {"n_estimators": 5, "max_features": 0.5})
    first = evaluate_trial(binary_frame, "target", SPEC, trial, cv_folds=3, seed=4)
    second = evaluate_trial(binary_frame, "target", SPEC, trial, cv_folds=3, seed=4)
    assert first.fold_scores == second.fold_scores


def test_another_metric(binary_frame: pd.DataFrame) -> None:
    result = evaluate_trial(
        binary_frame, "target", SPEC, FAST_TRIALS[0], cv_folds=2, metric="balanced_accuracy"
    )
    assert result.metric == "balanced_accuracy"
    assert 0.0 <= result.cv_mean <= 1.0


@pytest.mark.parametrize("cv_folds", [1, 0], ids=["one-fold", "zero-folds"])
def test_fewer_than_two_folds(binary_frame: pd.DataFrame, cv_folds: int) -> None:
    with pytest.raises(ConfigError, match=f"cv_folds must be at least 2. Got {cv_folds} instead"):
        evaluate_trial(binary_frame, "target", SPEC, FAST_TRIALS[0], cv_folds=cv_folds)


def test_a_class_smaller_than_the_folds(binary_frame: pd.DataFrame) -> None:
    frame = pd.concat([binary_frame[binary_frame["target"] == "no"], binary_frame.iloc[[1, 3]]])
    with pytest.raises(
        DataValidationError, match="The smallest class has 2 training rows, fewer than cv_folds=3"
    ):
        evaluate_trial(frame, "target", SPEC, FAST_TRIALS[0], cv_folds=3)


@pytest.mark.parametrize(
    ("trial", "metric", "pattern"),
    [
        (
            Trial("lr-x", "logistic_regression", {"C": -1.0}),
            "accuracy",
            r"Trial 'lr-x' \(logistic_regression \{'C': -1.0\}\) failed",
        ),
        (FAST_TRIALS[0], "no_such_metric", r"Trial 'lr' \(logistic_regression .*\) failed"),
    ],
    ids=["bad-param-value", "unknown-metric"],
)
def test_a_failing_trial_is_a_config_error(
    binary_frame: pd.DataFrame, trial: Trial, metric: str, pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern):
        evaluate_trial(binary_frame, "target", SPEC, trial, cv_folds=2, metric=metric)


def test_derived_feature_on_a_missing_column_fails_the_trial(binary_frame: pd.DataFrame) -> None:
    spec = FeatureSpec(log_columns=["nope"])
    with pytest.raises(DataValidationError, match="needed to build derived features: nope"):
        evaluate_trial(binary_frame, "target", spec, FAST_TRIALS[0], cv_folds=2)


# ---------------------------------------------------------------- choosing and reporting


def _result(trial_id: str, mean: float, std: float = 0.01, **params: object) -> TrialResult:
    return TrialResult(trial_id, trial_id.split("-")[0], dict(params), mean, std, [mean, mean])


def test_select_best_takes_the_highest_mean() -> None:
    results = [_result("knn-0", 0.90), _result("svm-0", 0.95), _result("rf-0", 0.93)]
    assert select_best(results).trial_id == "svm-0"


def test_select_best_breaks_ties_by_spread_then_id() -> None:
    steady = _result("rf-1", 0.9, std=0.01)
    shaky = _result("knn-0", 0.9, std=0.05)
    assert select_best([shaky, steady]).trial_id == "rf-1"
    twin = _result("lr-0", 0.9, std=0.01)
    assert select_best([steady, twin, shaky]).trial_id == "lr-0"
    assert select_best([twin, steady]) == select_best([steady, twin])


def test_select_best_of_nothing() -> None:
    with pytest.raises(ConfigError, match="No trial results to choose from: did every trial fail"):
        select_best([])


def test_trial_result_round_trip() -> None:
    result = _result("rf-2", 0.875, n_estimators=100, max_features=0.5)
    again = TrialResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert again.trial == Trial("rf-2", "rf", {"n_estimators": 100, "max_features": 0.5})


def test_trial_result_from_a_minimal_dict() -> None:
    result = TrialResult.from_dict({"trial_id": "a", "family": "knn", "cv_mean": "0.5"})
    assert (result.cv_mean, result.cv_std, result.fold_scores, result.metric) == (
        0.5,
        0.0,
        [],
        "accuracy",
    )


def test_leaderboard_ranks_the_best_first() -> None:
    results = [
        _result("knn-0", 0.8),
        _result("svm-1", 0.96125, C=12.345678),
        _result("rf-0", 0.9, n_estimators=200),
    ]
    text = leaderboard_markdown(results)
    assert text.startswith("# Trials ranked by cross-validated accuracy\n")
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[1] for row in rows] == ["svm-1", "rf-0", "knn-0"]
    assert rows[0].startswith("| 1 | svm-1 | svm | 0.9613 | 0.0100 |")
    assert rows[0].endswith("| C=12.35 |")
    assert rows[1].endswith("| n_estimators=200 |")
    assert rows[2].endswith("| defaults |")


def test_leaderboard_names_the_metric_and_handles_no_results() -> None:
    result = TrialResult("a", "knn", {}, 0.5, 0.0, metric="f1_macro")
    assert "cross-validated f1_macro" in leaderboard_markdown([result])
    empty = leaderboard_markdown([])
    assert "| rank |" in empty
    assert len(empty.strip().splitlines()) == 4  # title, blank, header, separator
