"""What a preview is (:class:`Preview`), what each kind's renderer is given
(:class:`PreviewContext`), and the blocks every kind shares: the wrapper, a one-sentence
problem, the download link and the size/digest rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from kubeline.server.web.previews.files import Where
from kubeline.server.web.previews.text import EMPTY, format_bytes, message
from kubeline.store import ArtifactRecord

__all__ = [
    "KINDS",
    "Preview",
    "PreviewContext",
    "download",
    "facts_rows",
    "problem_preview",
    "wrap",
]

KINDS = ("metrics", "classification", "html", "markdown", "dataset", "model", "file", "none")


@dataclass(frozen=True)
class Preview:
    """What the run page shows for one artifact: ``kind`` (one of ``KINDS``), the HTML
    fragment, and a short plain-text note (size, rows, why it is cut or missing)."""

    kind: str
    html: Markup
    note: str = ""


@dataclass(frozen=True)
class PreviewContext:
    """What a kind's renderer is given: the artifact, where its content is, the URLs the
    page fetches it from, and the preview's limits."""

    artifact: ArtifactRecord
    where: Where
    content_url: str
    download_url: str
    max_bytes: int
    max_rows: int

    @property
    def label(self) -> str:
        a = self.artifact
        return a.name or a.output_name or a.artifact_id


def download(ctx: PreviewContext, size: int | None = None) -> Markup:
    """A link to the raw bytes, only for a file the server serves (inside home/runs)."""
    if ctx.where.state != "file":
        return EMPTY
    label = "Download" if size is None else f"Download ({format_bytes(size)})"
    return Markup('<p><a class="download" href="{}" download>{}</a></p>').format(
        ctx.download_url, label
    )


def _short_digest(digest: str | None) -> Markup:
    if not digest:
        return Markup("<span>none</span>")
    shown = digest.split(":")[-1][:12]
    return Markup('<code class="digest" title="{}">{}</code>').format(digest, shown)


def facts_rows(artifact: ArtifactRecord, size: int | None) -> Markup:
    return Markup(
        '<tr><th scope="row">Size</th><td>{}</td></tr>'
        '<tr><th scope="row">Digest</th><td>{}</td></tr>'
    ).format(format_bytes(size), _short_digest(artifact.digest))


def wrap(kind: str, body: Markup, note: str = "") -> Preview:
    html = Markup('<div class="preview preview-{}">{}</div>').format(kind, body)
    return Preview(kind=kind, html=html, note=note)


def problem_preview(kind: str, sentence: str, extra: Markup = EMPTY) -> Preview:
    return wrap(kind, message(sentence) + extra, sentence)
