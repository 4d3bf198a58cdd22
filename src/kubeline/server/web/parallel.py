"""A parallel-coordinates chart: one vertical axis per parameter and a last one for a
metric, one line per run across them, so a reader sees which settings go with a better score.

This module computes every position (numeric axes fitted to their values, categorical axes
with one evenly spaced tick per value, a ``n/a`` spot under an axis for runs without a
value); ``templates/parallel.svg`` only draws, escaping every name. Runs keep the series
style (colour, dash pattern, marker) they have in the page's other charts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from kubeline.charts import (
    Axis,
    fitted_axis,
    format_distinct,
    marker_path,
    series_style,
)
from kubeline.server.web.templating import format_value

__all__ = ["ParallelAxis", "parallel_layout", "parallel_svg"]

_TOP, _HEIGHT = 64.0, 220.0  # where the axes start, and how tall they are
_LEFT, _SPACING, _RIGHT = 132.0, 160.0, 150.0
_NA_GAP = 26.0  # the n/a spot sits this far under an axis
_LEGEND_ROW = 20.0
_TICK_CHARS = 18
_NAME_CHARS = 22


@dataclass(frozen=True)
class ParallelAxis:
    """One axis: its name and one value per run (None when the run has none).
    ``direction`` (``higher``/``lower``) marks the metric's axis and which end is better."""

    name: str
    values: list[Any]
    direction: str | None = None
    metric: bool = False


@dataclass
class _Tick:
    y: float
    text: str
    full: str


@dataclass
class _DrawnAxis:
    x: float
    name: str
    full: str
    note: str
    kind: str  # numeric or categorical
    ticks: list[_Tick] = field(default_factory=list)
    na_y: float | None = None
    texts: list[str] = field(default_factory=list)  # each run's value as text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _n(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _category_key(text: str) -> tuple[int, float, str]:
    """Categories in a natural order: numbers by value first, then text."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _axis(index: int, spec: ParallelAxis) -> tuple[_DrawnAxis, list[float]]:
    """An axis's drawing and each run's y on it."""
    x = _LEFT + index * _SPACING
    bottom = _TOP + _HEIGHT
    present = [v for v in spec.values if v is not None]
    numeric = bool(present) and all(_is_number(v) for v in present)
    note = ""
    if spec.direction:
        note = f"{spec.direction} is better"
    drawn = _DrawnAxis(
        x=x,
        name=_cut(spec.name, _NAME_CHARS),
        full=spec.name,
        note=note,
        kind="numeric" if numeric else "categorical",
    )
    ys: list[float] = []
    if numeric:
        numbers = [float(v) if v is not None else None for v in spec.values]
        axis: Axis = fitted_axis(numbers)
        drawn.texts = format_distinct(numbers)
        for t in axis.ticks:
            text = axis.tick_text(t)
            drawn.ticks.append(_Tick(bottom - axis.fraction(t) * _HEIGHT, text, text))
        ys = [bottom - axis.fraction(v) * _HEIGHT if v is not None else math.nan for v in numbers]
    else:
        drawn.texts = [format_value(v) if v is not None else "n/a" for v in spec.values]
        categories = sorted(
            {t for t, v in zip(drawn.texts, spec.values, strict=True) if v is not None},
            key=_category_key,
        )
        count = len(categories)
        place = {name: bottom - (_HEIGHT * (k + 0.5) / count) for k, name in enumerate(categories)}
        for name in categories:
            drawn.ticks.append(_Tick(place[name], _cut(name, _TICK_CHARS), name))
        ys = [
            place[t] if v is not None else math.nan
            for t, v in zip(drawn.texts, spec.values, strict=True)
        ]
    if any(math.isnan(y) for y in ys):
        drawn.na_y = bottom + _NA_GAP
        ys = [drawn.na_y if math.isnan(y) else y for y in ys]
    return drawn, ys


def parallel_layout(
    labels: list[str], axes: list[ParallelAxis], best: set[int] | None = None
) -> dict[str, Any]:
    """Everything ``parallel.svg`` draws, for runs named ``labels`` (in series order) over
    ``axes`` (the metric's last); ``best`` are the runs whose metric is best."""
    best = best or set()
    drawn: list[_DrawnAxis] = []
    columns: list[list[float]] = []
    for i, spec in enumerate(axes):
        axis, ys = _axis(i, spec)
        drawn.append(axis)
        columns.append(ys)
    last_x = _LEFT + (len(axes) - 1) * _SPACING if axes else _LEFT
    legend_top = _TOP + _HEIGHT + _NA_GAP + 34
    width = max(last_x + _RIGHT, 560.0)
    height = legend_top + _LEGEND_ROW * len(labels) + 8
    metric = next((a for a in drawn if axes[drawn.index(a)].metric), None)
    runs = []
    for r, label in enumerate(labels):
        style = series_style(r)
        points = [(a.x, columns[k][r]) for k, a in enumerate(drawn)]
        described = "; ".join(f"{a.full} {a.texts[r]}" for a in drawn)
        legend = _cut(label, 34)
        if metric is not None:
            legend += f" · {metric.full} {metric.texts[r]}"
        if r in best:
            legend += " ★ best"
        y = legend_top + r * _LEGEND_ROW
        runs.append(
            {
                "label": label,
                "title": f"{label}: {described}" + (" (best)" if r in best else ""),
                "colour": style.colour,
                "dash": style.dash,
                "d": "M" + "L".join(f"{_n(x)},{_n(y)}" for x, y in points),
                "markers": [marker_path(style.marker, x, y) for x, y in points],
                "legend": legend,
                "legend_y": _n(y),
                "legend_marker": marker_path(style.marker, _LEFT - 100 + 17, y),
                "best_mark": (
                    {"x": _n(points[-1][0] + 9), "y": _n(points[-1][1] + 4)}
                    if r in best and points
                    else None
                ),
            }
        )
    return {
        "width": _n(width),
        "height": _n(height),
        "top": _n(_TOP),
        "bottom": _n(_TOP + _HEIGHT),
        "axes": [
            {
                "x": _n(a.x),
                "name": a.name,
                "full": a.full,
                "note": a.note,
                "kind": a.kind,
                "ticks": [{"y": _n(t.y), "text": t.text, "full": t.full} for t in a.ticks],
                "na_y": _n(a.na_y) if a.na_y is not None else None,
            }
            for a in drawn
        ],
        "runs": runs,
        "legend_x": _n(_LEFT - 100),
        "aria": _aria(labels, drawn, best),
    }


def _aria(labels: list[str], drawn: list[_DrawnAxis], best: set[int]) -> str:
    names = ", ".join(a.full for a in drawn)
    runs = "; ".join(
        f"{label} ({series_style(r).words}): "
        + ", ".join(f"{a.full} {a.texts[r]}" for a in drawn)
        + (", best" if r in best else "")
        for r, label in enumerate(labels)
    )
    return f"Parallel coordinates of {len(labels)} runs over {names}. {runs}"


_SVG = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
).get_template("parallel.svg")


def parallel_svg(
    labels: list[str], axes: list[ParallelAxis], best: set[int] | None = None
) -> Markup:
    """The chart as one inline ``<svg>`` (role img, its values in the accessible name)."""
    return Markup(_SVG.render(**parallel_layout(labels, axes, best)).strip())
