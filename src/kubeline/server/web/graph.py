"""The pipeline graph: a model of a compiled PipelineSpec's tasks (optionally with a run's task
records), a layered layout computed here, and rendering to one inline SVG.

The layout is done in Python, not in the browser, so the pages need no graph library and the
run page can re-fetch a finished SVG fragment every second. It is a small Sugiyama-style
layout, applied recursively: each expanded group (sub-DAG, condition, loop, iteration) is laid
out inside its own box first, and that box is then one node of its parent's layout.

Paths follow the engine's scheme (task names joined by ``/``, loop iterations as
``iteration-N``), so a node's ``data-path`` names the same task as its ``TaskRecord.path``.
"""

import contextlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from kubeline.store.records import TaskRecord

__all__ = [
    "AUTO_EXPAND_LIMIT",
    "STATE_WORDS",
    "Edge",
    "Graph",
    "Node",
    "build_graph",
    "render_svg",
]

#: With ``expanded=None``, a graph of at most this many leaf nodes is shown fully expanded;
#: above it the loops with the most iterations are collapsed until it fits.
AUTO_EXPAND_LIMIT = 60

GROUP_KINDS = frozenset({"dag", "condition", "loop", "iteration"})

# Geometry (px). Node text is cut to fit, assuming CSS fonts of about 12px (label) and
# 11px (meta); the full text is always in the node's <title>.
NODE_WIDTH = 180
NODE_HEIGHT = 44
_H_GAP = 28  # between neighbours in a layer
_V_GAP = 44  # between layers (room for the edge curves)
_DUMMY_WIDTH = 10  # a long edge's slot in the layers it crosses
_PAD = 14  # group box padding (sides and bottom)
_HEADER = 30  # group box header height
_MARGIN = 12  # around the whole drawing
_GRID_WIDTH = 1200  # loop iterations wrap into rows no wider than this
_LABEL_CHARS = 27
_META_CHARS = 29
_ITEM_CHARS = 24  # an iteration's title names its item in at most this many characters
_CHAR_WIDTH = 7.0  # rough width of one header character, to size group boxes
_HEADER_MAX = 420  # a group header never widens its box beyond this
_SWEEPS = 4  # barycenter sweeps (down + up) for crossing reduction

_ITERATION = re.compile(r"iteration-(\d+)")
# Keys that name a loop item, tried in this order; then keys ending in _id / Id / name.
_ITEM_KEYS = ("id", "name", "key", "title", "label")
_ITEM_KEY_SUFFIX = re.compile(r"(?i:(^|[_\-\s.])(id|name))$|[a-z0-9](Id|ID|Name)$")
_CONDITION_COMPONENT = re.compile(r"(comp-)?condition(-branches)?-\d+")

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


