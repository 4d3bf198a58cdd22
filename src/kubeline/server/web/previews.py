"""Previews of an artifact by its type, as HTML fragments for the run page.

A preview reads at most ``max_bytes`` of an artifact and only from inside ``home / "runs"``
(symlinks resolved first), because the page renders whatever a pipeline wrote: a 2 GB
dataset, a symlink to ``~/.ssh``, a corrupt file. It never raises on bad content; it says in
one sentence what it could not show. Every piece of artifact text is escaped; HTML reports
are shown only in a sandboxed iframe, so their scripts never run in kubeline's origin.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from markupsafe import Markup

from kubeline.engine.artifacts import local_path
from kubeline.server.web.charts import auc_trapezoid, format_number, roc_curve_svg
from kubeline.store import ArtifactRecord

__all__ = [
    "KINDS",
    "Preview",
    "confusion_table",
    "format_bytes",
    "format_value",
    "parse_confusion",
    "preview",
    "render_markdown",
    "roc_points",
]

logger = logging.getLogger(__name__)

KINDS = ("metrics", "classification", "html", "markdown", "dataset", "model", "file", "none")

_LIST_ITEMS = 10  # metadata lists show this many items, then "... and N more"
_FOLDER_FILES = 50  # a folder lists this many files
_FOLDER_SCAN = 10_000  # and stops counting after this many entries
_TEXT_BYTES = 4096  # the text preview of a generic file
_CELL_CHARS = 200  # a dataset cell or metadata value is cut after this many characters
_MAX_COLUMNS = 50  # a dataset table shows this many columns
_SNIFF_BYTES = 64 * 1024  # CSV is read in steps of this size until it holds enough rows
_EMPTY = Markup("")


@dataclass(frozen=True)
class Preview:
    """What the run page shows for one artifact: ``kind`` (one of ``KINDS``), the HTML
    fragment, and a short plain-text note (size, rows, why it is cut or missing)."""

    kind: str
    html: Markup
    note: str = ""


# --------------------------------------------------------------------------- formatting


def format_value(value: Any) -> str:
    """A metadata or cell value as text: numbers with 4 significant digits (integers without
    ``.0``), None as ``null``, lists and dicts as short JSON."""
    if value is None:
        return "null"
    value = _plain(value)
    if isinstance(value, (bool, int, float)):
        return format_number(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple, dict)):
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(value)
        return _cut(text)
    return _cut(str(value))


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as the Python value it holds; anything else as it is."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict)):
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            return value.item()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_bytes(size: int | None) -> str:
    """A byte count the way people read it (1024-based): ``512 B``, ``165.8 KB``."""
    if size is None:
        return "unknown size"
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{size} B"  # unreachable; keeps type checkers content


def _cut(text: str, limit: int = _CELL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_digest(digest: str | None) -> Markup:
    if not digest:
        return Markup("<span>none</span>")
    shown = digest.split(":")[-1][:12]
    return Markup('<code class="digest" title="{}">{}</code>').format(digest, shown)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _message(text: str) -> Markup:
    return Markup('<p class="preview-message">{}</p>').format(text)


def _note(text: str) -> Markup:
    return Markup('<p class="preview-note">{}</p>').format(text)


def _brief(exc: BaseException) -> str:
    """An exception's first sentence, short enough to sit inside one of ours."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    return _cut(first.rstrip(".").strip(), 160)


# --------------------------------------------------------------------------- where it is


@dataclass(frozen=True)
class _Where:
    """Where an artifact's content is: ``file`` or ``dir`` (a resolved path inside
    home/runs), or ``remote``, ``outside``, ``missing``, ``special``, ``error`` with a
    one-sentence reason."""

    state: str
    path: Path | None = None
    reason: str = ""
    runs: Path | None = None


def _inside(path: Path, runs: Path) -> bool:
    return path == runs or runs in path.parents


