"""Compare runs, as the Kubeflow Pipelines and MLflow UIs do: parameters side by side with
the differences marked (and a switch to show only those), metrics with the best run marked
per metric and charted on axes that fit the values, a parallel-coordinates view of
parameters against a chosen metric, every run's ROC curve in one chart, their confusion
matrices side by side, and their HTML and Markdown reports side by side.

Each run keeps one series style (colour, dash pattern, marker) in every chart of the page,
so a run is told apart without colour; every chart has its numbers as text beside it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from kubeline.charts import series_key_svg, series_style
from kubeline.comparison import (
    CLASSIFICATION,
    ArtifactGroup,
    align_confusions,
    classification_group,
    group_artifacts,
    headline_columns,
    metric_charts,
    metric_rows,
    metrics_of_runs,
    parameters_of,
    side_by_side,
)
from kubeline.server.deps import get_settings, get_store
from kubeline.server.settings import ServerSettings
from kubeline.server.web.common import error_page
from kubeline.server.web.parallel import ParallelAxis, parallel_svg
from kubeline.server.web.previews import preview
from kubeline.server.web.templating import format_value, render, short_id
from kubeline.store import ArtifactRecord, RunRecord, RunStore

# The pure parts (metric rows, artifact groups, aligned confusion matrices) live in
# kubeline.comparison, shared with kubeline.compare in a notebook; named here as before.
__all__ = ["align_confusions", "compare_page", "group_artifacts", "metric_rows", "router"]

router = APIRouter()

_MAX_RUNS = 10
_MAX_CHARTS = 24  # metric charts drawn; the table has every metric
_MAX_AXES = 12  # parameter axes in the parallel-coordinates chart
_MARKDOWN_BUDGET = 60_000  # bytes of Markdown read for the whole page, shared by the reports
_MARKDOWN_MIN = 1_500  # but at least this much of each
_REPORTS = {"system.HTML": "HTML", "system.Markdown": "Markdown"}


# --------------------------------------------------------------------------- metrics


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
    parameters = [parameters_of(r) for r in runs]
    rows = metric_rows(per_run, names)

    paths: dict[str, str] = {}
    for run in runs:
        paths.update({t.task_id: t.path for t in store.tasks.list(run.run_id)})
    artifacts = store.artifacts.list(run_ids=wanted)
    classification = [
        classification_group(group, labels)
        for group in group_artifacts(
            wanted,
            [a for a in artifacts if a.schema_title == CLASSIFICATION],
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
            "charts": metric_charts(rows, labels, limit=_MAX_CHARTS),
            "max_charts": _MAX_CHARTS,
            "metric_names": names,
            "metric": metric,
            "parallel": _parallel(labels, parameters, rows, metric) if len(runs) > 2 else None,
            "classification": classification,
            "reports": _reports(wanted, artifacts, paths, settings),
            "ids": ",".join(wanted),
        },
    )
