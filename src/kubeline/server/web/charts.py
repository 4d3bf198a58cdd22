"""Small SVG charts for the web UI: an ROC curve and a bar chart.

They are plain SVG strings (no JavaScript, no plotting library), so a page renders them on the
server and they work without scripts. Every shape carries a ``chart-*`` class and draws in
``currentColor``: the page's CSS picks the colours and fonts, light or dark.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

from markupsafe import Markup

__all__ = ["auc_trapezoid", "bar_chart_svg", "format_number", "roc_curve_svg"]

_SVG_NS = "http://www.w3.org/2000/svg"
_LABEL_CHARS = 24  # bar labels longer than this are cut (the full text is in <title>)


def format_number(value: float) -> str:
    """A number as people read it: integers without ``.0``, else 4 significant digits
    (without an exponent between 1e-4 and 1e15, so 12345.6 stays ``12346``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    magnitude = abs(x)
    if 1e-4 <= magnitude < 1e15:
        decimals = max(0, 3 - math.floor(math.log10(magnitude)))
        text = f"{x:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return f"{x:.4g}"


def auc_trapezoid(points: Iterable[tuple[float, float]]) -> float | None:
    """Area under a curve of (x, y) points by the trapezoid rule, after sorting by x (then y):
    the usual ROC AUC over (false positive rate, recall). None with fewer than two points."""
    clean = sorted((float(x), float(y)) for x, y in points if _finite(x) and _finite(y))
    if len(clean) < 2:
        return None
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(clean))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _n(value: float) -> str:
    """A coordinate, short enough to keep the SVG small."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(
    x: float,
    y: float,
    content: str,
    *,
    cls: str,
    anchor: str = "start",
    size: int = 11,
    extra: str = "",
) -> Markup:
    return Markup(
        '<text class="{}" x="{}" y="{}" text-anchor="{}" font-size="{}" fill="currentColor"{}>'
        "{}</text>"
    ).format(cls, _n(x), _n(y), anchor, size, Markup(extra), content)


def roc_curve_svg(points: list[tuple[float, float]], *, auc: float | None, title: str) -> Markup:
    """An ROC curve over (false positive rate, true positive rate) points in 0..1, with the
    chance diagonal dashed; its aria-label gives the AUC so screen readers get the number."""
    left, right, top, bottom, side = 52.0, 16.0, 30.0, 46.0, 260.0
    width, height = left + side + right, top + side + bottom

    def px(x: float) -> float:
        return left + min(1.0, max(0.0, x)) * side

    def py(y: float) -> float:
        return top + side - min(1.0, max(0.0, y)) * side

    clean = sorted((float(x), float(y)) for x, y in points if _finite(x) and _finite(y))
    auc_text = format_number(auc) if auc is not None and math.isfinite(auc) else "not available"
    kind = "" if "roc" in title.lower() else " ROC curve,"
    label = f"{title}:{kind} AUC {auc_text}, {len(clean)} points"

    parts: list[Markup] = [
        Markup(
            '<svg xmlns="{}" class="chart chart-roc" viewBox="0 0 {} {}" width="{}" height="{}" '
            'role="img" aria-label="{}">'
        ).format(_SVG_NS, _n(width), _n(height), _n(width), _n(height), label),
        Markup("<title>{}</title>").format(label),
        _text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    axis = [
        Markup('<g class="chart-axis" stroke="currentColor" fill="none" stroke-width="1">'),
        Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
            _n(left), _n(top + side), _n(left + side)
        ),
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
            _n(left), _n(top), _n(top + side)
        ),
    ]
    labels: list[Markup] = []
    for i in range(6):
        t = i / 5
        axis.append(
            Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
                _n(px(t)), _n(top + side), _n(top + side + 5)
            )
        )
        axis.append(
            Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
                _n(left - 5), _n(py(t)), _n(left)
            )
        )
        tick = format_number(round(t, 1))
        labels.append(
            _text(px(t), top + side + 17, tick, cls="chart-label", anchor="middle", size=10)
        )
        labels.append(_text(left - 8, py(t) + 3.5, tick, cls="chart-label", anchor="end", size=10))
    axis.append(Markup("</g>"))
    parts += axis + labels
    parts.append(
        _text(
            left + side / 2, height - 8, "False positive rate", cls="chart-label", anchor="middle"
        )
    )
    parts.append(
        _text(
            14,
            top + side / 2,
            "True positive rate",
            cls="chart-label",
            anchor="middle",
            extra=f' transform="rotate(-90 14 {_n(top + side / 2)})"',
        )
    )
    parts.append(
        Markup(
            '<line class="chart-diagonal" x1="{}" y1="{}" x2="{}" y2="{}" stroke="currentColor" '
            'stroke-dasharray="4 4" stroke-width="1" fill="none"/>'
        ).format(_n(px(0)), _n(py(0)), _n(px(1)), _n(py(1)))
    )
    if clean:
        coords = " ".join(f"{_n(px(x))},{_n(py(y))}" for x, y in clean)
        parts.append(
            Markup(
                '<polyline class="chart-line" points="{}" fill="none" stroke="currentColor" '
                'stroke-width="2" stroke-linejoin="round"/>'
            ).format(coords)
        )
    else:
        parts.append(
            _text(
                left + side / 2,
                top + side / 2,
                "no points",
                cls="chart-label chart-missing",
                anchor="middle",
            )
        )
    parts.append(
        _text(
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


def _nice_step(span: float, count: int = 4) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``count`` intervals."""
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def bar_chart_svg(
    items: list[tuple[str, float | None]], *, title: str, highlight: str | None = None
) -> Markup:
    """Horizontal bars, one per (label, value) (e.g. one metric across runs). The axis starts
    at 0 unless a value is negative; a missing or non-finite value shows as ``n/a``. The bar
    whose label equals ``highlight`` gets the ``highlight`` class."""
    label_w, value_w, top, row_h, bar_h, axis_h = 168.0, 64.0, 30.0, 26.0, 16.0, 30.0
    values = [float(v) if _finite(v) else None for _, v in items]
    present = [v for v in values if v is not None]
    lo = min([0.0, *present])
    hi = max([0.0, *present])
    if lo == hi:
        hi = 1.0
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step - 1e-9) * step if lo < 0 else 0.0
    hi = math.ceil(hi / step - 1e-9) * step if hi > 0 else 0.0
    neg_pad = 56.0 if lo < 0 else 0.0  # room for the value labels of negative bars
    plot_left, plot_w = label_w + neg_pad, 300.0
    width = plot_left + plot_w + value_w
    height = top + row_h * max(1, len(items)) + axis_h

    def px(v: float) -> float:
        return plot_left + (v - lo) / (hi - lo) * plot_w

    described = "; ".join(
        f"{label} {format_number(v) if v is not None else 'n/a'}"
        for (label, _), v in zip(items, values, strict=True)
    )
    aria = f"{title}: {described}" if items else f"{title}: no values"
    parts: list[Markup] = [
        Markup(
            '<svg xmlns="{}" class="chart chart-bars" viewBox="0 0 {} {}" width="{}" height="{}" '
            'role="img" aria-label="{}">'
        ).format(_SVG_NS, _n(width), _n(height), _n(width), _n(height), aria),
        Markup("<title>{}</title>").format(title),
        _text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    base = top + row_h * max(1, len(items))
    for i, ((label, _), value) in enumerate(zip(items, values, strict=True)):
        y = top + i * row_h
        mid = y + row_h / 2 + 4
        parts.append(Markup("<g>"))
        parts.append(
            Markup("<title>{}: {}</title>").format(
                label, format_number(value) if value is not None else "n/a"
            )
        )
        parts.append(_text(label_w - 8, mid, _short(label), cls="chart-label", anchor="end"))
        if value is None:
            parts.append(_text(px(0) + 4, mid, "n/a", cls="chart-label chart-missing"))
        else:
            x0, x1 = sorted((px(0), px(value)))
            cls = (
                "chart-bar highlight"
                if highlight is not None and label == highlight
                else ("chart-bar")
            )
            parts.append(
                Markup(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="currentColor"/>'
                ).format(cls, _n(x0), _n(y + (row_h - bar_h) / 2), _n(max(x1 - x0, 0.5)), _n(bar_h))
            )
            if value < 0:
                parts.append(
                    _text(
                        x0 - 4,
                        mid,
                        format_number(value),
                        cls="chart-label chart-value",
                        anchor="end",
                    )
                )
            else:
                parts.append(
                    _text(x1 + 4, mid, format_number(value), cls="chart-label chart-value")
                )
        parts.append(Markup("</g>"))
    axis = [
        Markup('<g class="chart-axis" stroke="currentColor" fill="none" stroke-width="1">'),
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(_n(px(0)), _n(top), _n(base)),
        Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
            _n(plot_left), _n(base), _n(plot_left + plot_w)
        ),
    ]
    ticks: list[Markup] = []
    n_ticks = round((hi - lo) / step)
    for k in range(n_ticks + 1):
        t = lo + k * step
        axis.append(
            Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
                _n(px(t)), _n(base), _n(base + 5)
            )
        )
        ticks.append(
            _text(px(t), base + 17, format_number(t), cls="chart-label", anchor="middle", size=10)
        )
    axis.append(Markup("</g>"))
    parts += axis + ticks
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
