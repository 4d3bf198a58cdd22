"""Which modules the warm worker parent should import: the ones the pipeline's own Python
components import, found by reading their source (never by running it)."""

from __future__ import annotations

import ast
import functools
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the warm worker parent imports this module, and needs no spec reading
    from kubeline.engine.spec import PipelineView

__all__ = ["DEFAULT_PRELOAD", "component_imports", "importable", "source_imports"]

#: Imported once by the fork server, with the modules the pipeline's components import;
#: a module that is not installed is skipped.
DEFAULT_PRELOAD = ("kfp.dsl.executor_main",)

_PROGRAM_MARK = '"$program_path/ephemeral_component.py"'
#: The file name a component's source is parsed under: what parsing it warns about (an
#: invalid escape such as "\{" in its strings) is the component's business, not a warning
#: of kubeline's run (a filter on this name alone: thread-safe, nothing else silenced).
_SOURCE_NAME = "<kubeline-component-source>"
warnings.filterwarnings("ignore", module=_SOURCE_NAME)


def _sources(view: PipelineView) -> list[str]:
    sources = []
    for executor in view.executors.values():
        words = [*executor.command, *executor.args]
        for i, word in enumerate(words[:-1]):
            if _PROGRAM_MARK in word:
                sources.append(words[i + 1])
                break
    return sources


def component_imports(spec: PipelineView | Mapping[str, Any]) -> list[str]:
    """Dotted module names imported anywhere in the pipeline's lightweight components
    (function bodies included), in first-seen order; ``from a.b import c`` gives ``a.b``
    and ``a.b.c`` (which may be a submodule). A spec dict is read into its view first."""
    from kubeline.engine.spec import PipelineView, pipeline_view

    view = spec if isinstance(spec, PipelineView) else pipeline_view(spec)
    found: dict[str, None] = {}
    for source in _sources(view):
        found.update(dict.fromkeys(source_imports(source)))
    return list(found)


@functools.lru_cache(maxsize=256)
def _imports_of(source: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(source, filename=_SOURCE_NAME)
    except SyntaxError:
        return ()
    found: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.setdefault(node.module)
            for alias in node.names:
                if alias.name != "*":
                    found.setdefault(f"{node.module}.{alias.name}")
    return tuple(name for name in found if name.split(".")[0] != "__future__")


def source_imports(source: str) -> list[str]:
    """The modules one component's source imports, as :func:`component_imports` reads
    them (cached: a loop runs the same source many times)."""
    return list(_imports_of(source))


def importable(names: list[str]) -> list[str]:
    """The names whose top-level package is installed here (found, not imported)."""
    import contextlib
    from importlib.util import find_spec

    found = []
    for name in dict.fromkeys(names):
        with contextlib.suppress(ImportError, ValueError):
            if find_spec(name.split(".")[0]) is not None:
                found.append(name)
    return found
