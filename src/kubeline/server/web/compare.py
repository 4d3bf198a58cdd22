"""Compare runs, as the Kubeflow Pipelines and MLflow UIs do: parameters side by side with
the differences marked (and a switch to show only those), metrics with the best run marked
per metric and charted on axes that fit the values, a parallel-coordinates view of
parameters against a chosen metric, every run's ROC curve in one chart, their confusion
matrices side by side, and their HTML and Markdown reports side by side.

Each run keeps one series style (colour, dash pattern, marker) in every chart of the page,
so a run is told apart without colour; every chart has its numbers as text beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from kubeline.charts import (
    Curve,
    auc_trapezoid,
    bar_chart_svg,
    confusion_table,
    format_distinct,
    format_number,
    parse_confusion,
    roc_overlay_svg,
    roc_points,
    series_key_svg,
    series_style,
)
from kubeline.server.deps import get_settings, get_store
from kubeline.server.settings import ServerSettings
from kubeline.server.web.common import error_page, side_by_side
from kubeline.server.web.metrics import (
    best_indices,
    headline_columns,
    metric_direction,
    metrics_of_runs,
)
from kubeline.server.web.parallel import ParallelAxis, parallel_svg
from kubeline.server.web.previews import Preview, preview
from kubeline.server.web.templating import format_value, render, short_id
from kubeline.store import ArtifactRecord, RunRecord, RunStore

router = APIRouter()

_MAX_RUNS = 10
_MAX_CHARTS = 24  # metric charts drawn; the table has every metric
_MAX_AXES = 12  # parameter axes in the parallel-coordinates chart
_ROC_TABLE_POINTS = 60  # points per run in the ROC curves' table
_MARKDOWN_BUDGET = 60_000  # bytes of Markdown read for the whole page, shared by the reports
_MARKDOWN_MIN = 1_500  # but at least this much of each
_CLASSIFICATION = "system.ClassificationMetrics"
_REPORTS = {"system.HTML": "HTML", "system.Markdown": "Markdown"}
_DIRECTION_WORDS = {"higher": "↑ higher is better", "lower": "↓ lower is better"}


def _parameters(run: RunRecord) -> dict[str, Any]:
    """What the run was given, with the pipeline's defaults for what it was not."""
    definitions = run.spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    found = {n: d["defaultValue"] for n, d in definitions.items() if "defaultValue" in d}
    found.update(run.arguments or {})
    return found


# --------------------------------------------------------------------------- metrics


def metric_rows(per_run: list[dict[str, float]], names: list[str]) -> list[dict[str, Any]]:
    """One row per metric: its cells (text, and whether the run is best), which way it
    counts, and whether the runs differ. Values print with as many digits as tell them
    apart, so a marked best never looks equal to another cell."""
    rows = []
    for name in names:
        values: list[float | None] = [found.get(name) for found in per_run]
        direction = metric_direction(name)
        best = best_indices(values, direction)
        texts = format_distinct(values)
        rows.append(
            {
                "name": name,
                "direction": direction,
                "direction_words": _DIRECTION_WORDS.get(direction or "", "no best (neither way)"),
                "values": values,
                "best": best,
                "cells": [
                    {"text": text, "missing": value is None, "best": i in best}
                    for i, (text, value) in enumerate(zip(texts, values, strict=True))
                ],
                "differs": len(set(texts)) > 1,
            }
        )
    return rows


def _metric_charts(rows: list[dict[str, Any]], labels: list[str]) -> list[Markup]:
    charts = []
    for row in rows:
        if not any(v is not None for v in row["values"]):
            continue
        charts.append(
            bar_chart_svg(
                list(zip(labels, row["values"], strict=True)),
                title=row["name"],
                fit=True,
                best=row["best"],
                note=f"{row['direction']} is better" if row["direction"] else "",
            )
        )
    return charts[:_MAX_CHARTS]


# --------------------------------------------------------------------------- parallel


def _parallel(
    labels: list[str],
    parameters: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    metric: str,
) -> dict[str, Any]:
    """The parallel-coordinates chart of the parameters that differ against ``metric``,
    and the same numbers as a table."""
    differing = [row["name"] for row in side_by_side(parameters) if row["differs"]]
    shown = differing[:_MAX_AXES]
    axes = [ParallelAxis(name, [p.get(name) for p in parameters]) for name in shown]
    chosen = next((row for row in rows if row["name"] == metric), None)
    best: set[int] = set()
    if chosen is not None:
        axes.append(
            ParallelAxis(metric, chosen["values"], direction=chosen["direction"], metric=True)
        )
        best = chosen["best"]
    if not shown:
        return {"svg": None, "left_out": 0, "axes": [], "rows": []}
    table_rows = [
        {
            "series": i,
            "label": label,
            "cells": [_as_text(p.get(name)) for name in shown],
            "metric": chosen["cells"][i]["text"] if chosen else "",
            "best": i in best,
        }
        for i, (label, p) in enumerate(zip(labels, parameters, strict=True))
    ]
    return {
        "svg": parallel_svg(labels, axes, best),
        "left_out": len(differing) - len(shown),
        "axes": shown,
        "rows": table_rows,
    }


