"""The lineage graph of an artifact or an execution (KFP's lineage explorer), drawn as SVG
by the server.

Lineage is a few columns read left to right: what went into the task that made an
artifact, that task, the artifact, the tasks that read it, what they made. Every edge joins
neighbouring columns, so the layered layout of the run graph (``graph.py``: layering,
long edges, crossing reduction over many layers) is more than this needs: here the layers
are given, and one ordering pass per column, outward from the middle, leaves no crossings
(each column's nodes hang off one node of the middle). Columns are cut at
:data:`COLUMN_LIMIT` nodes, so a dataset read by ten thousand loop iterations still draws a
page of a few kilobytes.

Every node but the one the page is about is a link to its own page; a node says what it
is in words (``Dataset artifact``, ``task, failed``) and by its shape (artifacts are
pills, tasks are boxes), never by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = [
    "COLUMN_LIMIT",
    "LineageColumn",
    "LineageGraph",
    "LineageNode",
    "render_lineage",
    "type_word",
]

#: At most this many nodes in one column; the rest are counted under it.
COLUMN_LIMIT = 12

NODE_WIDTH = 180
NODE_HEIGHT = 46
_COLUMN_GAP = 48  # between columns: room for the edge curves and their arrows
_ROW_GAP = 14  # between nodes of a column
_HEADER = 26  # the column titles
_MORE = 22  # the "and N more" line under a cut column
_MARGIN = 12
_LABEL_CHARS = 22
_META_CHARS = 26


@dataclass
class LineageNode:
    """One artifact or task. ``key`` is unique in the graph (``artifact:<id>``,
    ``task:<id>``); ``href`` is its page, empty for the node the page is about."""

    key: str
    kind: str  # artifact or task
    label: str
    meta: str  # what it is, in words: "Dataset artifact", "task, succeeded"
    href: str = ""
    title: str = ""  # the tooltip: full name, type, run
    state: str = ""  # a task's state, for its colour (the words are in meta)
    cached: bool = False


@dataclass
class LineageColumn:
    """One column: a title, its nodes, and how many were left out past the limit."""

    title: str
    nodes: list[LineageNode] = field(default_factory=list)
    hidden: int = 0

    def add(self, node: LineageNode) -> bool:
        """Add ``node`` unless it is there already or the column is full (then count it);
        whether it is in the column now."""
        if any(n.key == node.key for n in self.nodes):
            return True
        if len(self.nodes) >= COLUMN_LIMIT:
            self.hidden += 1
            return False
        self.nodes.append(node)
        return True


@dataclass
class LineageGraph:
    """Columns left to right, the index of the one holding the page's own node, and edges
    (``(from key, to key)``) between nodes of neighbouring columns."""

    columns: list[LineageColumn]
    center: int
    edges: list[tuple[str, str]] = field(default_factory=list)

    def link(self, source: str, target: str) -> None:
        if (source, target) not in self.edges:
            self.edges.append((source, target))


def type_word(schema_title: str) -> str:
    """``system.Dataset`` -> ``Dataset``: what a reader calls the type."""
    return schema_title.rpartition(".")[2] or schema_title or "artifact"


def _n(value: float) -> str:
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _order(graph: LineageGraph, columns: list[LineageColumn]) -> None:
    """Sort each column by the mean position of its neighbours in the column nearer the
    middle (stable, so ties keep the order they were found in)."""
    center = graph.center
    for i in [*range(center + 1, len(columns)), *range(center - 1, -1, -1)]:
        near = columns[i - 1] if i > center else columns[i + 1]
        where = {n.key: k for k, n in enumerate(near.nodes)}
        keys: dict[str, float] = {}
        for k, node in enumerate(columns[i].nodes):
            found = [
                where[other]
                for a, b in graph.edges
                for other in ((a,) if b == node.key else (b,) if a == node.key else ())
                if other in where
            ]
            keys[node.key] = sum(found) / len(found) if found else float(k)
        columns[i].nodes.sort(key=lambda n: keys[n.key])


def _layout(graph: LineageGraph) -> dict[str, Any]:
    """Positions for the template: columns with their nodes, edge paths, the size."""
    middle = graph.columns[graph.center]
    columns = [c for c in graph.columns if c.nodes or c is middle]
    center = next(i for i, c in enumerate(columns) if c is middle)
    graph = LineageGraph(columns, center, graph.edges)
    _order(graph, columns)

    def column_height(column: LineageColumn) -> float:
        count = len(column.nodes)
        return count * NODE_HEIGHT + max(0, count - 1) * _ROW_GAP + (_MORE if column.hidden else 0)

    tallest = max(column_height(c) for c in columns)
    places: dict[str, tuple[float, float]] = {}
    drawn = []
    for i, column in enumerate(columns):
        x = _MARGIN + i * (NODE_WIDTH + _COLUMN_GAP)
        y = _MARGIN + _HEADER + (tallest - column_height(column)) / 2
        nodes = []
        for node in column.nodes:
            places[node.key] = (x, y)
            nodes.append(
                {
                    "x": _n(x),
                    "y": _n(y),
                    "kind": node.kind,
                    # Artifacts are pills, tasks boxes: their kind shows without colour.
                    "rx": _n(NODE_HEIGHT / 2) if node.kind == "artifact" else "3",
                    "text_x": "16" if node.kind == "artifact" else "10",
                    "href": node.href,
                    "label": _cut(node.label, _LABEL_CHARS),
                    "meta": _cut(node.meta, _META_CHARS),
                    "name": f"{node.label}, {node.meta}",
                    "title": node.title or f"{node.label}\n{node.meta}",
                    "classes": " ".join(
                        part
                        for part in (
                            "lnode",
                            f"kind-{node.kind}",
                            f"state-{node.state.lower()}" if node.state else "",
                            "cached" if node.cached else "",
                            "current" if i == graph.center else "",
                        )
                        if part
                    ),
                }
            )
            y += NODE_HEIGHT + _ROW_GAP
        drawn.append(
            {
                "title": column.title,
                "title_x": _n(x + NODE_WIDTH / 2),
                "nodes": nodes,
                "more": f"and {column.hidden} more" if column.hidden else "",
                "more_y": _n(y - _ROW_GAP + _MORE - 6),
            }
        )
    bend = _COLUMN_GAP / 2
    paths = []
    for source, target in graph.edges:
        if source not in places or target not in places:
            continue  # one end was cut from its column
        sx, sy = places[source]
        tx, ty = places[target]
        x1, y1 = sx + NODE_WIDTH, sy + NODE_HEIGHT / 2
        x2, y2 = tx, ty + NODE_HEIGHT / 2
        paths.append(
            f"M{_n(x1)},{_n(y1)} C{_n(x1 + bend)},{_n(y1)} {_n(x2 - bend)},{_n(y2)} "
            f"{_n(x2)},{_n(y2)}"
        )
    width = 2 * _MARGIN + len(columns) * NODE_WIDTH + (len(columns) - 1) * _COLUMN_GAP
    return {
        "width": _n(width),
        "height": _n(2 * _MARGIN + _HEADER + tallest),
        "header_y": _n(_MARGIN + 14),
        "node_width": NODE_WIDTH,
        "node_height": NODE_HEIGHT,
        "columns": drawn,
        "edges": paths,
    }


_SVG = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
).get_template("lineage.svg")


def render_lineage(graph: LineageGraph, label: str) -> Markup:
    """The graph as one inline ``<svg class="lineage">`` named ``label``: no script, no
    styles, no external references; drawn by the ``lineage.svg`` template, which escapes
    every name."""
    return Markup(_SVG.render(label=label, **_layout(graph)).strip())
