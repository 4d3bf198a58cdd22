"""The dataset kind: the first rows of a Parquet, CSV, TSV or JSON-lines file as a table,
reading only what those rows need (a Parquet file through a byte budget, with pyarrow or,
where it is not installed, fastparquet; text in steps) unless the whole file fits the
preview limit.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from kubeline.errors import DataError
from kubeline.parquet import parquet_engine, quiet_fastparquet
from kubeline.server.web.previews.files import BudgetFile, OverBudget, folder_listing, read_head
from kubeline.server.web.previews.fragment import (
    Preview,
    PreviewContext,
    download,
    problem_preview,
    wrap,
)
from kubeline.server.web.previews.text import (
    EMPTY,
    brief,
    format_bytes,
    format_value,
    is_number,
    message,
    note_html,
    plain,
    plural,
)

__all__ = ["dataset_preview"]

_MAX_COLUMNS = 50  # a dataset table shows this many columns
_SNIFF_BYTES = 64 * 1024  # CSV is read in steps of this size until it holds enough rows


def _dataset_format(ctx: PreviewContext, head: bytes) -> str:
    """parquet, csv, tsv or jsonl: from the metadata, the file's suffix, then its bytes."""
    declared = str((ctx.artifact.metadata or {}).get("format", "")).lower().lstrip(".")
    suffix = ctx.where.path.suffix.lower().lstrip(".") if ctx.where.path else ""
    for hint in (declared, suffix):
        if hint in ("parquet", "pq"):
            return "parquet"
        if hint in ("csv", "tsv"):
            return hint
        if hint in ("json", "jsonl", "ndjson", "jsonlines"):
            return "jsonl"
    if head.startswith(b"PAR1"):
        return "parquet"
    first = head.split(b"\n", 1)[0].lstrip()
    if first.startswith((b"{", b"[")):
        return "jsonl"
    if b"\t" in first and b"," not in first:
        return "tsv"
    return "csv"


def _dataset_table(
    caption: str,
    columns: Sequence[str],
    dtypes: Sequence[str],
    rows: Iterable[Sequence[Any]],
    hidden_columns: int,
) -> Markup:
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(c) for c in columns)
    types = Markup("").join(Markup('<th scope="col">{}</th>').format(t) for t in dtypes)
    body = []
    for i, row in enumerate(rows):
        values = [plain(v) for v in row]
        cells = Markup("").join(
            Markup("<td{}>{}</td>").format(
                Markup(' class="num"') if is_number(v) else EMPTY, format_value(v)
            )
            for v in values
        )
        body.append(Markup('<tr><th scope="row">{}</th>{}</tr>').format(i, cells))
    more = (
        Markup('<p class="preview-note">{} more not shown.</p>').format(
            plural(hidden_columns, "column")
        )
        if hidden_columns
        else Markup("")
    )
    return Markup(
        '<div class="table-scroll"><table class="dataset"><caption>{}</caption><thead>'
        '<tr><th scope="col">#</th>{}</tr>'
        '<tr class="dtypes"><th scope="col">type</th>{}</tr></thead>'
        "<tbody>{}</tbody></table></div>{}"
    ).format(caption, head, types, Markup("").join(body), more)


def _shape_caption(shown: int, rows: int | None, columns: int, source: str = "") -> str:
    """``First 20 of 569 rows, 31 columns`` (or all rows, or an unknown total)."""
    cols = plural(columns, "column")
    if rows is None:
        total = "total rows unknown"
        return f"First {plural(shown, 'row')} ({total}), {cols}" if shown else f"{total}, {cols}"
    if shown >= rows:
        return f"All {plural(rows, 'row')}{source}, {cols}"
    if shown == 0:
        return f"{rows:,} rows{source} (none shown), {cols}"
    return f"First {shown} of {rows:,} rows{source}, {cols}"


def _metadata_rows(ctx: PreviewContext) -> int | None:
    value = (ctx.artifact.metadata or {}).get("rows")
    if is_number(value) and math.isfinite(value):
        return int(value)
    return None