def _locate(artifact: ArtifactRecord, home: Path) -> _Where:
    uri = artifact.uri or ""
    if not uri:
        return _Where("missing", reason="This artifact has no URI, so there is no file to show.")
    path = local_path(uri)
    if path is None:
        return _Where(
            "remote",
            reason=f"This artifact is stored at {uri}, not on this machine, so kubeline "
            "does not preview its content.",
        )
    try:
        runs = (home / "runs").resolve()
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission error
        return _Where("error", reason=f"The artifact's path could not be resolved ({_brief(exc)}).")
    if not _inside(resolved, runs):
        return _Where(
            "outside",
            reason=f"The artifact's content ({uri}) lies outside kubeline's runs folder, "
            "so kubeline does not read it.",
        )
    try:
        if resolved.is_file():
            return _Where("file", resolved, runs=runs)
        if resolved.is_dir():
            return _Where("dir", resolved, runs=runs)
        if resolved.exists():
            return _Where(
                "special",
                reason=f"The artifact's path ({uri}) is not a regular file or folder, so it is "
                "not read.",
            )
    except OSError as exc:
        return _Where("error", reason=f"The artifact's file could not be opened ({_brief(exc)}).")
    return _Where("missing", reason=f"The artifact's file ({uri}) does not exist.")


def _read_head(path: Path, limit: int) -> tuple[bytes, int]:
    """The first ``limit`` bytes of a file and its full size."""
    with path.open("rb") as f:
        total = os.fstat(f.fileno()).st_size
        return f.read(max(0, limit)), total


