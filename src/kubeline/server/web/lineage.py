"""Artifacts and executions across runs (KFP's Artifacts and Executions pages), and the page
of one artifact or one execution with its lineage: what went in, what came out, and who
read it, each a link to its own page.

Lists page through the store a page at a time (indexed, newest first), and everything a
page of rows links to (runs, producers, inputs, outputs) is read in one query per kind, not
one per row, so a store of 10,000 runs answers as fast as a new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from kubeline.server.deps import get_settings, get_store
from kubeline.server.settings import ServerSettings
from kubeline.server.web.common import PAGE_SIZES, Page, not_found, query_string
from kubeline.server.web.lineage_graph import (
    COLUMN_LIMIT,
    LineageColumn,
    LineageGraph,
    LineageNode,
    render_lineage,
    type_word,
)
from kubeline.server.web.previews import preview
from kubeline.server.web.templating import STATE_WORDS, render, state_word
from kubeline.store import ArtifactRecord, RunRecord, RunStore, TaskRecord

__all__ = ["EXECUTION_STATES", "router", "task_url"]

router = APIRouter()

#: States the executions list filters by; CACHED means answered from the cache.
EXECUTION_STATES = ("SUCCEEDED", "FAILED", "RUNNING", "PENDING", "SKIPPED", "CANCELED", "CACHED")
_CELL_LINKS = 5  # artifacts linked from one cell of the executions list
_TABLE_ROWS = 100  # consumers listed in a table under an artifact's lineage
_ITERATION = re.compile(r"iteration-\d+")


def task_url(task: TaskRecord) -> str:
    """The run page with ``task`` open in its panel."""
    return f"/runs/{quote(task.run_id, safe='')}?task={quote(task.path, safe='')}#task-panel"


def _artifact_name(artifact: ArtifactRecord) -> str:
    return artifact.name or artifact.output_name


def _task_name(task: TaskRecord) -> str:
    return task.display_name or task.name


def _runs_by_id(store: RunStore, ids: Iterable[str]) -> dict[str, RunRecord]:
    wanted = list(dict.fromkeys(i for i in ids if i))
    if not wanted:
        return {}
    found = store.runs.list(filters=[("run_id", "IN", wanted)], limit=len(wanted))
    return {run.run_id: run for run in found}


def _tasks_by_id(store: RunStore, ids: Iterable[str]) -> dict[str, TaskRecord]:
    wanted = list(dict.fromkeys(i for i in ids if i))
    return {task.task_id: task for task in store.tasks.get_many(wanted)} if wanted else {}


def _artifacts_by_id(store: RunStore, ids: Iterable[str]) -> dict[str, ArtifactRecord]:
    wanted = list(dict.fromkeys(i for i in ids if i))
    if not wanted:
        return {}
    return {a.artifact_id: a for a in store.artifacts.list(artifact_ids=wanted)}


def _preview_of(artifact: ArtifactRecord, settings: ServerSettings) -> Any:
    content = f"/kubeline/api/artifacts/{quote(artifact.artifact_id, safe='')}/content"
    return preview(
        artifact,
        home=settings.home,
        content_url=content,
        download_url=content + "?download=true",
        max_bytes=settings.preview_bytes,
    )


# ---------------------------------------------------------------------------- lineage


def _artifact_node(artifact: ArtifactRecord, *, current: bool = False) -> LineageNode:
    name = _artifact_name(artifact)
    return LineageNode(
        key=f"artifact:{artifact.artifact_id}",
        kind="artifact",
        label=name,
        meta=f"{type_word(artifact.schema_title)} artifact",
        href="" if current else f"/artifacts/{quote(artifact.artifact_id, safe='')}",
        title=f"{name}\n{artifact.schema_title}\nrun {artifact.run_id}",
    )


def _graph_label(task: TaskRecord) -> str:
    """A task's name, with the loop iteration it ran in (``run-trial #3``): the readers of a
    dataset are often one task per iteration, and the same name ten times tells none apart."""
    outer = [part for part in task.path.split("/")[:-1] if _ITERATION.fullmatch(part)]
    name = _task_name(task)
    return f"{name} #{outer[-1].removeprefix('iteration-')}" if outer else name


def _task_node(task: TaskRecord, *, current: bool = False) -> LineageNode:
    word = "cached" if task.cache_hit else state_word(task.state)
    return LineageNode(
        key=f"task:{task.task_id}",
        kind="task",
        label=_graph_label(task),
        meta=f"task, {word}",
        href="" if current else f"/executions/{quote(task.task_id, safe='')}",
        title=f"{task.path}\ntask, {word}\nrun {task.run_id}",
        state=task.state,
        cached=task.cache_hit,
    )


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def artifact_lineage(
    store: RunStore,
    artifact: ArtifactRecord,
    producer: TaskRecord | None,
    readers: list[TaskRecord],
    total_readers: int,
) -> LineageGraph:
    """Its producer's inputs -> its producer -> the artifact -> its readers -> theirs.

    ``readers`` are the first tasks that read it (at least a column's worth), of
    ``total_readers``."""
    inputs = LineageColumn("Inputs of its producer")
    made_by = LineageColumn("Made by")
    this = LineageColumn("This artifact")
    read_by = LineageColumn("Read by")
    outputs = LineageColumn("What they made")
    graph = LineageGraph([inputs, made_by, this, read_by, outputs], center=2)
    me = _artifact_node(artifact, current=True)
    this.add(me)
    if producer is not None:
        maker = _task_node(producer)
        made_by.add(maker)
        graph.link(maker.key, me.key)
        ids = _unique(artifact_id for artifact_id, _ in store.artifacts.inputs_of(producer.task_id))
        inputs.hidden = max(0, len(ids) - COLUMN_LIMIT)
        found = _artifacts_by_id(store, ids[:COLUMN_LIMIT])
        for artifact_id in ids[:COLUMN_LIMIT]:
            if artifact_id in found:
                node = _artifact_node(found[artifact_id])
                inputs.add(node)
                graph.link(node.key, maker.key)
    shown = list({t.task_id: t for t in readers}.values())[:COLUMN_LIMIT]
    read_by.hidden = max(0, total_readers - len(shown))
    for reader in shown:
        node = _task_node(reader)
        read_by.add(node)
        graph.link(me.key, node.key)
    if shown:
        for made in store.artifacts.list(producer_task_ids=[t.task_id for t in shown]):
            node = _artifact_node(made)
            if outputs.add(node):
                graph.link(f"task:{made.producer_task_id}", node.key)
    return graph


def execution_lineage(
    store: RunStore,
    task: TaskRecord,
    inputs: list[ArtifactRecord],
    outputs: list[ArtifactRecord],
) -> LineageGraph:
    """Who made its inputs -> its inputs -> the task -> its outputs -> who read them."""
    makers = LineageColumn("Made its inputs")
    ins = LineageColumn("Inputs")
    this = LineageColumn("This execution")
    outs = LineageColumn("Outputs")
    readers = LineageColumn("Read by")
    graph = LineageGraph([makers, ins, this, outs, readers], center=2)
    me = _task_node(task, current=True)
    this.add(me)
    shown_inputs = []
    for artifact in inputs:
        node = _artifact_node(artifact)
        if ins.add(node):
            graph.link(node.key, me.key)
            shown_inputs.append(artifact)
    producers = _tasks_by_id(store, (a.producer_task_id for a in shown_inputs))
    for artifact in shown_inputs:
        maker = producers.get(artifact.producer_task_id)
        if maker is not None:
            node = _task_node(maker)
            if makers.add(node):
                graph.link(node.key, f"artifact:{artifact.artifact_id}")
    shown_outputs = []
    for artifact in outputs:
        node = _artifact_node(artifact)
        if outs.add(node):
            graph.link(me.key, node.key)
            shown_outputs.append(artifact)
    for artifact in shown_outputs:
        found = store.artifacts.readers(artifact.artifact_id, limit=COLUMN_LIMIT)
        # Those past the limit of each output: a reader of two outputs may count twice.
        readers.hidden += store.artifacts.count_readers(artifact.artifact_id) - len(
            {task.task_id for task, _ in found}
        )
        for reader, _ in found:
            node = _task_node(reader)
            if readers.add(node):
                graph.link(f"artifact:{artifact.artifact_id}", node.key)
    return graph


# ---------------------------------------------------------------------------- artifacts


@router.get("/artifacts", response_class=HTMLResponse, name="web-artifacts")
def artifacts_page(
    request: Request,
    type: str = "",  # the filter's name in the address
    q: str = "",
    run: str = "",
    page: int = 1,
    size: int = PAGE_SIZES[0],
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    """Every artifact of every run, newest first, filtered by type, name and run."""
    filters: dict[str, Any] = {
        "schema_title": type or None,
        "name_contains": q or None,
        "run_contains": run or None,
    }
    total = store.artifacts.count(**filters)
    where = Page.of(page, size, total)
    found = store.artifacts.search(**filters, limit=where.size, offset=where.offset)
    runs = _runs_by_id(store, (a.run_id for a in found))
    producers = _tasks_by_id(store, (a.producer_task_id for a in found))
    types = store.artifacts.types()
    if type and type not in types:
        types.append(type)
    filters_query = query_string(type=type, q=q, run=run)
    return render(
        request,
        "artifacts.html",
        {
            "nav": "artifacts",
            "rows": [
                {
                    "artifact": a,
                    "name": _artifact_name(a),
                    "type": type_word(a.schema_title),
                    "run": runs.get(a.run_id),
                    "producer": producers.get(a.producer_task_id),
                    "producer_url": task_url(producers[a.producer_task_id])
                    if a.producer_task_id in producers
                    else "",
                }
                for a in found
            ],
            "types": types,
            "chosen": {"type": type, "q": q, "run": run, "size": where.size},
            "page": where,
            "page_sizes": PAGE_SIZES,
            "base_query": "&".join(p for p in (filters_query, f"size={where.size}") if p),
            "none_at_all": total == 0 and not (type or q or run) and not store.artifacts.count(),
        },
    )


@router.get("/artifacts/{artifact_id}", response_class=HTMLResponse, name="web-artifact")
def artifact_page(
    request: Request,
    artifact_id: str,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> HTMLResponse:
    """One artifact: what it is, where it lives, a preview, and its lineage."""
    artifact = store.artifacts.get(artifact_id)
    if artifact is None:
        return not_found(request, "Artifact", artifact_id)
    run = store.runs.get(artifact.run_id)
    producer = store.tasks.get(artifact.producer_task_id)
    pairs = store.artifacts.readers(artifact_id, limit=_TABLE_ROWS)
    total = store.artifacts.count_readers(artifact_id)
    consumers = [{"task": task, "input": name, "url": task_url(task)} for task, name in pairs]
    graph = artifact_lineage(store, artifact, producer, [task for task, _ in pairs], total)
    name = _artifact_name(artifact)
    return render(
        request,
        "artifact.html",
        {
            "nav": "artifacts",
            "artifact": artifact,
            "name": name,
            "type": type_word(artifact.schema_title),
            "run": run,
            "producer": producer,
            "producer_url": task_url(producer) if producer else "",
            "consumers": consumers,
            "consumers_total": total,
            "consumers_hidden": total - len({task.task_id for task, _ in pairs}),
            "preview": _preview_of(artifact, settings),
            "lineage": render_lineage(graph, f"Lineage of the artifact {name}"),
            "content_url": f"/kubeline/api/artifacts/{quote(artifact.artifact_id, safe='')}"
            "/content",
        },
    )


# --------------------------------------------------------------------------- executions


def _cell(links: list[Any]) -> dict[str, Any]:
    return {"shown": links[:_CELL_LINKS], "more": max(0, len(links) - _CELL_LINKS)}


@router.get("/executions", response_class=HTMLResponse, name="web-executions")
def executions_page(
    request: Request,
    state: str = "",
    q: str = "",
    run: str = "",
    page: int = 1,
    size: int = PAGE_SIZES[0],
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    """Every task execution of every run, newest first, filtered by state, task and run."""
    state = state if state in EXECUTION_STATES else ""
    filters: dict[str, Any] = {
        "state": state or None,
        "name_contains": q or None,
        "run_contains": run or None,
    }
    total = store.tasks.count(**filters)
    where = Page.of(page, size, total)
    found = store.tasks.search(**filters, limit=where.size, offset=where.offset)
    runs = _runs_by_id(store, (t.run_id for t in found))
    inputs = {
        t.task_id: [
            (name, artifact_id)
            for name, ids in sorted(((t.inputs or {}).get("artifact_ids") or {}).items())
            for artifact_id in ids
        ]
        for t in found
    }
    known = _artifacts_by_id(store, (i for pairs in inputs.values() for _, i in pairs))
    outputs: dict[str, list[ArtifactRecord]] = {}
    if found:
        for artifact in store.artifacts.list(producer_task_ids=[t.task_id for t in found]):
            outputs.setdefault(artifact.producer_task_id, []).append(artifact)
    rows = [
        {
            "task": t,
            "name": _task_name(t),
            "url": task_url(t),
            "run": runs.get(t.run_id),
            "inputs": _cell([(name, known[i]) for name, i in inputs[t.task_id] if i in known]),
            "outputs": _cell(outputs.get(t.task_id, [])),
        }
        for t in found
    ]
    filters_query = query_string(state=state, q=q, run=run)
    return render(
        request,
        "executions.html",
        {
            "nav": "executions",
            "rows": rows,
            "states": EXECUTION_STATES,
            "state_words": STATE_WORDS,
            "chosen": {"state": state, "q": q, "run": run, "size": where.size},
            "page": where,
            "page_sizes": PAGE_SIZES,
            "base_query": "&".join(p for p in (filters_query, f"size={where.size}") if p),
            "none_at_all": total == 0 and not (state or q or run) and not store.tasks.count(),
        },
    )


@router.get("/executions/{task_id}", response_class=HTMLResponse, name="web-execution")
def execution_page(
    request: Request, task_id: str, store: RunStore = Depends(get_store)
) -> HTMLResponse:
    """One task execution: its state and timing, what it read and wrote, and its lineage."""
    task = store.tasks.get(task_id)
    if task is None:
        return not_found(request, "Execution", task_id)
    run = store.runs.get(task.run_id)
    pairs = store.artifacts.inputs_of(task_id)
    found = _artifacts_by_id(store, (a for a, _ in pairs))
    inputs = [(name, found[a]) for a, name in pairs if a in found]
    input_producers = _tasks_by_id(store, (a.producer_task_id for _, a in inputs))
    outputs = store.artifacts.list(producer_task_id=task_id)
    graph = execution_lineage(store, task, _unique_artifacts(a for _, a in inputs), outputs)
    name = _task_name(task)
    return render(
        request,
        "execution.html",
        {
            "nav": "executions",
            "task": task,
            "name": name,
            "run": run,
            "url": task_url(task),
            "input_parameters": sorted(((task.inputs or {}).get("parameters") or {}).items()),
            "output_parameters": sorted(((task.outputs or {}).get("parameters") or {}).items()),
            "inputs": [
                {
                    "name": input_name,
                    "artifact": artifact,
                    "producer": input_producers.get(artifact.producer_task_id),
                }
                for input_name, artifact in inputs
            ],
            "outputs": outputs,
            "lineage": render_lineage(graph, f"Lineage of the execution {name}"),
        },
    )


def _unique_artifacts(artifacts: Iterable[ArtifactRecord]) -> list[ArtifactRecord]:
    return list({a.artifact_id: a for a in artifacts}.values())
