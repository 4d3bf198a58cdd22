"""The page of one experiment and of one recurring run: its settings, then its runs in the
same table as the runs list (``runs_table.html``, filled by ``runs.runs_table_context``), so
sorting, paging, metrics and the bulk actions work the same everywhere.

Archiving, restoring, enabling and disabling go through the REST API from the page's
script, as on the lists.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from kubeline.server.deps import get_store
from kubeline.server.web.common import PAGE_SIZES, not_found, query_string
from kubeline.server.web.runs import runs_table_context
from kubeline.server.web.templating import render
from kubeline.store import RunStore

__all__ = ["router"]

router = APIRouter()


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse, name="web-experiment")
def experiment_page(
    request: Request,
    experiment_id: str,
    archived: bool = False,
    sort: str = "created",
    order: str = "desc",
    page: int = 1,
    size: int = PAGE_SIZES[0],
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    """An experiment: its name, description and state, its recurring runs, its runs."""
    experiment = store.experiments.get(experiment_id)
    if experiment is None:
        return not_found(request, "Experiment", experiment_id)
    table = runs_table_context(
        store,
        filters=[("experiment_id", "EQUALS", experiment_id)],
        archived=archived,
        sort=sort,
        order=order,
        page=page,
        size=size,
        filters_query=query_string(archived=archived),
    )
    return render(
        request,
        "experiment.html",
        {
            **table,
            "nav": "experiments",
            "experiment": experiment,
            "heading": experiment.display_name or experiment.name,
            "available": store.runs.count(experiment_id=experiment_id, storage_state="AVAILABLE"),
            "archived_runs": store.runs.count(
                experiment_id=experiment_id, storage_state="ARCHIVED"
            ),
            "running": store.runs.count(experiment_id=experiment_id, state="RUNNING"),
            "recurring": store.recurring_runs.list(experiment_id=experiment_id, limit=100),
        },
    )


@router.get("/recurring/{recurring_run_id}", response_class=HTMLResponse, name="web-recurring-run")
def recurring_run_page(
    request: Request,
    recurring_run_id: str,
    archived: bool = False,
    sort: str = "created",
    order: str = "desc",
    page: int = 1,
    size: int = PAGE_SIZES[0],
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    """A recurring run: its schedule, pipeline, experiment and parameters, and its runs."""
    recurring = store.recurring_runs.get(recurring_run_id)
    if recurring is None:
        return not_found(request, "Recurring run", recurring_run_id)
    mine = [("recurring_run_id", "EQUALS", recurring_run_id)]
    table = runs_table_context(
        store,
        filters=mine,
        archived=archived,
        sort=sort,
        order=order,
        page=page,
        size=size,
        filters_query=query_string(archived=archived),
    )
    pipeline = store.pipelines.get(recurring.pipeline_id) if recurring.pipeline_id else None
    version = (
        store.pipeline_versions.get(recurring.pipeline_version_id)
        if recurring.pipeline_version_id
        else None
    )
    return render(
        request,
        "recurring_run.html",
        {
            **table,
            "nav": "recurring",
            "recurring": recurring,
            "pipeline": pipeline,
            "pipeline_version": version,
            "experiment": store.experiments.get(recurring.experiment_id)
            if recurring.experiment_id
            else None,
            "available": store.runs.count(filters=mine, storage_state="AVAILABLE"),
            "archived_runs": store.runs.count(filters=mine, storage_state="ARCHIVED"),
        },
    )
