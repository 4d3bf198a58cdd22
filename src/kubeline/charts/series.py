"""How runs are told apart where they share a chart: a colour, a dash pattern and a marker
each, so no reader needs colour alone; and the helpers that draw them along a line."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from kubeline.charts._svg import SVG_NS, Pt, coord

__all__ = [
    "SERIES",
    "SeriesStyle",
    "along",
    "marker_path",
    "marker_svg",
    "series_attrs",
    "series_key_svg",
    "series_style",
    "thin",
]


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
    """The style of series ``index``; past the last, they start again."""
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
        arc = f"a{coord(r)},{coord(r)} 0 1,0"
        return f"M{coord(x - r)},{coord(y)}{arc} {coord(2 * r)},0{arc} {coord(-2 * r)},0Z"
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
    return "M" + "L".join(f"{coord(px)},{coord(py)}" for px, py in corners) + "Z"


def series_attrs(style: SeriesStyle) -> Markup:
    """The stroke colour and dash pattern of a series' line, as SVG attributes."""
    dash = Markup(' stroke-dasharray="{}"').format(style.dash) if style.dash else Markup("")
    return Markup('stroke="{}"{}').format(style.colour, dash)


def marker_svg(style: SeriesStyle, x: float, y: float, r: float = 4.5) -> Markup:
    """A series' marker at (x, y), ringed in white so it stands out on a line."""
    return Markup(
        '<path class="chart-marker" d="{}" fill="{}" stroke="#ffffff" stroke-width="1"/>'
    ).format(marker_path(style.marker, x, y, r), style.colour)


def series_key_svg(index: int, *, marker: bool = True) -> Markup:
    """A small sample of run ``index``'s line and marker (``marker=False``: the line only,
    for charts that draw none), for legends in HTML tables (its meaning is the text beside
    it, so it is hidden from screen readers)."""
    style = series_style(index)
    return Markup(
        '<svg xmlns="{}" class="series-key" viewBox="0 0 40 14" width="40" height="14" '
        'aria-hidden="true" focusable="false"><line x1="1" y1="7" x2="39" y2="7" {} '
        'stroke-width="2.5" fill="none"/>{}</svg>'
    ).format(SVG_NS, series_attrs(style), marker_svg(style, 20, 7, 4) if marker else "")


def along(coords: Sequence[Pt], fractions: Iterable[float]) -> list[Pt]:
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
