"""The pipeline graph: model, layout and SVG, on pipelines compiled by the real KFP SDK.

No ``from __future__ import annotations``: KFP reads the real annotation objects of the
pipelines defined here.
"""

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import dsl

from kubeline.engine import run_pipeline
from kubeline.engine.spec import parse_spec, pipeline_view
from kubeline.pipelines.compile import compile_function
from kubeline.pipelines.lifecycle import lifecycle_pipeline
from kubeline.server.web.graph import (
    AUTO_EXPAND_LIMIT,
    Graph,
    Node,
    build_graph,
    render_svg,
)
from kubeline.server.web.graph.labels import item_name
from kubeline.store.records import TaskRecord
from tests.engine import pipelines as p

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


# ----------------------------------------------------------------------- pipelines


@dsl.pipeline(name="inner")
def inner(label: str) -> str:
    return p.stamp(label=label, seconds=0.0).output


@dsl.pipeline(name="mixed")
def mixed():
    """A loop with a two-step body, a condition that is never true, a nested pipeline."""
    first = p.stamp(label="a", seconds=0.0)
    with dsl.ParallelFor(["x", "y", "z"], parallelism=2) as item:
        step = p.stamp(label=item, seconds=0.0)
        p.stamp(label=step.output, seconds=0.0)
    with dsl.If(first.output == "never"):
        p.stamp(label="no", seconds=0.0)
    inner(label=first.output)


def loop_of(count: int):
    """A pipeline whose loop over ``count`` items has a one-task body, after one task."""

    @dsl.pipeline(name=f"loop-{count}")
    def looping():
        first = p.stamp(label="first", seconds=0.0)
        with dsl.ParallelFor([str(i) for i in range(count)], parallelism=4) as item:
            p.stamp(label=item, seconds=0.0).after(first)

    return looping


@dsl.pipeline(name="escaping")
def escaping():
    p.stamp(label="x", seconds=0.0).set_display_name("<b>&\"tricky\"</b> 'name' & more")


@dsl.pipeline(name="exit-handling")
def exit_handling():
    cleanup = p.stamp(label="cleanup", seconds=0.0)
    with dsl.ExitHandler(cleanup):
        p.stamp(label="work", seconds=0.0)


@dsl.component(base_image="python:3.11")
def describe(trial: dict) -> str:
    return str(trial["trial_id"])


@dsl.component(base_image="python:3.11")
def describe_text(trial: str) -> str:
    return trial


@dsl.pipeline(name="trials")
def trials():
    """Loops over trials as the lifecycle plans them: dicts, and JSON text holding dicts
    (the id is not the first key, so the title must look for it)."""
    with dsl.ParallelFor(
        [
            {"family": "svm", "trial_id": "svm-0", "params": {"C": 1}},
            {"family": "k_nearest_neighbours", "trial_id": "k_nearest_neighbours-1", "params": {}},
        ]
    ) as trial:
        describe(trial=trial)
    with dsl.ParallelFor(['{"family": "knn", "trial_id": "knn-0"}']) as text:
        describe_text(trial=text)


@dsl.component(base_image="python:3.11")
def zulu() -> str:
    return "z"


@dsl.component(base_image="python:3.11")
def alpha(text: str) -> str:
    return text


@dsl.component(base_image="python:3.11")
def yankee(text: str) -> str:
    return text


@dsl.component(base_image="python:3.11")
def mike(left: str, right: str) -> str:
    return left + right


@dsl.pipeline(name="reading-order")
def reading_order():
    """Alphabetical order (alpha, mike, yankee, zulu) is not the layout's (zulu on top)."""
    top = zulu()
    mike(left=alpha(text=top.output).output, right=yankee(text=top.output).output)


@pytest.fixture(scope="module")
def lifecycle() -> dict[str, Any]:
    return compile_function(lifecycle_pipeline)


# ------------------------------------------------------------------------- helpers


def spec_tasks(spec: dict[str, Any]) -> dict[str, str]:
    """Every task's path (the engine's scheme, no iterations) -> its kind, read from the
    spec independently of the module under test."""
    components = spec["components"]
    executors = spec["deploymentSpec"]["executors"]
    found: dict[str, str] = {}

    def walk(dag: dict[str, Any], prefix: str) -> None:
        for name, task in dag.get("tasks", {}).items():
            component = components[task["componentRef"]["name"]]
            path = f"{prefix}{name}"
            if "parameterIterator" in task or "artifactIterator" in task:
                found[path] = "loop"
            elif "dag" in component:
                found[path] = "dag"
            else:
                executor = executors[component["executorLabel"]]
                found[path] = "importer" if "importer" in executor else "executor"
            if "dag" in component:
                walk(component["dag"], f"{path}/")

    walk(spec["root"]["dag"], "")
    return found