@dataclass
class _ParquetFooter:
    """What a Parquet file's footer says, read by either library, and how to read the first
    rows of its first row group."""

    names: list[str]
    types: dict[str, str]
    num_rows: int
    first_group_bytes: int  # compressed, all columns; 0 when there is no row group
    first_rows: Callable[[list[str], int], list[list[Any]]]


def _parquet_engine() -> str | None:
    """The library kubeline reads Parquet with (pyarrow, else fastparquet), or None."""
    try:
        return parquet_engine()
    except DataError:
        return None


def _pyarrow_footer(budget: BudgetFile) -> _ParquetFooter:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(budget)
    meta, schema = pf.metadata, pf.schema_arrow
    group = meta.row_group(0) if meta.num_row_groups else None
    group_bytes = (
        sum(group.column(i).total_compressed_size for i in range(group.num_columns)) if group else 0
    )

    def first_rows(columns: list[str], count: int) -> list[list[Any]]:
        # The first row group only: iter_batches reads ahead over several groups at once.
        table = pf.read_row_group(0, columns=columns).slice(0, count)
        values = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return [list(r) for r in zip(*values, strict=True)]

    types = {name: str(schema.field(name).type) for name in schema.names}
    return _ParquetFooter(list(schema.names), types, meta.num_rows, group_bytes, first_rows)


def _fastparquet_footer(budget: BudgetFile) -> _ParquetFooter:
    with quiet_fastparquet():
        import fastparquet
        from fastparquet.parquet_thrift import ConvertedType

        pf = fastparquet.ParquetFile(budget)
    names = [str(n) for n in pf.columns]
    groups = pf.row_groups or []
    group_bytes = sum(c.meta_data.total_compressed_size for c in groups[0].columns) if groups else 0

    def type_of(name: str) -> str:
        dtype = str(pf.dtypes.get(name, ""))
        element = pf.schema.schema_element(name)
        if dtype == "object" and getattr(element, "converted_type", None) == ConvertedType.UTF8:
            return "string"
        return dtype

    def first_rows(columns: list[str], count: int) -> list[list[Any]]:
        with quiet_fastparquet():
            frame = next(iter(pf.iter_row_groups(columns=columns)), None)
        if frame is None:
            return []
        return [list(r) for r in frame.head(count).itertuples(index=False, name=None)]

    types = {name: type_of(name) for name in names}
    return _ParquetFooter(names, types, int(pf.count()), group_bytes, first_rows)


def _parquet(ctx: PreviewContext, total_size: int, engine: str | None = None) -> Preview:
    """The first rows of a Parquet file, reading at most ``ctx.max_bytes`` of it (the footer,
    then the first row group if it fits), with pyarrow or fastparquet (``engine``)."""
    assert ctx.where.path is not None
    engine = engine or _parquet_engine()
    if engine is None:
        return problem_preview(
            "dataset",
            "Parquet files cannot be shown here: neither fastparquet nor pyarrow is installed.",
            download(ctx, total_size),
        )
    with ctx.where.path.open("rb") as raw:
        budget = BudgetFile(raw, ctx.max_bytes)
        try:
            footer = (_pyarrow_footer if engine == "pyarrow" else _fastparquet_footer)(budget)
        except OverBudget:
            return problem_preview(
                "dataset",
                f"The Parquet footer could not be read within the {format_bytes(ctx.max_bytes)} "
                "preview limit.",
                download(ctx, total_size),
            )
        except Exception as exc:  # noqa: BLE001 - both libraries raise many types on corrupt files
            return problem_preview(
                "dataset",
                f"This file could not be read as Parquet ({brief(exc)}).",
                download(ctx, total_size),
            )
        names = footer.names
        shown_names = names[:_MAX_COLUMNS]
        dtypes = [footer.types.get(name, "") for name in shown_names]
        rows: list[list[Any]] = []
        problem = ""
        if footer.num_rows and ctx.max_rows > 0:
            group_bytes = footer.first_group_bytes
            if budget.used + group_bytes > ctx.max_bytes:
                problem = (
                    f"Rows are not shown: the first row group ({format_bytes(group_bytes)}) is "
                    f"larger than the {format_bytes(ctx.max_bytes)} preview limit."
                )
            else:
                try:
                    rows = footer.first_rows(shown_names, ctx.max_rows)
                except OverBudget:
                    problem = (
                        f"Rows are not shown: reading them would pass the "
                        f"{format_bytes(ctx.max_bytes)} preview limit."
                    )
                except Exception as exc:  # noqa: BLE001 - a corrupt row group, say so
                    problem = f"The rows could not be read ({brief(exc)})."
    caption = _shape_caption(len(rows), footer.num_rows, len(names))
    body = _dataset_table(caption, shown_names, dtypes, rows, len(names) - len(shown_names))
    if problem:
        body = message(problem) + body
    note = f"Parquet, {caption[0].lower()}{caption[1:]}"
    return wrap("dataset", body + download(ctx, total_size), note)


