"""Ingest: bundled names, local files, fsspec URIs, and every way a source can be wrong."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from kubeline.errors import DataError
from kubeline.ml.datasets import (
    BUNDLED_DATASETS,
    check_source,
    dataset_digest,
    load_dataset,
    read_parquet,
    write_parquet,
)

SMALL = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [5, 6, 7, 8], "target": list("xyxy")})


def _memory_uri(name: str) -> str:
    """A fresh memory:// location, so tests never see each other's files."""
    return f"memory://kubeline-tests/{uuid.uuid4().hex}/{name}"


def _write(frame: pd.DataFrame, location: str | Path) -> str:
    location = str(location)
    with fsspec.open(location, "wb") as f:
        if ".parquet" in location:
            frame.to_parquet(f, index=False)
        else:
            f.write(frame.to_csv(index=False).encode())
    return location


# ---------------------------------------------------------------- bundled datasets


@pytest.mark.parametrize("name", sorted(BUNDLED_DATASETS), ids=sorted(BUNDLED_DATASETS))
def test_bundled_dataset_has_string_columns_and_class_names(name: str) -> None:
    frame = load_dataset(name)
    assert all(isinstance(c, str) for c in frame.columns)
    labels = frame["target"]
    assert labels.nunique() >= 2
    assert all(isinstance(v, str) for v in labels.unique())
    assert not labels.isna().any()


def test_iris_is_150_rows_with_named_species() -> None:
    frame = load_dataset("iris")
    assert frame.shape == (150, 5)
    assert frame["target"].value_counts().to_dict() == {
        "setosa": 50,
        "versicolor": 50,
        "virginica": 50,
    }


def test_unknown_dataset_name_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match=r"Unknown dataset 'irs': use one of breast_cancer, digits"):
        load_dataset("irs")


def test_bundled_dataset_with_another_target_is_refused() -> None:
    with pytest.raises(DataError, match="has its labels in column 'target', not 'species'"):
        load_dataset("iris", target="species")


# ---------------------------------------------------------------- files and URIs