def engine_records(
    spec: dict[str, Any],
    iterations: int,
    states: dict[str, str] | None = None,
    cached: Collection[str] = (),
    not_started: Collection[str] = (),
) -> list[TaskRecord]:
    """Task records as the engine writes them: one per task reached, kind loop / iteration /
    dag / executor / importer, every loop run ``iterations`` times, paths joined by ``/``.
    A SKIPPED group's tasks and a task in ``not_started`` get no record (nor its tasks)."""
    states = states or {}
    components = spec["components"]
    kinds = spec_tasks(spec)
    records: list[TaskRecord] = []
    ids = itertools.count()

    def record(path: str, name: str, kind: str, parent: str | None, task: dict) -> TaskRecord:
        state = states.get(path, "SUCCEEDED")
        done = state not in ("RUNNING", "PENDING")
        rec = TaskRecord(
            task_id=f"t{next(ids)}",
            run_id="run-1",
            name=name,
            path=path,
            kind=kind,
            state=state,
            parent_task_id=parent,
            component=task.get("componentRef", {}).get("name", ""),
            display_name=task.get("taskInfo", {}).get("name", name),
            created_at=T0,
            started_at=T0,
            finished_at=T0 + timedelta(seconds=1.25) if done else None,
            attempts=1,
            cache_hit=path in cached,
        )
        records.append(rec)
        return rec

    def walk(dag: dict[str, Any], prefix: str, parent: str | None) -> None:
        for name, task in dag.get("tasks", {}).items():
            path = f"{prefix}{name}"
            if path in not_started:
                continue
            component = components[task["componentRef"]["name"]]
            is_loop = "parameterIterator" in task or "artifactIterator" in task
            kind = kinds[re.sub(r"/iteration-\d+", "", path)]
            rec = record(path, name, kind, parent, task)
            if rec.state == "SKIPPED" or "dag" not in component:
                continue
            if is_loop:
                for i in range(iterations):
                    it_path = f"{path}/iteration-{i}"
                    if it_path in not_started:
                        continue
                    it = record(it_path, f"iteration-{i}", "iteration", rec.task_id, {})
                    walk(component["dag"], f"{it_path}/", it.task_id)
            else:
                walk(component["dag"], f"{path}/", rec.task_id)

    walk(spec["root"]["dag"], "", None)
    return records


def shown(nodes: list[Node]) -> list[Node]:
    """Every node drawn: groups inside collapsed groups are not."""
    out: list[Node] = []
    for node in nodes:
        out.append(node)
        if node.is_group and node.expanded:
            out += shown(node.children)
    return out


def levels(graph: Graph) -> list[tuple[Node | None, list[Node], list]]:
    """(group or None for the top, its drawn children, its edges) for every drawn level."""
    out: list[tuple[Node | None, list[Node], list]] = [(None, graph.nodes, graph.edges)]
    for node in shown(graph.nodes):
        if node.is_group and node.expanded:
            out.append((node, node.children, node.edges))
    return out


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def elements_by_path(root: ET.Element) -> dict[str, ET.Element]:
    return {el.get("data-path"): el for el in root.iter(f"{SVG}g") if el.get("data-path")}


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def text_of(el: ET.Element, cls: str | None, tag: str = "text") -> str:
    found = next(t for t in el.iter(f"{SVG}{tag}") if t.get("class") == cls)
    return "".join(found.itertext())


def kind_of(graph: Graph, path: str) -> str:
    node = graph.find(path)
    assert node is not None, path
    return node.kind


# --------------------------------------------------------------------------- model


def test_every_spec_task_appears_once_with_its_kind(lifecycle: dict[str, Any]) -> None:
    graph = build_graph(lifecycle)
    paths = [n.path for n in graph.walk()]
    assert len(paths) == len(set(paths))
    expected = spec_tasks(lifecycle)
    assert set(paths) == set(expected)
    kinds = {n.path: n.kind for n in graph.walk()}
    for path, kind in expected.items():
        if kind == "dag":  # a sub-DAG is a nested pipeline or, here, a condition group
            assert kinds[path] in ("dag", "condition")
        else:
            assert kinds[path] == kind, path
    assert kinds["for-loop-1"] == "loop"
    assert kinds["condition-branches-2"] == "condition"
    assert kinds["condition-branches-2/condition-3"] == "condition"
    assert kinds["ingest"] == "executor"
    # A condition branch shows the name given to it, and its condition in the tooltip.
    branch = graph.find("condition-branches-2/condition-3")
    assert branch is not None
    assert branch.label == "accuracy-reaches-threshold"
    assert ">=" in branch.detail
    assert not graph.has_run
    assert all(n.state == "" and n.task_id == "" for n in graph.walk())


