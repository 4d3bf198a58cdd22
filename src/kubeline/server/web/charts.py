"""Small SVG charts for the web UI: ROC curves (one, or one per run overlaid) and bar charts.

They are plain SVG strings (no JavaScript, no plotting library), so a page renders them on the
server and they work without scripts. Every shape carries a ``chart-*`` class and draws in
``currentColor``: the page's CSS picks the colours and fonts, light or dark.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from markupsafe import Markup

#: Maps a value to a pixel coordinate.
Scale = Callable[[float], float]

__all__ = [
    "SERIES",
    "Axis",
    "Curve",
    "SeriesStyle",
    "auc_trapezoid",
    "bar_chart_svg",
    "fitted_axis",
    "format_distinct",
    "format_number",
    "marker_path",
    "roc_curve_svg",
    "roc_overlay_svg",
    "series_key_svg",
    "series_style",
    "thin",
    "zero_axis",
]

Pt = tuple[float, float]

_SVG_NS = "http://www.w3.org/2000/svg"
_LABEL_CHARS = 24  # bar labels longer than this are cut (the full text is in <title>)


def format_number(value: float, digits: int = 4) -> str:
    """A number as people read it: integers without ``.0``, else ``digits`` significant
    digits (without an exponent between 1e-4 and 1e15, so 12345.6 stays ``12346``)."""
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
        decimals = max(0, digits - 1 - math.floor(math.log10(magnitude)))
        text = f"{x:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return f"{x:.{digits}g}"


def auc_trapezoid(points: Iterable[tuple[float, float]]) -> float | None:
    """Area under a curve of (x, y) points by the trapezoid rule, after sorting by x (then y):
    the usual ROC AUC over (false positive rate, recall). None with fewer than two points."""
    clean = sorted((float(x), float(y)) for x, y in points if _finite(x) and _finite(y))
    if len(clean) < 2:
        return None
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(clean))


def _finite(value: object) -> TypeGuard[float]:
    """A real, finite number (bool excluded); says so to the type checker too."""
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
    titles = [
        _text(
            left + side / 2, x_title_y, "False positive rate", cls="chart-label", anchor="middle"
        ),
        _text(
            14,
            top + side / 2,
            "True positive rate",
            cls="chart-label",
            anchor="middle",
            extra=f' transform="rotate(-90 14 {_n(top + side / 2)})"',
        ),
    ]
    return axis + labels + titles


def roc_curve_svg(points: list[tuple[float, float]], *, auc: float | None, title: str) -> Markup:
    """An ROC curve over (false positive rate, true positive rate) points in 0..1, with the
    chance diagonal dashed; its aria-label gives the AUC so screen readers get the number."""
    left, right, top, bottom, side = 52.0, 16.0, 30.0, 46.0, 260.0
    width, height = left + side + right, top + side + bottom

    px, py = _unit_scale(left, top, side)

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
    parts += _roc_axes(left, top, side, height - 8)
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
    power: float = 10 ** math.floor(math.log10(raw))  # int ** int is typed Any
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def format_distinct(values: Sequence[float | None], digits: int = 4) -> list[str]:
    """The values as :func:`format_number` writes them, with more significant digits when
    fewer would print two different values alike (0.97221 and 0.97224 are not both
    ``0.9722``). None becomes ``n/a``."""
    present = {float(v) for v in values if _finite(v)}
    for wanted in range(digits, 18):
        texts = {format_number(v, wanted) for v in present}
        if len(texts) == len(present):
            digits = wanted
            break
    else:
        digits = 17
    return [
        format_number(v, digits) if _finite(v) else ("n/a" if v is None else format_number(v))
        for v in values
    ]


@dataclass(frozen=True)
class Axis:
    """A value axis from ``lo`` to ``hi`` with ticks every ``step``. ``zoomed`` says it
    leaves zero out, which the chart must then say in words."""

    lo: float
    hi: float
    step: float

    @property
    def zoomed(self) -> bool:
        return self.lo > 0 or self.hi < 0

    @property
    def ticks(self) -> list[float]:
        count = round((self.hi - self.lo) / self.step)
        return [round(self.lo + k * self.step, 12) for k in range(count + 1)]

    def fraction(self, value: float) -> float:
        """Where ``value`` sits along the axis, 0 at ``lo`` and 1 at ``hi``."""
        return (value - self.lo) / (self.hi - self.lo)

    def tick_text(self, value: float) -> str:
        """A tick's label with as many decimals as the step needs (0.971, 0.972, not 0.97)."""
        if abs(value) >= 1e15 or self.step < 1e-12:
            return format_number(value)
        decimals = next(
            (d for d in range(15) if abs(self.step * 10**d - round(self.step * 10**d)) < 1e-6),
            15,
        )
        text = f"{value:.{decimals}f}"
        return "0" if text.lstrip("-").strip("0.") == "" else text

    @property
    def words(self) -> str:
        """How a reader is told the axis is zoomed."""
        return f"axis from {self.tick_text(self.lo)} to {self.tick_text(self.hi)}"


