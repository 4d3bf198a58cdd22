"""One run: its graph (live while it runs), a panel per task (inputs, outputs, timing,
attempts, artifact previews, its log), the run's parameters, outputs and visualizations.

The page polls ``/runs/{id}/live`` while the run is going and swaps the graph; a task's log
is followed through ``/kubeline/api/runs/{id}/tasks/{task}/log`` from an offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from kubeline.engine.recorder import EVENTS_KEPT
from kubeline.server.deps import get_settings, get_store
from kubeline.server.settings import ServerSettings
from kubeline.server.web.common import not_found, parse_expanded
from kubeline.server.web.graph import build_graph, render_svg
from kubeline.server.web.previews import Preview, preview
from kubeline.server.web.templating import FINAL_STATES, duration, render, state_word, templates
from kubeline.store import ArtifactRecord, RunRecord, RunStore, TaskRecord

router = APIRouter()

#: Artifact types drawn in the run's "Visualizations" section, in this order.
_VISUAL = ("system.Metrics", "system.ClassificationMetrics", "system.HTML", "system.Markdown")


def _content_url(artifact: ArtifactRecord) -> str:
    return f"/kubeline/api/artifacts/{artifact.artifact_id}/content"


def _preview(artifact: ArtifactRecord, settings: ServerSettings) -> Preview:
    return preview(
        artifact,
        home=settings.home,
        content_url=_content_url(artifact),
        download_url=_content_url(artifact) + "?download=true",
        max_bytes=settings.preview_bytes,
    )


def _graph(run: RunRecord, tasks: list[TaskRecord], expanded: set[str] | None) -> Any:
    return render_svg(build_graph(run.spec, tasks, expanded=expanded))


def _task_paths(tasks: list[TaskRecord]) -> dict[str, TaskRecord]:
    return {t.path: t for t in tasks}


def _visualizations(
    artifacts: list[ArtifactRecord], tasks: dict[str, TaskRecord], settings: ServerSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Previews of the run's visual artifacts: (the run's own, those of loop iterations)."""
    by_id = {t.task_id: t for t in tasks.values()}
    main: list[dict[str, Any]] = []
    looped: list[dict[str, Any]] = []
    order = {title: i for i, title in enumerate(_VISUAL)}
    chosen = [a for a in artifacts if a.schema_title in order]
    chosen.sort(key=lambda a: (order[a.schema_title], a.created_at is None, a.created_at))
    for artifact in chosen:
        task = by_id.get(artifact.producer_task_id)
        path = task.path if task else ""
        item = {"artifact": artifact, "task": task, "preview": _preview(artifact, settings)}
        (looped if "/iteration-" in f"/{path}" else main).append(item)
    return main, looped