@dataclass(eq=False)
class Edge:
    """A dependency between two siblings (``source`` runs first). ``points`` are absolute
    coordinates after layout: source bottom, then (top, bottom) of each layer it passes
    through, then target top; curves join bottom->top pairs, straight lines top->bottom."""

    source: str
    target: str
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass(eq=False)
class Node:
    """One task (leaf) or group of tasks, with its run state when a record exists.

    ``state`` is the record's state, ``""`` when the task has no record (not started, or a
    graph of the spec alone). ``x``/``y`` (top-left), ``width`` and ``height`` are absolute,
    set by the layout for every visible node.
    """

    path: str
    label: str
    kind: str  # executor, importer, dag, condition, loop, iteration
    state: str = ""
    cache_hit: bool = False
    task_id: str = ""
    seconds: float | None = None
    component: str = ""  # a leaf's component, without "comp-"
    image: str = ""  # a container leaf's image
    detail: str = ""  # extra text for the tooltip: a condition, an iteration's item
    item_name: str = ""  # an iteration's item, short (its title): see _item_name
    parallelism: int = 0  # a loop's parallelismLimit (0: none)
    # A loop's recorded iterations (its children); None while it shows its body once.
    iterations: int | None = None
    children: list["Node"] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)  # between children
    expanded: bool = True  # groups only: drawn with its children, or as one node
    x: float = 0.0
    y: float = 0.0
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT

    @property
    def is_group(self) -> bool:
        return self.kind in GROUP_KINDS

    def walk(self) -> Iterator["Node"]:
        """This node and every node inside it, collapsed or not, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(eq=False)
class Graph:
    """The laid-out graph: top-level nodes and the edges between them."""

    nodes: list[Node]
    edges: list[Edge]
    has_run: bool  # built with task records (a run graph), not from the spec alone
    width: float = 0.0
    height: float = 0.0

    def walk(self) -> Iterator[Node]:
        """Every node, collapsed or not, depth first."""
        for node in self.nodes:
            yield from node.walk()

    def find(self, path: str) -> Node | None:
        return next((n for n in self.walk() if n.path == path), None)


# --------------------------------------------------------------------------- building


@dataclass
class _Context:
    components: dict[str, Any]
    executors: dict[str, Any]
    records: dict[str, TaskRecord]
    iterations: dict[str, list[tuple[int, TaskRecord]]]
    has_run: bool


def build_graph(
    spec: dict[str, Any],
    tasks: Iterable[TaskRecord] | None = None,
    *,
    expanded: set[str] | None = None,
) -> Graph:
    """Build and lay out the graph of ``spec``, with the state of each task in ``tasks``.

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
    ctx = _Context(
        components=spec.get("components") or {},
        executors=(spec.get("deploymentSpec") or {}).get("executors") or {},
        records=records,
        iterations=iterations,
        has_run=tasks is not None,
    )
    nodes, edges = _build_dag((spec.get("root") or {}).get("dag") or {}, "", ctx)
    _skip_inside_skipped(nodes)
    graph = Graph(nodes=nodes, edges=edges, has_run=ctx.has_run)
    if expanded is None:
        _auto_expand(graph)
    else:
        for node in graph.walk():
            node.expanded = node.is_group and node.path in expanded
    _layout(graph)
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


def _producers(task: dict[str, Any]) -> list[str]:
    """Sibling tasks whose outputs ``task`` consumes, and those it runs after."""
    found = list(task.get("dependentTasks") or [])
    inputs = task.get("inputs") or {}
    for source in (inputs.get("parameters") or {}).values():
        producer = (source.get("taskOutputParameter") or {}).get("producerTask")
        if producer:
            found.append(producer)
    for source in (inputs.get("artifacts") or {}).values():
        producer = (source.get("taskOutputArtifact") or {}).get("producerTask")
        if producer:
            found.append(producer)
    return found


def _build_dag(dag: dict[str, Any], prefix: str, ctx: _Context) -> tuple[list[Node], list[Edge]]:
    tasks: dict[str, Any] = dag.get("tasks") or {}
    nodes = [_build_task(name, task or {}, f"{prefix}{name}", ctx) for name, task in tasks.items()]
    edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for name, task in tasks.items():
        for producer in _producers(task or {}):
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


