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
    try:
        return joblib.load(path)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"Cannot load a model from '{path}': {exc}") from exc
