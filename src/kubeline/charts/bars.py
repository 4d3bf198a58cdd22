"""Horizontal bar charts: one bar per label (a metric across runs, a class's share...)."""

from __future__ import annotations

from collections.abc import Collection

from markupsafe import Markup

from kubeline.charts._svg import SVG_NS, coord, finite, short, text
from kubeline.charts.axes import fitted_axis, zero_axis
from kubeline.charts.numbers import format_distinct

__all__ = ["bar_chart_svg"]

_LABEL_CHARS = 24  # bar labels longer than this are cut (the full text is in <title>)


def bar_chart_svg(
    items: list[tuple[str, float | None]],
    *,
    title: str,
    highlight: str | None = None,
    fit: bool = False,
    best: Collection[int] = (),
    note: str = "",
) -> Markup:
    """Horizontal bars, one per (label, value) (e.g. one metric across runs); a missing or
    non-finite value shows as ``n/a``. The axis starts at 0 (or below, for negative values)
    unless ``fit``: then it fits the values (:func:`fitted_axis`) and, when it leaves zero
    out, says so under the ticks. The bar whose label equals ``highlight`` gets the
    ``highlight`` class; bars at the indices in ``best`` get ``best`` and a ★ best label.
    ``note`` (e.g. "higher is better") is printed under the title."""
    label_w, row_h, bar_h, axis_h = 168.0, 26.0, 16.0, 30.0
    top = 44.0 if note else 30.0
    value_w = 120.0 if best else 64.0
    values = [float(v) if finite(v) else None for _, v in items]
    axis = fitted_axis(values) if fit else zero_axis(values)
    lo, hi = axis.lo, axis.hi
    texts = format_distinct(values)
    zoom_note = f"{axis.words}, not from 0" if axis.zoomed else ""
    neg_pad = 56.0 if lo < 0 else 0.0  # room for the value labels of negative bars
    plot_left, plot_w = label_w + neg_pad, 300.0
    width = plot_left + plot_w + value_w
    base = top + row_h * max(1, len(items))
    height = base + axis_h + (16.0 if zoom_note else 0.0)
    origin = min(max(0.0, lo), hi)  # bars grow from zero, or from the axis end nearest it

    def px(v: float) -> float:
        return plot_left + axis.fraction(v) * plot_w

    def said(i: int) -> str:
        return texts[i] + (" (best)" if i in best else "")

    described = "; ".join(f"{label} {said(i)}" for i, (label, _) in enumerate(items))
    aria = f"{title}: {described}" if items else f"{title}: no values"
    said_too = "; ".join(part for part in (note, zoom_note) if part)
    if said_too:
        aria += f" ({said_too})"
    parts: list[Markup] = [
        Markup(
            '<svg xmlns="{}" class="chart chart-bars" viewBox="0 0 {} {}" width="{}" height="{}" '
            'role="img" aria-label="{}">'
        ).format(SVG_NS, coord(width), coord(height), coord(width), coord(height), aria),
        Markup("<title>{}</title>").format(title),
        text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    if note:
        parts.append(text(width / 2, 33, note, cls="chart-label chart-note", anchor="middle"))
    for i, ((label, _), value) in enumerate(zip(items, values, strict=True)):
        y = top + i * row_h
        mid = y + row_h / 2 + 4
        parts.append(Markup("<g>"))
        parts.append(Markup("<title>{}: {}</title>").format(label, said(i)))
        parts.append(
            text(label_w - 8, mid, short(label, _LABEL_CHARS), cls="chart-label", anchor="end")
        )
        if value is None:
            parts.append(text(px(origin) + 4, mid, "n/a", cls="chart-label chart-missing"))
        else:
            x0, x1 = sorted((px(origin), px(value)))
            cls = "chart-bar"
            if highlight is not None and label == highlight:
                cls += " highlight"
            if i in best:
                cls += " best"
            parts.append(
                Markup(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="currentColor"/>'
                ).format(
                    cls,
                    coord(x0),
                    coord(y + (row_h - bar_h) / 2),
                    coord(max(x1 - x0, 0.5)),
                    coord(bar_h),
                )
            )
            shown = texts[i] + (" ★ best" if i in best else "")
            if value < origin:
                parts.append(text(x0 - 4, mid, shown, cls="chart-label chart-value", anchor="end"))
            else:
                parts.append(text(x1 + 4, mid, shown, cls="chart-label chart-value"))
        parts.append(Markup("</g>"))
    lines = [
        Markup('<g class="chart-axis" stroke="currentColor" fill="none" stroke-width="1">'),
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
            coord(px(origin)), coord(top), coord(base)
        ),
        Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
            coord(plot_left), coord(base), coord(plot_left + plot_w)
        ),
    ]
    ticks: list[Markup] = []
    for t in axis.ticks:
        lines.append(
            Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
                coord(px(t)), coord(base), coord(base + 5)
            )
        )
        ticks.append(
            text(
                px(t),
                base + 17,
                axis.tick_text(t),
                cls="chart-label chart-tick",
                anchor="middle",
                size=10,
            )
        )
    lines.append(Markup("</g>"))
    parts += lines + ticks
    if zoom_note:
        parts.append(
            text(
                plot_left + plot_w / 2,
                base + 33,
                f"Zoomed: {zoom_note}",
                cls="chart-label chart-note",
                anchor="middle",
                size=10,
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