def test_the_spec_or_its_frozen_view_gives_the_same_drawing() -> None:
    spec = compile_function(mixed)
    records = engine_records(spec, iterations=2)
    for tasks in (None, records):
        from_dict = render_svg(build_graph(spec, tasks))
        assert render_svg(build_graph(pipeline_view(spec), tasks)) == from_dict


def test_nested_pipelines_importers_and_exit_handlers_get_their_kinds() -> None:
    mixed_graph = build_graph(compile_function(mixed))
    assert kind_of(mixed_graph, "inner") == "dag"
    assert kind_of(mixed_graph, "inner/stamp") == "executor"
    assert kind_of(mixed_graph, "condition-3") == "condition"

    imported = build_graph(compile_function(p.import_remote))
    assert kind_of(imported, "importer") == "importer"
    assert ("importer", "read-text") in {(e.source, e.target) for e in imported.edges}

    exits = build_graph(compile_function(exit_handling))
    group = exits.find("exit-handler-1")
    assert group is not None and group.kind == "dag"
    assert [c.path for c in group.children] == ["exit-handler-1/stamp-2"]
    assert ("exit-handler-1", "stamp") in {(e.source, e.target) for e in exits.edges}


def test_edges_follow_dependencies_and_data(lifecycle: dict[str, Any]) -> None:
    graph = build_graph(lifecycle)
    edges = {(e.source, e.target) for e in graph.edges}
    # Data: split reads ingest's output; an .after() only: split runs after validate.
    assert ("ingest", "split") in edges
    assert ("validate", "split") in edges
    # Collected loop outputs: select-best reads what every iteration produced.
    assert ("for-loop-1", "select-best") in edges
    assert ("plan-trials", "for-loop-1") in edges
    assert ("train", "condition-branches-2") in edges
    assert ("explore", "split") not in edges
    # Parameter and artifact data alone (no dependentTasks written by hand) make edges.
    two_step = build_graph(compile_function(p.two_step))
    assert {(e.source, e.target) for e in two_step.edges} == {("write-text", "read-text")}
    lazy = build_graph(compile_function(p.lazy_imports))
    assert {(e.source, e.target) for e in lazy.edges} == {("import-lazily", "import-lazily-2")}
    # Every edge joins two siblings of the same group, and each appears once.
    for _group, children, level_edges in levels(graph):
        names = {c.path for c in children}
        pairs = [(e.source, e.target) for e in level_edges]
        assert len(pairs) == len(set(pairs))
        assert all(s in names and t in names for s, t in pairs)


def test_edges_inside_groups(conformance: Path) -> None:
    spec = parse_spec(
        (conformance / "pipelines/valid/critical/collected_parameters.yaml").read_text()
    )
    graph = build_graph(spec)
    group = graph.find("collecting-parameters")
    assert group is not None
    inside = {(e.source, e.target) for e in group.edges}
    assert inside == {
        ("collecting-parameters/split-ids", "collecting-parameters/for-loop-1"),
        ("collecting-parameters/for-loop-1", "collecting-parameters/consume-ids"),
    }
    loop = graph.find("collecting-parameters/for-loop-1")
    assert loop is not None
    assert {(e.source, e.target) for e in loop.edges} == {
        (
            "collecting-parameters/for-loop-1/prepend-id",
            "collecting-parameters/for-loop-1/consume-single-id",
        )
    }
    assert ("collecting-parameters", "consume-ids") in {(e.source, e.target) for e in graph.edges}


# -------------------------------------------------------------------------- layout


