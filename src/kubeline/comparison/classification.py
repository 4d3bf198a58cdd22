"""Runs' artifacts side by side: the artifacts that play one part in each run grouped, and
a ClassificationMetrics group compared: ROC curves overlaid with their areas, confusion
matrices in one class order. Plain data and escaped Markup, shared by the web UI's compare
page and ``kubeline.compare`` in a notebook."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from kubeline.charts import (
    Curve,
    auc_trapezoid,
    confusion_table,
    format_distinct,
    format_number,
    parse_confusion,
    roc_overlay_svg,
    roc_points,
)
from kubeline.comparison.metrics import best_indices
from kubeline.store import ArtifactRecord

__all__ = [
    "CLASSIFICATION",
    "ArtifactGroup",
    "align_confusions",
    "classification_group",
    "group_artifacts",
]

CLASSIFICATION = "system.ClassificationMetrics"
_ROC_TABLE_POINTS = 60  # points per run in the ROC curves' table


@dataclass
class ArtifactGroup:
    """The artifacts that play one part in each run (the same task's same output): one per
    run, None where a run has none."""

    title: str
    items: list[ArtifactRecord | None]
    kind: str = ""
    previews: list[Any] = field(default_factory=list)  # the web UI's previews of items


def group_artifacts(
    run_ids: list[str],
    artifacts: list[ArtifactRecord],
    paths: dict[str, str],
    *,
    merge_single: bool = False,
) -> list[ArtifactGroup]:
    """Group artifacts by producing task path and output name, in the order the runs made
    them; loop iterations' artifacts are left out (each iteration is a run of its own
    kind). With ``merge_single``, runs with one artifact each are one group even when the
    tasks are named differently (runs of different pipelines)."""
    column = {run_id: i for i, run_id in enumerate(run_ids)}
    order: dict[tuple[str, str], ArtifactGroup] = {}
    per_run: dict[str, list[ArtifactRecord]] = {}
    for artifact in artifacts:
        path = paths.get(artifact.producer_task_id, "")
        if artifact.run_id not in column or "/iteration-" in f"/{path}":
            continue
        per_run.setdefault(artifact.run_id, []).append(artifact)
        key = (path, artifact.output_name)
        group = order.get(key)
        if group is None:
            task = path.rsplit("/", 1)[-1]  # condition-branches-2/.../register-model
            title = f"{task} · {artifact.output_name}" if task else artifact.output_name
            group = order[key] = ArtifactGroup(title, [None] * len(run_ids))
        group.items[column[artifact.run_id]] = artifact  # a later one (a retry) wins
    groups = list(order.values())
    if merge_single and len(groups) > 1 and all(len(found) <= 1 for found in per_run.values()):
        items: list[ArtifactRecord | None] = [None] * len(run_ids)
        for run_id, found in per_run.items():
            items[column[run_id]] = found[0]
        titles = {g.title for g in groups}
        return [ArtifactGroup(groups[0].title if len(titles) == 1 else "one per run", items)]
    return groups


def align_confusions(
    parsed: list[tuple[list[str], list[list[float]]] | None],
) -> tuple[list[str], list[list[list[float]] | None]]:
    """Confusion matrices in one class order (the first run's, then classes only later
    runs know), so the same cell means the same thing in every table. A class a run never
    saw counts 0 there. A matrix that names a class twice cannot be aligned: None."""
    names: list[str] = []
    for found in parsed:
        if found is not None:
            names += [n for n in found[0] if n not in names]
    place = {name: k for k, name in enumerate(names)}
    aligned: list[list[list[float]] | None] = []
    for found in parsed:
        if found is None or len(set(found[0])) != len(found[0]):
            aligned.append(None)
            continue
        own, counts = found
        grid = [[0.0] * len(names) for _ in names]
        for i, true_name in enumerate(own):
            for j, predicted in enumerate(own):
                grid[place[true_name]][place[predicted]] = counts[i][j]
        aligned.append(grid)
    return names, aligned


def _roc_rows(confidence: Any) -> list[tuple[float, float, float | None]]:
    """(false positive rate, recall, threshold) rows of KFP's confidenceMetrics."""
    rows = []
    for entry in confidence if isinstance(confidence, list) else []:
        if not isinstance(entry, dict):
            continue
        fpr, tpr = entry.get("falsePositiveRate"), entry.get("recall")
        threshold = entry.get("confidenceThreshold")
        if _finite(fpr) and _finite(tpr):
            rows.append((float(fpr), float(tpr), float(threshold) if _finite(threshold) else None))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def _thin_rows(
    rows: list[tuple[float, float, float | None]],
) -> list[tuple[float, float, float | None]]:
    """At most ``_ROC_TABLE_POINTS`` rows, evenly spread, the first and last kept."""
    if len(rows) <= _ROC_TABLE_POINTS:
        return rows
    step = (len(rows) - 1) / (_ROC_TABLE_POINTS - 1)
    return [rows[round(k * step)] for k in range(_ROC_TABLE_POINTS)]


