"""Ingest: turn a dataset name, file or URI into one DataFrame with a target column.

Sources are scikit-learn's bundled datasets (so nothing is downloaded at run time) or a
CSV / Parquet file given as a local path or any fsspec URI (``s3://``, ``gs://``,
``memory://``...) whose backend is installed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from sklearn import datasets as sk_datasets

from kubeline.errors import DataError
from kubeline.ml._files import atomic_path
from kubeline.parquet import (
    fastparquet_file,
    parquet_engine,
    quiet_fastparquet,
    read_parquet,
    read_parquet_frame,
)

__all__ = [
    "BUNDLED_DATASETS",
    "DEFAULT_TARGET",
    "check_source",
    "dataset_digest",
    "load_dataset",
    "parquet_engine",
    "read_parquet",
    "write_parquet",
]

DEFAULT_TARGET = "target"

# scikit-learn ships no type hints: its loaders return an untyped Bunch.
BUNDLED_DATASETS: dict[str, Callable[..., Any]] = {
    "breast_cancer": sk_datasets.load_breast_cancer,
    "digits": sk_datasets.load_digits,
    "iris": sk_datasets.load_iris,
    "wine": sk_datasets.load_wine,
}

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def _bundled(name: str) -> pd.DataFrame:
    bunch = BUNDLED_DATASETS[name](as_frame=True)
    frame = bunch.frame.copy()
    names = pd.Index([str(n) for n in bunch.target_names])
    # Class names ("malignant", "setosa") read better in reports than codes 0, 1, 2.
    frame[DEFAULT_TARGET] = pd.Categorical.from_codes(frame[DEFAULT_TARGET], names).astype(str)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _is_uri(source: str) -> bool:
    return "://" in source


def _format_of(source: str) -> str:
    name = PurePosixPath(source.split("?", 1)[0]).name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise DataError(
        f"Cannot tell the format of '{source}': expected a file ending in .csv or .parquet."
    )


def _resolve(source: str) -> tuple[str, str]:
    """Check that ``source`` names a bundled dataset or a readable file; return (kind, format)."""
    if source in BUNDLED_DATASETS:
        return "bundled", ""
    looks_like_file = _is_uri(source) or os.sep in source or "/" in source or "." in source
    if not looks_like_file:
        known = ", ".join(sorted(BUNDLED_DATASETS))
        raise DataError(
            f"Unknown dataset '{source}': use one of {known}, "
            "or a path or URI to a .csv or .parquet file."
        )
    fmt = _format_of(source)
    if _is_uri(source) and not source.startswith("file://"):
        import fsspec

        try:
            fs, path = fsspec.core.url_to_fs(source)
        except (ImportError, ValueError) as exc:
            raise DataError(f"Cannot open '{source}': {exc}") from exc
        if not fs.exists(path):
            raise DataError(f"Dataset file not found: '{source}'.")
        if fs.size(path) == 0:
            raise DataError(f"Dataset file '{source}' is empty.")
        return "uri", fmt
    path = Path(source.removeprefix("file://")).expanduser()
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise DataError(f"Dataset file {what}: '{source}'.")
    if path.stat().st_size == 0:
        raise DataError(f"Dataset file '{source}' is empty.")
    return "file", fmt


def _read(
    source: str, fmt: str, columns: list[str] | None = None, nrows: int | None = None
) -> pd.DataFrame:
    location = source.removeprefix("file://") if source.startswith("file://") else source
    if not _is_uri(location):
        location = str(Path(location).expanduser())
    try:
        if fmt == "csv":
            return pd.read_csv(location, usecols=columns, nrows=nrows)
        return read_parquet_frame(location, columns, parquet_engine())
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"Dataset file '{source}' is empty.") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"Cannot read '{source}' as {fmt.upper()}: {first_line}") from exc


def _require_target(frame_columns: list[str], target: str, source: str) -> None:
    if target not in frame_columns:
        shown = ", ".join(frame_columns[:12]) + (", ..." if len(frame_columns) > 12 else "")
        raise DataError(
            f"Target column '{target}' is not in '{source}'. Its columns are: {shown}. "
            "Name the target with target=<column>."
        )


def _require_classes(labels: pd.Series, target: str, source: str) -> None:
    classes = labels.dropna().unique()
    if len(classes) < 2:
        found = f"only the class {classes[0]!r}" if len(classes) == 1 else "no values"
        raise DataError(
            f"Target column '{target}' of '{source}' has {found}; "
            "classification needs at least 2 classes."
        )


def check_source(source: str, target: str = DEFAULT_TARGET) -> None:
    """Check cheaply that ``source`` can be ingested with ``target``, without loading it all.

    Reads only the target column, so it is fit for a pre-flight check before a run.

    Raises:
        DataError: unknown name, missing or empty file, unknown format, missing target
            column, or fewer than two classes.
    """
    kind, fmt = _resolve(source)
    if kind == "bundled":
        if target != DEFAULT_TARGET:
            raise DataError(
                f"The bundled dataset '{source}' has its labels in column '{DEFAULT_TARGET}', "
                f"not '{target}'. Leave target at its default."
            )
        return
    if fmt == "csv":
        names = [str(c) for c in _read(source, fmt, nrows=0).columns]
    else:
        try:
            names = _parquet_columns(source)
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot read '{source}' as PARQUET: {exc}") from exc
    _require_target(names, target, source)
    _require_classes(_read(source, fmt, columns=[target])[target], target, source)


def _parquet_columns(source: str) -> list[str]:
    """The column names in a Parquet file's footer, without reading its rows."""
    import fsspec

    engine = parquet_engine()
    location = source if _is_uri(source) else str(Path(source).expanduser())
    with fsspec.open(location, "rb") as f:
        if engine == "pyarrow":
            import pyarrow.parquet as pq

            return [str(n) for n in pq.read_schema(f).names]
        return [str(n) for n in fastparquet_file(f, rows=False)[0].columns]


