"""Feature engineering: plan on the training split, rebuild from raw columns at predict time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from kubeline.errors import ConfigError, DataValidationError
from kubeline.ml.features import DerivedFeatures, FeatureSpec, plan_features

SKEWED = np.r_[np.ones(50), np.arange(2.0, 12.0) * 10.0]  # 50 ones then 20..110


@pytest.fixture
def train() -> pd.DataFrame:
    """60 rows; the target is numeric and skewed, so it would be picked if not excluded."""
    assert abs(pd.Series(SKEWED).skew()) > 2
    return pd.DataFrame(
        {
            "skewed": SKEWED,
            "left_skewed": 200.0 - SKEWED,  # non-negative, skew < -1
            "symmetric": np.tile(np.arange(1.0, 11.0), 6),  # skew exactly 0
            "negative": SKEWED - 50.0,  # as skewed, but has negative values
            "two_values": np.r_[np.zeros(55), np.ones(5)],  # skewed, but only 2 values
            "colour": ["red", "blue", "green"] * 20,
            "target": np.r_[np.zeros(50), np.ones(6), np.full(4, 2.0)],
        }
    )


def test_plan_logs_skewed_non_negative_columns_only(train: pd.DataFrame) -> None:
    spec = plan_features(train, "target")
    assert spec.log_columns == ["skewed", "left_skewed"]
    assert spec.ratios == []


def test_plan_never_uses_the_target(train: pd.DataFrame) -> None:
    assert abs(train["target"].skew()) > 1  # it would qualify if it were a feature
    spec = plan_features(train, "target")
    assert "target" not in spec.log_columns
    assert "target" not in [name for pair in spec.ratios for name in pair]
    with pytest.raises(ConfigError, match="Ratio feature column 'target' is not a feature"):
        plan_features(train, "target", ratios=[("skewed", "target")])


def test_plan_ignores_missing_values_when_measuring_skew(train: pd.DataFrame) -> None:
    train.loc[::7, "skewed"] = np.nan
    assert "skewed" in plan_features(train, "target").log_columns


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.0, ["skewed", "left_skewed"]), (100.0, [])],
    ids=["zero-threshold", "huge-threshold"],
)
def test_skew_threshold(train: pd.DataFrame, threshold: float, expected: list[str]) -> None:
    # symmetric has skew 0, which is not above a threshold of 0 either.
    assert plan_features(train, "target", skew_threshold=threshold).log_columns == expected


def test_auto_log_off(train: pd.DataFrame) -> None:
    assert plan_features(train, "target", auto_log=False).log_columns == []


def test_negative_skew_threshold_is_refused(train: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"skew_threshold must be >= 0\. Got -1 instead"):
        plan_features(train, "target", skew_threshold=-1)


@pytest.mark.parametrize(
    "ratios",
    [[("skewed", "symmetric")], [["skewed", "symmetric"]]],
    ids=["tuple-pair", "list-pair"],
)
def test_plan_records_ratio_pairs_as_tuples(train: pd.DataFrame, ratios: list) -> None:
    spec = plan_features(train, "target", ratios=ratios)
    assert spec.ratios == [("skewed", "symmetric")]


BAD_RATIOS = {
    "missing-column": ([("skewed", "nope")], "Ratio feature column 'nope' is not a feature"),
    "non-numeric-column": ([("colour", "skewed")], "Ratio feature column 'colour' is not numeric"),
    "one-name": ([["skewed"]], r"Each ratio feature is a pair .* Got \['skewed'\]"),
    "three-names": (
        [["skewed", "symmetric", "negative"]],
        r"Each ratio feature is a pair .* Got \['skewed', 'symmetric', 'negative'\]",
    ),
}


@pytest.mark.parametrize(("ratios", "pattern"), list(BAD_RATIOS.values()), ids=list(BAD_RATIOS))
def test_plan_refuses_a_bad_ratio(train: pd.DataFrame, ratios: list, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        plan_features(train, "target", ratios=ratios)


# ---------------------------------------------------------------- FeatureSpec


def test_spec_json_round_trip() -> None:
    spec = FeatureSpec(log_columns=["a", "b"], ratios=[("a", "c")])
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec
    assert again.derived_names == ["log1p_a", "log1p_b", "a_per_c"]


def test_spec_from_sparse_json() -> None:
    assert FeatureSpec.from_json("{}") == FeatureSpec()
    assert FeatureSpec().derived_names == []


# ---------------------------------------------------------------- DerivedFeatures


@pytest.fixture
def raw() -> pd.DataFrame:
    return pd.DataFrame({"a": [0.0, 1.0, 3.0], "b": [2.0, 0.0, 4.0], "c": ["x", "y", "z"]})


def test_derived_features_values(raw: pd.DataFrame) -> None:
    derived = DerivedFeatures(log_columns=["a"], ratios=[("a", "b")]).fit(raw)
    out = derived.transform(raw)
    pd.testing.assert_frame_equal(out[["a", "b", "c"]], raw)  # originals kept as they were
    np.testing.assert_allclose(out["log1p_a"], np.log1p([0.0, 1.0, 3.0]))
    # A zero denominator gives NaN, for the imputer downstream; not inf.
    np.testing.assert_allclose(out["a_per_b"], [0.0, np.nan, 0.75])
    assert list(out.columns) == list(derived.get_feature_names_out())
    assert "log1p_a" not in raw.columns  # the input frame is not modified


def test_log_of_a_negative_value_is_clipped_to_zero(raw: pd.DataFrame) -> None:
    derived = DerivedFeatures(log_columns=["a"]).fit(raw)
    out = derived.transform(raw.assign(a=[-5.0, 1.0, 3.0]))
    assert out["log1p_a"].iloc[0] == 0.0


def test_derived_features_without_a_spec_is_the_identity(raw: pd.DataFrame) -> None:
    derived = DerivedFeatures().fit(raw)
    pd.testing.assert_frame_equal(derived.transform(raw), raw)
    assert list(derived.get_feature_names_out()) == ["a", "b", "c"]


def test_from_spec_matches_the_spec(raw: pd.DataFrame) -> None:
    spec = FeatureSpec(log_columns=["b"], ratios=[("b", "a")])
    derived = DerivedFeatures.from_spec(spec).fit(raw)
    assert list(derived.get_feature_names_out())[3:] == spec.derived_names


def test_transform_accepts_an_array_with_the_fitted_columns(raw: pd.DataFrame) -> None:
    numeric = raw[["a", "b"]]
    derived = DerivedFeatures(ratios=[("a", "b")]).fit(numeric)
    from_array = derived.transform(numeric.to_numpy())
    pd.testing.assert_frame_equal(from_array, derived.transform(numeric))


@pytest.mark.parametrize("stage", ["fit", "transform"])
def test_input_missing_a_needed_column(raw: pd.DataFrame, stage: str) -> None:
    derived = DerivedFeatures(log_columns=["a"], ratios=[("a", "b")])
    if stage == "transform":
        derived.fit(raw)
    with pytest.raises(
        DataValidationError, match=r"missing the column.* needed to build derived features: b$"
    ):
        getattr(derived, stage)(raw.drop(columns=["b"]))


def test_fit_needs_a_dataframe(raw: pd.DataFrame) -> None:
    with pytest.raises(
        DataValidationError, match="needs a DataFrame with named columns; got ndarray"
    ):
        DerivedFeatures().fit(raw.to_numpy())


def test_clone_keeps_the_spec() -> None:
    derived = DerivedFeatures(log_columns=["a"], ratios=[("a", "b")])
    assert clone(derived).get_params() == {"log_columns": ["a"], "ratios": [("a", "b")]}
