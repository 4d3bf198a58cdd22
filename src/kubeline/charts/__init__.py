"""Small SVG charts and tables drawn on the server: ROC curves, bar charts, confusion matrices.

Plain SVG and HTML strings (no JavaScript, no plotting library) returned as
:class:`markupsafe.Markup`, every label escaped. Every shape carries a ``chart-*`` class and
draws in ``currentColor``, so the page around it picks colours and fonts, light or dark.

A layer of its own: it imports only the standard library and markupsafe, so the web UI, the
notebook views and the ml reports all draw with the same code (an import-linter contract in
pyproject.toml keeps it so). Modules, by concept:

- :mod:`~kubeline.charts.numbers`: numbers as people read them;
- :mod:`~kubeline.charts.axes`: value axes and their ticks;
- :mod:`~kubeline.charts.series`: the styles that tell runs apart without colour;
- :mod:`~kubeline.charts.colours`: fill scales whose text keeps WCAG contrast;
- :mod:`~kubeline.charts.roc`, :mod:`~kubeline.charts.bars`,
  :mod:`~kubeline.charts.histogram`, :mod:`~kubeline.charts.heatmap`: the charts;
- :mod:`~kubeline.charts.layout`: small multiples and a legend they share;
- :mod:`~kubeline.charts.classification`: a KFP ClassificationMetrics artifact's confusion
  matrix and ROC curve, from its metadata.
"""

from __future__ import annotations

from kubeline.charts.axes import Axis, fitted_axis, zero_axis
from kubeline.charts.bars import bar_chart_svg
from kubeline.charts.classification import (
    ClassificationView,
    classification_html,
    classification_view,
    confusion_table,
    parse_confusion,
    roc_points,
)
from kubeline.charts.heatmap import confusion_heatmap_svg, heatmap_svg
from kubeline.charts.histogram import bin_edges, histogram_counts, histogram_svg
from kubeline.charts.layout import series_legend_html, small_multiples_html
from kubeline.charts.numbers import auc_trapezoid, format_distinct, format_number
from kubeline.charts.roc import Curve, roc_curve_svg, roc_overlay_svg
from kubeline.charts.series import (
    SERIES,
    SeriesStyle,
    marker_path,
    series_key_svg,
    series_style,
    thin,
)

__all__ = [
    "SERIES",
    "Axis",
    "ClassificationView",
    "Curve",
    "SeriesStyle",
    "auc_trapezoid",
    "bar_chart_svg",
    "bin_edges",
    "classification_html",
    "classification_view",
    "confusion_heatmap_svg",
    "confusion_table",
    "fitted_axis",
    "format_distinct",
    "format_number",
    "heatmap_svg",
    "histogram_counts",
    "histogram_svg",
    "marker_path",
    "parse_confusion",
    "roc_curve_svg",
    "roc_overlay_svg",
    "roc_points",
    "series_key_svg",
    "series_legend_html",
    "series_style",
    "small_multiples_html",
    "thin",
    "zero_axis",
]
