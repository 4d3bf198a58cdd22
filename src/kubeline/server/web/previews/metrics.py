"""The kinds read from metadata alone, with no file: a Metrics table, and a
ClassificationMetrics confusion matrix (a heat map whose text keeps WCAG contrast) and ROC
curve. The matrix and curve parsers are shared with the compare page.
"""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup

from kubeline.charts import auc_trapezoid, format_number, roc_curve_svg
from kubeline.server.web.previews.fragment import Preview, PreviewContext, problem_preview, wrap
from kubeline.server.web.previews.text import is_number, message, meta_value, plural

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


def _srgb_luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_srgb_luminance(a), _srgb_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


_LOW = (247, 251, 255)  # the heat map runs from near white ...
_HIGH = (8, 48, 107)  # ... to dark blue
_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)


def _cell_colours(share: float) -> tuple[str, str]:
    """Background for a share of its row in 0..1, and black or white text, whichever
    contrasts more (one of them always reaches 4.5:1 against any colour)."""
    share = min(1.0, max(0.0, share))
    bg = tuple(round(lo + (hi - lo) * share) for lo, hi in zip(_LOW, _HIGH, strict=True))
    rgb = (bg[0], bg[1], bg[2])
    fg = _BLACK if _contrast(rgb, _BLACK) >= _contrast(rgb, _WHITE) else _WHITE
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#{:02x}{:02x}{:02x}".format(*fg)


def parse_confusion(matrix: Any) -> tuple[list[str], list[list[float]]]:
    """KFP's confusionMatrix ({rows: [{row: [...]}], annotationSpecs: [{displayName}]}) as
    (class names, counts); raises ValueError when it is not a square matrix of numbers."""
    if not isinstance(matrix, dict):
        raise ValueError("the confusion matrix is not an object")
    raw_rows = matrix.get("rows") or []
    counts: list[list[float]] = []
    for entry in raw_rows:
        row = entry.get("row") if isinstance(entry, dict) else entry
        if not isinstance(row, list) or not all(is_number(v) and math.isfinite(v) for v in row):
            raise ValueError("a confusion matrix row is not a list of numbers")
        counts.append([float(v) for v in row])
    n = len(counts)
    if n == 0 or any(len(row) != n for row in counts):
        raise ValueError("the confusion matrix is not square")
    specs = matrix.get("annotationSpecs") or []
    names = []
    for i in range(n):
        spec = specs[i] if i < len(specs) else None
        name = spec.get("displayName") if isinstance(spec, dict) else spec
        names.append(str(name) if name not in (None, "") else f"class {i}")
    return names, counts


_CONFUSION_CAPTION = (
    "Confusion matrix: rows are the true label, columns the predicted label; shading shows "
    "each cell's share of its row"
)


def confusion_table(
    names: list[str], counts: list[list[float]], caption: str = _CONFUSION_CAPTION
) -> Markup:
    """A confusion matrix as a heat-map table with each count printed in its cell."""
    head = Markup("").join(Markup('<th scope="col">{}</th>').format(name) for name in names)
    body = []
    for true_name, row in zip(names, counts, strict=True):
        total = sum(row)
        cells = []
        for predicted, count in zip(names, row, strict=True):
            share = count / total if total > 0 else 0.0
            bg, fg = _cell_colours(share)
            cells.append(
                Markup(
                    '<td style="background-color:{};color:{}" title="true {}, predicted {}: '
                    '{} ({}% of the row)">{}</td>'
                ).format(
                    bg,
                    fg,
                    true_name,
                    predicted,
                    format_number(count),
                    format_number(round(share * 100, 1)),
                    format_number(count),
                )
            )
        body.append(
            Markup('<tr><th scope="row">{}</th>{}</tr>').format(true_name, Markup("").join(cells))
        )
    return Markup(
        '<table class="confusion"><caption>{}</caption>'
        '<thead><tr><th scope="col">True \\ Predicted</th>{}</tr></thead>'
        "<tbody>{}</tbody></table>"
    ).format(caption, head, Markup("").join(body))


def _confusion_table(matrix: Any) -> tuple[Markup, str]:
    """The heat-map table of KFP's confusionMatrix, and a note; raises ValueError when it is
    not a square matrix of numbers."""
    names, counts = parse_confusion(matrix)
    n = len(names)
    return confusion_table(names, counts), f"{n}×{n} confusion matrix"


def roc_points(confidence: Any) -> list[tuple[float, float]]:
    """(false positive rate, recall) pairs from KFP's confidenceMetrics, sorted."""
    if not isinstance(confidence, list):
        raise ValueError("confidenceMetrics is not a list")
    points = []
    for entry in confidence:
        if not isinstance(entry, dict):
            continue
        fpr, tpr = entry.get("falsePositiveRate"), entry.get("recall")
        if is_number(fpr) and is_number(tpr) and math.isfinite(fpr) and math.isfinite(tpr):
            points.append((float(fpr), float(tpr)))
    return sorted(points)


#: Why the curve's area need not equal a ``roc_auc`` metric beside it (0.9996 against 1 on
#: the wine data): both are printed by format_number, but they measure different things.
_ROC_NOTE = Markup(
    '<p class="muted roc-note">The area is measured on the curve drawn here (the trapezoid '
    "rule over its {} points), so it can differ from a <code>roc_auc</code> metric, which the "
    "pipeline computes from every score: with more than two classes that metric is usually "
    "the average of one curve per class, where this curve pools the classes.</p>"
)


def classification_preview(ctx: PreviewContext) -> Preview:
    metadata = ctx.artifact.metadata or {}
    parts: list[Markup] = []
    notes: list[str] = []
    matrix, confidence = metadata.get("confusionMatrix"), metadata.get("confidenceMetrics")
    if matrix is not None:
        try:
            table, note = _confusion_table(matrix)
            parts.append(table)
            notes.append(note)
        except (ValueError, TypeError, AttributeError) as exc:
            parts.append(message(f"The confusion matrix could not be shown: {exc}."))
    if confidence is not None:
        try:
            points = roc_points(confidence)
        except ValueError as exc:
            points = []
            parts.append(message(f"The ROC curve could not be shown: {exc}."))
        if points:
            auc = auc_trapezoid(points)
            title = f"ROC curve: {ctx.label}"
            auc_text = format_number(auc) if auc is not None else "n/a"
            parts.append(
                Markup('<figure class="roc">{}</figure>').format(
                    roc_curve_svg(points, auc=auc, title=title)
                )
            )
            parts.append(
                Markup(
                    '<table class="roc-summary"><caption>ROC curve</caption><tbody>'
                    '<tr><th scope="row">Area under this curve</th><td class="num">{}</td></tr>'
                    '<tr><th scope="row">Thresholds</th><td class="num">{}</td></tr>'
                    "</tbody></table>"
                ).format(auc_text, len(points))
            )
            parts.append(_ROC_NOTE.format(len(points)))
            notes.append(f"ROC AUC {auc_text}")
        elif isinstance(confidence, list):
            parts.append(message("The ROC curve has no usable points."))
    if not parts:
        return problem_preview(
            "classification",
            "This ClassificationMetrics artifact holds neither a confusion matrix nor an "
            "ROC curve.",
        )
    return wrap("classification", Markup("").join(parts), ", ".join(notes))