@router.get("/runs/{run_id}", response_class=HTMLResponse, name="web-run")
def run_page(
    request: Request,
    run_id: str,
    task: str | None = None,
    expanded: str | None = None,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> HTMLResponse:
    if run_id in ("new", "compare"):
        return not_found(request, "Run", run_id)
    run = store.runs.get(run_id)
    if run is None:
        return not_found(request, "Run", run_id)
    tasks = store.tasks.list(run_id)
    paths = _task_paths(tasks)
    artifacts = store.artifacts.list(run_id=run_id)
    main, looped = _visualizations(artifacts, paths, settings)
    experiment = store.experiments.get(run.experiment_id) if run.experiment_id else None
    version = (
        store.pipeline_versions.get(run.pipeline_version_id) if run.pipeline_version_id else None
    )
    panel = _panel_context(run, task, paths, store, settings) if task else None
    defaults = {
        name: d.get("defaultValue")
        for name, d in run.spec.get("root", {})
        .get("inputDefinitions", {})
        .get("parameters", {})
        .items()
        if "defaultValue" in d
    }
    return render(
        request,
        "run.html",
        {
            "nav": "runs",
            "run": run,
            "tasks": tasks,
            "graph": _graph(run, tasks, parse_expanded(expanded)),
            "expanded": expanded,
            "visuals": main,
            "looped_visuals": looped,
            "artifacts": artifacts,
            "producers": {t.task_id: t for t in tasks},
            "experiment": experiment,
            "version": version,
            "panel": panel,
            "arguments": run.arguments,
            "defaults": {k: v for k, v in defaults.items() if k not in run.arguments},
            "outputs": _plain_outputs(run.outputs),
            "finished": run.state in FINAL_STATES,
            "counts": _counts(tasks),
            "events": _events(run.events),
            "events_kept": EVENTS_KEPT,
        },
    )


def _events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine's decisions about the run's tasks (admission), newest first, each with
    its time read back (None when unreadable: the row is still shown)."""
    rows = []
    for event in reversed(events or []):
        try:
            at: datetime | None = datetime.fromisoformat(str(event.get("at", "")))
        except ValueError:
            at = None
        rows.append(
            {
                "at": at,
                "task": str(event.get("task", "")),
                "message": str(event.get("message", "")),
            }
        )
    return rows


def _plain_outputs(outputs: dict[str, Any]) -> list[tuple[str, Any, str | None]]:
    """(name, value, artifact id or None): an artifact output shows its id as a link."""
    rows = []
    for name, value in (outputs or {}).items():
        if isinstance(value, dict) and "artifact_id" in value:
            rows.append((name, value.get("uri", ""), value.get("artifact_id")))
        else:
            rows.append((name, value, None))
    return rows


#: The header's task counts come in this order (others after), so they stay put as they grow.
_COUNT_ORDER = ("SUCCEEDED", "CACHED", "RUNNING", "PENDING", "FAILED", "CANCELED", "SKIPPED")


def _counts(tasks: list[TaskRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in tasks:
        if t.kind in ("executor", "importer"):
            key = "CACHED" if t.cache_hit else t.state
            counts[key] = counts.get(key, 0) + 1
    rank = {state: i for i, state in enumerate(_COUNT_ORDER)}
    return dict(sorted(counts.items(), key=lambda item: rank.get(item[0], len(rank))))


def _counts_html(counts: dict[str, int]) -> str:
    """The header's counts, drawn by the same template as the page, for the live poll."""
    return templates.env.get_template("run_counts.html").render(counts=counts).strip()


@router.get("/runs/{run_id}/live", name="web-run-live")
def run_live(
    run_id: str,
    expanded: str | None = None,
    store: RunStore = Depends(get_store),
) -> JSONResponse:
    """What changes while a run goes: its state, duration, task counts and graph."""
    run = store.runs.get(run_id)
    if run is None:
        return JSONResponse({"error": f"Run '{run_id}' not found."}, status_code=404)
    tasks = store.tasks.list(run_id)
    counts = _counts(tasks)
    return JSONResponse(
        {
            "state": run.state,
            "state_word": state_word(run.state),
            "finished": run.state in FINAL_STATES,
            "duration": duration(run.started_at, run.finished_at),
            "error": run.error or "",
            "graph": str(_graph(run, tasks, parse_expanded(expanded))),
            "counts": counts,
            "counts_html": _counts_html(counts),
        },
        headers={"Cache-Control": "no-store"},
    )


def _cache_note(task: TaskRecord, store: RunStore) -> str:
    """What the cache did for a task. Only a task that succeeded stores its results: a
    failed one has a key but left nothing for next time."""
    if task.cache_hit:
        return "answered from the cache"
    if not task.cache_key:
        return "not cached"
    if task.state == "SUCCEEDED":
        entry = store.cache.get(task.cache_key)
        return "stored for next time" if entry is not None else "stored, since removed"
    if task.state in FINAL_STATES:
        return f"nothing stored: the task {state_word(task.state)}"
    return "stored for next time if it succeeds"


def _skipped_group(path: str, paths: dict[str, TaskRecord]) -> TaskRecord | None:
    """The skipped group (a branch whose condition was false) a task without a record sits
    in: its tasks are skipped, not waiting to start."""
    parts = path.split("/")
    for end in range(len(parts) - 1, 0, -1):
        group = paths.get("/".join(parts[:end]))
        if group is not None and group.state == "SKIPPED":
            return group
    return None


def _panel_context(
    run: RunRecord,
    path: str,
    paths: dict[str, TaskRecord],
    store: RunStore,
    settings: ServerSettings,
) -> dict[str, Any]:
    task = paths.get(path)
    if task is None:
        return {"run": run, "path": path, "task": None, "skipped_by": _skipped_group(path, paths)}
    inputs = task.inputs or {}
    outputs = task.outputs or {}
    input_artifacts = []
    for name, ids in (inputs.get("artifact_ids") or {}).items():
        for artifact_id in ids:
            artifact = store.artifacts.get(str(artifact_id))
            if artifact is not None:
                input_artifacts.append((name, artifact))
    produced = store.artifacts.list(producer_task_id=task.task_id)
    by_id = {t.task_id: t for t in paths.values()}
    return {
        "run": run,
        "path": path,
        "task": task,
        "input_parameters": sorted((inputs.get("parameters") or {}).items()),
        "output_parameters": sorted((outputs.get("parameters") or {}).items()),
        "input_artifacts": [
            (name, artifact, by_id.get(artifact.producer_task_id))
            for name, artifact in input_artifacts
        ],
        "output_artifacts": [(a, _preview(a, settings)) for a in produced],
        "final": task.state in FINAL_STATES or task.state == "CACHED",
        "cache_note": _cache_note(task, store),
        "log_url": f"/kubeline/api/runs/{run.run_id}/tasks/{task.task_id}/log",
    }


@router.get("/runs/{run_id}/task", response_class=HTMLResponse, name="web-run-task")
def task_panel(
    request: Request,
    run_id: str,
    path: str,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> HTMLResponse:
    """The task panel alone, for the page's script to put beside the graph."""
    run = store.runs.get(run_id)
    if run is None:
        return templates.TemplateResponse(
            request,
            "panel_message.html",
            {"message": f"Run '{run_id}' not found."},
            status_code=404,
        )
    context = _panel_context(run, path, _task_paths(store.tasks.list(run_id)), store, settings)
    return templates.TemplateResponse(request, "task_panel.html", {"panel": context})
