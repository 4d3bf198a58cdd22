"""Colour scales whose printed text stays readable: each fill comes with black or white text,
whichever reaches the higher WCAG contrast (one of them always reaches 4.5:1)."""

from __future__ import annotations

__all__ = [
    "RGB",
    "contrast_ratio",
    "diverging_colour",
    "hex_colour",
    "sequential_colour",
    "text_colour",
]

RGB = tuple[int, int, int]

_LOW: RGB = (247, 251, 255)  # the sequential scale runs from near white ...
_HIGH: RGB = (8, 48, 107)  # ... to dark blue
_NEGATIVE: RGB = (33, 102, 172)  # the diverging scale: blue below zero ...
_MIDDLE: RGB = (247, 247, 247)  # ... near white at zero ...
_POSITIVE: RGB = (178, 24, 43)  # ... red above
_BLACK: RGB = (0, 0, 0)
_WHITE: RGB = (255, 255, 255)


def _luminance(rgb: RGB) -> float:
    """WCAG's relative luminance of an sRGB colour."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG's contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_colour(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    r, g, bl = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


def sequential_colour(share: float) -> RGB:
    """Near white at 0 to dark blue at 1 (clamped): counts, shares of a row."""
    return _mix(_LOW, _HIGH, share)


def diverging_colour(value: float) -> RGB:
    """Blue at -1, near white at 0, red at +1 (clamped): correlations."""
    if value < 0:
        return _mix(_MIDDLE, _NEGATIVE, -value)
    return _mix(_MIDDLE, _POSITIVE, value)


def text_colour(background: RGB) -> RGB:
    """Black or white, whichever contrasts more with ``background``."""
    if contrast_ratio(background, _BLACK) >= contrast_ratio(background, _WHITE):
        return _BLACK
    return _WHITE
