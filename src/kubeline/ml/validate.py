"""Validate: schema and quality checks that must pass before any model is fitted."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from kubeline.errors import ConfigError, DataValidationError

__all__ = ["Check", "require_target", "rows_needed_per_class", "validate_dataset"]


@dataclass(frozen=True)
class Check:
    """One named check and what it found."""

    name: str
    passed: bool
    message: str


def require_target(frame: pd.DataFrame, target: str) -> None:
    if target not in frame.columns:
        raise DataValidationError(
            f"Target column '{target}' is missing; columns are: "
            + ", ".join(map(str, frame.columns[:12]))
            + (", ..." if frame.shape[1] > 12 else "")
            + ". Name the target with target=<column>."
        )


def _checks(frame: pd.DataFrame, target: str, min_rows_per_class: int) -> list[Check]:
    labels = frame[target]
    features = frame.drop(columns=[target])
    checks = []
    missing_labels = int(labels.isna().sum())
    checks.append(
        Check(
            "target_complete",
            missing_labels == 0,
            f"target column '{target}' has {missing_labels} missing values; drop or fill those rows"
            if missing_labels
            else f"target column '{target}' has a label on every row",
        )
    )
    counts = labels.dropna().astype(str).value_counts()
    checks.append(
        Check(
            "at_least_two_classes",
            len(counts) >= 2,
            f"target column '{target}' has {len(counts)} class(es); at least 2 are needed",
        )
    )
    small = {k: int(v) for k, v in counts.items() if v < min_rows_per_class}
    checks.append(
        Check(
            "rows_per_class",
            not small,
            (
                f"target column '{target}': class(es) "
                + ", ".join(f"'{k}' ({v} rows)" for k, v in small.items())
                + f" have fewer than {min_rows_per_class} rows; add rows or drop the class"
            )
            if small
            else f"every class has at least {min_rows_per_class} rows",
        )
    )
    checks.append(
        Check(
            "has_features",
            features.shape[1] > 0,
            "the dataset has no feature columns besides the target"
            if features.shape[1] == 0
            else f"{features.shape[1]} feature columns",
        )
    )
    empty = [str(c) for c in features.columns if features[c].isna().all()]
    checks.append(
        Check(
            "no_empty_columns",
            not empty,
            "column(s) " + ", ".join(f"'{c}'" for c in empty) + " are empty on every row; drop them"
            if empty
            else "no all-empty columns",
        )
    )
    constant = [
        str(c)
        for c in features.columns
        if str(c) not in empty and features[c].nunique(dropna=False) <= 1
    ]
    checks.append(
        Check(
            "no_constant_columns",
            not constant,
            "column(s) " + ", ".join(f"'{c}'" for c in constant) + " hold a single value on "
            "every row and carry no signal; drop them"
            if constant
            else "no constant columns",
        )
    )
    return checks


def validate_dataset(frame: pd.DataFrame, target: str, min_rows_per_class: int = 5) -> list[Check]:
    """Run every check on ``frame`` and return them when all pass.

    Args:
        frame: DataFrame of shape (n_samples, n_features + 1).
        target: the label column.
        min_rows_per_class: the fewest rows any class may have (cross-validation and a
            stratified split need several per class).

    Raises:
        DataValidationError: naming each failed check, its column and the fix.
    """
    if min_rows_per_class < 2:
        raise DataValidationError(
            f"min_rows_per_class must be at least 2. Got {min_rows_per_class} instead."
        )
    require_target(frame, target)
    checks = _checks(frame, target, min_rows_per_class)
    failed = [c.message for c in checks if not c.passed]
    if failed:
        raise DataValidationError("Data validation failed: " + "; ".join(failed) + ".")
    return checks


def rows_needed_per_class(cv_folds: int, test_size: float) -> int:
    """The fewest rows a class needs: ``cv_folds`` in the training split and one in the test
    split, after a stratified split that keeps ``1 - test_size`` for training."""
    if not 0.0 < float(test_size) < 1.0:
        raise ConfigError(
            f"test_size must be a fraction between 0 and 1 (exclusive). Got {test_size} instead."
        )
    if int(cv_folds) < 2:
        raise ConfigError(f"cv_folds must be at least 2. Got {cv_folds} instead.")
    train_side = math.ceil(int(cv_folds) / (1.0 - float(test_size))) + 1
    test_side = math.ceil(1.0 / float(test_size)) + 1
    return max(2, train_side, test_side)
