"""Numbers as people read them, on chart labels, tables and reports alike."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

from kubeline.charts._svg import finite

__all__ = ["auc_trapezoid", "format_distinct", "format_number"]


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


def format_distinct(values: Sequence[float | None], digits: int = 4) -> list[str]:
    """The values as :func:`format_number` writes them, with more significant digits when
    fewer would print two different values alike (0.97221 and 0.97224 are not both
    ``0.9722``). None becomes ``n/a``."""
    present = {float(v) for v in values if finite(v)}
    for wanted in range(digits, 18):
        texts = {format_number(v, wanted) for v in present}
        if len(texts) == len(present):
            digits = wanted
            break
    else:
        digits = 17
    return [
        format_number(v, digits) if finite(v) else ("n/a" if v is None else format_number(v))
        for v in values
    ]


def auc_trapezoid(points: Iterable[tuple[float, float]]) -> float | None:
    """Area under a curve of (x, y) points by the trapezoid rule, after sorting by x (then y):
    the usual ROC AUC over (false positive rate, recall). None with fewer than two points."""
    clean = sorted((float(x), float(y)) for x, y in points if finite(x) and finite(y))
    if len(clean) < 2:
        return None
    return sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in itertools.pairwise(clean))
