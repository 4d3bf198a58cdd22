"""kubeline in Jupyter: a run's progress in one display that updates in place, results,
tasks and artifacts shown as HTML, artifacts whose data is one call away, and runs compared
as the web UI compares them.

A layer above the engine and the store: it may import them, the registry, the charts and
the layer-free modules, and nothing below imports it (an import-linter contract). IPython
is never a dependency: the views are plain HTML strings, registered with IPython's display
formatter only when kubeline runs in a kernel (:func:`register`).

Modules, by concept: :mod:`.artifacts` (an artifact as a Python object), :mod:`.results`
(a run's result and its tasks), :mod:`.views` (their HTML), :mod:`.reports` (Markdown and
HTML reports, sandboxed), :mod:`.progress` (the live display), :mod:`.formatters`
(IPython's display hooks), :mod:`.comparing` (``kubeline.compare``), :mod:`.links` (the
run's page in ``kubeline ui``), :mod:`.html` (the pieces every view shares).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubeline.notebook.artifacts import Artifact
    from kubeline.notebook.formatters import in_kernel, register
    from kubeline.notebook.frames import read_frame
    from kubeline.notebook.progress import LiveProgress
    from kubeline.notebook.results import Result, Task, get_run

__all__ = [
    "Artifact",
    "LiveProgress",
    "Result",
    "Task",
    "get_run",
    "in_kernel",
    "read_frame",
    "register",
]

# Each name's module, imported when the name is first used: ``import kubeline`` in IPython
# registers the views without loading the engine and the store.
_HOMES = {
    "Artifact": "artifacts",
    "read_frame": "frames",
    "in_kernel": "formatters",
    "register": "formatters",
    "LiveProgress": "progress",
    "Result": "results",
    "Task": "results",
    "get_run": "results",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kubeline.notebook' has no attribute '{name}'")
    return getattr(importlib.import_module(f"kubeline.notebook.{home}"), name)
