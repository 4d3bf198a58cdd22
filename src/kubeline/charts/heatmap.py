"""Heat maps: a grid of cells coloured by value (correlations, confusion matrices), each with
its value in words for screen readers and, when the cells are big enough, printed in it."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from kubeline.charts._svg import coord, finite, short, svg_open, text
from kubeline.charts.colours import (
    RGB,
    diverging_colour,
    hex_colour,
    sequential_colour,
    text_colour,
)
from kubeline.charts.numbers import format_number

__all__ = ["confusion_heatmap_svg", "heatmap_svg"]

_LABEL_CHARS = 22
_MISSING: RGB = (203, 210, 217)  # a cell without a value: grey, and "n/a" in its title
_CHAR_W = 6.6  # about how wide a character of the 11 px labels is


def _cell_size(count: int) -> float:
    return max(14.0, min(56.0, 380.0 / max(count, 1)))


def heatmap_svg(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    title: str,
    diverging: bool = False,
    lo: float | None = None,
    hi: float | None = None,
    shades: Sequence[Sequence[float]] | None = None,
    show_values: bool | None = None,
    x_title: str = "",
    y_title: str = "",
    legend: str = "",
) -> Markup:
    """A grid with one cell per (row, column) of ``values``.

    Colours: ``diverging`` runs blue (``lo``, default -1) - white (0) - red (``hi``, default
    1), else near white (``lo``, default the smallest value) to dark blue (``hi``, default the
    largest). ``shades`` (0..1 per cell) replaces the value as what colours a cell, such as a
    count's share of its row. Each cell's text is black or white, whichever reads better.
    ``show_values`` prints the numbers in the cells (default: when they fit); every cell has
    a ``<title>`` with its row, column and value either way. ``legend`` names the scale.
    """
    present = [float(v) for row in values for v in row if finite(v)]
    if diverging:
        lo, hi = -1.0 if lo is None else lo, 1.0 if hi is None else hi
    else:
        lo = min(present, default=0.0) if lo is None else lo
        hi = max(present, default=1.0) if hi is None else hi
    cell = _cell_size(max(len(rows), len(columns)))
    if show_values is None:
        show_values = cell >= 30
    row_w = 10 + _CHAR_W * max((len(short(r, _LABEL_CHARS)) for r in rows), default=1)
    col_h = 10 + 0.72 * _CHAR_W * max((len(short(c, _LABEL_CHARS)) for c in columns), default=1)
    left = row_w + (22.0 if y_title else 0.0)
    top = 30.0
    grid_w, grid_h = cell * len(columns), cell * len(rows)
    legend_h = 34.0
    key_w = 11 * 14.0 + (12 + 5.8 * len(legend) if legend else 0.0)  # see _scale_key
    width = max(left + grid_w, left + key_w, 244.0) + 16
    height = top + grid_h + col_h + (18.0 if x_title else 0.0) + legend_h

    def colour(i: int, j: int, value: float | None) -> RGB:
        if shades is not None:
            return sequential_colour(shades[i][j])
        if value is None or not finite(value):
            return _MISSING
        if diverging:
            bound = max(abs(lo), abs(hi)) or 1.0
            return diverging_colour(value / bound)
        return sequential_colour((value - lo) / (hi - lo) if hi > lo else 0.0)

    aria = f"{title}: heat map of {len(rows)} rows by {len(columns)} columns"
    if legend:
        aria += f"; colour shows {legend}"
    parts = [
        svg_open("chart chart-heatmap", width, height, aria),
        Markup("<title>{}</title>").format(title),
        text(width / 2, 18, title, cls="chart-label chart-title", anchor="middle", size=13),
    ]
    # The cells share one white outline (set once: a 25 x 25 map has 625 of them); the
    # labels are drawn after the group, outside it, and the values in it have no outline.
    parts.append(Markup('<g class="chart-cells" stroke="#ffffff" stroke-width="1">'))
    row_labels: list[Markup] = []
    for i, (name, row) in enumerate(zip(rows, values, strict=True)):
        y = top + i * cell
        row_labels.append(
            Markup("<g>{}{}</g>").format(
                Markup("<title>{}</title>").format(name),
                text(
                    left - 6,
                    y + cell / 2 + 4,
                    short(name, _LABEL_CHARS),
                    cls="chart-label",
                    anchor="end",
                ),
            )
        )
        for j, (column, value) in enumerate(zip(columns, row, strict=True)):
            x = left + j * cell
            rgb = colour(i, j, value)
            shown = format_number(value, 2) if value is not None and finite(value) else "n/a"
            words = f"{name}, {column}: {format_number(value) if finite(value) else 'n/a'}"
            parts.append(
                Markup(
                    '<g class="chart-cell"><title>{}</title><rect x="{}" y="{}" width="{}" '
                    'height="{}" fill="{}"/>'
                ).format(words, coord(x), coord(y), coord(cell), coord(cell), hex_colour(rgb))
            )
            if show_values:
                parts.append(
                    Markup(
                        '<text class="chart-cell-value" x="{}" y="{}" text-anchor="middle" '
                        'font-size="{}" fill="{}" stroke="none">{}</text>'
                    ).format(
                        coord(x + cell / 2),
                        coord(y + cell / 2 + 4),
                        11 if cell >= 36 else 9,
                        hex_colour(text_colour(rgb)),
                        shown,
                    )
                )
            parts.append(Markup("</g>"))
    parts.append(Markup("</g>"))
    parts += row_labels
    base = top + grid_h
    for j, column in enumerate(columns):
        x = left + j * cell + cell / 2 + 3
        parts.append(
            text(
                x,
                base + 8,
                short(column, _LABEL_CHARS),
                cls="chart-label",
                anchor="end",
                extra=f' transform="rotate(-45 {coord(x)} {coord(base + 8)})"',
            )
        )
    if x_title:
        parts.append(
            text(left + grid_w / 2, base + col_h + 10, x_title, cls="chart-label", anchor="middle")
        )
    if y_title:
        mid = top + grid_h / 2
        parts.append(
            text(
                12,
                mid,
                y_title,
                cls="chart-label",
                anchor="middle",
                extra=f' transform="rotate(-90 12 {coord(mid)})"',
            )
        )
    parts.append(_scale_key(left, height - legend_h + 6, lo, hi, diverging, shades, legend))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _scale_key(
    x: float,
    y: float,
    lo: float,
    hi: float,
    diverging: bool,
    shades: Sequence[Sequence[float]] | None,
    words: str,
) -> Markup:
    """The colour scale as eleven swatches, its ends labelled (no gradient: no ids to clash
    when several charts share a page)."""
    steps, w = 11, 14.0
    parts = [Markup('<g class="chart-key" aria-hidden="true">')]
    for k in range(steps):
        t = k / (steps - 1)
        rgb = sequential_colour(t) if not diverging else diverging_colour(2 * t - 1)
        parts.append(
            Markup('<rect x="{}" y="{}" width="{}" height="10" fill="{}"/>').format(
                coord(x + k * w), coord(y), coord(w), hex_colour(rgb)
            )
        )
    if shades is not None:
        low_text, high_text = "0%", "100%"
    elif diverging:
        bound = max(abs(lo), abs(hi)) or 1.0
        low_text, high_text = format_number(-bound, 3), format_number(bound, 3)
    else:
        low_text, high_text = format_number(lo, 3), format_number(hi, 3)
    parts.append(text(x, y + 22, low_text, cls="chart-label chart-tick", size=10))
    parts.append(
        text(x + steps * w, y + 22, high_text, cls="chart-label chart-tick", anchor="end", size=10)
    )
    if words:
        parts.append(text(x + steps * w + 8, y + 9, words, cls="chart-label chart-note", size=10))
    parts.append(Markup("</g>"))
    return Markup("").join(parts)


def confusion_heatmap_svg(
    names: Sequence[str], counts: Sequence[Sequence[float]], *, title: str = "Confusion matrix"
) -> Markup:
    """A confusion matrix as a heat map: rows the true class, columns the predicted one, each
    cell's count printed and shaded by its share of the row (so a small class's errors show)."""
    shares = []
    for row in counts:
        total = sum(row)
        shares.append([c / total if total > 0 else 0.0 for c in row])
    return heatmap_svg(
        names,
        names,
        [[float(c) for c in row] for row in counts],
        title=title,
        shades=shares,
        show_values=True,
        x_title="Predicted",
        y_title="True",
        legend="share of the row",
    )