def assert_sound_layout(graph: Graph) -> None:
    """Targets below sources, no overlaps among siblings, children inside their group, and
    everything inside the drawing."""
    for group, children, edges in levels(graph):
        by_path = {c.path: c for c in children}
        for edge in edges:
            source, target = by_path[edge.source], by_path[edge.target]
            assert target.y >= source.y + source.height, (edge.source, edge.target)
            (x0, y0), (x1, y1) = edge.points[0], edge.points[-1]
            assert x0 == pytest.approx(source.x + source.width / 2)
            assert y0 == pytest.approx(source.y + source.height)
            assert x1 == pytest.approx(target.x + target.width / 2)
            assert y1 == pytest.approx(target.y)
        for a, b in itertools.combinations(children, 2):
            apart = (
                a.x + a.width <= b.x + 0.01
                or b.x + b.width <= a.x + 0.01
                or a.y + a.height <= b.y + 0.01
                or b.y + b.height <= a.y + 0.01
            )
            assert apart, (a.path, b.path)
        if group is not None:
            for child in children:
                assert child.x >= group.x and child.x + child.width <= group.x + group.width
                assert child.y >= group.y + 20  # below the header
                assert child.y + child.height <= group.y + group.height
    for node in shown(graph.nodes):
        assert node.x >= 0 and node.x + node.width <= graph.width
        assert node.y >= 0 and node.y + node.height <= graph.height


def test_layers_respect_edges_and_nodes_do_not_overlap(lifecycle: dict[str, Any]) -> None:
    spec_only = build_graph(lifecycle)
    assert_sound_layout(spec_only)
    assert all((n.width, n.height) == (180, 44) for n in spec_only.walk() if not n.is_group)
    run = build_graph(lifecycle, engine_records(lifecycle, iterations=7))
    assert_sound_layout(run)
    # The long chain ingest -> validate -> split -> ... -> train runs top to bottom.
    y = {n.path: n.y for n in run.nodes}
    assert y["ingest"] < y["validate"] < y["split"] < y["for-loop-1"] < y["select-best"]
    assert y["select-best"] < y["train"] < y["evaluate"] < y["condition-branches-2"]


def test_layout_is_deterministic(lifecycle: dict[str, Any]) -> None:
    records = engine_records(lifecycle, iterations=5)
    first = str(render_svg(build_graph(lifecycle, records)))
    again = str(render_svg(build_graph(lifecycle, list(records))))
    assert first == again


def test_a_child_is_centred_under_its_only_parent() -> None:
    graph = build_graph(compile_function(p.two_step))
    write, read = graph.find("write-text"), graph.find("read-text")
    assert write is not None and read is not None
    assert read.x + read.width / 2 == pytest.approx(write.x + write.width / 2)


# ----------------------------------------------------------------------- run graphs


def test_a_real_run_maps_every_record_onto_a_node() -> None:
    """The engine's own records of a run: iterations become groups with their own copy of
    the loop body, states and task ids land on the right nodes."""
    spec = compile_function(mixed)
    result = run_pipeline(spec, {}, workers=2)
    assert result.state == "SUCCEEDED"
    graph = build_graph(spec, result.tasks)
    nodes = {n.path: n for n in graph.walk()}
    for record in result.tasks:
        node = nodes[record.path]
        assert node.task_id == record.task_id
        assert node.state == record.state
    loop = nodes["for-loop-2"]
    assert loop.kind == "loop" and loop.iterations == 3 and loop.parallelism == 2
    assert [c.path for c in loop.children] == [f"for-loop-2/iteration-{i}" for i in range(3)]
    for i, iteration in enumerate(loop.children):
        assert iteration.kind == "iteration"
        assert iteration.detail == f"item {'xyz'[i]}"  # the loop item it ran with
        assert iteration.item_name == "xyz"[i]
        prefix = f"for-loop-2/iteration-{i}/"
        assert sorted(c.path for c in iteration.children) == [
            prefix + "stamp-2",
            prefix + "stamp-3",
        ]
        assert [(e.source, e.target) for e in iteration.edges] == [
            (prefix + "stamp-2", prefix + "stamp-3")
        ]
    # The condition was false: its group is SKIPPED and its task, which never got a record,
    # is skipped with it (not "not started": the run has ended and it never will).
    assert nodes["condition-3"].state == "SKIPPED"
    assert "condition-3/stamp-4" not in {t.path for t in result.tasks}
    assert nodes["condition-3/stamp-4"].state == "SKIPPED"
    root = parse(str(render_svg(graph)))
    drawn = elements_by_path(root)
    assert "state-skipped" in classes(drawn["condition-3/stamp-4"])
    assert text_of(drawn["condition-3/stamp-4"], "node-meta") == "skipped"
    assert "state-skipped" in classes(drawn["condition-3"])
    assert_sound_layout(graph)


