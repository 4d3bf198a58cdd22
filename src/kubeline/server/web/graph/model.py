"""The graph's model: nodes (tasks and groups of tasks) and the edges between siblings,
with the geometry every part shares (node sizes, gaps, text widths). Building fills it,
layout sets its coordinates, rendering reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "CHAR_WIDTH",
    "DUMMY_WIDTH",
    "GRID_WIDTH",
    "GROUP_KINDS",
    "HEADER",
    "HEADER_MAX",
    "H_GAP",
    "LABEL_CHARS",
    "MARGIN",
    "META_CHARS",
    "NODE_HEIGHT",
    "NODE_WIDTH",
    "PAD",
    "SWEEPS",
    "V_GAP",
    "Edge",
    "Graph",
    "Node",
]

GROUP_KINDS = frozenset({"dag", "condition", "loop", "iteration"})

# Geometry (px). Node text is cut to fit, assuming CSS fonts of about 12px (label) and
# 11px (meta); the full text is always in the node's <title>.
NODE_WIDTH = 180
NODE_HEIGHT = 44
H_GAP = 28  # between neighbours in a layer
V_GAP = 44  # between layers (room for the edge curves)
DUMMY_WIDTH = 10  # a long edge's slot in the layers it crosses
PAD = 14  # group box padding (sides and bottom)
HEADER = 30  # group box header height
MARGIN = 12  # around the whole drawing
GRID_WIDTH = 1200  # loop iterations wrap into rows no wider than this
LABEL_CHARS = 27
META_CHARS = 29
CHAR_WIDTH = 7.0  # rough width of one header character, to size group boxes
HEADER_MAX = 420  # a group header never widens its box beyond this
SWEEPS = 4  # barycenter sweeps (down + up) for crossing reduction


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
    item_name: str = ""  # an iteration's item, short (its title): see item_name
    parallelism: int = 0  # a loop's parallelismLimit (0: none)
    # A loop's recorded iterations (its children); None while it shows its body once.
    iterations: int | None = None
    children: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)  # between children
    expanded: bool = True  # groups only: drawn with its children, or as one node
    x: float = 0.0
    y: float = 0.0
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT

    @property
    def is_group(self) -> bool:
        return self.kind in GROUP_KINDS

    def walk(self) -> Iterator[Node]:
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
