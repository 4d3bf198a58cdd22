"""The kinds read from metadata alone, with no file: a Metrics table, and a
ClassificationMetrics confusion matrix and ROC curve, drawn by :mod:`kubeline.charts` (the
notebook views draw them with the same code). The parsers are re-exported for the compare page.
"""

from __future__ import annotations

from markupsafe import Markup

from kubeline.charts.classification import (
    classification_view,
    confusion_table,
    parse_confusion,
    roc_points,
)
from kubeline.server.web.previews.fragment import Preview, PreviewContext, problem_preview, wrap
from kubeline.server.web.previews.text import is_number, meta_value, plural

__all__ = [
    "classification_preview",
    "confusion_table",
    "metrics_preview",
    "parse_confusion",
    "roc_points",
]


def metrics_preview(ctx: PreviewContext) -> Preview:
    metadata = dict(ctx.artifact.metadata or {})
    display = metadata.pop("display_name", None)
    caption = f"Metrics: {display or ctx.label}"
    if not metadata:
        return problem_preview("metrics", "This Metrics artifact holds no values.")
    rows = []
    for key, value in sorted(metadata.items()):  # the same order in every run
        numeric = is_number(value)
        rows.append(
            Markup('<tr><th scope="row">{}</th><td{}>{}</td></tr>').format(
                key, Markup(' class="num"') if numeric else Markup(""), meta_value(value)
            )
        )
    table = Markup(
        '<table class="metrics"><caption>{}</caption>'
        '<thead><tr><th scope="col">Metric</th><th scope="col">Value</th></tr></thead>'
        "<tbody>{}</tbody></table>"
    ).format(caption, Markup("").join(rows))
    return wrap("metrics", table, plural(len(metadata), "metric"))


def classification_preview(ctx: PreviewContext) -> Preview:
    view = classification_view(ctx.artifact.metadata or {}, label=ctx.label)
    if view.empty:
        return problem_preview(
            "classification",
            "This ClassificationMetrics artifact holds neither a confusion matrix nor an "
            "ROC curve.",
        )
    return wrap("classification", view.html, ", ".join(view.notes))
