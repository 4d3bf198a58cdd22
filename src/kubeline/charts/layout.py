"""Charts side by side: small multiples under one caption, with one legend for all of them."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from kubeline.charts.series import series_key_svg

__all__ = ["series_legend_html", "small_multiples_html"]


def series_legend_html(labels: Sequence[str], *, markers: bool = True) -> Markup:
    """A legend of series styles in order (the first label drawn in series 0's style...),
    for charts that share it; the keys are hidden from screen readers, the names are text.
    ``markers=False`` for charts whose series have no markers (histograms)."""
    items = Markup("").join(
        Markup("<li>{} {}</li>").format(series_key_svg(i, marker=markers), label)
        for i, label in enumerate(labels)
    )
    return Markup('<ul class="chart-legend-list">{}</ul>').format(items)


def small_multiples_html(
    charts: Sequence[Markup], *, caption: str, legend: Markup | None = None
) -> Markup:
    """Several charts of the same kind in a wrapping grid, under one caption and legend."""
    return Markup(
        '<figure class="small-multiples"><figcaption>{}</figcaption>{}'
        '<div class="chart-row">{}</div></figure>'
    ).format(caption, legend or "", Markup("").join(charts))