def _build_task(name: str, task: dict[str, Any], path: str, ctx: _Context) -> Node:
    component_name = (task.get("componentRef") or {}).get("name", "")
    component = ctx.components.get(component_name) or {}
    label = (task.get("taskInfo") or {}).get("name") or name
    condition = (task.get("triggerPolicy") or {}).get("condition", "")
    node = Node(path=path, label=label, kind="executor")
    _apply_record(node, ctx.records.get(path))
    if "parameterIterator" in task or "artifactIterator" in task:
        node.kind = "loop"
        limit = (task.get("iteratorPolicy") or {}).get("parallelismLimit") or 0
        node.parallelism = int(limit) if str(limit).isdigit() else 0
        body = component.get("dag") or {}
        found = ctx.iterations.get(path) if ctx.has_run else None
        if found:
            node.iterations = len(found)
            item_input = (task.get("parameterIterator") or {}).get("itemInput", "")
            node.children = [
                _build_iteration(path, index, record, body, item_input, ctx)
                for index, record in found
            ]
        else:
            node.children, node.edges = _build_dag(body, f"{path}/", ctx)
    elif "dag" in component:
        is_condition = bool(condition or _CONDITION_COMPONENT.fullmatch(component_name))
        node.kind = "condition" if is_condition else "dag"
        node.detail = f"if {condition}" if condition else ""
        node.children, node.edges = _build_dag(component["dag"], f"{path}/", ctx)
    else:
        executor = ctx.executors.get(component.get("executorLabel", "")) or {}
        node.kind = "importer" if "importer" in executor else "executor"
        node.image = str((executor.get("container") or {}).get("image") or "")
        node.component = _short_component(component_name, name) if component_name else ""
    return node


def _build_iteration(
    loop: str, index: int, record: TaskRecord, body: dict[str, Any], item_input: str, ctx: _Context
) -> Node:
    path = f"{loop}/iteration-{index}"
    node = Node(path=path, label=f"iteration-{index}", kind="iteration")
    _apply_record(node, record)
    item = ((record.inputs or {}).get("parameters") or {}).get(item_input, None)
    if item is not None:
        text = item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
        node.detail = f"item {text}"
        node.item_name = _item_name(item)
    node.children, node.edges = _build_dag(body, f"{path}/", ctx)
    return node


def _item_name(item: Any) -> str:
    """A loop item, short enough for its iteration's title: a JSON object (or a string
    holding one, as the lifecycle's trials are) by its identifying field (an id or name,
    else its first plain value), anything else as text; cut to fit. The title's tooltip
    keeps the whole item."""
    if isinstance(item, str) and item.lstrip().startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            item = json.loads(item)
    if isinstance(item, dict):
        text = _dict_name(item)
    elif isinstance(item, str):
        text = item
    else:
        text = json.dumps(item, default=str)
        if isinstance(item, list) and len(text) > _ITEM_CHARS:
            text = _plural(len(item), "item")
    return _cut(" ".join(text.split()), _ITEM_CHARS)


def _dict_name(item: dict[Any, Any]) -> str:
    plain = {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in item.items()
        if isinstance(value, (str, int, float, bool)) and value != ""
    }
    lowered = {key.lower(): key for key in plain}
    for wanted in _ITEM_KEYS:
        if wanted in lowered:
            return plain[lowered[wanted]]
    for key, value in plain.items():
        if _ITEM_KEY_SUFFIX.search(key):
            return value
    if plain:
        key, value = next(iter(plain.items()))
        return f"{key}={value}"
    return json.dumps(item, sort_keys=True, default=str)


# ----------------------------------------------------------------------- collapsing


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


# --------------------------------------------------------------------------- layout


def _layout(graph: Graph) -> None:
    sizes = [_measure(node) for node in graph.nodes]
    pos, points, width, height = _layered(sizes, graph.nodes, graph.edges)
    for node, (x, y) in zip(graph.nodes, pos, strict=True):
        _place(node, x + _MARGIN, y + _MARGIN)
    for edge, pts in zip(graph.edges, points, strict=True):
        edge.points = [(x + _MARGIN, y + _MARGIN) for x, y in pts]
    graph.width = width + 2 * _MARGIN
    graph.height = height + 2 * _MARGIN


