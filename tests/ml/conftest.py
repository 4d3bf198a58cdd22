"""Tiny shared data for the kubeline.ml tests: small enough that the whole suite is quick."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kubeline.ml.datasets import load_dataset

TARGET = "target"


def _binary_frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """n rows, two balanced classes 'no' / 'yes', numeric and categorical features.

    - ``signal``: shifted by class, so models score well above chance;
    - ``skewed``: log-normal, non-negative and clearly right-skewed;
    - ``uniform``: 1..10 repeated, non-negative and symmetric (skew exactly 0);
    - ``colour``: a categorical string column.
    """
    rng = np.random.default_rng(seed)
    labels = np.array(["no", "yes"] * (n // 2))
    return pd.DataFrame(
        {
            "signal": (labels == "yes") * 3.0 + rng.normal(0.0, 1.0, n),
            "skewed": rng.lognormal(0.0, 1.2, n),
            "uniform": np.tile(np.arange(1.0, 11.0), n // 10 + 1)[:n],
            "colour": rng.choice(["red", "green", "blue"], n),
            TARGET: labels,
        }
    )


@pytest.fixture
def binary_frame() -> pd.DataFrame:
    """40 rows, 2 classes of 20; a fresh copy per test."""
    return _binary_frame()


@pytest.fixture(scope="session")
def _iris() -> pd.DataFrame:
    return load_dataset("iris")


@pytest.fixture
def iris(_iris: pd.DataFrame) -> pd.DataFrame:
    """The bundled iris dataset (150 rows, 3 classes of 50); a fresh copy per test."""
    return _iris.copy()
