"""Layout: every expanded group is laid out inside its own box first (its children as a
layered DAG, a loop's iterations as a grid), and that box is then one node of its parent's
layout. Sets every visible node's absolute position and size and every edge's points.
"""

from __future__ import annotations

from kubeline.server.web.graph.labels import header_text
from kubeline.server.web.graph.model import (
    CHAR_WIDTH,
    GRID_WIDTH,
    H_GAP,
    HEADER,
    HEADER_MAX,
    MARGIN,
    NODE_HEIGHT,
    NODE_WIDTH,
    PAD,
    V_GAP,
    Edge,
    Graph,
    Node,
)
from kubeline.server.web.graph.sugiyama import sugiyama

__all__ = ["lay_out"]


def lay_out(graph: Graph) -> None:
    sizes = [_measure(node) for node in graph.nodes]
    pos, points, width, height = _layered(sizes, graph.nodes, graph.edges)
    for node, (x, y) in zip(graph.nodes, pos, strict=True):
        _place(node, x + MARGIN, y + MARGIN)
    for edge, pts in zip(graph.edges, points, strict=True):
        edge.points = [(x + MARGIN, y + MARGIN) for x, y in pts]
    graph.width = width + 2 * MARGIN
    graph.height = height + 2 * MARGIN


def _measure(node: Node, min_width: float = 0.0) -> tuple[float, float]:
    """Lay out ``node``'s inside (children relative to the node's top-left corner) and set
    its size (at least ``min_width`` wide)."""
    if not (node.is_group and node.expanded):
        node.width, node.height = NODE_WIDTH, NODE_HEIGHT
        return node.width, node.height
    sizes = [_measure(child) for child in node.children]
    if node.kind == "loop" and node.iterations:
        # Iterations share one width (their titles differ), so the grid's columns line up.
        cell = max((w for w, _ in sizes), default=0.0)
        sizes = [
            _measure(child, cell) if w < cell else (w, h)
            for child, (w, h) in zip(node.children, sizes, strict=True)
        ]
        pos, points, width, height = _grid(sizes)
    else:
        pos, points, width, height = _layered(sizes, node.children, node.edges)
    header = min(HEADER_MAX, len(header_text(node)) * CHAR_WIDTH + 2 * PAD)
    node.width = max(width + 2 * PAD, header, NODE_WIDTH, min_width)
    node.height = HEADER + max(height, 0.0) + PAD
    left = (node.width - width) / 2
    for child, (x, y) in zip(node.children, pos, strict=True):
        child.x, child.y = x + left, y + HEADER
    for edge, pts in zip(node.edges, points, strict=True):
        edge.points = [(x + left, y + HEADER) for x, y in pts]
    return node.width, node.height


def _place(node: Node, x: float, y: float) -> None:
    """Turn the relative coordinates inside ``node`` into absolute ones."""
    node.x, node.y = x, y
    if not (node.is_group and node.expanded):
        return
    for edge in node.edges:
        edge.points = [(px + x, py + y) for px, py in edge.points]
    for child in node.children:
        _place(child, x + child.x, y + child.y)


def _grid(
    sizes: list[tuple[float, float]],
) -> tuple[list[tuple[float, float]], list[list[tuple[float, float]]], float, float]:
    """Loop iterations share no edges: wrap them into rows rather than one wide layer."""
    if not sizes:
        return [], [], 0.0, 0.0
    cell = max(w for w, _ in sizes)
    columns = max(1, min(len(sizes), int((GRID_WIDTH + H_GAP) // (cell + H_GAP))))
    pos: list[tuple[float, float]] = []
    top = 0.0
    for start in range(0, len(sizes), columns):
        row = sizes[start : start + columns]
        for i, (w, _) in enumerate(row):
            pos.append((i * (cell + H_GAP) + (cell - w) / 2, top))
        top += max(h for _, h in row) + H_GAP
    width = min(len(sizes), columns) * (cell + H_GAP) - H_GAP
    return pos, [], width, top - H_GAP


def _layered(
    sizes: list[tuple[float, float]], nodes: list[Node], edges: list[Edge]
) -> tuple[list[tuple[float, float]], list[list[tuple[float, float]]], float, float]:
    """Lay out one DAG level: each connected part on its own (see :func:`sugiyama`), the
    parts then packed into rows, so many independent tasks do not make one endless line.

    Returns each node's top-left corner, each edge's points, and the total size."""
    index = {node.path: i for i, node in enumerate(nodes)}
    links = [(index[e.source], index[e.target]) for e in edges]
    part = list(range(len(sizes)))  # union-find over the edges

    def root(v: int) -> int:
        while part[v] != v:
            part[v] = part[part[v]]
            v = part[v]
        return v

    for s, t in links:
        a, b = root(s), root(t)
        if a != b:
            part[max(a, b)] = min(a, b)
    members: dict[int, list[int]] = {}
    for v in range(len(sizes)):
        members.setdefault(root(v), []).append(v)
    if len(members) <= 1:
        return sugiyama(sizes, links)

    pos: list[tuple[float, float]] = [(0.0, 0.0)] * len(sizes)
    points: list[list[tuple[float, float]]] = [[] for _ in links]
    laid = []
    for group in members.values():
        local = {v: i for i, v in enumerate(group)}
        mine = [(k, (local[s], local[t])) for k, (s, t) in enumerate(links) if s in local]
        result = sugiyama([sizes[v] for v in group], [link for _, link in mine])
        laid.append((group, mine, result))
    limit = max(GRID_WIDTH, *(result[2] for _, _, result in laid))
    x = top = row_height = width = 0.0
    for group, mine, (local_pos, local_points, w, h) in laid:
        if x > 0 and x + w > limit:
            x, top, row_height = 0.0, top + row_height + V_GAP, 0.0
        for v, (px, py) in zip(group, local_pos, strict=True):
            pos[v] = (px + x, py + top)
        for (k, _), pts in zip(mine, local_points, strict=True):
            points[k] = [(px + x, py + top) for px, py in pts]
        width = max(width, x + w)
        row_height = max(row_height, h)
        x += w + H_GAP * 2
    return pos, points, width, top + row_height