def _header_text(node: Node) -> str:
    """A group's header: its label; for a loop its iterations and parallelism, for an
    iteration its item's short name (the box widens for it: it is already cut short)."""
    parts = [node.label]
    if node.kind == "iteration" and node.item_name:
        parts.append(node.item_name)
    if node.kind == "loop":
        if node.iterations is None:
            parts.append("loop")
        else:
            parts.append(_plural(node.iterations, "iteration"))
        if node.parallelism:
            parts.append(f"parallelism {node.parallelism}")
    return " · ".join(parts)


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
    header = min(_HEADER_MAX, len(_header_text(node)) * _CHAR_WIDTH + 2 * _PAD)
    node.width = max(width + 2 * _PAD, header, NODE_WIDTH, min_width)
    node.height = _HEADER + max(height, 0.0) + _PAD
    left = (node.width - width) / 2
    for child, (x, y) in zip(node.children, pos, strict=True):
        child.x, child.y = x + left, y + _HEADER
    for edge, pts in zip(node.edges, points, strict=True):
        edge.points = [(x + left, y + _HEADER) for x, y in pts]
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
    columns = max(1, min(len(sizes), int((_GRID_WIDTH + _H_GAP) // (cell + _H_GAP))))
    pos: list[tuple[float, float]] = []
    top = 0.0
    for start in range(0, len(sizes), columns):
        row = sizes[start : start + columns]
        for i, (w, _) in enumerate(row):
            pos.append((i * (cell + _H_GAP) + (cell - w) / 2, top))
        top += max(h for _, h in row) + _H_GAP
    width = min(len(sizes), columns) * (cell + _H_GAP) - _H_GAP
    return pos, [], width, top - _H_GAP


def _layered(
    sizes: list[tuple[float, float]], nodes: list[Node], edges: list[Edge]
) -> tuple[list[tuple[float, float]], list[list[tuple[float, float]]], float, float]:
    """Lay out one DAG level: each connected part on its own (see :func:`_sugiyama`), the
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
        return _sugiyama(sizes, links)

    pos: list[tuple[float, float]] = [(0.0, 0.0)] * len(sizes)
    points: list[list[tuple[float, float]]] = [[] for _ in links]
    laid = []
    for group in members.values():
        local = {v: i for i, v in enumerate(group)}
        mine = [(k, (local[s], local[t])) for k, (s, t) in enumerate(links) if s in local]
        result = _sugiyama([sizes[v] for v in group], [link for _, link in mine])
        laid.append((group, mine, result))
    limit = max(_GRID_WIDTH, *(result[2] for _, _, result in laid))
    x = top = row_height = width = 0.0
    for group, mine, (local_pos, local_points, w, h) in laid:
        if x > 0 and x + w > limit:
            x, top, row_height = 0.0, top + row_height + _V_GAP, 0.0
        for v, (px, py) in zip(group, local_pos, strict=True):
            pos[v] = (px + x, py + top)
        for (k, _), pts in zip(mine, local_points, strict=True):
            points[k] = [(px + x, py + top) for px, py in pts]
        width = max(width, x + w)
        row_height = max(row_height, h)
        x += w + _H_GAP * 2
    return pos, points, width, top + row_height


def _sugiyama(
    sizes: list[tuple[float, float]], links: list[tuple[int, int]]
) -> tuple[list[tuple[float, float]], list[list[tuple[float, float]]], float, float]:
    """Sugiyama-style layout of one connected DAG: longest-path layers top to bottom,
    barycenter ordering, then x positions centred on neighbours without overlap."""
    n = len(sizes)
    if n == 0:
        return [], [], 0.0, 0.0
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for s, t in dict.fromkeys(links):
        succ[s].append(t)
        pred[t].append(s)

    layer = _layers(n, pred, succ)

    # Long edges get one dummy node per layer they cross, so they take part in ordering
    # and positioning and are routed around the nodes, not through them.
    widths = [w for w, _ in sizes]
    heights = [h for _, h in sizes]
    up: list[list[int]] = [[] for _ in range(n)]
    down: list[list[int]] = [[] for _ in range(n)]
    chains: list[list[int]] = []
    for s, t in links:
        if layer[t] <= layer[s]:  # only in a cyclic (invalid) spec: drawn, not laid out
            chains.append([s, t])
            continue
        chain = [s]
        for level in range(layer[s] + 1, layer[t]):
            dummy = len(widths)
            widths.append(_DUMMY_WIDTH)
            heights.append(0.0)
            layer.append(level)
            up.append([])
            down.append([])
            chain.append(dummy)
        chain.append(t)
        for a, b in itertools.pairwise(chain):
            if b not in down[a]:
                down[a].append(b)
                up[b].append(a)
        chains.append(chain)

    depth = max(layer) + 1
    rows: list[list[int]] = [[] for _ in range(depth)]
    for v in range(len(layer)):  # nodes in spec order, dummies in edge order
        rows[layer[v]].append(v)
    _order(rows, up, down)
    center = _positions(rows, widths, up, down)

    tops: list[float] = []
    bottoms: list[float] = []
    y = 0.0
    for row in rows:
        tops.append(y)
        y += max(heights[v] for v in row)
        bottoms.append(y)
        y += _V_GAP
    height = y - _V_GAP
    left = min(center[v] - widths[v] / 2 for v in range(len(widths)))
    right = max(center[v] + widths[v] / 2 for v in range(len(widths)))
    pos = [(center[v] - widths[v] / 2 - left, tops[layer[v]]) for v in range(n)]

    points: list[list[tuple[float, float]]] = []
    for chain in chains:
        s, t = chain[0], chain[-1]
        pts = [(center[s] - left, tops[layer[s]] + heights[s])]
        for d in chain[1:-1]:
            pts.append((center[d] - left, tops[layer[d]]))
            pts.append((center[d] - left, bottoms[layer[d]]))
        pts.append((center[t] - left, tops[layer[t]]))
        points.append(pts)
    return pos, points, right - left, height


def _layers(n: int, pred: list[list[int]], succ: list[list[int]]) -> list[int]:
    """Longest-path layering; a task with no inputs sits just above its first consumer
    rather than at the very top, which keeps its edge short."""
    indegree = [len(p) for p in pred]
    ready = [v for v in range(n) if indegree[v] == 0]
    order: list[int] = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for t in succ[v]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    placed = set(order)
    order += [v for v in range(n) if v not in placed]  # a cycle: keep going regardless
    layer = [0] * n
    done: set[int] = set()
    for v in order:
        layer[v] = max((layer[p] + 1 for p in pred[v] if p in done), default=0)
        done.add(v)
    for v in reversed(order):
        if not pred[v] and succ[v]:
            layer[v] = max(layer[v], min(layer[t] for t in succ[v]) - 1)
    return layer


def _order(rows: list[list[int]], up: list[list[int]], down: list[list[int]]) -> None:
    """Reorder each layer by the barycenter of its neighbours, sweeping down and up, and
    keep the ordering with the fewest crossings."""
    if len(rows) < 2:
        return
    best = [row[:] for row in rows]
    best_cross = _crossings(rows, down)
    for _ in range(_SWEEPS):
        if best_cross == 0:
            break
        for i in range(1, len(rows)):
            _by_barycenter(rows[i], rows[i - 1], up)
        for i in range(len(rows) - 2, -1, -1):
            _by_barycenter(rows[i], rows[i + 1], down)
        cross = _crossings(rows, down)
        if cross < best_cross:
            best, best_cross = [row[:] for row in rows], cross
    rows[:] = best


def _by_barycenter(row: list[int], ref: list[int], links: list[list[int]]) -> None:
    where = {v: i for i, v in enumerate(ref)}
    keys: dict[int, float] = {}
    for i, v in enumerate(row):
        near = [where[u] for u in links[v] if u in where]
        keys[v] = sum(near) / len(near) if near else float(i)
    row.sort(key=keys.__getitem__)  # stable: ties keep their order


def _crossings(rows: list[list[int]], down: list[list[int]]) -> int:
    """Edge crossings between consecutive layers, counted as inversions."""
    total = 0
    for upper, lower in itertools.pairwise(rows):
        where = {v: i for i, v in enumerate(lower)}
        ends = [where[t] for v in upper for t in sorted(down[v], key=where.__getitem__)]
        tree = [0] * (len(lower) + 1)  # Fenwick tree of lower positions seen so far
        for seen, e in enumerate(ends):
            i, below = e + 1, 0
            while i > 0:
                below += tree[i]
                i -= i & -i
            total += seen - below  # earlier edges ending to the right of this one
            i = e + 1
            while i <= len(lower):
                tree[i] += 1
                i += i & -i
    return total


def _positions(
    rows: list[list[int]], widths: list[float], up: list[list[int]], down: list[list[int]]
) -> list[float]:
    """Centre x of every node: each layer in turn moves its nodes as close as it can to the
    mean of their neighbours above (or below), keeping order and spacing; the last sweep
    is downward so children sit centred under their parents."""
    center = [0.0] * len(widths)
    for row in rows:
        offsets = _offsets(row, widths)
        for v, o in zip(row, offsets, strict=True):
            center[v] = o - offsets[-1] / 2
    for sweep in range(_SWEEPS * 2 + 1):
        downward = sweep % 2 == 0
        order = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
        links = up if downward else down
        for i in order:
            row = rows[i]
            wanted = [
                sum(center[u] for u in links[v]) / len(links[v]) if links[v] else center[v]
                for v in row
            ]
            offsets = _offsets(row, widths)
            fitted = _isotonic([w - o for w, o in zip(wanted, offsets, strict=True)])
            for v, f, o in zip(row, fitted, offsets, strict=True):
                center[v] = f + o
    return center


def _offsets(row: list[int], widths: list[float]) -> list[float]:
    """Each node's centre relative to the first's when packed tightly."""
    out = [0.0]
    for a, b in itertools.pairwise(row):
        gap = _H_GAP if widths[a] > _DUMMY_WIDTH and widths[b] > _DUMMY_WIDTH else _H_GAP / 2
        out.append(out[-1] + (widths[a] + widths[b]) / 2 + gap)
    return out


def _isotonic(values: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` (least squares, pool adjacent
    violators): with the packing offsets removed, it places a layer's nodes nearest to
    where they want to be without overlap or reordering."""
    blocks: list[list[float]] = []  # [sum, count]
    for value in values:
        total, count = value, 1.0
        while blocks and blocks[-1][0] / blocks[-1][1] > total / count:
            previous = blocks.pop()
            total += previous[0]
            count += previous[1]
        blocks.append([total, count])
    out: list[float] = []
    for total, count in blocks:
        out.extend([total / count] * int(count))
    return out


# -------------------------------------------------------------------------- rendering


def _n(value: float) -> str:
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


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
        tasks = _plural(len(members), "task")
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
    count = "loop" if node.iterations is None else _plural(node.iterations, "iteration")
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
        "label": _cut(label, _LABEL_CHARS),
        "meta": _cut(meta, _META_CHARS),
        "mark_height": _n(node.height - 12),
    }


def _spoken(label: str, meta: str) -> str:
    """A node's accessible name: what it shows, in the order shown (label, then meta), so
    speech users can say what they see (WCAG 2.5.3). A label cut to fit stays cut at the
    start and is said in full after; a cut meta is simply said in full."""
    shown = _cut(label, _LABEL_CHARS)
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
    header = _header_text(node)
    chars = max(4, int((node.width - 2 * _PAD) / _CHAR_WIDTH))
    return {
        **ids,
        "kind": "group",
        "classes": _classes(node, "group"),
        "title": _title(node, header),
        "x": _n(node.x),
        "y": _n(node.y),
        "width": _n(node.width),
        "height": _n(node.height),
        "label_x": _n(node.x + _PAD),
        "label_y": _n(node.y + 19),
        # The whole header (the shown one may be cut), then the group's state.
        "aria": f"{header}, {words}" if (words := _state_words(node, has_run)) else header,
        "header": _cut(header, chars),
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
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
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
