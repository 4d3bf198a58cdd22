"""The pieces every chart shares: short coordinates, a text element, the finite-number test.

Private to the package: the charts' public names are in :mod:`kubeline.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeGuard

from markupsafe import Markup

#: Maps a value to a pixel coordinate.
Scale = Callable[[float], float]
#: A point (x, y), in data units or pixels.
Pt = tuple[float, float]

SVG_NS = "http://www.w3.org/2000/svg"


def finite(value: object) -> TypeGuard[float]:
    """A real, finite number (bool excluded); says so to the type checker too."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def coord(value: float) -> str:
    """A coordinate, short enough to keep the SVG small."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def text(
    x: float,
    y: float,
    content: str,
    *,
    cls: str,
    anchor: str = "start",
    size: int = 11,
    extra: str = "",
) -> Markup:
    """A ``<text>`` in ``currentColor``; ``content`` is escaped (``extra`` is trusted markup
    the charts write themselves, such as a rotation)."""
    return Markup(
        '<text class="{}" x="{}" y="{}" text-anchor="{}" font-size="{}" fill="currentColor"{}>'
        "{}</text>"
    ).format(cls, coord(x), coord(y), anchor, size, Markup(extra), content)


def short(label: str, limit: int) -> str:
    """``label`` cut to ``limit`` characters with an ellipsis (the full text goes in a
    ``<title>`` beside it)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"


def svg_open(cls: str, width: float, height: float, aria: str) -> Markup:
    """The opening ``<svg>`` of a chart: its size, its classes and its accessible name."""
    return Markup(
        '<svg xmlns="{}" class="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'role="img" aria-label="{}">'
    ).format(SVG_NS, cls, coord(width), coord(height), coord(width), coord(height), aria)
