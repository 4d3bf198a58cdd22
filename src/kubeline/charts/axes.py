"""Value axes: where the ticks go and how they are labelled, from zero or fitted to the data."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from kubeline.charts._svg import finite
from kubeline.charts.numbers import format_number

__all__ = ["Axis", "fitted_axis", "nice_step", "zero_axis"]


def nice_step(span: float, count: int = 4) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``count`` intervals."""
    raw = span / count
    power: float = 10 ** math.floor(math.log10(raw))  # int ** int is typed Any
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


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
    present = [float(v) for v in values if finite(v)]
    lo, hi = min([0.0, *present]), max([0.0, *present])
    if lo == hi:
        hi = 1.0
    step = nice_step(hi - lo)
    lo = math.floor(lo / step - 1e-9) * step if lo < 0 else 0.0
    hi = math.ceil(hi / step - 1e-9) * step if hi > 0 else 0.0
    return Axis(lo, hi, step)


def fitted_axis(values: Iterable[float | None], count: int = 4) -> Axis:
    """An axis that fits the values, so close ones look different: their range plus a
    quarter of it on each side, widened to round ticks. It starts at zero only when zero is
    near (within one range of the values); scores inside 0..1 keep the axis inside 0..1."""
    present = [float(v) for v in values if finite(v)]
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
    step = nice_step(b - a, count)
    a = math.floor(a / step + 1e-9) * step
    b = math.ceil(b / step - 1e-9) * step
    if b <= a:
        b = a + step
    return Axis(round(a, 12), round(b, 12), step)
