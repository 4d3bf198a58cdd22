"""A Dataset artifact's file read as a pandas DataFrame, whatever the format its producer
chose: shared by ``Artifact.load()`` and the Dataset view's first rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["read_frame"]


def read_frame(source: Path | str) -> Any:
    """A Dataset's content as a pandas DataFrame: Parquet (a file, by its magic bytes, or a
    folder of them), JSON lines or JSON by suffix, else CSV (KFP names an output's file
    after the output, with no suffix, so the content decides)."""
    import pandas as pd

    from kubeline.parquet import read_parquet  # pyarrow or fastparquet, the same dtypes

    if isinstance(source, str):  # a remote URI: read through fsspec
        return read_parquet(source) if source.endswith(".parquet") else pd.read_csv(source)
    if not source.exists():
        raise FileNotFoundError(f"The dataset's content is gone: {source} does not exist.")
    if source.is_dir():
        return pd.read_parquet(source)
    with open(source, "rb") as file:
        magic = file.read(4)
    if magic == b"PAR1":
        return read_parquet(source)
    suffix = source.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return pd.read_json(source, lines=True)
    if suffix == ".json":
        return pd.read_json(source)
    if suffix in (".tsv", ".tab"):
        return pd.read_csv(source, sep="\t")
    return pd.read_csv(source)
