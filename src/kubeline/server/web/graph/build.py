"""Building the graph from a PipelineSpec and, for a run, its task records; then choosing
which groups to show expanded (everything, unless the loops' iterations make it too big).

Paths follow the engine's scheme (task names joined by ``/``, loop iterations as
``iteration-N``), so a node's ``data-path`` names the same task as its ``TaskRecord.path``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubeline.engine.spec import DagView, PipelineView, TaskView, pipeline_view
from kubeline.server.web.graph.labels import item_name
from kubeline.server.web.graph.layout import lay_out
from kubeline.server.web.graph.model import Edge, Graph, Node
from kubeline.store.records import TaskRecord

__all__ = ["AUTO_EXPAND_LIMIT", "build_graph"]

#: With ``expanded=None``, a graph of at most this many leaf nodes is shown fully expanded;
#: above it the loops with the most iterations are collapsed until it fits.
AUTO_EXPAND_LIMIT = 60

_ITERATION = re.compile(r"iteration-(\d+)")
_CONDITION_COMPONENT = re.compile(r"(comp-)?condition(-branches)?-\d+")


@dataclass
class _Context:
    pipeline: PipelineView
    records: dict[str, TaskRecord]
    iterations: dict[str, list[tuple[int, TaskRecord]]]
    has_run: bool


def build_graph(
    spec: Mapping[str, Any] | PipelineView,
    tasks: Iterable[TaskRecord] | None = None,
    *,
    expanded: set[str] | None = None,
) -> Graph:
    """Build and lay out the graph of ``spec`` (a PipelineSpec dict or its frozen view), with
    the state of each task in ``tasks``.

    Without ``tasks`` the graph shows the spec alone (a loop shows its body once). With
    ``tasks`` (even an empty list: a run that has not started a task yet) every recorded loop
    iteration gets its own copy of the loop body.

    ``expanded=None`` chooses what to show: everything when the graph has at most
    :data:`AUTO_EXPAND_LIMIT` leaf nodes, else the loops with the most iterations are
    collapsed, one by one, until it fits. A set expands exactly the groups whose paths it
    holds, top-level groups and iterations included; every other group is collapsed (so
    ``set()`` collapses every group). The page can read the current set back from the SVG:
    it is the ``data-toggle`` of every element with ``aria-expanded="true"``.
    """
    records: dict[str, TaskRecord] = {}
    iterations: dict[str, list[tuple[int, TaskRecord]]] = {}
    for record in tasks or ():
        records[record.path] = record
        parent, _, last = record.path.rpartition("/")
        match = _ITERATION.fullmatch(last)
        if match and parent:
            iterations.setdefault(parent, []).append((int(match.group(1)), record))
    for found in iterations.values():
        found.sort(key=lambda pair: pair[0])
    pipeline = spec if isinstance(spec, PipelineView) else pipeline_view(spec)
    ctx = _Context(
        pipeline=pipeline,
        records=records,
        iterations=iterations,
        has_run=tasks is not None,
    )
    nodes, edges = _build_dag(pipeline.root.dag or DagView(), "", ctx)
    _skip_inside_skipped(nodes)
    graph = Graph(nodes=nodes, edges=edges, has_run=ctx.has_run)
    if expanded is None:
        _auto_expand(graph)
    else:
        for node in graph.walk():
            node.expanded = node.is_group and node.path in expanded
    lay_out(graph)
    return graph


def _skip_inside_skipped(nodes: list[Node]) -> None:
    """Tasks of a skipped group (a branch whose condition was false) never get records of
    their own: they are skipped too, not "not started"."""
    for node in nodes:
        if node.state == "SKIPPED":
            for inner in node.walk():
                inner.state = inner.state or "SKIPPED"
        else:
            _skip_inside_skipped(node.children)


def _build_dag(dag: DagView, prefix: str, ctx: _Context) -> tuple[list[Node], list[Edge]]:
    tasks = dag.tasks
    nodes = [_build_task(name, task, f"{prefix}{name}", ctx) for name, task in tasks.items()]
    edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for name, task in tasks.items():
        # Sibling tasks whose outputs this one consumes, and those it runs after.
        for producer in task.producers:
            if producer in tasks and producer != name and (producer, name) not in seen:
                seen.add((producer, name))
                edges.append(Edge(f"{prefix}{producer}", f"{prefix}{name}"))
    return nodes, edges


def _short_component(component: str, name: str) -> str:
    """``comp-train-2`` -> ``train``-like names: drop the prefix, and the numeric suffix the
    compiler adds to tell same-named components apart when the task carries it too."""
    short = component.removeprefix("comp-")
    if short.startswith(f"{name}-") and short[len(name) + 1 :].isdigit():
        return name
    return short


def _seconds(record: TaskRecord | None) -> float | None:
    if record is None or record.started_at is None or record.finished_at is None:
        return None
    return max(0.0, (record.finished_at - record.started_at).total_seconds())


def _apply_record(node: Node, record: TaskRecord | None) -> None:
    if record is None:
        return
    node.state = record.state.upper()
    node.cache_hit = bool(record.cache_hit)
    if node.state == "CACHED":  # an older spelling of a cache hit
        node.state, node.cache_hit = "SUCCEEDED", True
    node.task_id = record.task_id
    node.seconds = _seconds(record)


def _build_task(name: str, task: TaskView, path: str, ctx: _Context) -> Node:
    component_name = task.component
    component = ctx.pipeline.component_of(task)
    condition = task.condition
    node = Node(path=path, label=task.display_name, kind="executor")
    _apply_record(node, ctx.records.get(path))
    if task.iterator is not None:
        node.kind = "loop"
        node.parallelism = max(0, task.iterator.parallelism)
        body = component.dag or DagView()
        found = ctx.iterations.get(path) if ctx.has_run else None
        if found:
            node.iterations = len(found)
            # An artifact loop's item is an artifact: no parameter names it.
            is_parameter = task.iterator.kind == "parameter"
            item_input = task.iterator.item_input if is_parameter else ""
            node.children = [
                _build_iteration(path, index, record, body, item_input, ctx)
                for index, record in found
            ]
        else:
            node.children, node.edges = _build_dag(body, f"{path}/", ctx)
    elif component.dag is not None:
        is_condition = bool(condition or _CONDITION_COMPONENT.fullmatch(component_name))
        node.kind = "condition" if is_condition else "dag"
        node.detail = f"if {condition}" if condition else ""
        node.children, node.edges = _build_dag(component.dag, f"{path}/", ctx)
    else:
        executor = ctx.pipeline.executor_of(component)
        node.kind = "importer" if executor.kind == "importer" else "executor"
        node.image = executor.image
        node.component = _short_component(component_name, name) if component_name else ""
    return node


def _build_iteration(
    loop: str, index: int, record: TaskRecord, body: DagView, item_input: str, ctx: _Context
) -> Node:
    path = f"{loop}/iteration-{index}"
    node = Node(path=path, label=f"iteration-{index}", kind="iteration")
    _apply_record(node, record)
    item = ((record.inputs or {}).get("parameters") or {}).get(item_input, None)
    if item is not None:
        text = item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
        node.detail = f"item {text}"
        node.item_name = item_name(item)
    node.children, node.edges = _build_dag(body, f"{path}/", ctx)
    return node


def _visible_leaves(node: Node) -> int:
    if not node.is_group or not node.expanded:
        return 1
    return sum(_visible_leaves(child) for child in node.children)


def _auto_expand(graph: Graph) -> None:
    """Collapse the loops with the most iterations until the graph is small enough."""
    for node in graph.walk():
        node.expanded = node.is_group
    total = sum(_visible_leaves(n) for n in graph.nodes)
    if total <= AUTO_EXPAND_LIMIT:
        return
    loops = [n for n in graph.walk() if n.kind == "loop" and n.iterations]
    size = {id(n): _visible_leaves(n) for n in loops}
    loops.sort(key=lambda n: (-(n.iterations or 0), -size[id(n)], n.path))
    for loop in loops:
        if total <= AUTO_EXPAND_LIMIT:
            break
        if not _shown(graph, loop):
            continue  # already inside a collapsed loop
        total -= _visible_leaves(loop) - 1
        loop.expanded = False


def _shown(graph: Graph, target: Node) -> bool:
    """Whether ``target`` is visible: every group around it is expanded."""

    def visit(nodes: list[Node]) -> bool | None:
        for node in nodes:
            if node is target:
                return True
            if target.path.startswith(f"{node.path}/"):
                return node.expanded and bool(visit(node.children))
        return None

    return bool(visit(graph.nodes))
