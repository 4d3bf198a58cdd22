"""Previews of an artifact by its type, as HTML fragments for the run page.

A preview reads at most ``max_bytes`` of an artifact and only from inside ``home / "runs"``
(symlinks resolved first), because the page renders whatever a pipeline wrote: a 2 GB
dataset, a symlink to ``~/.ssh``, a corrupt file. It never raises on bad content; it says in
one sentence what it could not show. Every piece of artifact text is escaped; HTML reports
are shown only in a sandboxed iframe, so their scripts never run in kubeline's origin.

One concept a module: :mod:`.text` (values and sizes as text), :mod:`.files` (where the
content is, reading it within limits), :mod:`.fragment` (a preview and the blocks kinds
share), and the kinds: :mod:`.metrics`, :mod:`.documents`, :mod:`.datasets`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from kubeline.server.web.previews.datasets import dataset_preview
from kubeline.server.web.previews.documents import (
    file_preview,
    html_preview,
    markdown_preview,
    model_preview,
    render_markdown,
)
from kubeline.server.web.previews.files import Where, locate
from kubeline.server.web.previews.fragment import KINDS, Preview, PreviewContext, problem_preview
from kubeline.server.web.previews.metrics import (
    classification_preview,
    confusion_table,
    metrics_preview,
    parse_confusion,
    roc_points,
)
from kubeline.server.web.previews.text import brief, format_bytes, format_value
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

_BY_TYPE: dict[str, tuple[str, Callable[[PreviewContext], Preview]]] = {
    "system.Metrics": ("metrics", metrics_preview),
    "system.ClassificationMetrics": ("classification", classification_preview),
    "system.HTML": ("html", html_preview),
    "system.Markdown": ("markdown", markdown_preview),
    "system.Dataset": ("dataset", dataset_preview),
    "system.Model": ("model", model_preview),
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
    kind, render = _BY_TYPE.get(artifact.schema_title, ("file", file_preview))
    try:
        where = (
            Where("none") if kind in ("metrics", "classification") else locate(artifact, Path(home))
        )
        if kind in _NEEDS_CONTENT and where.state not in ("file", "dir"):
            return problem_preview("none", where.reason)
        ctx = PreviewContext(
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
        return problem_preview(kind, f"kubeline could not preview this artifact ({brief(exc)}).")
