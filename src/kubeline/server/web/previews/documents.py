"""The kinds shown as documents: an HTML report (only in a sandboxed iframe, so its scripts
never run in kubeline's origin), Markdown (raw HTML escaped), a model's facts, and any other
file as the start of its text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from markupsafe import Markup

from kubeline.server.web.previews.files import decode_text, file_size, folder_listing, read_head
from kubeline.server.web.previews.fragment import (
    Preview,
    PreviewContext,
    download,
    facts_rows,
    problem_preview,
    wrap,
)
from kubeline.server.web.previews.text import format_bytes, message, meta_rows, note_html

__all__ = [
    "file_preview",
    "html_preview",
    "markdown_preview",
    "model_preview",
    "render_markdown",
]

_TEXT_BYTES = 4096  # the text preview of a generic file


def html_preview(ctx: PreviewContext) -> Preview:
    where = ctx.where
    if where.state == "dir":
        listing, note = folder_listing(where)
        return wrap(
            "html",
            message("This HTML artifact is a folder; only single files are shown inline.")
            + listing,
            note,
        )
    size = file_size(where)
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
    return wrap("html", frame + note_html(note + ".") + download(ctx, size), note)


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
    html: str = md.renderer.render(tokens, md.options, {})
    return html


def markdown_preview(ctx: PreviewContext) -> Preview:
    where = ctx.where
    if where.state == "dir":
        listing, note = folder_listing(where)
        return wrap("markdown", message("This Markdown artifact is a folder.") + listing, note)
    assert where.path is not None
    data, total = read_head(where.path, ctx.max_bytes)
    cut = len(data) < total
    link = download(ctx, total)
    text = decode_text(data, cut=cut)
    if text is None:
        return problem_preview(
            "markdown", "This Markdown file is not UTF-8 text, so it is not shown.", link
        )
    body = Markup('<div class="markdown">{}</div>').format(Markup(_markdown_renderer()(text)))
    if cut:
        note = f"Cut at {format_bytes(len(data))} of {format_bytes(total)}."
        body += note_html(note)
    else:
        note = format_bytes(total)
    return wrap("markdown", body + link, note)


def model_preview(ctx: PreviewContext) -> Preview:
    where = ctx.where
    metadata = ctx.artifact.metadata or {}
    size = file_size(where) if where.state == "file" else ctx.artifact.size
    table = Markup(
        '<table class="model"><caption>Model: {}</caption><tbody>{}{}</tbody></table>'
    ).format(ctx.label, meta_rows(metadata), facts_rows(ctx.artifact, size))
    parts = [table]
    notes = [format_bytes(size)] if size is not None else []
    if metadata.get("framework"):
        notes.append(str(metadata["framework"]))
    if where.state == "dir":
        listing, _ = folder_listing(where)
        parts.append(listing)
    elif where.state != "file":
        parts.append(message(where.reason))
        notes.append(where.reason)
    parts.append(download(ctx, size))
    return wrap("model", Markup("").join(parts), ", ".join(notes))


def file_preview(ctx: PreviewContext) -> Preview:
    where = ctx.where
    metadata = ctx.artifact.metadata or {}
    meta = (
        Markup(
            '<table class="artifact-metadata"><caption>Metadata</caption><tbody>{}</tbody></table>'
        ).format(meta_rows(metadata))
        if metadata
        else Markup("")
    )
    if where.state == "dir":
        listing, note = folder_listing(where)
        return wrap("file", meta + listing, note)
    if where.state != "file":
        if metadata:
            return wrap("file", meta + message(where.reason), where.reason)
        return problem_preview("none", where.reason)
    assert where.path is not None
    data, total = read_head(where.path, min(_TEXT_BYTES, ctx.max_bytes))
    cut = len(data) < total
    facts = Markup('<table class="facts"><tbody>{}</tbody></table>').format(
        facts_rows(ctx.artifact, total)
    )
    text = decode_text(data, cut=cut)
    if text is None:
        content = message("Binary content; no text preview.")
        kind_note = "binary"
    else:
        content = Markup('<pre class="text-preview">{}</pre>').format(text)
        if cut:
            content += note_html(f"First {format_bytes(len(data))} of {format_bytes(total)}.")
        kind_note = "UTF-8 text"
    note = f"{format_bytes(total)}, {kind_note}"
    return wrap("file", facts + meta + content + download(ctx, total), note)
