"""Split: stratified, seeded, and loud when a class cannot be on both sides."""

from __future__ import annotations

import pandas as pd
import pytest

from kubeline.errors import ConfigError, DataValidationError
from kubeline.ml.split import split_dataset


@pytest.fixture
def imbalanced() -> pd.DataFrame:
    """100 rows: classes a (60), b (30), c (10); ``row`` identifies each row."""
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    return pd.DataFrame({"row": range(100), "x": [i % 7 for i in range(100)], "target": labels})


def test_split_keeps_every_row_exactly_once(imbalanced: pd.DataFrame) -> None:
    train, test = split_dataset(imbalanced, "target", test_size=0.2, seed=1)
    assert (len(train), len(test)) == (80, 20)
    assert sorted([*train["row"], *test["row"]]) == list(range(100))
    merged = pd.concat([train, test]).sort_values("row").reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, imbalanced)


def test_split_resets_the_index(imbalanced: pd.DataFrame) -> None:
    train, test = split_dataset(imbalanced, "target", seed=1)
    assert train.index.tolist() == list(range(len(train)))
    assert test.index.tolist() == list(range(len(test)))


def test_same_seed_same_split(imbalanced: pd.DataFrame) -> None:
    first = split_dataset(imbalanced, "target", seed=7)
    second = split_dataset(imbalanced, "target", seed=7)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


def test_different_seed_different_split(imbalanced: pd.DataFrame) -> None:
    _, test_7 = split_dataset(imbalanced, "target", seed=7)
    _, test_8 = split_dataset(imbalanced, "target", seed=8)
    assert set(test_7["row"]) != set(test_8["row"])


@pytest.mark.parametrize("test_size", [0.2, 0.3, 0.5], ids=["0.2", "0.3", "0.5"])
@pytest.mark.parametrize("seed", [0, 1], ids=["seed0", "seed1"])
def test_stratification_keeps_class_proportions(
    imbalanced: pd.DataFrame, test_size: float, seed: int
) -> None:
    _, test = split_dataset(imbalanced, "target", test_size=test_size, seed=seed)
    counts = test["target"].value_counts()
    for label, total in imbalanced["target"].value_counts().items():
        assert abs(counts.get(label, 0) - total * test_size) <= 1, label


@pytest.mark.parametrize("test_size", [0, 1, 1.5, -0.2], ids=["zero", "one", "1.5", "negative"])
def test_bad_test_size(imbalanced: pd.DataFrame, test_size: float) -> None:
    with pytest.raises(
        ConfigError, match=f"test_size must be a fraction .* Got {test_size} instead"
    ):
        split_dataset(imbalanced, "target", test_size=test_size)


@pytest.mark.parametrize(
    ("test_size", "n_test"), [(0.02, 2), (0.99, 99)], ids=["no-test-row", "no-train-row"]
)
def test_test_size_that_leaves_a_side_without_a_row_per_class(
    imbalanced: pd.DataFrame, test_size: float, n_test: int
) -> None:
    with pytest.raises(
        DataValidationError,
        match=f"test_size={test_size} on 100 rows leaves {n_test} test rows for 3 classes",
    ):
        split_dataset(imbalanced, "target", test_size=test_size)


def test_a_class_with_a_single_row_cannot_be_split() -> None:
    frame = pd.DataFrame({"x": range(11), "target": ["a"] * 5 + ["b"] * 5 + ["c"]})
    with pytest.raises(DataValidationError, match="Cannot split stratified by 'target'"):
        split_dataset(frame, "target", test_size=0.5)


def test_split_without_the_target_column(imbalanced: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="Target column 'label' is missing"):
        split_dataset(imbalanced, "label")
