"""Rendering a laid-out graph to one inline SVG through the ``graph.svg`` template: what
each node says (label, state, duration, a collapsed group's summary), its accessible name,
and the edges' curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from kubeline.server.web.graph.labels import cut, header_text, plural
from kubeline.server.web.graph.model import (
    CHAR_WIDTH,
    LABEL_CHARS,
    META_CHARS,
    PAD,
    Edge,
    Graph,
    Node,
)

__all__ = ["STATE_WORDS", "render_svg"]

STATE_WORDS = {
    "SUCCEEDED": "succeeded",
    "RUNNING": "running",
    "PENDING": "pending",
    "FAILED": "failed",
    "SKIPPED": "skipped",
    "CANCELED": "canceled",
    "CANCELING": "canceling",
}
# Summary counts of a collapsed group, in this order.
_SUMMARY_WORDS = [
    ("SUCCEEDED", "done"),
    ("RUNNING", "running"),
    ("PENDING", "pending"),
    ("FAILED", "failed"),
    ("CANCELED", "canceled"),
    ("SKIPPED", "skipped"),
    ("", "not started"),
]


def _n(value: float) -> str:
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _state_words(node: Node, has_run: bool) -> str:
    """The state for people and screen readers; empty in a graph of the spec alone."""
    if not has_run:
        return ""
    if node.cache_hit:
        return "cached"
    if not node.state:
        return "not started"
    return STATE_WORDS.get(node.state, node.state.lower())


def _leaf_meta(node: Node, has_run: bool) -> str:
    if not has_run:
        # The component's name, unless it only repeats the label: then what it runs.
        if node.component and node.component != node.label:
            return node.component
        if node.kind == "importer":
            return "importer"
        return node.image.rpartition("/")[2] or node.kind
    if node.cache_hit:
        return "cached"
    words = _state_words(node, has_run)
    return f"{words} · {_duration(node.seconds)}" if node.seconds is not None else words


def _summary(node: Node, has_run: bool) -> str:
    """What a collapsed group holds: its iterations' (or leaf tasks') states by count."""
    if node.kind == "loop" and node.iterations:
        members = node.children
    else:
        members = [n for n in node.walk() if not n.is_group]
    if not has_run:
        tasks = plural(len(members), "task")
        return f"{tasks} per iteration" if node.kind == "loop" else tasks
    counts: dict[str, int] = {}
    for member in members:
        counts[member.state] = counts.get(member.state, 0) + 1
    parts = [f"{counts[s]} {word}" for s, word in _SUMMARY_WORDS if counts.get(s)]
    known = {state for state, _ in _SUMMARY_WORDS}
    parts += [f"{c} {s.lower()}" for s, c in counts.items() if s not in known]
    return ", ".join(parts) or "empty"


def _collapsed_label(node: Node) -> str:
    if node.kind != "loop":
        return node.label
    count = "loop" if node.iterations is None else plural(node.iterations, "iteration")
    return f"{node.label} · {count}"


def _classes(node: Node, base: str) -> str:
    state = node.state.lower() or "none"
    return f"{base} kind-{node.kind} state-{state}{' cached' if node.cache_hit else ''}"


def _title(node: Node, text: str) -> str:
    lines = [text]
    if node.component and node.component != node.label:
        lines.append(f"component {node.component}")
    if node.image:
        lines.append(f"image {node.image}")
    if node.detail:
        lines.append(node.detail)
    return "\n".join(lines)


def _box(node: Node, label: str, meta: str, title: str) -> dict[str, Any]:
    return {
        "x": _n(node.x),
        "y": _n(node.y),
        "width": _n(node.width),
        "height": _n(node.height),
        "title": title,
        "label": cut(label, LABEL_CHARS),
        "meta": cut(meta, META_CHARS),
        "mark_height": _n(node.height - 12),
    }


def _spoken(label: str, meta: str) -> str:
    """A node's accessible name: what it shows, in the order shown (label, then meta), so
    speech users can say what they see (WCAG 2.5.3). A label cut to fit stays cut at the
    start and is said in full after; a cut meta is simply said in full."""
    shown = cut(label, LABEL_CHARS)
    name = f"{shown}, {meta}" if meta else shown
    return name if shown == label else f"{name}; full name {label}"


def _view(node: Node, has_run: bool) -> dict[str, Any]:
    """What the template draws for one node: plain values, escaped by the template."""
    ids = {"classes": "", "path": node.path, "task_id": node.task_id}
    if not node.is_group:
        words = _state_words(node, has_run)
        meta = _leaf_meta(node, has_run)
        return {
            **ids,
            **_box(node, node.label, meta, _title(node, node.label)),
            "kind": "leaf",
            "classes": _classes(node, "node"),
            # Only a run's tasks open a panel; in a pipeline's graph a task is just a picture.
            "interactive": has_run,
            "aria": _spoken(node.label, meta if words else ""),
        }
    if not node.expanded:
        label = _collapsed_label(node)
        summary = _summary(node, has_run)
        return {
            **ids,
            **_box(node, label, summary, _title(node, f"{label}\n{summary}")),
            "kind": "collapsed",
            "classes": _classes(node, "node collapsed"),
            "aria": _spoken(label, summary),  # aria-expanded="false" says it opens
        }
    header = header_text(node)
    chars = max(4, int((node.width - 2 * PAD) / CHAR_WIDTH))
    return {
        **ids,
        "kind": "group",
        "classes": _classes(node, "group"),
        "title": _title(node, header),
        "x": _n(node.x),
        "y": _n(node.y),
        "width": _n(node.width),
        "height": _n(node.height),
        "label_x": _n(node.x + PAD),
        "label_y": _n(node.y + 19),
        # The whole header (the shown one may be cut), then the group's state.
        "aria": f"{header}, {words}" if (words := _state_words(node, has_run)) else header,
        "header": cut(header, chars),
        "level": _level(node.children, node.edges, has_run),
    }


def _edge_path(points: list[tuple[float, float]]) -> str:
    x, y = points[0]
    parts = [f"M{_n(x)},{_n(y)}"]
    for i in range(1, len(points)):
        tx, ty = points[i]
        if i % 2:  # bottom of one layer to the top of the next: a smooth S curve
            bend = max((ty - y) / 2, 12.0)
            parts.append(f"C{_n(x)},{_n(y + bend)} {_n(tx)},{_n(ty - bend)} {_n(tx)},{_n(ty)}")
        else:  # straight down through a layer, beside its nodes
            parts.append(f"L{_n(tx)},{_n(ty)}")
        x, y = tx, ty
    return " ".join(parts)


def _level(nodes: list[Node], edges: list[Edge], has_run: bool) -> dict[str, Any]:
    """One level's drawing. Nodes come in reading order (layer by layer, left to right),
    not the spec's alphabetical one: the DOM order is the keyboard's Tab order."""
    in_order = sorted(nodes, key=lambda node: (round(node.y, 1), round(node.x, 1)))
    return {
        "edges": [_edge_path(edge.points) for edge in edges if len(edge.points) >= 2],
        "nodes": [_view(node, has_run) for node in in_order],
    }


_SVG = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
).get_template("graph.svg")


def render_svg(graph: Graph) -> Markup:
    """The graph as one inline ``<svg class="dag">``: no script, no styles, no external
    references; colours and fonts come from the page's CSS via the class names. Drawn by the
    ``graph.svg`` template, which escapes every name."""
    return Markup(
        _SVG.render(
            width=_n(graph.width),
            height=_n(graph.height),
            top=_level(graph.nodes, graph.edges, graph.has_run),
        ).strip()
    )