def test_states_durations_and_cache_hits_reach_the_svg(lifecycle: dict[str, Any]) -> None:
    records = engine_records(
        lifecycle,
        iterations=3,
        states={"for-loop-1/iteration-1/run-trial": "FAILED", "explore": "RUNNING"},
        cached={"ingest"},
        not_started={"condition-branches-2"},
    )
    graph = build_graph(lifecycle, records)
    root = parse(str(render_svg(graph)))
    drawn = elements_by_path(root)
    ids = {r.path: r.task_id for r in records}

    ingest = drawn["ingest"]
    assert classes(ingest) == {"node", "kind-executor", "state-succeeded", "cached"}
    assert ingest.get("data-task-id") == ids["ingest"]
    assert text_of(ingest, "node-meta") == "cached"
    assert ingest.get("aria-label") == "ingest, cached"

    validate = drawn["validate"]
    assert classes(validate) == {"node", "kind-executor", "state-succeeded"}
    assert text_of(validate, "node-meta") == "succeeded · 1.2 s"
    assert validate.get("aria-label") == "validate, succeeded · 1.2 s"  # as shown

    assert "state-running" in classes(drawn["explore"])
    assert text_of(drawn["explore"], "node-meta") == "running"
    failed = drawn["for-loop-1/iteration-1/run-trial"]
    assert "state-failed" in classes(failed)
    assert failed.get("aria-label") == "run-trial, failed · 1.2 s"

    pending = drawn["condition-branches-2/condition-3/register-model"]
    assert "state-none" in classes(pending)
    assert pending.get("data-task-id") == ""
    assert text_of(pending, "node-meta") == "not started"
    assert pending.get("aria-label") == "register-model, not started"

    iteration = drawn["for-loop-1/iteration-1"]
    assert classes(iteration) == {"group", "kind-iteration", "state-succeeded"}
    loop = drawn["for-loop-1"]
    assert text_of(loop, "group-label").startswith("for-loop-1 · 3 iterations · parallelism 4")


def test_spec_only_loop_shows_its_body_once_labelled_as_a_loop(lifecycle: dict[str, Any]) -> None:
    graph = build_graph(lifecycle)
    loop = graph.find("for-loop-1")
    assert loop is not None
    assert [c.path for c in loop.children] == ["for-loop-1/run-trial"]
    assert loop.iterations is None and loop.parallelism == 4
    root = parse(str(render_svg(graph)))
    header = elements_by_path(root)["for-loop-1"]
    assert text_of(header, "group-label") == "for-loop-1 · loop · parallelism 4"
    leaf = elements_by_path(root)["ingest"]
    assert classes(leaf) == {"node", "kind-executor", "state-none"}
    assert text_of(leaf, "node-meta") == "kubeline:0.1.0"  # what it runs
    assert leaf.get("aria-label") == "ingest"  # no run: no state to tell


# ---------------------------------------------------------------- collapse / expand


def hundred_iterations() -> tuple[dict[str, Any], list[TaskRecord]]:
    spec = compile_function(loop_of(100))
    states = {f"for-loop-2/iteration-{i}": "FAILED" for i in (3, 4)}
    states |= {f"for-loop-2/iteration-{i}/stamp-2": "FAILED" for i in (3, 4)}
    states |= {"for-loop-2/iteration-99": "RUNNING", "for-loop-2/iteration-99/stamp-2": "RUNNING"}
    states["for-loop-2"] = "RUNNING"
    return spec, engine_records(spec, iterations=100, states=states)


def test_a_large_loop_is_collapsed_automatically_with_a_summary() -> None:
    spec, records = hundred_iterations()
    graph = build_graph(spec, records)
    loop = graph.find("for-loop-2")
    assert loop is not None and loop.iterations == 100
    assert not loop.expanded
    assert len(loop.children) == 100  # the model keeps them; they are just not drawn
    root = parse(str(render_svg(graph)))
    drawn = elements_by_path(root)
    assert set(drawn) == {"stamp", "for-loop-2"}
    node = drawn["for-loop-2"]
    assert classes(node) == {"node", "collapsed", "kind-loop", "state-running"}
    assert node.get("data-toggle") == "for-loop-2"
    assert node.get("aria-expanded") == "false"
    assert node.get("tabindex") == "0" and node.get("role") == "button"
    assert text_of(node, "node-label") == "for-loop-2 · 100 iterations"
    assert text_of(node, "node-meta") == "97 done, 1 running, 2 failed"
    assert_sound_layout(graph)


