"""Feature engineering: derived features planned on the training split, rebuilt at predict time.

A :class:`FeatureSpec` records which features to derive (``log1p`` of skewed non-negative
columns, ratios of column pairs). :class:`DerivedFeatures` is a scikit-learn transformer
built from that spec and kept as the first step of the model, so serving rebuilds the same
features from raw inputs without a separate step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kubeline.errors import ConfigError, DataValidationError

__all__ = ["DerivedFeatures", "FeatureSpec", "plan_features"]


@dataclass(frozen=True)
class FeatureSpec:
    """Which derived features to build: recorded as JSON alongside the model."""

    log_columns: list[str] = field(default_factory=list)
    ratios: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        data = json.loads(text)
        return cls(
            log_columns=[str(c) for c in data.get("log_columns", [])],
            ratios=[(str(a), str(b)) for a, b in data.get("ratios", [])],
        )

    @property
    def derived_names(self) -> list[str]:
        return [f"log1p_{c}" for c in self.log_columns] + [f"{a}_per_{b}" for a, b in self.ratios]


def _numeric(frame: pd.DataFrame, name: str) -> bool:
    col = frame[name]
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def plan_features(
    train: pd.DataFrame,
    target: str,
    ratios: Sequence[Sequence[str]] = (),
    skew_threshold: float = 1.0,
    auto_log: bool = True,
) -> FeatureSpec:
    """Decide the derived features from the training split only (no test leakage).

    Args:
        train: the training split, shape (n_samples, n_features + 1).
        target: the label column, never used as a feature.
        ratios: column pairs ``[numerator, denominator]`` to divide.
        skew_threshold: a non-negative numeric column whose absolute skewness exceeds this
            gets a ``log1p_`` companion.
        auto_log: set False to derive no log features.

    Raises:
        ConfigError: a ratio names a missing or non-numeric column, or is not a pair.
    """
    if skew_threshold < 0:
        raise ConfigError(f"skew_threshold must be >= 0. Got {skew_threshold} instead.")
    features = [str(c) for c in train.columns if c != target]
    pairs: list[tuple[str, str]] = []
    for pair in ratios:
        if len(pair) != 2:
            raise ConfigError(
                f"Each ratio feature is a pair [numerator, denominator]. Got {list(pair)!r}."
            )
        a, b = str(pair[0]), str(pair[1])
        for name in (a, b):
            if name not in features:
                raise ConfigError(
                    f"Ratio feature column '{name}' is not a feature of the dataset. "
                    f"Features are: {', '.join(features[:12])}"
                    + (", ..." if len(features) > 12 else "")
                )
            if not _numeric(train, name):
                raise ConfigError(f"Ratio feature column '{name}' is not numeric.")
        pairs.append((a, b))
    logs: list[str] = []
    if auto_log:
        for name in features:
            if not _numeric(train, name):
                continue
            values = train[name].dropna()
            if values.empty or values.min() < 0 or values.nunique() < 3:
                continue
            skew = values.skew()  # a numpy float (float64, float32...) for a numeric column
            if isinstance(skew, (float, np.floating)) and abs(float(skew)) > skew_threshold:
                logs.append(name)
    return FeatureSpec(log_columns=logs, ratios=pairs)


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """Add the features a :class:`FeatureSpec` names to a DataFrame; keep the originals.

    Ratios with a zero denominator become NaN, left for the imputer downstream.
    """

    def __init__(
        self, log_columns: list[str] | None = None, ratios: list[tuple[str, str]] | None = None
    ) -> None:
        self.log_columns = log_columns
        self.ratios = ratios

    def fit(self, X: pd.DataFrame, y: object = None) -> DerivedFeatures:
        if not isinstance(X, pd.DataFrame):
            raise DataValidationError(
                f"DerivedFeatures needs a DataFrame with named columns; got {type(X).__name__}."
            )
        self._check_columns(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _needed(self) -> set[str]:
        needed = set(self.log_columns or [])
        for a, b in self.ratios or []:
            needed |= {a, b}
        return needed

    def _check_columns(self, X: pd.DataFrame) -> None:
        missing = sorted(self._needed() - {str(c) for c in X.columns})
        if missing:
            raise DataValidationError(
                "Input is missing the column(s) needed to build derived features: "
                + ", ".join(missing)
            )

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_in_")
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X, columns=self.feature_names_in_)
        self._check_columns(X)
        out = X.copy()
        for name in self.log_columns or []:
            out[f"log1p_{name}"] = np.log1p(X[name].astype(float).clip(lower=0))
        for a, b in self.ratios or []:
            den = X[b].astype(float).replace(0.0, np.nan)
            out[f"{a}_per_{b}"] = X[a].astype(float) / den
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_in_")
        spec = FeatureSpec(list(self.log_columns or []), list(self.ratios or []))
        return np.asarray(list(self.feature_names_in_) + spec.derived_names, dtype=object)

    @classmethod
    def from_spec(cls, spec: FeatureSpec) -> DerivedFeatures:
        return cls(log_columns=list(spec.log_columns), ratios=list(spec.ratios))