def load_dataset(source: str, target: str = DEFAULT_TARGET) -> pd.DataFrame:
    """Load a dataset as a DataFrame whose column ``target`` holds the class labels.

    Args:
        source: a bundled dataset name (``breast_cancer``, ``digits``, ``iris``, ``wine``),
            or a path or fsspec URI to a ``.csv`` or ``.parquet`` file.
        target: the name of the label column; bundled datasets always use ``target``.

    Returns:
        DataFrame of shape (n_samples, n_features + 1) with string column names.

    Raises:
        DataError: the source is unknown, missing, empty or unreadable, or lacks the
            target column, or the target has fewer than two classes.

    >>> load_dataset("iris").shape
    (150, 5)
    """
    kind, fmt = _resolve(source)
    if kind == "bundled":
        check_source(source, target)
        frame = _bundled(source)
    else:
        frame = _read(source, fmt)
        frame.columns = [str(c) for c in frame.columns]
        if frame.empty:
            raise DataError(f"Dataset file '{source}' has a header but no rows.")
        _require_target(list(frame.columns), target, source)
    _require_classes(frame[target], target, source)
    return frame


def dataset_digest(frame: pd.DataFrame) -> str:
    """A content digest (sha256 hex) of a DataFrame: same rows, columns and order, same digest."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update("\x1f".join(map(str, frame.dtypes)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def write_parquet(
    frame: pd.DataFrame, path: str | os.PathLike[str], *, engine: str | None = None
) -> None:
    """Write ``frame`` to ``path`` as snappy-compressed Parquet without its index, with
    ``engine`` (default: ``parquet_engine()``); the file appears whole or not at all."""
    chosen = parquet_engine(engine)
    with atomic_path(path) as tmp:
        if chosen == "pyarrow":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        else:
            with quiet_fastparquet():
                import fastparquet

                fastparquet.write(tmp, frame, write_index=False, compression="SNAPPY")