def _text_table(ctx: PreviewContext, fmt: str, total_size: int) -> Preview:
    """CSV, TSV or JSON lines through pandas, reading only what the first rows need unless
    the whole file fits the preview limit (then the total row count is exact)."""
    import pandas as pd

    assert ctx.where.path is not None
    link = download(ctx, total_size)
    whole = total_size <= ctx.max_bytes
    with ctx.where.path.open("rb") as f:
        if whole:
            data = f.read(ctx.max_bytes)
        else:
            chunks: list[bytes] = []
            read = 0
            while read < ctx.max_bytes:
                chunk = f.read(min(_SNIFF_BYTES, ctx.max_bytes - read))
                if not chunk:
                    break
                chunks.append(chunk)
                read += len(chunk)
                if b"".join(chunks).count(b"\n") > ctx.max_rows + 1:
                    break
            data = b"".join(chunks)
            whole = read >= total_size
    if not whole:  # drop the last, partial line
        data = data[: data.rfind(b"\n") + 1] if b"\n" in data else b""
    if b"\x00" in data:
        return problem_preview("dataset", f"This file is binary, not {fmt.upper()} text.", link)
    if not data.strip():
        return problem_preview("dataset", "This dataset file is empty.", link)
    try:
        if fmt == "jsonl" and whole and data.lstrip().startswith(b"["):  # one JSON array
            frame = pd.read_json(io.BytesIO(data))
        elif fmt == "jsonl":
            frame = pd.read_json(io.BytesIO(data), lines=True)
        else:
            frame = pd.read_csv(
                io.BytesIO(data),
                sep="\t" if fmt == "tsv" else ",",
                nrows=None if whole else ctx.max_rows,
                encoding_errors="replace",
            )
    except Exception as exc:  # noqa: BLE001 - pandas raises many types on bad text
        return problem_preview(
            "dataset", f"This file could not be read as {fmt.upper()} ({brief(exc)}).", link
        )
    total_rows = len(frame) if whole else _metadata_rows(ctx)
    source = "" if whole or total_rows is None else " (from its metadata)"
    head = frame.head(ctx.max_rows)
    names = [str(c) for c in head.columns]
    shown = names[:_MAX_COLUMNS]
    dtypes = [str(t) for t in head.dtypes.iloc[: len(shown)]]
    rows = [list(r)[: len(shown)] for r in head.itertuples(index=False, name=None)]
    caption = _shape_caption(len(rows), total_rows, len(names), source)
    body = _dataset_table(caption, shown, dtypes, rows, len(names) - len(shown))
    if not whole:
        body += note_html(
            f"Only the start of this {format_bytes(total_size)} file was read for the preview."
        )
    note = f"{fmt.upper()}, {caption[0].lower()}{caption[1:]}"
    return wrap("dataset", body + link, note)


def dataset_preview(ctx: PreviewContext) -> Preview:
    where = ctx.where
    if where.state == "dir":
        listing, note = folder_listing(where)
        return wrap("dataset", listing, note)
    assert where.path is not None
    head, total = read_head(where.path, min(4096, ctx.max_bytes))
    fmt = _dataset_format(ctx, head)
    if fmt == "parquet":
        return _parquet(ctx, total)
    return _text_table(ctx, fmt, total)
