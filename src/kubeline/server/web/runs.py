"""Run pages: the list (filter, sort, page, headline metrics, bulk actions) and the form
that starts a run.

Bulk actions (terminate, retry, archive) call the REST API from the page's script; starting
a run is a plain form post, checked here field by field so a mistake is shown beside the
field it concerns and nothing is recorded.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kubeline.comparison.metrics import headline_columns, metrics_of_runs
from kubeline.errors import ConfigError
from kubeline.server.deps import get_manager, get_store
from kubeline.server.manager import RunManager
from kubeline.server.web.common import PAGE_SIZES, Page, error_page, not_found, query_string
from kubeline.server.web.forms import form_fields, parse_form
from kubeline.server.web.templating import STATE_WORDS, render
from kubeline.store import PipelineVersionRecord, RunStore

router = APIRouter()

#: Columns the list sorts by, as the reader names them.
SORTS = {
    "created": "created_at",
    "started": "started_at",
    "finished": "finished_at",
    "name": "display_name",
    "state": "state",
    "pipeline": "pipeline_name",
}
STATES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "SKIPPED")


def runs_table_context(
    store: RunStore,
    *,
    filters: list[tuple[str, str, Any]],
    archived: bool,
    sort: str,
    order: str,
    page: int,
    size: int,
    filters_query: str,
) -> dict[str, Any]:
    """What ``runs_table.html`` draws: one sorted page of the runs matching ``filters``,
    with their headline metrics. ``filters_query`` is the query string of the page's own
    filters, which the sort and page links keep. Shared by the runs list and the pages of
    an experiment and of a recurring run."""
    sort = sort if sort in SORTS else "created"
    order = "asc" if order == "asc" else "desc"
    storage = "ARCHIVED" if archived else "AVAILABLE"
    total = store.runs.count(storage_state=storage, filters=filters)
    where = Page.of(page, size, total)
    runs = store.runs.list(
        storage_state=storage,
        filters=filters,
        order_by=SORTS[sort],
        descending=order == "desc",
        limit=where.size,
        offset=where.offset,
    )
    metrics = metrics_of_runs(store, runs)
    sorting = query_string(sort=sort, order=order, size=where.size)
    return {
        "runs": runs,
        "metrics": metrics,
        "columns": headline_columns(metrics),
        "experiments": {e.experiment_id: e for e in store.experiments.list(limit=10_000)},
        "chosen": {"archived": archived, "sort": sort, "order": order, "size": where.size},
        "page": where,
        "page_sizes": PAGE_SIZES,
        "filters_query": filters_query,
        "base_query": f"{filters_query}&{sorting}" if filters_query else sorting,
    }


@router.get("/runs", response_class=HTMLResponse, name="web-runs")
def runs_page(
    request: Request,
    state: str = "",
    experiment: str = "",
    pipeline: str = "",
    pipeline_id: str = "",
    q: str = "",
    archived: bool = False,
    sort: str = "created",
    order: str = "desc",
    page: int = 1,
    size: int = PAGE_SIZES[0],
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    filters: list[tuple[str, str, Any]] = []
    if state in STATES:
        filters.append(("state", "EQUALS", state))
    if experiment:
        filters.append(("experiment_id", "EQUALS", experiment))
    # The filter names pipelines as runs do (the name inside the pipeline file), so runs of
    # 'kubeline run', which have no uploaded pipeline, can be chosen too. ``pipeline_id``
    # (the pipeline page's link, and older links' ``pipeline=<id>``) keeps an uploaded one's.
    pipeline_names = store.runs.pipeline_names()
    if pipeline and pipeline not in pipeline_names and store.pipelines.get(pipeline):
        pipeline, pipeline_id = "", pipeline_id or pipeline
    if pipeline:
        filters.append(("pipeline_name", "EQUALS", pipeline))
    uploaded = store.pipelines.get(pipeline_id) if pipeline_id else None
    if pipeline_id:
        filters.append(("pipeline_id", "EQUALS", pipeline_id))
    if q:
        filters.append(("display_name", "IS_SUBSTRING", q))
    table = runs_table_context(
        store,
        filters=filters,
        archived=archived,
        sort=sort,
        order=order,
        page=page,
        size=size,
        filters_query=query_string(
            state=state,
            experiment=experiment,
            pipeline=pipeline,
            pipeline_id=pipeline_id,
            q=q,
            archived=archived,
        ),
    )
    table["chosen"].update(state=state, experiment=experiment, pipeline=pipeline, q=q)
    return render(
        request,
        "runs.html",
        {
            **table,
            "nav": "runs",
            "pipeline_names": pipeline_names,
            "uploaded_pipeline": uploaded,
            "pipeline_id": pipeline_id,
            "states": STATES,
            "state_words": STATE_WORDS,
            "no_runs_at_all": table["page"].total == 0 and not store.runs.count(),
        },
    )


def _version_for(
    store: RunStore, pipeline_id: str, version_id: str
) -> PipelineVersionRecord | None:
    if version_id:
        version = store.pipeline_versions.get(version_id)
        return version if version and version.pipeline_id == pipeline_id else None
    return store.pipeline_versions.latest(pipeline_id) if pipeline_id else None


def _form_page(
    request: Request,
    store: RunStore,
    version: PipelineVersionRecord | None,
    *,
    submitted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    initial: dict[str, Any] | None = None,
    message: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    pipelines = store.pipelines.list(limit=10_000)
    pipeline = store.pipelines.get(version.pipeline_id) if version else None
    versions = store.pipeline_versions.list(version.pipeline_id, limit=10_000) if version else []
    spec = version.spec if version else {}
    values = submitted or {}
    return render(
        request,
        "run_new.html",
        {
            "nav": "runs",
            "pipelines": pipelines,
            "pipeline": pipeline,
            "versions": versions,
            "version": version,
            "fields": form_fields(spec, submitted, errors, initial) if version else [],
            "experiments": store.experiments.list(storage_state="AVAILABLE", limit=10_000),
            "default_experiment": store.experiments.ensure_default().experiment_id,
            "values": values,
            "message": message,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/runs/new", response_class=HTMLResponse, name="web-run-new")
def new_run_page(
    request: Request,
    pipeline_id: str = "",
    version_id: str = "",
    clone: str = "",
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    initial = None
    if clone:
        source = store.runs.get(clone)
        if source is None:
            return not_found(request, "Run", clone)
        initial = source.arguments
        pipeline_id = pipeline_id or (source.pipeline_id or "")
        version_id = version_id or (source.pipeline_version_id or "")
    version = _version_for(store, pipeline_id, version_id)
    if (pipeline_id or version_id) and version is None:
        return not_found(request, "Pipeline version", version_id or pipeline_id)
    return _form_page(request, store, version, initial=initial)


@router.post("/runs/new", name="web-run-create")
async def create_run(
    request: Request,
    store: RunStore = Depends(get_store),
    manager: RunManager = Depends(get_manager),
) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    version = _version_for(store, form.get("pipeline_id", ""), form.get("version_id", ""))
    if version is None:
        return error_page(
            request,
            400,
            "Choose a pipeline",
            "The form did not name a pipeline version that exists.",
            '<a href="/pipelines">Pick a pipeline</a> and press “Start a run”.',
        )
    arguments, errors = parse_form(version.spec, form)
    experiment_id = form.get("experiment_id") or store.experiments.ensure_default().experiment_id
    if store.experiments.get(experiment_id) is None:
        errors["experiment_id"] = "Choose an experiment from the list."
    if errors:
        return _form_page(
            request,
            store,
            version,
            submitted=form,
            errors=errors,
            message="The run was not started: fix the fields marked below.",
            status_code=400,
        )
    try:
        record = manager.start(
            version.spec,
            arguments,
            display_name=form.get("display_name", "").strip(),
            cache_enabled=form.get("cache") == "on",
            extra={
                "experiment_id": experiment_id,
                "pipeline_id": version.pipeline_id,
                "pipeline_version_id": version.pipeline_version_id,
            },
        )
    except ConfigError as exc:
        return _form_page(
            request, store, version, submitted=form, message=str(exc), status_code=400
        )
    store.experiments.update(experiment_id, last_run_created_at=record.created_at)
    return RedirectResponse(f"/runs/{record.run_id}", status_code=303)
