"""Experiments (groups of runs) and recurring runs (runs started on a schedule).

Creating, archiving, enabling and deleting go through the REST API from the page's script,
so these pages show exactly what ``kfp.Client`` would see.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from kubeline.server.deps import get_store
from kubeline.server.web.common import Page, query_string
from kubeline.server.web.templating import render
from kubeline.store import RunStore

router = APIRouter()


@router.get("/experiments", response_class=HTMLResponse, name="web-experiments")
def experiments_page(
    request: Request, archived: bool = False, page: int = 1, store: RunStore = Depends(get_store)
) -> HTMLResponse:
    storage = "ARCHIVED" if archived else "AVAILABLE"
    total = store.experiments.count(storage_state=storage)
    where = Page.of(page, 50, total)
    found = store.experiments.list(storage_state=storage, limit=where.size, offset=where.offset)
    rows = [
        {
            "experiment": e,
            "runs": store.runs.count(experiment_id=e.experiment_id, storage_state="AVAILABLE"),
            "running": store.runs.count(experiment_id=e.experiment_id, state="RUNNING"),
        }
        for e in found
    ]
    return render(
        request,
        "experiments.html",
        {
            "nav": "experiments",
            "rows": rows,
            "archived": archived,
            "page": where,
            "base_query": query_string(archived=archived),
        },
    )


@router.get("/recurring", response_class=HTMLResponse, name="web-recurring")
def recurring_page(
    request: Request, page: int = 1, store: RunStore = Depends(get_store)
) -> HTMLResponse:
    total = store.recurring_runs.count()
    where = Page.of(page, 50, total)
    found = store.recurring_runs.list(limit=where.size, offset=where.offset)
    pipelines = {p.pipeline_id: p for p in store.pipelines.list(limit=10_000)}
    experiments = {e.experiment_id: e for e in store.experiments.list(limit=10_000)}
    rows = [
        {
            "recurring": r,
            "pipeline": pipelines.get(r.pipeline_id or ""),
            "experiment": experiments.get(r.experiment_id),
            "runs": store.runs.count(filters=[("recurring_run_id", "EQUALS", r.recurring_run_id)]),
        }
        for r in found
    ]
    versions = {
        p.pipeline_id: store.pipeline_versions.latest(p.pipeline_id) for p in pipelines.values()
    }
    return render(
        request,
        "recurring.html",
        {
            "nav": "recurring",
            "rows": rows,
            "page": where,
            "base_query": "",
            "pipelines": list(pipelines.values()),
            "versions": versions,
            "experiments": [e for e in experiments.values() if e.storage_state == "AVAILABLE"],
        },
    )
