"""Parquet with whichever library is installed: pyarrow (``kubeline[parquet]``, the
``-full`` image) or fastparquet (a core dependency, so the default image can leave pyarrow's
156 MB out: docs/images.md). Each reads what the other wrote, with the same dtypes.

Shared by every layer that reads a Dataset (the ML components, the notebook views), so
it imports nothing of kubeline's but its errors; pandas and the engines only when used.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from kubeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PARQUET_ENGINES",
    "fastparquet_file",
    "parquet_engine",
    "quiet_fastparquet",
    "read_parquet",
    "read_parquet_frame",
]

#: The Parquet libraries kubeline reads and writes with, in order of preference. pyarrow
#: comes with ``kubeline[parquet]`` (and the ``-full`` image); fastparquet is a core
#: dependency, so the default image can leave pyarrow's 156 MB out (docs/images.md). Each
#: reads what the other wrote, with the same dtypes (``_settle_dtypes``).
PARQUET_ENGINES = ("pyarrow", "fastparquet")
#: pandas' nullable dtypes, as Parquet files' pandas metadata names them.
_NULLABLE_DTYPES = frozenset(
    {f"{k}{b}" for k in ("Int", "UInt") for b in (8, 16, 32, 64)}
    | {"Float32", "Float64", "boolean"}
)


def _is_uri(source: str) -> bool:
    return "://" in source


def parquet_engine(engine: str | None = None) -> str:
    """The Parquet library to use: ``engine`` when given, else the first of
    ``PARQUET_ENGINES`` installed.

    Raises:
        DataError: ``engine`` is not one of ``PARQUET_ENGINES`` or is not installed, or
            neither library is.
    """
    if engine is not None:
        if engine not in PARQUET_ENGINES:
            raise DataError(
                f"Unknown Parquet engine {engine!r}: use one of {', '.join(PARQUET_ENGINES)}."
            )
        if find_spec(engine) is None:
            raise DataError(f"The Parquet engine {engine!r} is not installed: pip install {engine}")
        return engine
    for name in PARQUET_ENGINES:
        if find_spec(name) is not None:
            return name
    raise DataError(
        "Parquet needs fastparquet or pyarrow, and neither is installed: "
        "pip install fastparquet (or pip install 'kubeline[parquet]' for pyarrow)."
    )


@contextlib.contextmanager
def quiet_fastparquet() -> Iterator[None]:
    """fastparquet still calls pandas APIs that pandas 3 deprecates for pandas 4 (the option
    future.infer_string when imported, Series.values of tz-aware times...): those warnings
    are about fastparquet's code, not the caller's, so they are not shown. pyproject keeps
    pandas below 4."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def fastparquet_file(f: Any, columns: list[str] | None = None, *, rows: bool = True) -> Any:
    """fastparquet on an open file: its ``ParquetFile``, and with ``rows`` the frame of
    ``columns``. fastparquet raises untyped errors on bytes that are not Parquet
    (struct.error, IndexError, its own ParquetException...): they become ValueError, as
    pyarrow's ArrowInvalid is."""
    try:
        with quiet_fastparquet():
            import fastparquet

            pf = fastparquet.ParquetFile(f)
            return (pf, pf.to_pandas(columns=columns)) if rows else (pf, None)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # see the docstring
        raise ValueError(f"not a Parquet file ({type(exc).__name__}: {exc})") from exc


def read_parquet_frame(location: str, columns: list[str] | None, engine: str) -> pd.DataFrame:
    """Read a Parquet file (local path or fsspec URI) with ``engine``."""
    import fsspec

    if engine == "pyarrow":
        with contextlib.ExitStack() as stack:
            source: Any = location
            if _is_uri(location):
                source = stack.enter_context(fsspec.open(location, "rb"))
            return _read_with_pyarrow(source, columns)
    with fsspec.open(location, "rb") as f:
        pf, frame = fastparquet_file(f, columns)
        pandas_metadata = json.loads(pf.key_value_metadata.get("pandas", "null"))
    return _settle_dtypes(frame, pandas_metadata)


def _read_with_pyarrow(source: Any, columns: list[str] | None) -> pd.DataFrame:
    """pyarrow's read, with the categoricals of a file fastparquet wrote read as dictionaries
    (their categories in the file's order: it has no Arrow schema that says so)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(source)
    if not isinstance(source, str):
        source.seek(0)
    metadata = schema.pandas_metadata
    categorical = [
        str(c["name"])
        for c in (metadata or {}).get("columns", [])
        if "categorical" in (c.get("pandas_type"), c.get("numpy_type"))
        and c.get("name") in schema.names
        and not pa.types.is_dictionary(schema.field(c["name"]).type)
    ]
    table = pq.read_table(source, columns=columns, read_dictionary=categorical or None)
    return _settle_dtypes(table.to_pandas(), metadata)


def _settle_dtypes(frame: pd.DataFrame, pandas_metadata: dict[str, Any] | None) -> pd.DataFrame:
    """Give a frame read by either engine the dtypes of the frame that was written, from the
    file's pandas metadata: categoricals (pyarrow reads fastparquet's as text), pandas'
    nullable Int64, boolean... (pyarrow reads fastparquet's as float or object: the two
    libraries swap ``pandas_type`` and ``numpy_type`` for them), and text in pandas' own
    string dtype (fastparquet without pyarrow reads it as ``object``)."""
    import pandas as pd

    strings = pd.Series(["a"]).dtype  # ``str`` from pandas 3 on, ``object`` before
    text_dtype = strings if isinstance(strings, pd.StringDtype) else None
    wanted: dict[str, Any] = {}
    for meta in (pandas_metadata or {}).get("columns", []):
        kinds = {meta.get("pandas_type"), meta.get("numpy_type")}
        if "categorical" in kinds:
            ordered = bool((meta.get("metadata") or {}).get("ordered"))
            wanted[str(meta.get("name"))] = pd.CategoricalDtype(ordered=ordered)
        elif found := kinds & _NULLABLE_DTYPES:
            wanted[str(meta.get("name"))] = pd.api.types.pandas_dtype(found.pop())
    for name in frame.columns:
        column = frame[name]
        dtype = wanted.get(str(name))
        if isinstance(dtype, pd.CategoricalDtype) and isinstance(column.dtype, pd.CategoricalDtype):
            if column.dtype.ordered != dtype.ordered:
                frame[name] = (
                    column.cat.as_ordered() if dtype.ordered else column.cat.as_unordered()
                )
        elif dtype is not None and type(column.dtype) is not type(dtype):
            frame[name] = column.astype(dtype)
        elif (
            dtype is None
            and text_dtype is not None
            and column.dtype == object
            and pd.api.types.infer_dtype(column, skipna=True) == "string"
        ):
            frame[name] = column.astype(text_dtype)
    return frame


def read_parquet(path: str | os.PathLike[str], *, engine: str | None = None) -> pd.DataFrame:
    """Read a Parquet file written by ``write_parquet`` (or any Parquet file), with
    ``engine`` (default: ``parquet_engine()``).

    Raises:
        DataError: the file is missing or is not Parquet, or no engine is installed.
    """
    chosen = parquet_engine(engine)
    try:
        return read_parquet_frame(os.fspath(path), None, chosen)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read the Parquet dataset at '{path}': {exc}") from exc
