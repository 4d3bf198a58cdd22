"""Training: fit the chosen configuration on the whole training split; save and load it."""

from __future__ import annotations

import os
import warnings

import joblib
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from kubeline.errors import DataError
from kubeline.ml._files import atomic_path
from kubeline.ml.experiment import build_model, split_xy
from kubeline.ml.features import FeatureSpec
from kubeline.ml.zoo import Trial

__all__ = ["load_model", "save_model", "train_model"]


def train_model(
    train: pd.DataFrame, target: str, spec: FeatureSpec, trial: Trial, seed: int = 42
) -> Pipeline:
    """Fit features + preprocessing + estimator on all of ``train``; returns the Pipeline."""
    X, y = split_xy(train, target)
    model = build_model(spec, trial, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


def save_model(model: Pipeline, path: str | os.PathLike[str]) -> None:
    """Save with joblib, atomically (the scikit-learn recommended format)."""
    with atomic_path(path) as tmp:
        joblib.dump(model, tmp)


def load_model(path: str | os.PathLike[str]) -> Pipeline:
    """Load a model saved by :func:`save_model`.

    Raises:
        DataError: the file is missing, is not a joblib file, or holds no fitted model.
    """
    try:
        model = joblib.load(path)
    except Exception as exc:  # unpickling a foreign file can raise anything
        raise DataError(f"Cannot load a model from '{path}': {type(exc).__name__}: {exc}") from exc
    if not hasattr(model, "predict"):
        raise DataError(
            f"Cannot load a model from '{path}': it holds a "
            f"{type(model).__name__}, not a fitted model."
        )
    return model