def _decode_text(data: bytes, *, cut: bool) -> str | None:
    """UTF-8 text, or None for binary content. A file cut mid-character loses that
    character only."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", errors="strict")
        return None


class _OverBudget(Exception):
    """Raised by ``_BudgetFile`` when a reader asks for more than the preview may read."""


class _BudgetFile(io.RawIOBase):
    """A read-only file that refuses to hand out more than ``budget`` bytes in total, so a
    library (pyarrow) reading through it cannot read more than the preview allows."""

    def __init__(self, raw: BinaryIO, budget: int) -> None:
        super().__init__()
        self._raw = raw
        self.budget = budget
        self.used = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            here = self._raw.tell()
            size = os.fstat(self._raw.fileno()).st_size - here
        if self.used + size > self.budget:
            raise _OverBudget(f"reading {size} more bytes would pass the preview limit")
        data = self._raw.read(size)
        self.used += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --------------------------------------------------------------------------- shared blocks


def _download(ctx: _Ctx, size: int | None = None) -> Markup:
    """A link to the raw bytes, only for a file the server serves (inside home/runs)."""
    if ctx.where.state != "file":
        return _EMPTY
    label = "Download" if size is None else f"Download ({format_bytes(size)})"
    return Markup('<p><a class="download" href="{}" download>{}</a></p>').format(
        ctx.download_url, label
    )


def _file_size(where: _Where) -> int | None:
    try:
        return where.path.stat().st_size if where.path is not None else None
    except OSError:
        return None


def _folder_listing(root: Path, runs: Path) -> tuple[Markup, str]:
    """The first files of a folder with their sizes, without following links out of
    home/runs (a link that leaves it is listed, not measured)."""
    shown: list[tuple[str, str]] = []
    count = 0
    total = 0
    complete = True
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames.sort()
        for name in sorted(filenames):
            count += 1
            if count > _FOLDER_SCAN:
                complete = False
                break
            child = Path(dirpath) / name
            rel = child.relative_to(root).as_posix()
            try:
                if child.is_symlink() and not _inside(child.resolve(), runs):
                    size_text = "link outside kubeline's runs folder"
                else:
                    size = child.stat().st_size
                    total += size
                    size_text = format_bytes(size)
            except (OSError, RuntimeError):
                size_text = "unreadable"
            if len(shown) < _FOLDER_FILES:
                shown.append((rel, size_text))
        if not complete:
            break
    if count == 0:
        return _message("This folder is empty."), "empty folder"
    counted = count if complete else _FOLDER_SCAN
    more = "more than " if not complete else ""
    caption = f"{more}{_plural(counted, 'file')}, {format_bytes(total)}"
    if counted > len(shown):
        caption += f" (first {len(shown)} listed)"
    rows = Markup("").join(
        Markup('<tr><td><code>{}</code></td><td class="num">{}</td></tr>').format(rel, size)
        for rel, size in shown
    )
    table = Markup(
        '<table class="files"><caption>Folder: {}</caption>'
        '<thead><tr><th scope="col">File</th><th scope="col">Size</th></tr></thead>'
        "<tbody>{}</tbody></table>"
    ).format(caption, rows)
    return table, f"folder, {caption}"


def _meta_value(value: Any) -> str:
    """A metadata value, with long lists and dicts shortened to their first items."""
    if isinstance(value, (list, tuple)):
        head = ", ".join(
            format_value(v) if not isinstance(v, str) else _cut(v, 80) for v in value[:_LIST_ITEMS]
        )
        extra = len(value) - _LIST_ITEMS
        return f"{head} … and {extra} more" if extra > 0 else head
    if isinstance(value, dict):
        items = list(value.items())
        head = "; ".join(f"{k}: {_meta_value(v)}" for k, v in items[:_LIST_ITEMS])
        extra = len(items) - _LIST_ITEMS
        return _cut(f"{head} … and {extra} more" if extra > 0 else head, 1000)
    if isinstance(value, str):
        return _cut(value, 300)
    return format_value(value)


def _meta_rows(metadata: dict[str, Any]) -> Markup:
    return Markup("").join(
        Markup('<tr><th scope="row">{}</th><td>{}</td></tr>').format(key, _meta_value(value))
        for key, value in metadata.items()
    )


def _facts_rows(artifact: ArtifactRecord, size: int | None) -> Markup:
    return Markup(
        '<tr><th scope="row">Size</th><td>{}</td></tr>'
        '<tr><th scope="row">Digest</th><td>{}</td></tr>'
    ).format(format_bytes(size), _short_digest(artifact.digest))


def _wrap(kind: str, body: Markup, note: str = "") -> Preview:
    html = Markup('<div class="preview preview-{}">{}</div>').format(kind, body)
    return Preview(kind=kind, html=html, note=note)


def _problem(kind: str, sentence: str, extra: Markup = _EMPTY) -> Preview:
    return _wrap(kind, _message(sentence) + extra, sentence)


# --------------------------------------------------------------------------- the kinds


@dataclass(frozen=True)
class _Ctx:
    artifact: ArtifactRecord
    where: _Where
    content_url: str
    download_url: str
    max_bytes: int
    max_rows: int

    @property
    def label(self) -> str:
        a = self.artifact
        return a.name or a.output_name or a.artifact_id


def _metrics(ctx: _Ctx) -> Preview:
    metadata = dict(ctx.artifact.metadata or {})
    display = metadata.pop("display_name", None)
    caption = f"Metrics: {display or ctx.label}"
    if not metadata:
        return _problem("metrics", "This Metrics artifact holds no values.")
    rows = []
    for key, value in sorted(metadata.items()):  # the same order in every run
        numeric = _is_number(value)
        rows.append(
            Markup('<tr><th scope="row">{}</th><td{}>{}</td></tr>').format(
                key, Markup(' class="num"') if numeric else Markup(""), _meta_value(value)
            )
        )
    table = Markup(
        '<table class="metrics"><caption>{}</caption>'
        '<thead><tr><th scope="col">Metric</th><th scope="col">Value</th></tr></thead>'
        "<tbody>{}</tbody></table>"
    ).format(caption, Markup("").join(rows))
    return _wrap("metrics", table, _plural(len(metadata), "metric"))


def _srgb_luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_srgb_luminance(a), _srgb_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


_LOW = (247, 251, 255)  # the heat map runs from near white ...
_HIGH = (8, 48, 107)  # ... to dark blue
_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)


def _cell_colours(share: float) -> tuple[str, str]:
    """Background for a share of its row in 0..1, and black or white text, whichever
    contrasts more (one of them always reaches 4.5:1 against any colour)."""
    share = min(1.0, max(0.0, share))
    bg = tuple(round(lo + (hi - lo) * share) for lo, hi in zip(_LOW, _HIGH, strict=True))
    rgb = (bg[0], bg[1], bg[2])
    fg = _BLACK if _contrast(rgb, _BLACK) >= _contrast(rgb, _WHITE) else _WHITE
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#{:02x}{:02x}{:02x}".format(*fg)


def parse_confusion(matrix: Any) -> tuple[list[str], list[list[float]]]:
    """KFP's confusionMatrix ({rows: [{row: [...]}], annotationSpecs: [{displayName}]}) as
    (class names, counts); raises ValueError when it is not a square matrix of numbers."""
    if not isinstance(matrix, dict):
        raise ValueError("the confusion matrix is not an object")
    raw_rows = matrix.get("rows") or []
    counts: list[list[float]] = []
    for entry in raw_rows:
        row = entry.get("row") if isinstance(entry, dict) else entry
        if not isinstance(row, list) or not all(_is_number(v) and math.isfinite(v) for v in row):
            raise ValueError("a confusion matrix row is not a list of numbers")
        counts.append([float(v) for v in row])
    n = len(counts)
    if n == 0 or any(len(row) != n for row in counts):
        raise ValueError("the confusion matrix is not square")
    specs = matrix.get("annotationSpecs") or []
    names = []
    for i in range(n):
        spec = specs[i] if i < len(specs) else None
        name = spec.get("displayName") if isinstance(spec, dict) else spec
        names.append(str(name) if name not in (None, "") else f"class {i}")
    return names, counts


_CONFUSION_CAPTION = (
    "Confusion matrix: rows are the true label, columns the predicted label; shading shows "
    "each cell's share of its row"
)


def confusion_table(
    names: list[str], counts: list[list[float]], caption: str = _CONFUSION_CAPTION
) -> Markup:
    """A confusion matrix as a heat-map table with each count printed in its cell."""
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(name) for name in names)
    body = []
    for true_name, row in zip(names, counts, strict=True):
        total = sum(row)
        cells = []
        for predicted, count in zip(names, row, strict=True):
            share = count / total if total > 0 else 0.0
            bg, fg = _cell_colours(share)
            cells.append(
                Markup(
                    '<td style="background-color:{};color:{}" title="true {}, predicted {}: '
                    '{} ({}% of the row)">{}</td>'
                ).format(
                    bg,
                    fg,
                    true_name,
                    predicted,
                    format_number(count),
                    format_number(round(share * 100, 1)),
                    format_number(count),
                )
            )
        body.append(
            Markup('<tr><th scope="row">{}</th>{}</tr>').format(true_name, Markup("").join(cells))
        )
    return Markup(
        '<table class="confusion"><caption>{}</caption>'
        '<thead><tr><th scope="col">True \\ Predicted</th>{}</tr></thead>'
        "<tbody>{}</tbody></table>"
    ).format(caption, head, Markup("").join(body))


def _confusion_table(matrix: Any) -> tuple[Markup, str]:
    """The heat-map table of KFP's confusionMatrix, and a note; raises ValueError when it is
    not a square matrix of numbers."""
    names, counts = parse_confusion(matrix)
    n = len(names)
    return confusion_table(names, counts), f"{n}×{n} confusion matrix"


def roc_points(confidence: Any) -> list[tuple[float, float]]:
    """(false positive rate, recall) pairs from KFP's confidenceMetrics, sorted."""
    if not isinstance(confidence, list):
        raise ValueError("confidenceMetrics is not a list")
    points = []
    for entry in confidence:
        if not isinstance(entry, dict):
            continue
        fpr, tpr = entry.get("falsePositiveRate"), entry.get("recall")
        if all(_is_number(v) and math.isfinite(v) for v in (fpr, tpr)):
            points.append((float(fpr), float(tpr)))
    return sorted(points)


