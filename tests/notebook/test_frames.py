"""A Dataset's Parquet file read back in a notebook with whichever Parquet library is
installed: the same frame, dtypes included, and none of pandas' warnings about its engines."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kubeline import parquet
from kubeline.ml.datasets import write_parquet
from kubeline.notebook.frames import read_frame


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "city": ["Lyon", "Oslo", None],
            "size": pd.array([1, None, 3], dtype="Int64"),
            "kind": pd.Categorical(["a", "b", "a"]),
        }
    )


@pytest.mark.parametrize("engine", parquet.PARQUET_ENGINES)
def test_a_parquet_dataset_loads_with_either_library(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data"  # KFP names the file after the output: no suffix
    write_parquet(_frame(), path, engine=engine)
    real = parquet.find_spec
    other = {"pyarrow": "fastparquet", "fastparquet": "pyarrow"}[engine]

    def only(name: str, *args: Any) -> Any:  # as if only `engine` were installed
        return None if name == other else real(name, *args)

    monkeypatch.setattr(parquet, "find_spec", only)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = read_frame(path)
    pd.testing.assert_frame_equal(frame, _frame())