def test_expanded_set_expands_exactly_the_groups_it_names() -> None:
    spec, records = hundred_iterations()
    graph = build_graph(spec, records, expanded={"for-loop-2", "for-loop-2/iteration-4"})
    groups = {n.path: n.expanded for n in graph.walk() if n.is_group}
    assert {path for path, open_ in groups.items() if open_} == {
        "for-loop-2",
        "for-loop-2/iteration-4",
    }
    root = parse(str(render_svg(graph)))
    drawn = elements_by_path(root)
    assert "group" in classes(drawn["for-loop-2"])
    header = next(t for t in drawn["for-loop-2"] if t.get("class") == "group-label")
    assert header.get("data-toggle") == "for-loop-2"
    assert header.get("aria-expanded") == "true"
    # Its name starts with what it shows; aria-expanded says it folds.
    assert header.get("aria-label") == "for-loop-2 · 100 iterations · parallelism 4, running"
    assert "collapsed" in classes(drawn["for-loop-2/iteration-0"])
    assert text_of(drawn["for-loop-2/iteration-0"], "node-meta") == "1 done"
    assert "state-failed" in classes(drawn["for-loop-2/iteration-4"])
    assert "state-failed" in classes(drawn["for-loop-2/iteration-4/stamp-2"])
    assert "for-loop-2/iteration-0/stamp-2" not in drawn
    assert_sound_layout(graph)


def test_an_empty_expanded_set_collapses_top_level_groups(lifecycle: dict[str, Any]) -> None:
    graph = build_graph(lifecycle, engine_records(lifecycle, iterations=2), expanded=set())
    root = parse(str(render_svg(graph)))
    drawn = elements_by_path(root)
    assert set(drawn) == set(spec_tasks(lifecycle)) - {
        "for-loop-1/run-trial",
        "condition-branches-2/condition-3",
        "condition-branches-2/condition-4",
        "condition-branches-2/condition-3/register-model",
        "condition-branches-2/condition-4/reject-model",
    }
    group = drawn["condition-branches-2"]
    assert classes(group) == {"node", "collapsed", "kind-condition", "state-succeeded"}
    assert text_of(group, "node-meta") == "2 done"
    assert drawn["ingest"].get("data-toggle") is None
    # Everything named: everything open.
    every = {n.path for n in graph.walk() if n.is_group}
    opened = build_graph(lifecycle, engine_records(lifecycle, iterations=2), expanded=every)
    assert all(n.expanded for n in opened.walk() if n.is_group)


def test_the_automatic_threshold() -> None:
    # One task before the loop, one task per iteration: limit - 1 iterations just fit.
    fits = compile_function(loop_of(AUTO_EXPAND_LIMIT - 1))
    graph = build_graph(fits, engine_records(fits, iterations=AUTO_EXPAND_LIMIT - 1))
    assert all(n.expanded for n in graph.walk() if n.is_group)
    over = compile_function(loop_of(AUTO_EXPAND_LIMIT))
    graph = build_graph(over, engine_records(over, iterations=AUTO_EXPAND_LIMIT))
    loop = graph.find("for-loop-2")
    assert loop is not None and not loop.expanded
    # The spec alone shows the body once: nothing to collapse.
    assert all(n.expanded for n in build_graph(over).walk() if n.is_group)


def test_many_iterations_wrap_into_rows() -> None:
    spec, records = hundred_iterations()
    every = {n.path for n in build_graph(spec, records).walk() if n.is_group}
    graph = build_graph(spec, records, expanded=every)
    loop = graph.find("for-loop-2")
    assert loop is not None and loop.expanded
    assert loop.width < 1500  # rows, not one line of 100 boxes
    assert_sound_layout(graph)


# ----------------------------------------------------------------------------- SVG


