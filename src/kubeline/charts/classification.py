"""A KFP ClassificationMetrics artifact drawn from its metadata alone: the confusion matrix as
a heat-map table (its text keeps WCAG contrast) and the ROC curve.

Plain data in (the artifact's metadata dict), escaped :class:`~markupsafe.Markup` out, so the
web UI's preview, its compare page and the notebook views show the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from kubeline.charts._svg import Pt, finite
from kubeline.charts.colours import hex_colour, sequential_colour, text_colour
from kubeline.charts.numbers import auc_trapezoid, format_number
from kubeline.charts.roc import roc_curve_svg

__all__ = [
    "CONFUSION_CAPTION",
    "ClassificationView",
    "classification_html",
    "classification_view",
    "confusion_table",
    "parse_confusion",
    "roc_points",
]

CONFUSION_CAPTION = (
    "Confusion matrix: rows are the true label, columns the predicted label; shading shows "
    "each cell's share of its row"
)


def parse_confusion(matrix: Any) -> tuple[list[str], list[list[float]]]:
    """KFP's confusionMatrix ({rows: [{row: [...]}], annotationSpecs: [{displayName}]}) as
    (class names, counts); raises ValueError when it is not a square matrix of numbers."""
    if not isinstance(matrix, dict):
        raise ValueError("the confusion matrix is not an object")
    raw_rows = matrix.get("rows") or []
    counts: list[list[float]] = []
    for entry in raw_rows:
        row = entry.get("row") if isinstance(entry, dict) else entry
        if not isinstance(row, list) or not all(finite(v) for v in row):
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


def _cell_colours(share: float) -> tuple[str, str]:
    """Background for a share of its row in 0..1, and the text colour that reads on it."""
    bg = sequential_colour(share)
    return hex_colour(bg), hex_colour(text_colour(bg))


def confusion_table(
    names: list[str], counts: list[list[float]], caption: str = CONFUSION_CAPTION
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


def roc_points(confidence: Any) -> list[Pt]:
    """(false positive rate, recall) pairs from KFP's confidenceMetrics, sorted; raises
    ValueError when it is not a list (entries without both numbers are left out)."""
    if not isinstance(confidence, list):
        raise ValueError("confidenceMetrics is not a list")
    points = []
    for entry in confidence:
        if not isinstance(entry, dict):
            continue
        fpr, tpr = entry.get("falsePositiveRate"), entry.get("recall")
        if finite(fpr) and finite(tpr):
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


def _message(text: str) -> Markup:
    """A sentence saying why a part is not shown (styled by the web UI's preview CSS)."""
    return Markup('<p class="preview-message">{}</p>').format(text)


@dataclass(frozen=True)
class ClassificationView:
    """What a ClassificationMetrics artifact shows: the HTML (empty when it holds neither a
    matrix nor a curve) and short notes ("3×3 confusion matrix", "ROC AUC 0.99")."""

    html: Markup
    notes: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.html


def _roc_parts(confidence: Any, label: str) -> tuple[list[Markup], str | None]:
    try:
        points = roc_points(confidence)
    except ValueError as exc:
        return [_message(f"The ROC curve could not be shown: {exc}.")], None
    if not points:
        return [_message("The ROC curve has no usable points.")], None
    auc = auc_trapezoid(points)
    auc_text = format_number(auc) if auc is not None else "n/a"
    figure = Markup('<figure class="roc">{}</figure>').format(
        roc_curve_svg(points, auc=auc, title=f"ROC curve: {label}")
    )
    summary = Markup(
        '<table class="roc-summary"><caption>ROC curve</caption><tbody>'
        '<tr><th scope="row">Area under this curve</th><td class="num">{}</td></tr>'
        '<tr><th scope="row">Thresholds</th><td class="num">{}</td></tr>'
        "</tbody></table>"
    ).format(auc_text, len(points))
    return [figure, summary, _ROC_NOTE.format(len(points))], f"ROC AUC {auc_text}"


def classification_view(metadata: Mapping[str, Any], *, label: str) -> ClassificationView:
    """The confusion matrix and ROC curve of a ClassificationMetrics artifact's metadata
    (``confusionMatrix``, ``confidenceMetrics``); a part that is malformed is replaced by a
    sentence saying why. ``label`` names the artifact in the chart's title."""
    parts: list[Markup] = []
    notes: list[str] = []
    matrix, confidence = metadata.get("confusionMatrix"), metadata.get("confidenceMetrics")
    if matrix is not None:
        try:
            names, counts = parse_confusion(matrix)
            parts.append(confusion_table(names, counts))
            notes.append(f"{len(names)}×{len(names)} confusion matrix")
        except (ValueError, TypeError, AttributeError) as exc:
            parts.append(_message(f"The confusion matrix could not be shown: {exc}."))
    if confidence is not None:
        found, note = _roc_parts(confidence, label)
        parts += found
        if note:
            notes.append(note)
    return ClassificationView(Markup("").join(parts), tuple(notes))


def classification_html(metadata: Mapping[str, Any], *, label: str) -> Markup:
    """:func:`classification_view`'s HTML, or a sentence when there is nothing to draw."""
    view = classification_view(metadata, label=label)
    if view.empty:
        return _message(
            "This ClassificationMetrics artifact holds neither a confusion matrix nor an ROC curve."
        )
    return view.html