def zero_axis(values: Iterable[float | None]) -> Axis:
    """An axis from zero (or below, for negative values) to past the largest value."""
    present = [float(v) for v in values if _finite(v)]
    lo, hi = min([0.0, *present]), max([0.0, *present])
    if lo == hi:
        hi = 1.0
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step - 1e-9) * step if lo < 0 else 0.0
    hi = math.ceil(hi / step - 1e-9) * step if hi > 0 else 0.0
    return Axis(lo, hi, step)


def fitted_axis(values: Iterable[float | None], count: int = 4) -> Axis:
    """An axis that fits the values, so close ones look different: their range plus a
    quarter of it on each side, widened to round ticks. It starts at zero only when zero is
    near (within one range of the values); scores inside 0..1 keep the axis inside 0..1."""
    present = [float(v) for v in values if _finite(v)]
    if not present:
        return Axis(0.0, 1.0, 0.25)
    lo, hi = min(present), max(present)
    span = hi - lo
    pad = span / 4 if span > 0 else (abs(lo) / 20 or 0.5)
    a, b = lo - pad, hi + pad
    if lo >= 0 and (a <= 0 or lo <= span):
        a = 0.0
    if hi <= 0 and (b >= 0 or -hi <= span):
        b = 0.0
    if lo >= 0 and hi <= 1:
        a, b = max(a, 0.0), min(b, 1.0)
    step = _nice_step(b - a, count)
    a = math.floor(a / step + 1e-9) * step
    b = math.ceil(b / step - 1e-9) * step
    if b <= a:
        b = a + step
    return Axis(round(a, 12), round(b, 12), step)


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
    values = [float(v) if _finite(v) else None for _, v in items]
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
        ).format(_SVG_NS, _n(width), _n(height), _n(width), _n(height), aria),
        Markup("<title>{}</title>").format(title),
        _text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    if note:
        parts.append(_text(width / 2, 33, note, cls="chart-label chart-note", anchor="middle"))
    for i, ((label, _), value) in enumerate(zip(items, values, strict=True)):
        y = top + i * row_h
        mid = y + row_h / 2 + 4
        parts.append(Markup("<g>"))
        parts.append(Markup("<title>{}: {}</title>").format(label, said(i)))
        parts.append(_text(label_w - 8, mid, _short(label), cls="chart-label", anchor="end"))
        if value is None:
            parts.append(_text(px(origin) + 4, mid, "n/a", cls="chart-label chart-missing"))
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
                ).format(cls, _n(x0), _n(y + (row_h - bar_h) / 2), _n(max(x1 - x0, 0.5)), _n(bar_h))
            )
            shown = texts[i] + (" ★ best" if i in best else "")
            if value < origin:
                parts.append(_text(x0 - 4, mid, shown, cls="chart-label chart-value", anchor="end"))
            else:
                parts.append(_text(x1 + 4, mid, shown, cls="chart-label chart-value"))
        parts.append(Markup("</g>"))
    lines = [
        Markup('<g class="chart-axis" stroke="currentColor" fill="none" stroke-width="1">'),
        Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
            _n(px(origin)), _n(top), _n(base)
        ),
        Markup('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}"/>').format(
            _n(plot_left), _n(base), _n(plot_left + plot_w)
        ),
    ]
    ticks: list[Markup] = []
    for t in axis.ticks:
        lines.append(
            Markup('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>').format(
                _n(px(t)), _n(base), _n(base + 5)
            )
        )
        ticks.append(
            _text(
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
            _text(
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


# --------------------------------------------------------------------------- series


@dataclass(frozen=True)
class SeriesStyle:
    """How one run is drawn wherever runs share a chart: a colour (3:1 or more against
    white, as WCAG asks of graphics), a dash pattern and a marker, so each run is told
    apart without colour too. ``words`` says it for screen readers and legends."""

    colour: str
    dash: str
    marker: str
    words: str


SERIES: tuple[SeriesStyle, ...] = (
    SeriesStyle("#1d4ed8", "", "circle", "solid line, circles"),
    SeriesStyle("#c2410c", "9 4", "square", "dashed line, squares"),
    SeriesStyle("#047857", "2 3", "triangle", "dotted line, triangles"),
    SeriesStyle("#be185d", "10 3 2 3", "diamond", "dash-dot line, diamonds"),
    SeriesStyle("#6d28d9", "5 5", "down", "short-dashed line, downward triangles"),
    SeriesStyle("#0e7490", "14 3 3 3 3 3", "plus", "dash-dot-dot line, plus signs"),
    SeriesStyle("#854d0e", "1 4", "cross", "sparse dotted line, crosses"),
    SeriesStyle("#b91c1c", "16 5", "hexagon", "long-dashed line, hexagons"),
    SeriesStyle("#374151", "6 2 2 2 2 2", "star", "dash-dot-dot-dot line, stars"),
    SeriesStyle("#4d7c0f", "3 7", "pentagon", "spaced dotted line, pentagons"),
)


def series_style(index: int) -> SeriesStyle:
    return SERIES[index % len(SERIES)]


def _regular(x: float, y: float, radius: float, corners: int, turn: float = 0.0) -> list[Pt]:
    return [
        (
            x + radius * math.sin(turn + 2 * math.pi * k / corners),
            y - radius * math.cos(turn + 2 * math.pi * k / corners),
        )
        for k in range(corners)
    ]


def _plus(x: float, y: float, r: float, turn: float) -> list[Pt]:
    w, c, s = r * 0.42, math.cos(turn), math.sin(turn)
    outline = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r)]
    outline += [(-w, w), (-r, w), (-r, -w), (-w, -w)]
    return [(x + px * c - py * s, y + px * s + py * c) for px, py in outline]


def marker_path(marker: str, x: float, y: float, r: float = 4.5) -> str:
    """The ``d`` of a filled marker shape centred on (x, y)."""
    if marker == "circle":
        arc = f"a{_n(r)},{_n(r)} 0 1,0"
        return f"M{_n(x - r)},{_n(y)}{arc} {_n(2 * r)},0{arc} {_n(-2 * r)},0Z"
    if marker == "square":
        corners = [(x - r * 0.9, y - r * 0.9), (x + r * 0.9, y - r * 0.9)]
        corners += [(x + r * 0.9, y + r * 0.9), (x - r * 0.9, y + r * 0.9)]
    elif marker == "triangle":
        corners = _regular(x, y + r * 0.2, r * 1.25, 3)
    elif marker == "down":
        corners = _regular(x, y - r * 0.2, r * 1.25, 3, math.pi)
    elif marker == "diamond":
        corners = [(x, y - r * 1.3), (x + r, y), (x, y + r * 1.3), (x - r, y)]
    elif marker == "plus":
        corners = _plus(x, y, r * 1.15, 0.0)
    elif marker == "cross":
        corners = _plus(x, y, r * 1.2, math.pi / 4)
    elif marker == "hexagon":
        corners = _regular(x, y, r * 1.1, 6, math.pi / 6)
    elif marker == "star":
        outer, inner = _regular(x, y, r * 1.4, 5), _regular(x, y, r * 0.6, 5, math.pi / 5)
        corners = [p for pair in zip(outer, inner, strict=True) for p in pair]
    else:  # pentagon
        corners = _regular(x, y, r * 1.15, 5)
    return "M" + "L".join(f"{_n(px)},{_n(py)}" for px, py in corners) + "Z"


def _series_attrs(style: SeriesStyle) -> Markup:
    dash = Markup(' stroke-dasharray="{}"').format(style.dash) if style.dash else Markup("")
    return Markup('stroke="{}"{}').format(style.colour, dash)


def _marker(style: SeriesStyle, x: float, y: float, r: float = 4.5) -> Markup:
    return Markup(
        '<path class="chart-marker" d="{}" fill="{}" stroke="#ffffff" stroke-width="1"/>'
    ).format(marker_path(style.marker, x, y, r), style.colour)


def series_key_svg(index: int) -> Markup:
    """A small sample of run ``index``'s line and marker, for legends in HTML tables (its
    meaning is the text beside it, so it is hidden from screen readers)."""
    style = series_style(index)
    return Markup(
        '<svg xmlns="{}" class="series-key" viewBox="0 0 40 14" width="40" height="14" '
        'aria-hidden="true" focusable="false"><line x1="1" y1="7" x2="39" y2="7" {} '
        'stroke-width="2.5" fill="none"/>{}</svg>'
    ).format(_SVG_NS, _series_attrs(style), _marker(style, 20, 7, 4))


def _along(coords: Sequence[Pt], fractions: Iterable[float]) -> list[Pt]:
    """Points at these fractions of a polyline's length (for markers spread along it)."""
    if not coords:
        return []
    lengths = [0.0]
    for (x1, y1), (x2, y2) in itertools.pairwise(coords):
        lengths.append(lengths[-1] + math.hypot(x2 - x1, y2 - y1))
    total = lengths[-1]
    found = []
    for f in fractions:
        want = min(1.0, max(0.0, f)) * total
        k = next((i for i in range(1, len(lengths)) if lengths[i] >= want), len(lengths) - 1)
        if k == 0 or lengths[k] == lengths[k - 1]:
            found.append(coords[k])
            continue
        t = (want - lengths[k - 1]) / (lengths[k] - lengths[k - 1])
        (x1, y1), (x2, y2) = coords[k - 1], coords[k]
        found.append((x1 + t * (x2 - x1), y1 + t * (y2 - y1)))
    return found


def thin(points: Sequence[Pt], limit: int) -> list[Pt]:
    """At most ``limit`` of the points, evenly spread, the first and last kept."""
    if len(points) <= limit:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(k * step)] for k in range(limit)]


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
        ).format(_SVG_NS, _n(width), _n(height), _n(width), _n(height), aria),
        Markup("<title>{}</title>").format(title),
        _text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    x_title_y = height - 8 if height == top + side + bottom else top + side + 36
    parts += _roc_axes(left, top, side, x_title_y)
    chance = Markup(
        'class="chart-diagonal" stroke="#616e7c" stroke-dasharray="3 3" stroke-width="1" '
        'fill="none"'
    )
    parts.append(
        Markup('<line {} x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
            chance, _n(px(0)), _n(py(0)), _n(px(1)), _n(py(1))
        )
    )
    count = len(curves)
    for n, (curve, auc) in enumerate(zip(curves, aucs, strict=True)):
        style = series_style(curve.series)
        clean = sorted((float(x), float(y)) for x, y in curve.points if _finite(x) and _finite(y))
        coords = [(px(x), py(y)) for x, y in thin(clean, _ROC_SVG_POINTS)]
        parts.append(Markup('<g class="chart-series">'))
        parts.append(Markup("<title>{}: AUC {}</title>").format(curve.label, auc))
        if coords:
            parts.append(
                Markup(
                    '<polyline class="chart-series-line" points="{}" fill="none" {} '
                    'stroke-width="2" stroke-linejoin="round"/>'
                ).format(" ".join(f"{_n(x)},{_n(y)}" for x, y in coords), _series_attrs(style))
            )
            # Markers spread along the curve, shifted per run so they do not sit on each other.
            fractions = [(k + (n + 1) / (count + 1)) / 5 for k in range(5)]
            for x, y in _along(coords, fractions):
                parts.append(_marker(style, x, y))
        parts.append(Markup("</g>"))
    for n, (curve, auc) in enumerate(zip(curves, aucs, strict=True)):
        style = series_style(curve.series)
        y = top + 14 + n * row
        parts.append(
            Markup(
                '<g class="chart-legend"><line x1="{}" y1="{}" x2="{}" y2="{}" {} '
                'stroke-width="2.5" fill="none"/>{}'
            ).format(
                _n(legend_x),
                _n(y),
                _n(legend_x + 34),
                _n(y),
                _series_attrs(style),
                _marker(style, legend_x + 17, y),
            )
        )
        shown = (
            curve.label
            if len(curve.label) <= _LEGEND_CHARS
            else curve.label[: _LEGEND_CHARS - 1] + "…"
        )
        parts.append(_text(legend_x + 42, y + 4, f"{shown} · AUC {auc}", cls="chart-label"))
        parts.append(Markup("</g>"))
    y = top + 14 + count * row
    parts.append(
        Markup('<g class="chart-legend"><line {} x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
            chance, _n(legend_x), _n(y), _n(legend_x + 34), _n(y)
        )
    )
    parts.append(_text(legend_x + 42, y + 4, "chance · AUC 0.5", cls="chart-label"))
    parts.append(Markup("</g>"))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
