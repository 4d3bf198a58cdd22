"""The lineage graph's layout and SVG: columns left to right, no crossings, cut columns,
links named by their words, and names that are text, never markup."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from kubeline.server.web.lineage_graph import (
    COLUMN_LIMIT,
    LineageColumn,
    LineageGraph,
    LineageNode,
    render_lineage,
    type_word,
)

SVG = "{http://www.w3.org/2000/svg}"


def artifact(name: str, *, href: bool = True) -> LineageNode:
    return LineageNode(
        f"artifact:{name}",
        "artifact",
        name,
        "Dataset artifact",
        href=f"/artifacts/{name}" if href else "",
    )


def task(name: str, state: str = "SUCCEEDED", *, href: bool = True) -> LineageNode:
    return LineageNode(
        f"task:{name}",
        "task",
        name,
        f"task, {state.lower()}",
        href=f"/executions/{name}" if href else "",
        state=state,
    )


def chain() -> LineageGraph:
    """data -> train -> model -> (evaluate, deploy) -> (metrics, endpoint)."""
    inputs, made_by, this, read_by, outputs = (LineageColumn(t) for t in "ABCDE")
    graph = LineageGraph([inputs, made_by, this, read_by, outputs], center=2)
    for column, node in [
        (inputs, artifact("data")),
        (made_by, task("train")),
        (this, artifact("model", href=False)),
        (read_by, task("evaluate")),
        (read_by, task("deploy", "FAILED")),
        # Found in the other order than their producers: the layout must untangle them.
        (outputs, artifact("endpoint")),
        (outputs, artifact("metrics")),
    ]:
        column.add(node)
    for source, target in [
        ("artifact:data", "task:train"),
        ("task:train", "artifact:model"),
        ("artifact:model", "task:evaluate"),
        ("artifact:model", "task:deploy"),
        ("task:evaluate", "artifact:metrics"),
        ("task:deploy", "artifact:endpoint"),
    ]:
        graph.link(source, target)
    return graph


def parse(graph: LineageGraph) -> ET.Element:
    return ET.fromstring(str(render_lineage(graph, "Lineage of the artifact model")))


def positions(svg: ET.Element) -> dict[str, tuple[float, float]]:
    found = {}
    for element in svg.iter():
        if element.get("aria-label") and element.get("transform"):
            x, y = map(float, re.findall(r"[-\d.]+", element.get("transform", "")))
            found[element.get("aria-label", "").split(",")[0]] = (x, y)
    return found


def test_columns_read_left_to_right_without_crossings() -> None:
    svg = parse(chain())
    at = positions(svg)
    xs = [at[name][0] for name in ("data", "train", "model", "evaluate", "metrics")]
    assert xs == sorted(xs) and len(set(xs)) == 5
    assert at["evaluate"][0] == at["deploy"][0]
    # Each output sits on its producer's side: evaluate above deploy, so metrics above
    # endpoint, although endpoint was added first.
    assert at["evaluate"][1] < at["deploy"][1]
    assert at["metrics"][1] < at["endpoint"][1]
    assert len([p for p in svg.findall(f"{SVG}path") if p.get("class") == "ledge"]) == 6
    titles = [t.text for t in svg.findall(f"{SVG}text") if t.get("class") == "lcolumn-title"]
    assert titles == ["A", "B", "C", "D", "E"]


def test_each_node_but_the_pages_own_is_a_link_named_by_its_words() -> None:
    svg = parse(chain())
    links = svg.findall(f"{SVG}a")
    assert [a.get("aria-label") for a in links] == [
        "data, Dataset artifact",
        "train, task, succeeded",
        "evaluate, task, succeeded",
        "deploy, task, failed",
        "metrics, Dataset artifact",
        "endpoint, Dataset artifact",
    ]
    assert links[1].get("href") == "/executions/train"
    for link in links:
        texts = [t.text for t in link.findall(f"{SVG}text")]
        assert link.get("aria-label") == ", ".join(texts)  # the name is what one sees
    (own,) = [g for g in svg.findall(f"{SVG}g") if "current" in (g.get("class") or "")]
    assert own.get("aria-current") == "page" and own.get("role") == "img"
    assert own.get("aria-label") == "model, Dataset artifact"
    assert svg.get("aria-label") == "Lineage of the artifact model"


def test_shapes_tell_artifacts_from_tasks_without_colour() -> None:
    svg = parse(chain())
    boxes = {
        node.get("aria-label", "").split(",")[0]: node.find(f"{SVG}rect")
        for node in svg.iter()
        if node.get("aria-label") and node.get("transform")
    }
    assert boxes["data"] is not None and boxes["train"] is not None
    assert float(boxes["data"].get("rx", 0)) > 3 * float(boxes["train"].get("rx", 0))


def test_empty_columns_go_and_a_lone_node_still_draws() -> None:
    alone = LineageGraph([LineageColumn("Made by"), LineageColumn("This artifact")], center=1)
    alone.columns[1].add(artifact("orphan", href=False))
    svg = parse(alone)
    titles = [t.text for t in svg.findall(f"{SVG}text") if t.get("class") == "lcolumn-title"]
    assert titles == ["This artifact"]
    assert svg.findall(f"{SVG}a") == []


def test_a_wide_column_is_cut_and_counted() -> None:
    graph = LineageGraph([LineageColumn("This"), LineageColumn("Read by")], center=0)
    graph.columns[0].add(artifact("data", href=False))
    for i in range(COLUMN_LIMIT + 30):
        node = task(f"trial-{i}")
        if graph.columns[1].add(node):
            graph.link("artifact:data", node.key)
    assert len(graph.columns[1].nodes) == COLUMN_LIMIT and graph.columns[1].hidden == 30
    assert graph.columns[1].add(task("trial-0"))  # already there: neither added nor counted
    assert graph.columns[1].hidden == 30
    text = str(render_lineage(graph, "Lineage"))
    assert text.count("<a ") == COLUMN_LIMIT
    assert "and 30 more" in text
    assert len(text) < 20_000


def test_names_are_text_never_markup() -> None:
    graph = LineageGraph([LineageColumn("<b>col</b>"), LineageColumn("x")], center=0)
    evil = '"><script>alert(1)</script>'
    graph.columns[0].add(
        LineageNode("artifact:1", "artifact", evil, "Dataset artifact", title=evil)
    )
    graph.columns[1].add(
        LineageNode("task:2", "task", "t", "task, succeeded", href='/x" onclick="alert(1)')
    )
    text = str(render_lineage(graph, evil))
    assert "<script>" not in text and "<b>" not in text
    assert 'onclick="' not in text
    ET.fromstring(text)  # still well-formed


def test_type_word() -> None:
    assert type_word("system.Dataset") == "Dataset"
    assert type_word("google.VertexModel") == "VertexModel"
    assert type_word("Plain") == "Plain"
    assert type_word("") == "artifact"
