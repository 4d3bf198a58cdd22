"""Split: a stratified, seeded train/test split."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from kubeline.errors import ConfigError, DataValidationError
from kubeline.ml.validate import require_target

__all__ = ["split_dataset"]


def split_dataset(
    frame: pd.DataFrame, target: str, test_size: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into (train, test) with the class balance kept in both.

    Raises:
        ConfigError: ``test_size`` is not in the open interval (0, 1).
        DataValidationError: a class is too small to appear in both parts.
    """
    if not 0.0 < float(test_size) < 1.0:
        raise ConfigError(
            f"test_size must be a fraction between 0 and 1 (exclusive). Got {test_size} instead."
        )
    require_target(frame, target)
    labels = frame[target].astype(str)
    n_test = round(len(frame) * test_size)
    n_classes = labels.nunique()
    if n_test < n_classes or len(frame) - n_test < n_classes:
        raise DataValidationError(
            f"test_size={test_size} on {len(frame)} rows leaves {n_test} test rows for "
            f"{n_classes} classes; every class needs a row on each side. "
            "Choose a test_size nearer 0.5 or add rows."
        )
    try:
        train, test = train_test_split(
            frame, test_size=test_size, random_state=seed, stratify=labels
        )
    except ValueError as exc:
        raise DataValidationError(f"Cannot split stratified by '{target}': {exc}") from exc
    return train.reset_index(drop=True), test.reset_index(drop=True)