def test_svg_contract(lifecycle: dict[str, Any]) -> None:
    graph = build_graph(lifecycle, engine_records(lifecycle, iterations=2))
    svg = render_svg(graph)
    assert str(svg).startswith("<svg")
    assert hasattr(svg, "__html__")  # Markup: Jinja2 inserts it as is
    root = parse(str(svg))
    assert root.tag == f"{SVG}svg"
    assert root.get("class") == "dag"
    assert root.get("role") == "group" and root.get("aria-label") == "Pipeline graph"
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    marker = root.find(f"{SVG}defs/{SVG}marker")
    assert marker is not None and marker.get("id") == "dag-arrow"
    edges = [el for el in root.iter(f"{SVG}path") if el.get("class") == "edge"]
    assert len(edges) == sum(len(level[2]) for level in levels(graph))
    for edge in edges:
        assert edge.get("marker-end") == "url(#dag-arrow)"
        assert edge.get("d", "").startswith("M") and " C" in edge.get("d", "")
    for el in root.iter(f"{SVG}g"):
        cls = classes(el)
        if "node" in cls:
            assert el.get("tabindex") == "0" and el.get("role") == "button"
            assert el.get("transform", "").startswith("translate(")
            assert el.get("aria-label")
            box = el.find(f"{SVG}rect")
            assert box is not None and box.get("class") == "node-box" and box.get("rx") == "6"
            assert el.find(f"{SVG}title") is not None
            assert {t.get("class") for t in el.findall(f"{SVG}text")} == {"node-label", "node-meta"}
        elif "group" in cls:
            assert el.get("data-path")
            first = next(iter(el.findall(f"{SVG}rect")))
            assert first.get("class") == "group-box"
    # No scripts, no handlers, no styling that would beat the page's CSS, no links.
    for el in root.iter():
        assert not el.tag.endswith("script") and not el.tag.endswith("style")
        for name in el.attrib:
            assert not name.startswith("on")
            assert name not in ("fill", "stroke", "style", "href")
            assert "href" not in name


def test_names_are_escaped_and_cut_with_the_full_name_in_the_tooltip() -> None:
    spec = compile_function(escaping)
    graph = build_graph(spec)
    svg = str(render_svg(graph))
    assert "<b>" not in svg
    root = parse(svg)  # well-formed despite the name
    node = elements_by_path(root)["stamp"]
    name = "<b>&\"tricky\"</b> 'name' & more"
    shown = text_of(node, "node-label")
    # The accessible name starts with the text shown (cut), then says the name in full.
    assert node.get("aria-label") == f"{shown}; full name {name}"
    assert text_of(node, None, tag="title").startswith(name)
    label = text_of(node, "node-label")
    assert label.endswith("…") and name.startswith(label[:-1])
    assert text_of(node, "node-meta") == "stamp"  # differs from the label: the component
    run = parse(str(render_svg(build_graph(spec, engine_records(spec, iterations=1)))))
    run_node = elements_by_path(run)["stamp"]
    assert run_node.get("aria-label") == f"{shown}, succeeded · 1.2 s; full name {name}"


def test_corpus_pipelines_build_and_render(conformance: Path) -> None:
    files = sorted((conformance / "pipelines" / "valid").rglob("*.yaml"))
    assert len(files) > 100
    for file in files:
        spec = parse_spec(file.read_text(encoding="utf-8"), file.name)
        graph = build_graph(spec)
        assert {n.path for n in graph.walk()} == set(spec_tasks(spec)), file.name
        assert_sound_layout(graph)
        root = parse(str(render_svg(graph)))
        assert root.get("class") == "dag", file.name
        run = build_graph(spec, engine_records(spec, iterations=2))
        parse(str(render_svg(run)))
        assert_sound_layout(run)


@pytest.mark.parametrize(
    ("name", "loop", "header"),
    [
        ("pipeline_with_parallelfor_parallelism.yaml", "for-loop-1", "parallelism 2"),
        ("parallel_and_nested/pipeline_with_loops.yaml", "for-loop-2", "for-loop-2 · loop"),
    ],
)
def test_corpus_loops(conformance: Path, name: str, loop: str, header: str) -> None:
    spec = parse_spec((conformance / "pipelines/valid" / name).read_text())
    root = parse(str(render_svg(build_graph(spec))))
    assert header in text_of(elements_by_path(root)[loop], "group-label")


def test_corpus_nested_conditions_and_exit_handler(conformance: Path) -> None:
    valid = conformance / "pipelines/valid"
    nested = build_graph(parse_spec((valid / "critical/flip_coin.yaml").read_text()))
    assert kind_of(nested, "condition-1/condition-2") == "condition"
    assert_sound_layout(nested)
    exits = build_graph(parse_spec((valid / "failing/pipeline_with_exit_handler.yaml").read_text()))
    assert kind_of(exits, "exit-handler-1") == "dag"
    assert {(e.source, e.target) for e in exits.edges} == {("exit-handler-1", "print-op")}
    nested_pipeline = build_graph(
        parse_spec((valid / "parallel_and_nested/pipeline_in_pipeline.yaml").read_text())
    )
    inner_group = nested_pipeline.find("inner-pipeline")
    assert inner_group is not None and inner_group.kind == "dag"
    assert {(e.source, e.target) for e in inner_group.edges} == {
        ("inner-pipeline/print-op1", "inner-pipeline/print-op2")
    }


