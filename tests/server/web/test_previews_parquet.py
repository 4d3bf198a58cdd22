"""The dataset preview of a Parquet file with either library: pyarrow where it is installed,
fastparquet where it is not (kubeline's default image). Either way the first rows are shown
from the footer and the first row group only, within the preview's byte budget.

The development venv has both libraries: each test hides pyarrow, or not, to choose.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kubeline import parquet
from kubeline.server.web.previews import datasets as previews
from kubeline.server.web.previews.files import BudgetFile
from tests.requirements import need
from tests.server.web.test_previews import (
    URL,
    artifact,
    check_rows,
    frame,
    one_sentence,
    one_table,
    show,
    write,
)

ENGINES = ("pyarrow", "fastparquet")


@pytest.fixture
def home(kubeline_home: Path) -> Path:
    (kubeline_home / "runs").mkdir(exist_ok=True)
    return kubeline_home


@pytest.fixture(autouse=True)
def _both_engines() -> None:
    for engine in ENGINES:
        if importlib.util.find_spec(engine) is None:
            need(engine, "not installed in this venv", "pip install -e '.[dev]'")


def _use(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    """The preview reads with ``engine``: pyarrow hidden for fastparquet, as in the image."""
    real = importlib.util.find_spec
    hidden = {"pyarrow"} if engine == "fastparquet" else set()
    monkeypatch.setattr(
        f"{parquet.__name__}.find_spec",
        lambda name, *a: None if name in hidden else real(name, *a),
    )
    assert previews._parquet_engine() == engine


def _write(path: Path, data: pd.DataFrame, writer: str, group_rows: int | None = None) -> None:
    if writer == "pyarrow":
        data.to_parquet(path, engine="pyarrow", row_group_size=group_rows, compression=None)
    else:
        import fastparquet

        fastparquet.write(str(path), data, row_group_offsets=group_rows or 50_000_000)


@pytest.mark.parametrize(("writer", "engine"), list(itertools.product(ENGINES, repeat=2)))
def test_first_rows_and_total_with_either_library(
    home: Path, monkeypatch: pytest.MonkeyPatch, writer: str, engine: str
) -> None:
    _use(monkeypatch, engine)
    path = write(home, "ingest/data", b"")
    _write(path, frame(57), writer, group_rows=10)
    p = show(artifact("system.Dataset", path, {"format": "parquet"}), home, max_rows=7)
    table = check_rows(p, 7, 57)
    types = [c.text for c in table.rows[1][1:]]
    assert types[0] == "int64" and types[1] in ("double", "float64")
    assert types[2] in ("string", "large_string")
    assert f'href="{URL}"' in str(p.html)


@pytest.mark.parametrize("engine", ENGINES)
def test_only_the_footer_and_first_row_group_are_read(
    home: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    """A 4 MB file in 40 row groups: the preview reads a small part of it."""
    _use(monkeypatch, engine)
    reads: list[BudgetFile] = []

    class Counted(BudgetFile):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            reads.append(self)

    monkeypatch.setattr(previews, "BudgetFile", Counted)
    path = write(home, "ingest/data", b"")
    big = pd.DataFrame({"id": range(4000), "blob": [f"{i:06d}" + "x" * 994 for i in range(4000)]})
    _write(path, big, "pyarrow", group_rows=100)
    size = path.stat().st_size
    assert size > 4_000_000
    p = show(artifact("system.Dataset", path), home, max_rows=5, max_bytes=1_000_000)
    table = one_table(p, "dataset")
    assert len(table.body) == 5 and "First 5 of 4,000 rows" in table.caption
    assert [row[1].text for row in table.body] == ["0", "1", "2", "3", "4"]
    assert len(reads) == 1 and 0 < reads[0].used < size / 10  # footer and one group


@pytest.mark.parametrize("engine", ENGINES)
def test_a_first_row_group_over_the_limit_is_not_read(
    home: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    _use(monkeypatch, engine)
    path = write(home, "ingest/data", b"")
    big = pd.DataFrame({"blob": ["x" * 1000 + str(i) for i in range(2000)]})
    _write(path, big, "pyarrow")
    assert path.stat().st_size > 1_000_000
    p = show(artifact("system.Dataset", path), home, max_bytes=200_000, max_rows=5)
    table = one_table(p, "dataset")
    assert table.body == [] and "2,000 rows" in table.caption
    assert "preview limit" in str(p.html)


@pytest.mark.parametrize("engine", ENGINES)
def test_corrupt_parquet_gives_one_sentence_with_either_library(
    home: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    _use(monkeypatch, engine)
    path = write(home, "ingest/data", b"PAR1" + b"\x00garbage" * 100 + b"PAR1")
    p = show(artifact("system.Dataset", path, {"format": "parquet"}), home)
    assert p.kind == "dataset"
    assert "Parquet" in one_sentence(p)
    assert f'href="{URL}"' in str(p.html)


def test_without_either_library_the_preview_says_so(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(f"{parquet.__name__}.find_spec", lambda name, *a: None)
    path = write(home, "ingest/data", b"")
    _write(path, frame(3), "pyarrow")
    p = show(artifact("system.Dataset", path, {"format": "parquet"}), home)
    assert "neither fastparquet nor pyarrow is installed" in one_sentence(p)
    assert f'href="{URL}"' in str(p.html)
