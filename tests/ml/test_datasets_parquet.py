"""Parquet with either engine: pyarrow (``kubeline[parquet]``, the ``-full`` image) or
fastparquet (a core dependency, the default image). Files written by one are read by the
other with the same values and dtypes, since a run's artifacts may be written in one image
and read on a host (or in another image) that has the other library.

The development venv has both, so each test names the engine it means.
"""

from __future__ import annotations

import importlib.util
import itertools
import uuid
import warnings
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pytest

from kubeline import parquet
from kubeline.errors import DataError
from kubeline.ml.datasets import (
    BUNDLED_DATASETS,
    check_source,
    dataset_digest,
    load_dataset,
    parquet_engine,
    read_parquet,
    write_parquet,
)
from kubeline.ml.split import split_dataset
from kubeline.parquet import PARQUET_ENGINES
from tests.requirements import need

PAIRS = list(itertools.product(PARQUET_ENGINES, repeat=2))
PAIR_IDS = [f"{w}-to-{r}" for w, r in PAIRS]


@pytest.fixture(autouse=True)
def _both_engines() -> None:
    for engine in PARQUET_ENGINES:
        if importlib.util.find_spec(engine) is None:
            need(engine, "not installed in this venv", "pip install -e '.[dev]'")


def _every_dtype() -> pd.DataFrame:
    """One column of every kind a user's Parquet dataset may bring."""
    return pd.DataFrame(
        {
            "int": np.arange(5, dtype="int64"),
            "int32": np.arange(5, dtype="int32"),
            "float": [1.5, np.nan, 3.0, 4.0, 5.0],
            "float32": np.arange(5, dtype="float32"),
            "bool": [True, False, True, True, False],
            "text": ["a", None, "c", "é", ""],
            "category": pd.Categorical(["x", "y", "x", "z", "y"]),
            "ordered": pd.Categorical(list("lhllh"), categories=["l", "h"], ordered=True),
            "time": pd.date_range("2026-01-01", periods=5),
            "zoned": pd.date_range("2026-01-01", periods=5, tz="Europe/Paris"),
            "Int64": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "UInt8": pd.array([1, None, 3, 4, 5], dtype="UInt8"),
            "Float64": pd.array([1.5, None, 2.0, 3.0, 4.0], dtype="Float64"),
            "boolean": pd.array([True, None, False, True, True], dtype="boolean"),
        }
    )


def _lifecycle_frames() -> dict[str, pd.DataFrame]:
    """What the lifecycle's components write: ingest's frame, split's train and test."""
    frames = {}
    for name in sorted(BUNDLED_DATASETS):
        frame = load_dataset(name)
        train, test = split_dataset(frame, "target", 0.25, 7)
        frames[name] = frame
        frames[f"{name}-train"] = train.reset_index(drop=True)
        frames[f"{name}-test"] = test.reset_index(drop=True)
    return frames


@pytest.mark.parametrize(("writer", "reader"), PAIRS, ids=PAIR_IDS)
def test_lifecycle_frames_round_trip_across_engines(
    tmp_path: Path, writer: str, reader: str
) -> None:
    for name, frame in _lifecycle_frames().items():
        path = tmp_path / f"{name}.parquet"
        write_parquet(frame, path, engine=writer)
        back = read_parquet(path, engine=reader)
        pd.testing.assert_frame_equal(back, frame, obj=name)  # dtypes included
        assert str(back["target"].dtype) == str(frame["target"].dtype) == "str"
        assert dataset_digest(back) == dataset_digest(frame), name


@pytest.mark.parametrize(("writer", "reader"), PAIRS, ids=PAIR_IDS)
def test_every_dtype_round_trips_across_engines(tmp_path: Path, writer: str, reader: str) -> None:
    frame = _every_dtype()
    path = tmp_path / "all.parquet"
    write_parquet(frame, path, engine=writer)
    pd.testing.assert_frame_equal(read_parquet(path, engine=reader), frame)


@pytest.mark.parametrize("engine", PARQUET_ENGINES)
def test_no_deprecation_warning_reaches_the_caller(tmp_path: Path, engine: str) -> None:
    """fastparquet calls pandas APIs that pandas 3 deprecates: a component's log must not
    fill with warnings about a library's code."""
    path = tmp_path / "all.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_parquet(_every_dtype(), path, engine=engine)
        read_parquet(path, engine=engine)


def test_engine_prefers_pyarrow_and_falls_back_to_fastparquet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parquet_engine() == "pyarrow"
    _hide(monkeypatch, "pyarrow")
    assert parquet_engine() == "fastparquet"
    assert parquet_engine("fastparquet") == "fastparquet"
    with pytest.raises(DataError, match="'pyarrow' is not installed: pip install pyarrow"):
        parquet_engine("pyarrow")


def test_no_engine_at_all_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, *PARQUET_ENGINES)
    with pytest.raises(DataError, match=r"pip install fastparquet .*kubeline\[parquet\]"):
        write_parquet(pd.DataFrame({"a": [1]}), "unused.parquet")


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(DataError, match="Unknown Parquet engine 'polars'"):
        parquet_engine("polars")


def _hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """As if ``names`` were not installed (the default image has no pyarrow)."""
    real = parquet.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name in names else real(name, *args)

    monkeypatch.setattr(parquet, "find_spec", find_spec)


# -- ingest without pyarrow: what the default image does ------------------------------


def _pyarrow_file(location: str, frame: pd.DataFrame) -> str:
    with fsspec.open(location, "wb") as f:
        frame.to_parquet(f, index=False, engine="pyarrow")
    return location


@pytest.mark.parametrize("where", ["local", "memory"])
def test_ingest_reads_a_users_parquet_without_pyarrow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    frame = _every_dtype().drop(columns=["zoned"]).assign(target=list("pqpqp"))
    location = (
        str(tmp_path / "data.parquet")
        if where == "local"
        else f"memory://kubeline-tests/{uuid.uuid4().hex}/data.parquet"
    )
    _pyarrow_file(location, frame)
    _hide(monkeypatch, "pyarrow")
    check_source(location, "target")
    pd.testing.assert_frame_equal(load_dataset(location, "target"), frame)


def test_check_source_without_pyarrow_names_the_columns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    location = _pyarrow_file(str(tmp_path / "d.parquet"), pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    _hide(monkeypatch, "pyarrow")
    with pytest.raises(DataError, match=r"Target column 'target' is not in .* are: a, b"):
        check_source(location, "target")


@pytest.mark.parametrize("engine", PARQUET_ENGINES)
def test_bytes_that_are_not_parquet_give_a_data_error(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1 this is not really parquet PAR1")
    with pytest.raises(DataError, match="Cannot read the Parquet dataset at"):
        read_parquet(path, engine=engine)


def test_a_users_non_parquet_file_is_refused_without_pyarrow(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "data.parquet"
    path.write_text("this is not parquet\n")
    _hide(monkeypatch, "pyarrow")
    with pytest.raises(DataError, match=r"Cannot read '.*data\.parquet' as PARQUET"):
        check_source(str(path))
    with pytest.raises(DataError, match=r"Cannot read '.*data\.parquet' as PARQUET"):
        load_dataset(str(path))


@pytest.mark.parametrize("engine", PARQUET_ENGINES)
def test_an_empty_frame_round_trips(tmp_path: Path, engine: str) -> None:
    frame = load_dataset("iris").iloc[:0].reset_index(drop=True)
    path = tmp_path / "empty.parquet"
    write_parquet(frame, path, engine=engine)
    back = read_parquet(path, engine=engine)
    assert list(back.columns) == list(frame.columns) and len(back) == 0
