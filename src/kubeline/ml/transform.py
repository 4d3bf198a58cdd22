"""Transformation: impute, scale and one-hot encode, fitted on the training split only.

The ColumnTransformer picks columns by dtype when it is fitted, so it also covers the
derived features added just before it in the model.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["build_preprocessor"]


def build_preprocessor(max_categories: int = 20) -> ColumnTransformer:
    """Numeric: median imputation then standard scaling. Categorical: most frequent
    imputation then one-hot encoding (unknown categories at predict time become all-zero,
    rare ones beyond ``max_categories`` are grouped)."""
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=max_categories,
                    sparse_output=False,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include=np.number)),
            ("categorical", categorical, make_column_selector(dtype_exclude=np.number)),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
