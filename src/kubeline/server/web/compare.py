"""Compare runs: parameters and metrics side by side, differences marked, and one metric
charted across the runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from kubeline.server.deps import get_store
from kubeline.server.web.charts import bar_chart_svg
from kubeline.server.web.common import error_page, side_by_side
from kubeline.server.web.metrics import headline_columns, metrics_of_runs
from kubeline.server.web.templating import render, short_id
from kubeline.store import RunRecord, RunStore

router = APIRouter()

_MAX_RUNS = 10


def _parameters(run: RunRecord) -> dict[str, Any]:
    """What the run was given, with the pipeline's defaults for what it was not."""
    definitions = run.spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    found = {n: d["defaultValue"] for n, d in definitions.items() if "defaultValue" in d}
    found.update(run.arguments or {})
    return found


@router.get("/runs/compare", response_class=HTMLResponse, name="web-compare")
def compare_page(
    request: Request,
    ids: list[str] = Query(default=[]),
    metric: str = "",
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    wanted = [part for value in ids for part in value.split(",") if part]
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
    runs = []
    for run_id in wanted:
        run = store.get_run(run_id)
        if run is None:
            return error_page(request, 404, "Run not found", f"There is no run with id '{run_id}'.")
        runs.append(run)
    metrics = metrics_of_runs(store, runs)
    per_run = [metrics[r.run_id] for r in runs]
    names = headline_columns(metrics, limit=1000)
    metric = metric if metric in names else (names[0] if names else "")
    labels = [f"{r.display_name or r.pipeline_name} ({short_id(r.run_id)})" for r in runs]
    chart = (
        bar_chart_svg(
            [(label, found.get(metric)) for label, found in zip(labels, per_run, strict=True)],
            title=metric,
        )
        if metric
        else ""
    )
    return render(
        request,
        "compare.html",
        {
            "nav": "runs",
            "runs": runs,
            "labels": labels,
            "parameters": side_by_side([_parameters(r) for r in runs]),
            "metrics": side_by_side(per_run),
            "metric_names": names,
            "metric": metric,
            "chart": chart,
            "ids": ",".join(wanted),
        },
    )