def _finite(value: Any) -> TypeGuard[float]:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def classification_group(group: ArtifactGroup, labels: list[str]) -> dict[str, Any]:
    """One ClassificationMetrics group: the ROC curves overlaid (with their AUCs and points
    as tables), and the confusion matrices in one class order."""
    curves: list[Curve] = []
    roc: list[dict[str, Any]] = []
    parsed: list[tuple[list[str], list[list[float]]] | None] = []
    problems: list[str] = []
    for i, (label, artifact) in enumerate(zip(labels, group.items, strict=True)):
        metadata = (artifact.metadata or {}) if artifact is not None else {}
        confidence = metadata.get("confidenceMetrics")
        points = []
        if confidence is not None:
            try:
                points = roc_points(confidence)
            except ValueError as exc:
                problems.append(f"{label}: the ROC curve could not be read ({exc}).")
        auc = auc_trapezoid(points) if points else None
        if points:
            curves.append(Curve(label, points, auc, i))
        rows = _roc_rows(confidence)
        roc.append(
            {
                "series": i,
                "label": label,
                "present": artifact is not None,
                "auc": auc,
                "count": len(points),
                "rows": [
                    (format_number(f), format_number(t), "n/a" if h is None else format_number(h))
                    for f, t, h in _thin_rows(rows)
                ],
                "cut": len(rows) > _ROC_TABLE_POINTS,
                "total": len(rows),
            }
        )
        matrix = metadata.get("confusionMatrix")
        found = None
        if matrix is not None:
            try:
                found = parse_confusion(matrix)
            except (ValueError, TypeError, AttributeError) as exc:
                problems.append(f"{label}: the confusion matrix could not be read ({exc}).")
        parsed.append(found)
    aucs = [r["auc"] for r in roc]
    auc_texts = format_distinct(aucs)
    best = best_indices(aucs, "higher")
    for r, text in zip(roc, auc_texts, strict=True):
        r["auc_text"] = text
        r["best"] = r["series"] in best
    names, aligned = align_confusions(parsed)
    matrices = []
    for i, (label, found, grid) in enumerate(zip(labels, parsed, aligned, strict=True)):
        table = None
        if grid is not None:
            table = confusion_table(names, grid, caption=f"Confusion matrix of {label}")
        elif found is not None:  # could not be aligned: shown in its own order
            table = confusion_table(*found, caption=f"Confusion matrix of {label} (own order)")
        matrices.append({"series": i, "label": label, "table": table})
    return {
        "title": group.title,
        "chart": roc_overlay_svg(curves, title=f"ROC curves: {group.title}") if curves else None,
        "roc": roc,
        "matrices": matrices if any(m["table"] for m in matrices) else [],
        "classes": names,
        "problems": problems,
    }