@pytest.mark.parametrize("name", ["data.csv", "data.csv.gz", "data.parquet", "data.pq"])
def test_load_local_file_round_trips(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if ".csv" in name:
        SMALL.to_csv(path, index=False)
    else:
        SMALL.to_parquet(path, index=False)
    frame = load_dataset(str(path))
    pd.testing.assert_frame_equal(frame, SMALL, check_dtype=False)


def test_load_file_uri(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    SMALL.to_csv(path, index=False)
    frame = load_dataset(f"file://{path}")
    assert frame["a"].tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("name", ["data.csv", "data.parquet"], ids=["csv", "parquet"])
def test_load_memory_uri(name: str) -> None:
    uri = _write(SMALL, _memory_uri(name))
    frame = load_dataset(uri)
    pd.testing.assert_frame_equal(frame, SMALL, check_dtype=False)


def test_load_with_named_target_column(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    SMALL.rename(columns={"target": "label"}).to_csv(path, index=False)
    frame = load_dataset(str(path), target="label")
    assert frame["label"].tolist() == list("xyxy")


# Each builder makes a broken source under tmp_path and returns (source, message pattern).
Builder = Callable[[Path], tuple[str, str]]


def _missing_file(tmp: Path) -> tuple[str, str]:
    return str(tmp / "nope.csv"), r"Dataset file not found: '.*nope\.csv'"


def _folder(tmp: Path) -> tuple[str, str]:
    (tmp / "data.csv").mkdir()
    return str(tmp / "data.csv"), "Dataset file is a folder, not a file"


def _empty_csv(tmp: Path) -> tuple[str, str]:
    (tmp / "data.csv").write_bytes(b"")
    return str(tmp / "data.csv"), r"Dataset file '.*data\.csv' is empty\."


def _empty_parquet(tmp: Path) -> tuple[str, str]:
    (tmp / "data.parquet").write_bytes(b"")
    return str(tmp / "data.parquet"), r"Dataset file '.*data\.parquet' is empty\."


def _unknown_extension(tmp: Path) -> tuple[str, str]:
    SMALL.to_csv(tmp / "data.txt", index=False)
    return str(tmp / "data.txt"), "Cannot tell the format of .*expected a file ending in .csv"


def _not_parquet(tmp: Path) -> tuple[str, str]:
    (tmp / "data.parquet").write_text("this is not parquet\n")
    return str(tmp / "data.parquet"), "Cannot read '.*data.parquet' as PARQUET"


def _memory_missing(tmp: Path) -> tuple[str, str]:
    uri = _memory_uri("nope.csv")
    return uri, "Dataset file not found: 'memory://"


def _memory_empty(tmp: Path) -> tuple[str, str]:
    uri = _memory_uri("data.csv")
    with fsspec.open(uri, "wb"):
        pass
    return uri, "Dataset file 'memory://.*' is empty"


def _unknown_protocol(tmp: Path) -> tuple[str, str]:
    return "nosuchprotocol://bucket/data.csv", "Cannot open 'nosuchprotocol://.*Protocol not known"


BROKEN_SOURCES: dict[str, Builder] = {
    "missing-file": _missing_file,
    "folder-not-file": _folder,
    "empty-csv": _empty_csv,
    "empty-parquet": _empty_parquet,
    "unknown-extension": _unknown_extension,
    "not-parquet": _not_parquet,
    "memory-missing": _memory_missing,
    "memory-empty": _memory_empty,
    "unknown-protocol": _unknown_protocol,
}


@pytest.mark.parametrize("build", list(BROKEN_SOURCES.values()), ids=list(BROKEN_SOURCES))
def test_load_broken_source_raises_data_error(tmp_path: Path, build: Builder) -> None:
    source, pattern = build(tmp_path)
    with pytest.raises(DataError, match=pattern):
        load_dataset(source)


@pytest.mark.parametrize("build", list(BROKEN_SOURCES.values()), ids=list(BROKEN_SOURCES))
def test_check_source_rejects_broken_source(tmp_path: Path, build: Builder) -> None:
    source, pattern = build(tmp_path)
    with pytest.raises(DataError, match=pattern):
        check_source(source)


def test_csv_with_header_but_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b,target\n")
    with pytest.raises(DataError, match="has a header but no rows"):
        load_dataset(str(path))


def test_parquet_with_schema_but_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    SMALL.iloc[:0].to_parquet(path, index=False)
    with pytest.raises(DataError, match="has a header but no rows"):
        load_dataset(str(path))


# Frames that are readable but not a classification dataset, and the message they give.
BAD_TARGETS = {
    "missing-target-column": (
        pd.DataFrame({"a": [1, 2], "label": ["x", "y"]}),
        r"Target column 'target' is not in '.*'\. Its columns are: a, label\.",
    ),
    "single-class": (
        pd.DataFrame({"a": [1, 2, 3], "target": ["x", "x", "x"]}),
        r"Target column 'target' of '.*' has only the class 'x'; .*at least 2 classes",
    ),
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"], ids=["csv", "parquet"])
@pytest.mark.parametrize(("frame", "pattern"), list(BAD_TARGETS.values()), ids=list(BAD_TARGETS))
def test_check_source_raises_the_same_error_as_load_dataset(
    tmp_path: Path, frame: pd.DataFrame, pattern: str, suffix: str
) -> None:
    source = _write(frame, tmp_path / f"data{suffix}")
    with pytest.raises(DataError, match=pattern) as loaded:
        load_dataset(source)
    with pytest.raises(DataError, match=pattern) as checked:
        check_source(source)
    assert str(checked.value) == str(loaded.value)


def test_missing_target_lists_only_the_first_twelve_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame({f"c{i}": [1, 2] for i in range(20)})
    source = _write(frame, tmp_path / "wide.csv")
    with pytest.raises(DataError, match=r"Its columns are: c0, .*, c11, \.\.\.\.") as info:
        load_dataset(source)
    assert "c12" not in str(info.value)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"], ids=["csv", "parquet"])
def test_check_source_accepts_a_good_file(tmp_path: Path, suffix: str) -> None:
    source = _write(SMALL, tmp_path / f"data{suffix}")
    assert check_source(source) is None
    assert check_source(_write(SMALL, _memory_uri(f"data{suffix}"))) is None


def test_check_source_accepts_bundled_and_refuses_other_target() -> None:
    assert check_source("wine") is None
    with pytest.raises(DataError, match="Leave target at its default"):
        check_source("wine", target="class")


def test_check_source_reads_only_the_header_to_find_the_target(tmp_path: Path) -> None:
    # The body is broken, but the header alone shows the target is missing: check_source
    # stops there, while load_dataset has to parse the body and fails on it.
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n1,2,3,4,5\n")
    with pytest.raises(DataError, match="Target column 'target' is not in"):
        check_source(str(path))
    with pytest.raises(DataError, match=r"Cannot read .* as CSV: Error tokenizing data"):
        load_dataset(str(path))


# ---------------------------------------------------------------- digest


def test_digest_is_equal_for_equal_frames() -> None:
    digest = dataset_digest(SMALL)
    assert digest == dataset_digest(SMALL.copy())
    assert len(digest) == 64
    int(digest, 16)  # hexadecimal


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(a=[1.0, 2.0, 3.0, 4.5]),
        lambda f: f.rename(columns={"b": "c"}),
        lambda f: f.iloc[::-1],
        lambda f: f.iloc[:3],
        lambda f: f.astype({"target": "category"}),  # same cell hashes, other dtype
    ],
    ids=["one-cell", "column-name", "row-order", "fewer-rows", "dtype"],
)
def test_digest_changes_with_the_content(change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    assert dataset_digest(change(SMALL.copy())) != dataset_digest(SMALL)


def test_digest_ignores_the_index() -> None:
    assert dataset_digest(SMALL.set_axis([10, 11, 12, 13])) == dataset_digest(SMALL)


# ---------------------------------------------------------------- parquet helpers


def test_write_parquet_round_trips_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "data.parquet"
    write_parquet(SMALL, path)
    pd.testing.assert_frame_equal(read_parquet(path), SMALL, check_dtype=False)
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.parquet"]


def test_write_parquet_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    write_parquet(SMALL, path)
    write_parquet(SMALL.iloc[:2], path)
    assert len(read_parquet(path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["data.parquet"]


def test_failed_write_parquet_leaves_nothing_behind(tmp_path: Path) -> None:
    unsupported = pd.DataFrame({"a": [object(), object()]})
    path = tmp_path / "data.parquet"
    with pytest.raises((ValueError, TypeError), match="Conversion failed for column a"):
        write_parquet(unsupported, path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_read_parquet_of_a_non_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"Cannot read the Parquet dataset at '.*data\.parquet'"):
        read_parquet(path)


def test_read_parquet_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Cannot read the Parquet dataset at"):
        read_parquet(tmp_path / "nope.parquet")
