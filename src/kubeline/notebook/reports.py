"""Markdown and HTML reports inline in a notebook: read within a byte budget, only from
inside kubeline's runs folder (symlinks resolved first, as the web UI does), and shown in
an iframe that runs nothing (a report's scripts never run in the notebook's page).
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from kubeline.notebook.html import framed
from kubeline.paths import local_path
from kubeline.store import ArtifactRecord

__all__ = [
    "DATASET_BYTES",
    "REPORT_BYTES",
    "REPORT_TYPES",
    "dataset_html",
    "markdown_document",
    "report_html",
]

#: The most of one report a view embeds (a saved notebook keeps it).
REPORT_BYTES = 1_000_000
REPORT_TYPES = ("system.HTML", "system.Markdown")
#: The largest dataset file a view reads to show its first rows.
DATASET_BYTES = 20_000_000
_DATASET_ROWS = 5

# The frame's own page for a Markdown report: readable on its own, whatever the notebook.
_MARKDOWN_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><style>"
    "body{{font-family:system-ui,sans-serif;font-size:14px;line-height:1.45;margin:12px;"
    "color:#1f2933;background:#fff}}table{{border-collapse:collapse}}"
    "th,td{{border:1px solid #ccc;padding:2px 8px}}code,pre{{background:#f3f4f6}}"
    "</style></head><body>{}</body></html>"
)


def markdown_document(text: str) -> str:
    """Markdown as a small HTML page, raw HTML in it escaped (CommonMark plus tables)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return _MARKDOWN_PAGE.format(body)


def _note(text: str) -> Markup:
    return Markup('<p class="kl-muted">{}</p>').format(text)


def _readable(uri: str, runs_root: Path) -> tuple[Path | None, str]:
    """The artifact's file when a view may read it, else None and why not."""
    path = local_path(uri) if uri else None
    if path is None:
        return None, f"It is stored at {uri}, not on this machine."
    try:
        resolved, runs = path.resolve(), runs_root.resolve()
    except (OSError, RuntimeError) as exc:
        return None, f"Its path could not be resolved ({exc})."
    if resolved != runs and runs not in resolved.parents:
        return None, f"Its file ({uri}) lies outside kubeline's runs folder, so it is not read."
    if not resolved.is_file():
        return None, f"Its file ({uri}) is missing or is a folder."
    return resolved, ""


def report_html(record: ArtifactRecord, runs_root: Path, max_bytes: int = REPORT_BYTES) -> Markup:
    """The report an HTML or Markdown artifact holds, in a sandboxed frame, or a sentence
    saying why it is not shown."""
    label = record.output_name or record.name
    path, why = _readable(record.uri, runs_root)
    if path is None:
        return _note(f"Report '{label}' is not shown: {why}")
    size = path.stat().st_size
    if size > max_bytes:
        return _note(
            f"Report '{label}' is {size:,} bytes, more than the {max_bytes:,} shown inline: "
            f"open {path}."
        )
    text = path.read_bytes().decode("utf-8", errors="replace")
    if record.schema_title == "system.Markdown":
        text = markdown_document(text)
    kind = "Markdown" if record.schema_title == "system.Markdown" else "HTML"
    return framed(text, f"{kind} report {label}")


def dataset_html(record: ArtifactRecord, runs_root: Path, max_bytes: int = DATASET_BYTES) -> Markup:
    """A Dataset's shape and first rows, when its file is inside the runs folder and small
    enough to read; else nothing (the view shows where it is)."""
    path, _ = _readable(record.uri, runs_root)
    if path is None or path.stat().st_size > max_bytes:
        return Markup("")
    from kubeline.notebook.frames import read_frame

    try:
        frame = read_frame(path)
    except Exception:  # noqa: BLE001 - a view shows what it can; load() raises the real error
        return Markup("")
    rows, columns = frame.shape
    # pandas escapes every cell and header (escape=True is its default; said here on purpose).
    head = frame.head(_DATASET_ROWS).to_html(max_cols=20, border=0, escape=True)
    return Markup("<p>{} rows × {} columns; the first {}:</p>{}").format(
        rows, columns, min(rows, _DATASET_ROWS), Markup(head)
    )
