"""ROC curves: one, or one per run overlaid, over (false positive rate, true positive rate)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from kubeline.charts._svg import SVG_NS, Pt, Scale, coord, finite, text
from kubeline.charts.numbers import format_distinct, format_number
from kubeline.charts.series import along, marker_svg, series_attrs, series_style, thin

__all__ = ["Curve", "roc_curve_svg", "roc_overlay_svg"]


def _unit_scale(left: float, top: float, side: float) -> tuple[Scale, Scale]:
    """Pixel x and y of a value in 0..1 (clamped) on a square plot of ``side`` pixels."""

    def px(x: float) -> float:
        return left + min(1.0, max(0.0, x)) * side

    def py(y: float) -> float:
        return top + side - min(1.0, max(0.0, y)) * side

    return px, py


def _roc_axes(left: float, top: float, side: float, x_title_y: float) -> list[Markup]:
    """The axes of an ROC plot: both lines, ticks and labels at 0, 0.2 ... 1, and the axis
    titles; one drawing for the single curve and the overlay."""
    px, py = _unit_scale(left, top, side)
    axis = [
        Markup('<g class="chart-axis" stroke="currentColor" fill="none" stroke-width="1">'),
        Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
            coord(left), coord(top + side), coord(left + side)
        ),
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
            coord(left), coord(top), coord(top + side)
        ),
    ]
    labels: list[Markup] = []
    for i in range(6):
        t = i / 5
        axis.append(
            Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
                coord(px(t)), coord(top + side), coord(top + side + 5)
            )
        )
        axis.append(
            Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
                coord(left - 5), coord(py(t)), coord(left)
            )
        )
        tick = format_number(round(t, 1))
        labels.append(
            text(px(t), top + side + 17, tick, cls="chart-label", anchor="middle", size=10)
        )
        labels.append(text(left - 8, py(t) + 3.5, tick, cls="chart-label", anchor="end", size=10))
    axis.append(Markup("</g>"))
    titles = [
        text(left + side / 2, x_title_y, "False positive rate", cls="chart-label", anchor="middle"),
        text(
            14,
            top + side / 2,
            "True positive rate",
            cls="chart-label",
            anchor="middle",
            extra=f' transform="rotate(-90 14 {coord(top + side / 2)})"',
        ),
    ]
    return axis + labels + titles


def roc_curve_svg(points: list[tuple[float, float]], *, auc: float | None, title: str) -> Markup:
    """An ROC curve over (false positive rate, true positive rate) points in 0..1, with the
    chance diagonal dashed; its aria-label gives the AUC so screen readers get the number."""
    left, right, top, bottom, side = 52.0, 16.0, 30.0, 46.0, 260.0
    width, height = left + side + right, top + side + bottom

    px, py = _unit_scale(left, top, side)

    clean = sorted((float(x), float(y)) for x, y in points if finite(x) and finite(y))
    auc_text = format_number(auc) if auc is not None and math.isfinite(auc) else "not available"
    kind = "" if "roc" in title.lower() else " ROC curve,"
    label = f"{title}:{kind} AUC {auc_text}, {len(clean)} points"

    parts: list[Markup] = [
        Markup(
            '<svg xmlns="{}" class="chart chart-roc" viewBox="0 0 {} {}" width="{}" height="{}" '
            'role="img" aria-label="{}">'
        ).format(SVG_NS, coord(width), coord(height), coord(width), coord(height), label),
        Markup("<title>{}</title>").format(label),
        text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    parts += _roc_axes(left, top, side, height - 8)
    parts.append(
        Markup(
            '<line class="chart-diagonal" x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" '
            'stroke-dasharray="4 4" stroke-width="1" fill="none"/>'
        ).format(coord(px(0)), coord(py(0)), coord(px(1)), coord(py(1)))
    )
    if clean:
        coords = " ".join(f"{coord(px(x))},{coord(py(y))}" for x, y in clean)
        parts.append(
            Markup(
                '<polyline class="chart-line" points="{}" fill="none" stroke="currentColor" '
                'stroke-width="2" stroke-linejoin="round"/>'
            ).format(coords)
        )
    else:
        parts.append(
            text(
                left + side / 2,
                top + side / 2,
                "no points",
                cls="chart-label chart-missing",
                anchor="middle",
            )
        )
    parts.append(
        text(
            left + side - 6,
            top + side - 10,
            f"AUC {auc_text}",
            cls="chart-label chart-value",
            anchor="end",
            size=12,
        )
    )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


@dataclass(frozen=True)
class Curve:
    """One run's ROC curve: (false positive rate, true positive rate) points, its AUC, and
    the index of its series style."""

    label: str
    points: list[Pt]
    auc: float | None
    series: int


_ROC_SVG_POINTS = 400  # a curve's polyline keeps at most this many points
_LEGEND_CHARS = 30


def roc_overlay_svg(curves: Sequence[Curve], *, title: str) -> Markup:
    """Several ROC curves in one chart, one per run, each with its own colour, dash pattern
    and markers, the AUCs in the legend and in the accessible name."""
    left, top, side, bottom = 52.0, 30.0, 260.0, 46.0
    legend_x = left + side + 28
    row = 22.0
    width = legend_x + 300
    rows = len(curves) + 1  # and the chance line
    height = max(top + side + bottom, top + 14 + rows * row + 8)
    aucs = format_distinct([c.auc if c.auc is not None else None for c in curves])

    px, py = _unit_scale(left, top, side)

    described = "; ".join(
        f"{c.label}: AUC {auc}, {series_style(c.series).words}"
        for c, auc in zip(curves, aucs, strict=True)
    )
    aria = f"{title}: {len(curves)} ROC curves. {described}. Grey dashed diagonal: chance."
    parts: list[Markup] = [
        Markup(
            '<svg xmlns="{}" class="chart chart-roc chart-roc-overlay" viewBox="0 0 {} {}" '
            'width="{}" height="{}" role="img" aria-label="{}">'
        ).format(SVG_NS, coord(width), coord(height), coord(width), coord(height), aria),
        Markup("<title>{}</title>").format(title),
        text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    x_title_y = height - 8 if height == top + side + bottom else top + side + 36
    parts += _roc_axes(left, top, side, x_title_y)
    chance = Markup(
        'class="chart-diagonal" stroke="#616e7c" stroke-dasharray="3 3" stroke-width="1" '
        'fill="none"'
    )
    parts.append(
        Markup('<line {} x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
            chance, coord(px(0)), coord(py(0)), coord(px(1)), coord(py(1))
        )
    )
    count = len(curves)
    for n, (curve, auc) in enumerate(zip(curves, aucs, strict=True)):
        style = series_style(curve.series)
        clean = sorted((float(x), float(y)) for x, y in curve.points if finite(x) and finite(y))
        coords = [(px(x), py(y)) for x, y in thin(clean, _ROC_SVG_POINTS)]
        parts.append(Markup('<g class="chart-series">'))
        parts.append(Markup("<title>{}: AUC {}</title>").format(curve.label, auc))
        if coords:
            parts.append(
                Markup(
                    '<polyline class="chart-series-line" points="{}" fill="none" {} '
                    'stroke-width="2" stroke-linejoin="round"/>'
                ).format(" ".join(f"{coord(x)},{coord(y)}" for x, y in coords), series_attrs(style))
            )
            # Markers spread along the curve, shifted per run so they do not sit on each other.
            fractions = [(k + (n + 1) / (count + 1)) / 5 for k in range(5)]
            for x, y in along(coords, fractions):
                parts.append(marker_svg(style, x, y))
        parts.append(Markup("</g>"))
    for n, (curve, auc) in enumerate(zip(curves, aucs, strict=True)):
        style = series_style(curve.series)
        y = top + 14 + n * row
        parts.append(
            Markup(
                '<g class="chart-legend"><line x1="{}" y1="{}" x2="{}" y2="{}" {} '
                'stroke-width="2.5" fill="none"/>{}'
            ).format(
                coord(legend_x),
                coord(y),
                coord(legend_x + 34),
                coord(y),
                series_attrs(style),
                marker_svg(style, legend_x + 17, y),
            )
        )
        shown = (
            curve.label
            if len(curve.label) <= _LEGEND_CHARS
            else curve.label[: _LEGEND_CHARS - 1] + "…"
        )
        parts.append(text(legend_x + 42, y + 4, f"{shown} · AUC {auc}", cls="chart-label"))
        parts.append(Markup("</g>"))
    y = top + 14 + count * row
    parts.append(
        Markup('<g class="chart-legend"><line {} x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
            chance, coord(legend_x), coord(y), coord(legend_x + 34), coord(y)
        )
    )
    parts.append(text(legend_x + 42, y + 4, "chance · AUC 0.5", cls="chart-label"))
    parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
