"""Transformation: the ColumnTransformer copes with strings, gaps and unseen categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kubeline.ml.features import DerivedFeatures
from kubeline.ml.transform import build_preprocessor


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "num": [1.0, np.nan, 3.0, 5.0, 7.0],
            "cat": ["a", "b", None, "a", "b"],
        }
    )


def test_fit_handles_strings_and_gaps(train: pd.DataFrame) -> None:
    pre = build_preprocessor().fit(train)
    assert list(pre.get_feature_names_out()) == ["num", "cat_a", "cat_b"]
    out = pre.transform(train)
    assert out.shape == (5, 3)
    assert not np.isnan(out).any()
    # numeric: the gap is filled with the median (4.0), then scaled to mean 0, std 1
    four = pre.transform(pd.DataFrame({"num": [4.0], "cat": ["a"]}))[0, 0]
    assert out[1, 0] == pytest.approx(four)
    assert out[:, 0].mean() == pytest.approx(0.0)
    assert out[:, 0].std() == pytest.approx(1.0)
    # categorical: the missing category is filled with the most frequent one ("a")
    np.testing.assert_array_equal(out[:, 1:], [[1, 0], [0, 1], [1, 0], [1, 0], [0, 1]])


def test_transform_with_an_unseen_category_and_gaps(train: pd.DataFrame) -> None:
    pre = build_preprocessor().fit(train)
    new = pd.DataFrame({"num": [np.nan, 4.0], "cat": ["never-seen", "b"]})
    out = pre.transform(new)
    assert not np.isnan(out).any()
    assert out[0, 0] == pytest.approx(out[1, 0])  # NaN becomes the training median, 4.0
    np.testing.assert_array_equal(out[0, 1:], [0, 0])  # unseen category: all zeros
    np.testing.assert_array_equal(out[1, 1:], [0, 1])


def test_rare_categories_beyond_max_categories_are_grouped() -> None:
    frame = pd.DataFrame({"cat": ["a"] * 5 + ["b"] * 3 + ["c", "d"]})
    pre = build_preprocessor(max_categories=2).fit(frame)
    names = list(pre.get_feature_names_out())
    assert names == ["cat_a", "cat_infrequent_sklearn"]
    out = pre.transform(pd.DataFrame({"cat": ["a", "c", "unseen"]}))
    # with an infrequent group, an unseen category joins that group
    np.testing.assert_array_equal(out, [[1, 0], [0, 1], [0, 1]])


def test_an_all_empty_numeric_column_is_kept() -> None:
    frame = pd.DataFrame({"gone": [np.nan] * 4, "x": [1.0, 2.0, 3.0, 4.0]})
    pre = build_preprocessor().fit(frame)
    out = pre.transform(frame)
    assert list(pre.get_feature_names_out()) == ["gone", "x"]
    np.testing.assert_array_equal(out[:, 0], 0.0)


def test_columns_are_chosen_by_dtype_at_fit_time() -> None:
    # The derived columns are added just before the preprocessor: it must pick them up.
    raw = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 4.0], "c": ["x", "y", "x"]})
    derived = DerivedFeatures(log_columns=["a"], ratios=[("a", "b")]).fit(raw)
    pre = build_preprocessor().fit(derived.transform(raw))
    assert list(pre.get_feature_names_out()) == ["a", "b", "log1p_a", "a_per_b", "c_x", "c_y"]
