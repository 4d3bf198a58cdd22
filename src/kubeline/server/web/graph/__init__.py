"""The pipeline graph: a model of a compiled PipelineSpec's tasks (optionally with a run's task
records), a layered layout computed here, and rendering to one inline SVG.

The layout is done in Python, not in the browser, so the pages need no graph library and the
run page can re-fetch a finished SVG fragment every second. It is a small Sugiyama-style
layout, applied recursively: each expanded group (sub-DAG, condition, loop, iteration) is laid
out inside its own box first, and that box is then one node of its parent's layout.

One concept a module: :mod:`.model` (nodes, edges, geometry), :mod:`.build` (from the spec
and task records; what is expanded), :mod:`.layout` and :mod:`.sugiyama` (coordinates),
:mod:`.labels` (text shared by layout and rendering), :mod:`.svg` (the drawing).
"""

from kubeline.server.web.graph.build import AUTO_EXPAND_LIMIT, build_graph
from kubeline.server.web.graph.model import Edge, Graph, Node
from kubeline.server.web.graph.svg import STATE_WORDS, render_svg

__all__ = [
    "AUTO_EXPAND_LIMIT",
    "STATE_WORDS",
    "Edge",
    "Graph",
    "Node",
    "build_graph",
    "render_svg",
]
