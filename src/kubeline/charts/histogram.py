"""Histograms: how the values of one feature spread, one outline per group (class) overlaid
on shared bins, so the groups' distributions compare at a glance."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from markupsafe import Markup

from kubeline.charts._svg import coord, finite, svg_open, text
from kubeline.charts.axes import nice_step, zero_axis
from kubeline.charts.numbers import format_number
from kubeline.charts.series import series_attrs, series_style

__all__ = ["bin_edges", "histogram_counts", "histogram_svg"]


def bin_edges(lo: float, hi: float, bins: int) -> list[float]:
    """``bins + 1`` equally spaced edges from ``lo`` to ``hi`` (widened by one each way when
    they are equal, so a constant column still gets a bin)."""
    if bins < 1:
        raise ValueError("a histogram needs at least one bin")
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    return [lo + (hi - lo) * k / bins for k in range(bins + 1)]


def histogram_counts(values: Iterable[float | None], edges: Sequence[float]) -> list[int]:
    """How many finite values fall in each bin ``[edges[k], edges[k + 1])``, the last bin
    closed; values outside the edges and missing ones are not counted."""
    bins = len(edges) - 1
    counts = [0] * bins
    lo, hi = edges[0], edges[-1]
    width = (hi - lo) / bins
    for v in values:
        if not finite(v) or v < lo or v > hi:
            continue
        k = min(bins - 1, int((v - lo) / width))
        counts[k] += 1
    return counts


def _ticks(lo: float, hi: float) -> list[float]:
    step = nice_step(hi - lo, 4)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= hi + 1e-9 * step:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks


def histogram_svg(
    groups: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    bins: int = 20,
    legend: bool = True,
) -> Markup:
    """One histogram of each group's values on the same bins (from the smallest to the
    largest value of all groups), drawn as outlines in the groups' series styles (colour and
    dash pattern) with a light fill. ``legend`` names the groups under the plot (leave it out
    when a legend beside several charts does it). Missing and infinite values are skipped."""
    left, plot_w, top, plot_h = 44.0, 240.0, 28.0, 120.0
    pooled = [float(v) for _, values in groups for v in values if finite(v)]
    row = 16.0
    legend_h = (8 + row * len(groups)) if legend and len(groups) > 1 else 0.0
    width, height = left + plot_w + 14, top + plot_h + 30 + legend_h
    total = len(pooled)
    named = "; ".join(
        f"{label}: {sum(1 for v in values if finite(v))} values" for label, values in groups
    )
    if not pooled:
        aria = f"{title}: no values"
    else:
        aria = (
            f"{title}: histogram from {format_number(min(pooled))} to "
            f"{format_number(max(pooled))} in {bins} bins, {total} values"
        )
        if len(groups) > 1:
            aria += f" ({named})"
    parts = [
        svg_open("chart chart-histogram", width, height, aria),
        Markup("<title>{}</title>").format(title),
        text(width / 2, 16, title, cls="chart-label chart-title", anchor="middle", size=12),
    ]
    base = top + plot_h
    if not pooled:
        parts.append(
            text(left + plot_w / 2, top + plot_h / 2, "no values", cls="chart-label chart-missing")
        )
        parts.append(Markup("</svg>"))
        return Markup("").join(parts)
    edges = bin_edges(min(pooled), max(pooled), bins)
    counts = [histogram_counts(values, edges) for _, values in groups]
    y_axis = zero_axis([max(max(c) for c in counts)])

    def px(v: float) -> float:
        return left + (v - edges[0]) / (edges[-1] - edges[0]) * plot_w

    def py(count: float) -> float:
        return base - y_axis.fraction(count) * plot_h

    for g, ((label, _), group_counts) in enumerate(zip(groups, counts, strict=True)):
        style = series_style(g)
        path = [f"M{coord(px(edges[0]))},{coord(base)}"]
        for k, count in enumerate(group_counts):
            path.append(f"L{coord(px(edges[k]))},{coord(py(count))}")
            path.append(f"L{coord(px(edges[k + 1]))},{coord(py(count))}")
        path.append(f"L{coord(px(edges[-1]))},{coord(base)}Z")
        parts.append(
            Markup(
                '<g class="chart-series"><title>{}: {} values</title><path class="chart-hist" '
                'd="{}" fill="{}" fill-opacity="0.14" {} stroke-width="1.6"/></g>'
            ).format(label, sum(group_counts), "".join(path), style.colour, series_attrs(style))
        )
    axis = [
        Markup('<g class="chart-axis" stroke="currentColor" fill="none" stroke-width="1">'),
        Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
            coord(left), coord(base), coord(left + plot_w)
        ),
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
            coord(left), coord(top), coord(base)
        ),
    ]
    labels = []
    for t in _ticks(edges[0], edges[-1]):
        axis.append(
            Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
                coord(px(t)), coord(base), coord(base + 4)
            )
        )
        labels.append(
            text(
                px(t),
                base + 15,
                format_number(t, 3),
                cls="chart-label chart-tick",
                anchor="middle",
                size=9,
            )
        )
    for t in y_axis.ticks:
        axis.append(
            Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
                coord(left - 4), coord(py(t)), coord(left)
            )
        )
        labels.append(
            text(
                left - 6,
                py(t) + 3,
                y_axis.tick_text(t),
                cls="chart-label chart-tick",
                anchor="end",
                size=9,
            )
        )
    axis.append(Markup("</g>"))
    parts += axis + labels
    if legend_h:
        for g, (label, _) in enumerate(groups):
            style = series_style(g)
            y = base + 34 + g * row
            parts.append(
                Markup(
                    '<g class="chart-legend"><line x1="{}" y1="{}" x2="{}" y2="{}" {} '
                    'stroke-width="2.5"/>{}</g>'
                ).format(
                    coord(left),
                    coord(y - 4),
                    coord(left + 26),
                    coord(y - 4),
                    series_attrs(style),
                    text(left + 32, y, label, cls="chart-label", size=10),
                )
            )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
