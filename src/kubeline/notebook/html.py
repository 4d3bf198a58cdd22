"""The HTML pieces every notebook view shares: one scoped style, state badges, tables,
and the sandboxed frame reports are shown in.

A notebook keeps these as static HTML in the saved file, so nothing here needs JavaScript
or the web UI's stylesheet. Every value goes through :class:`markupsafe.Markup`'s escaping
(names come from pipelines, which anyone may write).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

from kubeline.comparison.values import format_value  # the compare page's, shown the same

__all__ = [
    "STYLE",
    "badge",
    "block",
    "format_value",
    "framed",
    "seconds_text",
    "table",
]

# Scoped to .kubeline-nb, so a notebook's own cells keep their look. Colours are the UI's
# state colours, with text that keeps WCAG contrast on light and dark notebook themes.
STYLE = Markup(
    "<style>"
    ".kubeline-nb{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "line-height:1.4;max-width:980px}"
    ".kubeline-nb h3,.kubeline-nb h4{margin:.6em 0 .3em}"
    ".kubeline-nb table{border-collapse:collapse;margin:.3em 0 .6em}"
    ".kubeline-nb th,.kubeline-nb td{border:1px solid rgba(128,128,128,.35);padding:2px 8px;"
    "text-align:left;vertical-align:top}"
    ".kubeline-nb td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".kubeline-nb caption{text-align:left;font-weight:600;padding:2px 0}"
    ".kubeline-nb .kl-state{display:inline-block;padding:0 .5em;border-radius:3px;"
    "font-weight:600;color:#fff;background:#52606d}"
    ".kubeline-nb .kl-SUCCEEDED{background:#1e7b34}"
    ".kubeline-nb .kl-CACHED{background:#1d5fa8}"
    ".kubeline-nb .kl-FAILED{background:#b3261e}"
    ".kubeline-nb .kl-RUNNING{background:#8a5a00}"
    ".kubeline-nb .kl-CANCELED,.kubeline-nb .kl-SKIPPED{background:#52606d}"
    ".kubeline-nb .kl-muted{opacity:.75}"
    ".kubeline-nb .kl-bar{display:flex;height:8px;width:320px;border-radius:4px;overflow:hidden;"
    "background:rgba(128,128,128,.25);margin:.3em 0}"
    ".kubeline-nb .kl-bar span{display:block;height:100%}"
    ".kubeline-nb iframe.kl-report{width:100%;height:420px;border:1px solid "
    "rgba(128,128,128,.35);background:#fff}"
    ".kubeline-nb .kl-charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}"
    ".kubeline-nb pre{white-space:pre-wrap;margin:.2em 0}"
    # The classes kubeline.charts draws with (the web UI styles them in kubeline.css).
    ".kubeline-nb table.confusion td{text-align:right;min-width:3em}"
    ".kubeline-nb svg.chart{max-width:100%;height:auto}"
    ".kubeline-nb figure.roc{margin:0}"
    ".kubeline-nb p.roc-note,.kubeline-nb p.preview-message{max-width:46em;opacity:.8}"
    "</style>"
)


def block(*parts: Markup | str) -> Markup:
    """One view: the scoped style and its parts, in a ``div.kubeline-nb``."""
    return Markup('<div class="kubeline-nb">{}{}</div>').format(
        STYLE, Markup("").join(escape(p) for p in parts)
    )


def badge(state: str) -> Markup:
    """A state as a coloured word (the word itself says it, not only the colour)."""
    known = state if state.isalpha() and state.isupper() else "OTHER"
    return Markup('<span class="kl-state kl-{}">{}</span>').format(known, state)


def seconds_text(seconds: float | None) -> str:
    """A duration as people read it: ``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str = "",
    numeric: Sequence[int] = (),
) -> Markup:
    """A plain table: every cell escaped unless it is already :class:`Markup`; the columns
    in ``numeric`` right-aligned."""
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(h) for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = cell if isinstance(cell, Markup) else format_value(cell) if cell != "" else ""
            cls = Markup(' class="num"') if i in numeric or _is_number(cell) else Markup("")
            tag = "th" if i == 0 else "td"
            scope = Markup(' scope="row"') if i == 0 else Markup("")
            cells.append(
                Markup("<{}{}{}>{}</{}>").format(Markup(tag), scope, cls, text, Markup(tag))
            )
        body.append(Markup("<tr>{}</tr>").format(Markup("").join(cells)))
    cap = Markup("<caption>{}</caption>").format(caption) if caption else Markup("")
    return Markup("<table>{}<thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(
        cap, head, Markup("").join(body)
    )


def framed(document: str, title: str) -> Markup:
    """A report in an iframe that may run nothing (``sandbox=""``: no scripts, no forms, no
    same origin), its document escaped into ``srcdoc`` so it cannot close the attribute."""
    return Markup(
        '<iframe class="kl-report" sandbox="" referrerpolicy="no-referrer" title="{}" '
        'srcdoc="{}"></iframe>'
    ).format(title, document)