# ------------------------------------------------------------ iteration titles, order


@pytest.mark.parametrize(
    ("item", "name"),
    [
        ({"family": "svm", "trial_id": "svm-0"}, "svm-0"),  # an id-like key, wherever it is
        ('{"family": "svm", "trial_id": "svm-0"}', "svm-0"),  # JSON text holding an object
        ({"name": "first", "id": 7}, "7"),  # "id" before "name"
        ({"label": "b", "runId": "r9"}, "b"),  # exact keys before suffixed ones
        ({"runId": "r9", "a": 1}, "r9"),
        ({"model_name": "m", "a": 1}, "m"),
        ({"valid": True, "depth": 3}, "valid=true"),  # "valid" is no id: first plain value
        ({"family": "svm", "params": {"C": 1}}, "family=svm"),
        ({"params": {"C": 1}}, '{"params": {"C": 1}}'),  # nothing plain: compact JSON
        ("plain text", "plain text"),
        ("{not json", "{not json"),
        (7, "7"),
        (0.5, "0.5"),
        ([1, 2], "[1, 2]"),
        (list(range(30)), "30 items"),
        ("x" * 40, "x" * 23 + "…"),  # cut: the tooltip has it whole
        ({"trial_id": "line\nbreak"}, "line break"),
    ],
)
def test_a_loop_item_gets_a_short_name(item: Any, name: str) -> None:
    assert item_name(item) == name


def test_iterations_are_titled_by_their_items_id_with_the_whole_item_in_the_tooltip() -> None:
    spec = compile_function(trials)
    result = run_pipeline(spec, {}, workers=2)
    assert result.state == "SUCCEEDED"
    graph = build_graph(spec, result.tasks)
    root = parse(str(render_svg(graph)))
    drawn = elements_by_path(root)
    loops = sorted(n.path for n in graph.nodes if n.kind == "loop")
    first, second = (drawn[f"{loop}/iteration-0"] for loop in loops)

    header = text_of(first, "group-label")
    assert header == "iteration-0 · svm-0"
    label = next(t for t in first.iter(f"{SVG}text") if t.get("class") == "group-label")
    assert label.get("aria-label") == "iteration-0 · svm-0, succeeded"
    tooltip = text_of(first, None, tag="title")
    assert '"trial_id": "svm-0"' in tooltip and '"params": {"C": 1}' in tooltip
    assert text_of(second, "group-label") == "iteration-0 · knn-0"  # parsed from JSON text

    # Iterations of one loop share a width, whatever their titles, so the grid lines up.
    loop = graph.find(loops[0])
    assert loop is not None
    widths = {round(child.width, 1) for child in loop.children}
    assert len(widths) == 1
    long_title = drawn[f"{loops[0]}/iteration-1"]
    assert text_of(long_title, "group-label") == "iteration-1 · k_nearest_neighbours-1"
    assert_sound_layout(graph)


def _drawn_order(level: ET.Element) -> list[str]:
    """The data-path of each node or group drawn directly in ``level``, in DOM order."""
    return [el.get("data-path", "") for el in level if el.tag == f"{SVG}g"]


def test_nodes_are_drawn_in_reading_order_not_the_specs() -> None:
    """DOM order is Tab order: layer by layer, left to right, at every level."""
    # Through YAML, as an upload stores it: the tasks come back sorted by name.
    spec = yaml.safe_load(yaml.safe_dump(compile_function(reading_order)))
    graph = build_graph(spec, engine_records(spec, iterations=1))
    assert [n.path for n in graph.nodes] == ["alpha", "mike", "yankee", "zulu"]
    root = parse(str(render_svg(graph)))
    assert _drawn_order(root) == ["zulu", "alpha", "yankee", "mike"]


def test_every_level_of_the_lifecycle_is_drawn_in_reading_order(lifecycle: dict[str, Any]) -> None:
    graph = build_graph(lifecycle, engine_records(lifecycle, iterations=5))
    root = parse(str(render_svg(graph)))
    levels_drawn = [root] + [el for el in root.iter(f"{SVG}g") if "group" in classes(el)]
    checked = 0
    for level in levels_drawn:
        paths = _drawn_order(level)
        places = []
        for path in paths:
            node = graph.find(path)
            assert node is not None
            places.append((round(node.y, 1), round(node.x, 1)))
        assert places == sorted(places), paths
        checked += len(paths) > 1
    assert checked >= 3
    assert _drawn_order(root)[0] == "ingest"