def _as_text(value: Any) -> str:
    return "n/a" if value is None else format_value(value)


# --------------------------------------------------------------------------- artifacts


@dataclass
class ArtifactGroup:
    """The artifacts that play one part in each run (the same task's same output): one per
    run, None where a run has none."""

    title: str
    items: list[ArtifactRecord | None]
    kind: str = ""
    previews: list[Preview | None] = field(default_factory=list)


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


def _classification(group: ArtifactGroup, labels: list[str]) -> dict[str, Any]:
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


def _content_url(artifact: ArtifactRecord) -> str:
    return f"/kubeline/api/artifacts/{artifact.artifact_id}/content"


def _reports(
    run_ids: list[str],
    artifacts: list[ArtifactRecord],
    paths: dict[str, str],
    settings: ServerSettings,
) -> list[ArtifactGroup]:
    """HTML and Markdown reports grouped by the task and output that made them, previewed
    as the run page does (HTML in a sandboxed frame, Markdown rendered without raw HTML);
    the Markdown read is shared out so the page stays light however many runs it shows."""
    groups: list[ArtifactGroup] = []
    for title, kind in _REPORTS.items():
        chosen = [a for a in artifacts if a.schema_title == title]
        for group in group_artifacts(run_ids, chosen, paths):
            group.kind = kind
            groups.append(group)
    markdown = sum(1 for g in groups if g.kind == "Markdown" for a in g.items if a is not None)
    share = max(_MARKDOWN_MIN, _MARKDOWN_BUDGET // max(1, markdown))
    for group in groups:
        budget = share if group.kind == "Markdown" else settings.preview_bytes
        group.previews = [
            preview(
                a,
                home=settings.home,
                content_url=_content_url(a),
                download_url=_content_url(a) + "?download=true",
                max_bytes=min(settings.preview_bytes, budget),
            )
            if a is not None
            else None
            for a in group.items
        ]
    return groups


# --------------------------------------------------------------------------- the page


@router.get("/runs/compare", response_class=HTMLResponse, name="web-compare")
def compare_page(
    request: Request,
    ids: list[str] = Query(default=[]),
    runs: list[str] = Query(default=[]),
    metric: str = "",
    only_differences: bool = False,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> HTMLResponse:
    # ``runs`` as in the Kubeflow Pipelines UI's compare links (``?runs=a,b``).
    wanted = [part for value in [*ids, *runs] for part in value.split(",") if part]
    wanted = list(dict.fromkeys(wanted))
    if len(wanted) < 2:
        return error_page(
            request,
            400,
            "Choose at least two runs",
            "Comparing needs two runs or more.",
            'On <a href="/runs">the runs page</a>, tick the runs to compare, then press “Compare”.',
        )
    if len(wanted) > _MAX_RUNS:
        return error_page(
            request,
            400,
            "Too many runs to compare",
            f"{len(wanted)} runs were chosen; compare at most {_MAX_RUNS} at once.",
        )
    found: list[RunRecord] = []
    for run_id in wanted:
        run = store.runs.get(run_id)
        if run is None:
            return error_page(request, 404, "Run not found", f"There is no run with id '{run_id}'.")
        found.append(run)
    return _page(request, found, metric, only_differences, store, settings)


def _page(
    request: Request,
    runs: list[RunRecord],
    metric: str,
    only_differences: bool,
    store: RunStore,
    settings: ServerSettings,
) -> HTMLResponse:
    """The page of these runs (each one found in the store)."""
    wanted = [r.run_id for r in runs]
    metrics = metrics_of_runs(store, runs)
    per_run = [metrics[r.run_id] for r in runs]
    names = headline_columns(metrics, limit=1000)
    metric = metric if metric in names else (names[0] if names else "")
    labels = [f"{r.display_name or r.pipeline_name} ({short_id(r.run_id)})" for r in runs]
    parameters = [_parameters(r) for r in runs]
    rows = metric_rows(per_run, names)

    paths: dict[str, str] = {}
    for run in runs:
        paths.update({t.task_id: t.path for t in store.tasks.list(run.run_id)})
    artifacts = store.artifacts.list(run_ids=wanted)
    classification = [
        _classification(group, labels)
        for group in group_artifacts(
            wanted,
            [a for a in artifacts if a.schema_title == _CLASSIFICATION],
            paths,
            merge_single=True,
        )
    ]
    parameter_rows = side_by_side(parameters)
    return render(
        request,
        "compare.html",
        {
            "nav": "runs",
            "runs": runs,
            "labels": labels,
            "series": [
                {"key": series_key_svg(i), "words": series_style(i).words} for i in range(len(runs))
            ],
            "keys": [series_key_svg(i) for i in range(len(runs))],
            "parameters": parameter_rows,
            "differing": sum(1 for row in parameter_rows if row["differs"]),
            "only_differences": only_differences,
            "metrics": rows,
            "charts": _metric_charts(rows, labels),
            "max_charts": _MAX_CHARTS,
            "metric_names": names,
            "metric": metric,
            "parallel": _parallel(labels, parameters, rows, metric) if len(runs) > 2 else None,
            "classification": classification,
            "reports": _reports(wanted, artifacts, paths, settings),
            "ids": ",".join(wanted),
        },
    )