#: Why the curve's area need not equal a ``roc_auc`` metric beside it (0.9996 against 1 on
#: the wine data): both are printed by format_number, but they measure different things.
_ROC_NOTE = Markup(
    '<p class="muted roc-note">The area is measured on the curve drawn here (the trapezoid '
    "rule over its {} points), so it can differ from a <code>roc_auc</code> metric, which the "
    "pipeline computes from every score: with more than two classes that metric is usually "
    "the average of one curve per class, where this curve pools the classes.</p>"
)


def _classification(ctx: _Ctx) -> Preview:
    metadata = ctx.artifact.metadata or {}
    parts: list[Markup] = []
    notes: list[str] = []
    matrix, confidence = metadata.get("confusionMatrix"), metadata.get("confidenceMetrics")
    if matrix is not None:
        try:
            table, note = _confusion_table(matrix)
            parts.append(table)
            notes.append(note)
        except (ValueError, TypeError, AttributeError) as exc:
            parts.append(_message(f"The confusion matrix could not be shown: {exc}."))
    if confidence is not None:
        try:
            points = roc_points(confidence)
        except ValueError as exc:
            points = []
            parts.append(_message(f"The ROC curve could not be shown: {exc}."))
        if points:
            auc = auc_trapezoid(points)
            title = f"ROC curve: {ctx.label}"
            auc_text = format_number(auc) if auc is not None else "n/a"
            parts.append(
                Markup('<figure class="roc">{}</figure>').format(
                    roc_curve_svg(points, auc=auc, title=title)
                )
            )
            parts.append(
                Markup(
                    '<table class="roc-summary"><caption>ROC curve</caption><tbody>'
                    '<tr><th scope="row">Area under this curve</th><td class="num">{}</td></tr>'
                    '<tr><th scope="row">Thresholds</th><td class="num">{}</td></tr>'
                    "</tbody></table>"
                ).format(auc_text, len(points))
            )
            parts.append(_ROC_NOTE.format(len(points)))
            notes.append(f"ROC AUC {auc_text}")
        elif isinstance(confidence, list):
            parts.append(_message("The ROC curve has no usable points."))
    if not parts:
        return _problem(
            "classification",
            "This ClassificationMetrics artifact holds neither a confusion matrix nor an "
            "ROC curve.",
        )
    return _wrap("classification", Markup("").join(parts), ", ".join(notes))


