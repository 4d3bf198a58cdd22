"""The form that creates a recurring run, with the start-a-run form's typed parameter
fields (``forms.py``) instead of a JSON object to type by hand.

The form posts here and is checked field by field (parameters with the engine's own rules,
the schedule with the API's), so a mistake is shown beside its field with what was typed
kept; the recurring run itself is made by the REST API's own code, so ``kfp.Client`` and
the page create the same thing.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kubeline.errors import ConfigError, UserError
from kubeline.server.api.recurring import (
    CronSchedule,
    PeriodicSchedule,
    RecurringBody,
    Trigger,
    create_recurring_run,
)
from kubeline.server.api.runs import Reference, RuntimeConfig
from kubeline.server.deps import get_store
from kubeline.server.schedules import check_cron
from kubeline.server.web.forms import form_fields, parse_form
from kubeline.server.web.templating import render
from kubeline.store import PipelineVersionRecord, RunStore

__all__ = ["router"]

router = APIRouter()

_ALL = 10_000
#: What the form starts with: every hour, one run at a time.
_DEFAULTS = {"kind": "interval", "schedule": "3600", "max_concurrency": "1"}


def _latest(store: RunStore, pipeline_id: str) -> PipelineVersionRecord | None:
    """The version a recurring run of ``pipeline_id`` runs: its latest, as the list says."""
    return store.pipeline_versions.latest(pipeline_id) if pipeline_id else None


def _page(
    request: Request,
    store: RunStore,
    pipeline_id: str,
    *,
    submitted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    pipelines = [
        p for p in store.pipelines.list(limit=_ALL) if _latest(store, p.pipeline_id) is not None
    ]
    if not pipeline_id and pipelines:
        pipeline_id = pipelines[0].pipeline_id
    version = _latest(store, pipeline_id)
    return render(
        request,
        "recurring_new.html",
        {
            "nav": "recurring",
            "pipelines": pipelines,
            "pipeline": store.pipelines.get(pipeline_id) if version else None,
            "version": version,
            "fields": form_fields(version.spec, submitted, errors) if version else [],
            "experiments": store.experiments.list(storage_state="AVAILABLE", limit=_ALL),
            "default_experiment": store.experiments.ensure_default().experiment_id,
            "values": {**_DEFAULTS, **(submitted or {})},
            "errors": errors or {},
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/recurring/new", response_class=HTMLResponse, name="web-recurring-new")
def new_recurring_page(
    request: Request, pipeline_id: str = "", store: RunStore = Depends(get_store)
) -> HTMLResponse:
    return _page(request, store, pipeline_id)


def _trigger(form: dict[str, str], errors: dict[str, str]) -> Trigger | None:
    """The schedule from the form, or None with the reason in ``errors["schedule"]``."""
    text = form.get("schedule", "").strip()
    if form.get("kind") == "cron":
        try:
            check_cron(text)
        except ConfigError as exc:
            errors["schedule"] = str(exc)
            return None
        return Trigger(cron_schedule=CronSchedule(cron=text))
    if not text.isdigit() or int(text) <= 0:
        errors["schedule"] = "Give a whole number of seconds greater than 0, or choose cron."
        return None
    return Trigger(periodic_schedule=PeriodicSchedule(interval_second=int(text)))


def _max_concurrency(form: dict[str, str], errors: dict[str, str]) -> int:
    text = form.get("max_concurrency", "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        errors["max_concurrency"] = "Give a whole number, 1 or more."
        return 1
    return int(text)


@router.post("/recurring/new", name="web-recurring-create")
async def create_recurring(request: Request, store: RunStore = Depends(get_store)) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    pipeline_id = form.get("pipeline_id", "")
    version = _latest(store, pipeline_id)
    if version is None or version.pipeline_version_id != form.get("version_id"):
        message = (
            "That pipeline has no version any more: choose another."
            if version is None
            else "The pipeline got a new version while you filled the form: check the "
            "parameters of its latest version below, then create again."
        )
        return _page(
            request, store, pipeline_id if version else "", message=message, status_code=400
        )
    arguments, errors = parse_form(version.spec, form)
    name = form.get("display_name", "").strip()
    if not name:
        errors["display_name"] = "Give the recurring run a name."
    experiment_id = form.get("experiment_id") or store.experiments.ensure_default().experiment_id
    if store.experiments.get(experiment_id) is None:
        errors["experiment_id"] = "Choose an experiment from the list."
    trigger = _trigger(form, errors)
    max_concurrency = _max_concurrency(form, errors)
    if errors or trigger is None:
        return _page(
            request,
            store,
            pipeline_id,
            submitted=form,
            errors=errors,
            message="The recurring run was not created: fix the fields marked below.",
            status_code=400,
        )
    body = RecurringBody(
        display_name=name,
        pipeline_version_reference=Reference(
            pipeline_id=pipeline_id, pipeline_version_id=version.pipeline_version_id
        ),
        runtime_config=RuntimeConfig(parameters=arguments),
        trigger=trigger,
        max_concurrency=max_concurrency,
        experiment_id=experiment_id,
    )
    try:
        create_recurring_run(body, store)
    except UserError as exc:  # what the API would answer with a 4xx is said on the form
        return _page(request, store, pipeline_id, submitted=form, message=str(exc), status_code=400)
    return RedirectResponse("/recurring", status_code=303)
