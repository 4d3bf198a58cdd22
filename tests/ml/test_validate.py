"""Validate: schema and quality checks, and the rows each class needs downstream."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from kubeline.errors import ConfigError, DataValidationError
from kubeline.ml.experiment import evaluate_trial
from kubeline.ml.features import FeatureSpec
from kubeline.ml.split import split_dataset
from kubeline.ml.validate import require_target, rows_needed_per_class, validate_dataset
from kubeline.ml.zoo import Trial


def _good(rows_per_class: int = 6) -> pd.DataFrame:
    n = 2 * rows_per_class
    return pd.DataFrame(
        {
            "x": np.arange(n, dtype=float),
            "c": ["u", "v", "w"] * (n // 3) + ["u"] * (n % 3),
            "target": ["a", "b"] * rows_per_class,
        }
    )


def test_a_good_frame_passes_every_check() -> None:
    checks = validate_dataset(_good(), "target", min_rows_per_class=5)
    assert [c.name for c in checks] == [
        "target_complete",
        "at_least_two_classes",
        "rows_per_class",
        "has_features",
        "no_empty_columns",
        "no_constant_columns",
    ]
    assert all(c.passed for c in checks)
    assert "every class has at least 5 rows" in [c.message for c in checks]


# Each case breaks a good frame in one way; the message names the column and the fix.
BROKEN: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str]] = {
    "single-class": (
        lambda f: f.assign(target="a"),
        r"target column 'target' has 1 class\(es\); at least 2 are needed",
    ),
    "target-with-missing-values": (
        lambda f: f.assign(target=["a", "b", None] * 4),
        r"target column 'target' has 4 missing values; drop or fill those rows",
    ),
    "all-empty-column": (
        lambda f: f.assign(gone=np.nan),
        r"column\(s\) 'gone' are empty on every row; drop them",
    ),
    "constant-column": (
        lambda f: f.assign(same=7),
        r"column\(s\) 'same' hold a single value on every row and carry no signal",
    ),
    "too-few-rows-per-class": (
        lambda f: f.iloc[:9],
        r"class\(es\) 'b' \(4 rows\) have fewer than 5 rows; add rows or drop the class",
    ),
    "no-feature-columns": (
        lambda f: f[["target"]],
        "the dataset has no feature columns besides the target",
    ),
}


@pytest.mark.parametrize(("breaks", "pattern"), list(BROKEN.values()), ids=list(BROKEN))
def test_a_broken_frame_fails_with_a_clear_message(
    breaks: Callable[[pd.DataFrame], pd.DataFrame], pattern: str
) -> None:
    frame = breaks(_good())
    with pytest.raises(DataValidationError, match="^Data validation failed: .*" + pattern):
        validate_dataset(frame, "target", min_rows_per_class=5)


def test_every_failed_check_is_reported_at_once() -> None:
    frame = _good().assign(gone=np.nan, same=1)
    with pytest.raises(DataValidationError, match=r"'gone' are empty.*; column.*'same' hold"):
        validate_dataset(frame, "target")


def test_an_empty_column_is_not_also_reported_as_constant() -> None:
    with pytest.raises(DataValidationError) as info:
        validate_dataset(_good().assign(gone=np.nan), "target")
    assert "single value" not in str(info.value)


def test_missing_target_column() -> None:
    with pytest.raises(
        DataValidationError, match=r"Target column 'label' is missing; columns are: x, c, target\."
    ):
        validate_dataset(_good(), "label")


def test_require_target_shortens_a_long_column_list() -> None:
    frame = pd.DataFrame({f"c{i}": [1] for i in range(15)})
    with pytest.raises(DataValidationError, match=r"c0, .*, c11, \.\.\.\. Name the target"):
        require_target(frame, "target")
    require_target(frame, "c14")  # present: no error


@pytest.mark.parametrize("minimum", [1, 0, -3], ids=["one", "zero", "negative"])
def test_min_rows_per_class_below_two_is_refused(minimum: int) -> None:
    with pytest.raises(
        DataValidationError, match=f"min_rows_per_class must be at least 2. Got {minimum}"
    ):
        validate_dataset(_good(), "target", min_rows_per_class=minimum)


# ---------------------------------------------------------------- rows_needed_per_class


@pytest.mark.parametrize(
    ("cv_folds", "test_size", "expected"),
    [(5, 0.2, 8), (2, 0.5, 5), (3, 0.25, 5), (10, 0.2, 14)],
    ids=["5-folds-0.2", "2-folds-0.5", "3-folds-0.25", "10-folds-0.2"],
)
def test_rows_needed_per_class_values(cv_folds: int, test_size: float, expected: int) -> None:
    assert rows_needed_per_class(cv_folds, test_size) == expected


def test_rows_needed_grows_with_folds_and_with_either_side_of_the_split() -> None:
    by_folds = [rows_needed_per_class(k, 0.2) for k in range(2, 12)]
    by_size = [rows_needed_per_class(5, t) for t in (0.2, 0.3, 0.5, 0.7)]
    assert by_folds == sorted(by_folds) and by_folds[0] < by_folds[-1]
    assert by_size == sorted(by_size) and by_size[0] < by_size[-1]
    # A tiny test share needs more rows too: each class must reach the test split.
    assert rows_needed_per_class(2, 0.05) > rows_needed_per_class(2, 0.2)


@pytest.mark.parametrize("test_size", [0, 1, 1.5, -0.1], ids=["zero", "one", "1.5", "negative"])
def test_rows_needed_refuses_a_bad_test_size(test_size: float) -> None:
    with pytest.raises(
        ConfigError, match=f"test_size must be a fraction .* Got {test_size} instead"
    ):
        rows_needed_per_class(5, test_size)


@pytest.mark.parametrize("cv_folds", [1, 0], ids=["one", "zero"])
def test_rows_needed_refuses_fewer_than_two_folds(cv_folds: int) -> None:
    with pytest.raises(ConfigError, match=f"cv_folds must be at least 2. Got {cv_folds} instead"):
        rows_needed_per_class(cv_folds, 0.2)


@pytest.mark.parametrize("majority", [None, 60], ids=["balanced", "imbalanced"])
@pytest.mark.parametrize(
    ("cv_folds", "test_size"),
    [(5, 0.2), (3, 0.25), (2, 0.5), (2, 0.1), (5, 0.05)],
    ids=["5-folds-0.2", "3-folds-0.25", "2-folds-0.5", "2-folds-0.1", "5-folds-0.05"],
)
def test_rows_needed_is_enough_for_the_split_and_cross_validation(
    cv_folds: int, test_size: float, majority: int | None
) -> None:
    """The promise of rows_needed_per_class: a class with that many rows ends up with
    ``cv_folds`` rows in the training split and at least one in the test split, so a
    dataset that passes validation can be split and cross-validated."""
    needed = rows_needed_per_class(cv_folds, test_size)
    n_major = needed if majority is None else majority
    frame = pd.DataFrame(
        {
            "x": np.arange(n_major + needed, dtype=float),
            "target": ["major"] * n_major + ["minor"] * needed,
        }
    )
    validate_dataset(frame, "target", min_rows_per_class=needed)
    train, test = split_dataset(frame, "target", test_size=test_size, seed=0)
    assert set(test["target"]) == {"major", "minor"}
    assert train["target"].value_counts().min() >= cv_folds
    spec, trial = FeatureSpec(), Trial("lr", "logistic_regression", {})
    result = evaluate_trial(train, "target", spec, trial, cv_folds=cv_folds)
    assert len(result.fold_scores) == cv_folds