def _html(ctx: _Ctx) -> Preview:
    where = ctx.where
    if where.state == "dir":
        listing, note = _folder_listing(where.path, where.runs)  # type: ignore[arg-type]
        return _wrap(
            "html",
            _message("This HTML artifact is a folder; only single files are shown inline.")
            + listing,
            note,
        )
    size = _file_size(where)
    frame = Markup(
        '<iframe class="artifact-html" sandbox="" src="{}" title="{}" loading="lazy" '
        'referrerpolicy="no-referrer"></iframe>'
    ).format(ctx.content_url, f"HTML report {ctx.label}")
    note = f"HTML report, {format_bytes(size)}"
    if size is not None and size > ctx.max_bytes:
        note += (
            f"; the inline view may show only the first {format_bytes(ctx.max_bytes)}, "
            "download it for the whole report"
        )
    return _wrap("html", frame + _note(note + ".") + _download(ctx, size), note)


@functools.lru_cache(maxsize=1)
def _markdown_renderer() -> Callable[[str], str]:
    """CommonMark plus tables, with raw HTML off: a report's ``<script>`` comes out as text."""
    return render_markdown


def render_markdown(text: str) -> str:
    """Markdown for inside a page: raw HTML escaped, and headings moved two levels down
    (a document's ``#`` becomes ``<h3>``), so the page's own outline stays whole."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
    return md.renderer.render(tokens, md.options, {})


def _markdown(ctx: _Ctx) -> Preview:
    where = ctx.where
    if where.state == "dir":
        listing, note = _folder_listing(where.path, where.runs)  # type: ignore[arg-type]
        return _wrap("markdown", _message("This Markdown artifact is a folder.") + listing, note)
    assert where.path is not None
    data, total = _read_head(where.path, ctx.max_bytes)
    cut = len(data) < total
    link = _download(ctx, total)
    text = _decode_text(data, cut=cut)
    if text is None:
        return _problem(
            "markdown", "This Markdown file is not UTF-8 text, so it is not shown.", link
        )
    body = Markup('<div class="markdown">{}</div>').format(Markup(_markdown_renderer()(text)))
    if cut:
        note = f"Cut at {format_bytes(len(data))} of {format_bytes(total)}."
        body += _note(note)
    else:
        note = format_bytes(total)
    return _wrap("markdown", body + link, note)


# ---- datasets


def _dataset_format(ctx: _Ctx, head: bytes) -> str:
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
        values = [_plain(v) for v in row]
        cells = Markup("").join(
            Markup("<td{}>{}</td>").format(
                Markup(' class="num"') if _is_number(v) else _EMPTY, format_value(v)
            )
            for v in values
        )
        body.append(Markup('<tr><th scope="row">{}</th>{}</tr>').format(i, cells))
    more = (
        Markup('<p class="preview-note">{} more not shown.</p>').format(
            _plural(hidden_columns, "column")
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
    cols = _plural(columns, "column")
    if rows is None:
        total = "total rows unknown"
        return f"First {_plural(shown, 'row')} ({total}), {cols}" if shown else f"{total}, {cols}"
    if shown >= rows:
        return f"All {_plural(rows, 'row')}{source}, {cols}"
    if shown == 0:
        return f"{rows:,} rows{source} (none shown), {cols}"
    return f"First {shown} of {rows:,} rows{source}, {cols}"


def _metadata_rows(ctx: _Ctx) -> int | None:
    value = (ctx.artifact.metadata or {}).get("rows")
    if _is_number(value) and math.isfinite(value):
        return int(value)
    return None


def _parquet(ctx: _Ctx, total_size: int) -> Preview:
    import pyarrow.parquet as pq

    assert ctx.where.path is not None
    with ctx.where.path.open("rb") as raw:
        budget = _BudgetFile(raw, ctx.max_bytes)
        try:
            pf = pq.ParquetFile(budget)
            meta = pf.metadata
            schema = pf.schema_arrow
        except _OverBudget:
            return _problem(
                "dataset",
                f"The Parquet footer could not be read within the {format_bytes(ctx.max_bytes)} "
                "preview limit.",
                _download(ctx, total_size),
            )
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types on corrupt files
            return _problem(
                "dataset",
                f"This file could not be read as Parquet ({_brief(exc)}).",
                _download(ctx, total_size),
            )
        names = list(schema.names)
        shown_names = names[:_MAX_COLUMNS]
        dtypes = [str(schema.field(name).type) for name in shown_names]
        rows: list[list[Any]] = []
        problem = ""
        if meta.num_rows and ctx.max_rows > 0:
            first_group = meta.row_group(0)
            group_bytes = sum(
                first_group.column(i).total_compressed_size for i in range(first_group.num_columns)
            )
            if budget.used + group_bytes > ctx.max_bytes:
                problem = (
                    f"Rows are not shown: the first row group ({format_bytes(group_bytes)}) is "
                    f"larger than the {format_bytes(ctx.max_bytes)} preview limit."
                )
            else:
                try:
                    batch = next(
                        pf.iter_batches(batch_size=ctx.max_rows, columns=shown_names), None
                    )
                except _OverBudget:
                    batch = None
                    problem = (
                        f"Rows are not shown: reading them would pass the "
                        f"{format_bytes(ctx.max_bytes)} preview limit."
                    )
                except Exception as exc:  # noqa: BLE001 - a corrupt row group, say so
                    batch = None
                    problem = f"The rows could not be read ({_brief(exc)})."
                if batch is not None:
                    batch = batch.slice(0, ctx.max_rows)
                    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                    rows = [list(r) for r in zip(*columns, strict=True)]
    caption = _shape_caption(len(rows), meta.num_rows, len(names))
    body = _dataset_table(caption, shown_names, dtypes, rows, len(names) - len(shown_names))
    if problem:
        body = _message(problem) + body
    note = f"Parquet, {caption[0].lower()}{caption[1:]}"
    return _wrap("dataset", body + _download(ctx, total_size), note)


def _text_table(ctx: _Ctx, fmt: str, total_size: int) -> Preview:
    """CSV, TSV or JSON lines through pandas, reading only what the first rows need unless
    the whole file fits the preview limit (then the total row count is exact)."""
    import pandas as pd

    assert ctx.where.path is not None
    link = _download(ctx, total_size)
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
        return _problem("dataset", f"This file is binary, not {fmt.upper()} text.", link)
    if not data.strip():
        return _problem("dataset", "This dataset file is empty.", link)
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
        return _problem(
            "dataset", f"This file could not be read as {fmt.upper()} ({_brief(exc)}).", link
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
        body += _note(
            f"Only the start of this {format_bytes(total_size)} file was read for the preview."
        )
    note = f"{fmt.upper()}, {caption[0].lower()}{caption[1:]}"
    return _wrap("dataset", body + link, note)


def _dataset(ctx: _Ctx) -> Preview:
    where = ctx.where
    if where.state == "dir":
        listing, note = _folder_listing(where.path, where.runs)  # type: ignore[arg-type]
        return _wrap("dataset", listing, note)
    assert where.path is not None
    head, total = _read_head(where.path, min(4096, ctx.max_bytes))
    fmt = _dataset_format(ctx, head)
    if fmt == "parquet":
        return _parquet(ctx, total)
    return _text_table(ctx, fmt, total)


def _model(ctx: _Ctx) -> Preview:
    where = ctx.where
    metadata = ctx.artifact.metadata or {}
    size = _file_size(where) if where.state == "file" else ctx.artifact.size
    table = Markup(
        '<table class="model"><caption>Model: {}</caption><tbody>{}{}</tbody></table>'
    ).format(ctx.label, _meta_rows(metadata), _facts_rows(ctx.artifact, size))
    parts = [table]
    notes = [format_bytes(size)] if size is not None else []
    if metadata.get("framework"):
        notes.append(str(metadata["framework"]))
    if where.state == "dir":
        listing, _ = _folder_listing(where.path, where.runs)  # type: ignore[arg-type]
        parts.append(listing)
    elif where.state != "file":
        parts.append(_message(where.reason))
        notes.append(where.reason)
    parts.append(_download(ctx, size))
    return _wrap("model", Markup("").join(parts), ", ".join(notes))


def _generic(ctx: _Ctx) -> Preview:
    where = ctx.where
    metadata = ctx.artifact.metadata or {}
    meta = (
        Markup(
            '<table class="artifact-metadata"><caption>Metadata</caption><tbody>{}</tbody></table>'
        ).format(_meta_rows(metadata))
        if metadata
        else Markup("")
    )
    if where.state == "dir":
        listing, note = _folder_listing(where.path, where.runs)  # type: ignore[arg-type]
        return _wrap("file", meta + listing, note)
    if where.state != "file":
        if metadata:
            return _wrap("file", meta + _message(where.reason), where.reason)
        return _problem("none", where.reason)
    assert where.path is not None
    data, total = _read_head(where.path, min(_TEXT_BYTES, ctx.max_bytes))
    cut = len(data) < total
    facts = Markup('<table class="facts"><tbody>{}</tbody></table>').format(
        _facts_rows(ctx.artifact, total)
    )
    text = _decode_text(data, cut=cut)
    if text is None:
        content = _message("Binary content; no text preview.")
        kind_note = "binary"
    else:
        content = Markup('<pre class="text-preview">{}</pre>').format(text)
        if cut:
            content += _note(f"First {format_bytes(len(data))} of {format_bytes(total)}.")
        kind_note = "UTF-8 text"
    note = f"{format_bytes(total)}, {kind_note}"
    return _wrap("file", facts + meta + content + _download(ctx, total), note)


_BY_TYPE: dict[str, tuple[str, Callable[[_Ctx], Preview]]] = {
    "system.Metrics": ("metrics", _metrics),
    "system.ClassificationMetrics": ("classification", _classification),
    "system.HTML": ("html", _html),
    "system.Markdown": ("markdown", _markdown),
    "system.Dataset": ("dataset", _dataset),
    "system.Model": ("model", _model),
}
_NEEDS_CONTENT = {"html", "markdown", "dataset"}  # without a file they have nothing to show


def preview(
    artifact: ArtifactRecord,
    *,
    home: Path,
    content_url: str,
    max_bytes: int = 2_000_000,
    max_rows: int = 20,
    download_url: str | None = None,
) -> Preview:
    """The preview of one artifact by its type (``schema_title``). ``content_url`` is where
    the page fetches the raw bytes (the HTML iframe, and the download link unless
    ``download_url`` names another, e.g. one that serves the whole file as an attachment).
    Kind ``none`` means the content could not be reached (remote, outside home/runs,
    missing) and the html says why."""
    kind, render = _BY_TYPE.get(artifact.schema_title, ("file", _generic))
    try:
        where = (
            _Where("none")
            if kind in ("metrics", "classification")
            else _locate(artifact, Path(home))
        )
        if kind in _NEEDS_CONTENT and where.state not in ("file", "dir"):
            return _problem("none", where.reason)
        ctx = _Ctx(
            artifact,
            where,
            content_url,
            download_url or content_url,
            max(0, max_bytes),
            max(0, max_rows),
        )
        return render(ctx)
    except Exception as exc:  # the run page must render whatever a file holds
        logger.debug("preview of artifact %s failed", artifact.artifact_id, exc_info=True)
        return _problem(kind, f"kubeline could not preview this artifact ({_brief(exc)}).")
