"""Names from a pipeline spec as file-system names, and a check that a path stays in its folder.

A pipeline file is data anyone can write: a task named ``../../x``, an output named
``a/b`` or a pipeline named ``CON`` must never become a path outside the run folder (or a
device on Windows). Only the file-system side is mapped; the store, the CLI and the API keep
the spec's own (logical) names.

An *ordinary* name (letters, digits, ``-``, ``_``, ``.``; not starting with a dot, nor with
a dash that a command line would take for an option; not ending with a dot; at most
:data:`MAX_NAME` characters; no Windows device name) maps to itself, so run folders keep the
paths the docs show (``tasks/evaluate/report``, ``logs/evaluate.log``). Any other name maps
to a readable form plus ``~`` and a hash of the original: ``~`` is never part of an ordinary
name, and the hash tells two different names apart, so no two names ever share a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kubeline.engine.spec import PipelineView, pipeline_view
from kubeline.errors import PipelineLoadError, UserError

# The name rule itself is shared with the model registry (which may not import the engine).
from kubeline.paths import MAX_NAME, is_ordinary, safe_name

__all__ = [
    "MAX_NAME",
    "UnsafePathError",
    "check_spec_names",
    "ensure_inside",
    "is_ordinary",
    "run_id_prefix",
    "safe_name",
]

# How much of a pipeline name a run id keeps when the name is not ordinary.
_READABLE_LENGTH = 48
# Files kfp's executor keeps in a task's folder beside the outputs.
_TASK_FOLDER_FILES = ("executor_output.json",)


class UnsafePathError(UserError):
    """A path built for a run would lie outside the folder it belongs in."""


def run_id_prefix(pipeline_name: str) -> str:
    """The start of a run id (and run folder) for a pipeline name: the name itself when
    ordinary (every name KFP compiles is: ``^[a-z0-9][a-z0-9-]{0,127}$``), else its letters,
    digits and dashes (the run id's own time and random suffix keep it unique)."""
    if is_ordinary(pipeline_name):
        return pipeline_name
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]+", "-", pipeline_name.lower())).strip("-")
    return slug[:_READABLE_LENGTH].strip("-") or "pipeline"


def ensure_inside(path: Path, folder: Path) -> Path:
    """``path`` (unchanged) once its resolved form, symlinks followed, is ``folder`` or lies
    in it; checked before kubeline writes or serves a file there.

    Raises:
        UnsafePathError: the path resolves outside ``folder`` (a symlink, or ``..``).
    """
    base = Path(folder).resolve()
    resolved = Path(path).resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise UnsafePathError(
            f"'{path}' resolves to '{resolved}', outside '{base}', where it belongs; kubeline "
            "does not write or serve it. Remove the symlink (or the '..') that leads out."
        )
    return path


def _clash(names: Iterable[Any]) -> tuple[str, str] | None:
    """Two names whose files would be the same where letter case does not count (macOS,
    Windows); None when all differ."""
    seen: dict[str, str] = {}
    for name in names:
        key = safe_name(name).casefold()
        if key in seen:
            return seen[key], str(name)
        seen[key] = str(name)
    return None


def _mimic(names: list[str], groups: set[str]) -> tuple[str, str] | None:
    """A name and the sibling group (a sub-pipeline or loop, which holds tasks) it starts
    with, then '/': 'a/iteration-0/b' beside loop 'a' has the path of the loop's task 'b'."""
    for name in names:
        parts = name.split("/")
        for end in range(1, len(parts)):
            if "/".join(parts[:end]) in groups:
                return name, "/".join(parts[:end])
    return None


def check_spec_names(spec: PipelineView | Mapping[str, Any], source: str = "the pipeline") -> None:
    """Refuse a spec two of whose names would share a file or a path in the run: sibling
    tasks that differ only in letter case, or one that is a sibling group's name and a '/'
    (the path of a task in that group); outputs of one component that differ only in letter
    case, or one named like the file kfp's executor keeps in the task's folder. Checked
    before a run is recorded, so such a spec leaves nothing behind.

    Raises:
        PipelineLoadError: naming the two names and the fix.
    """
    view = spec if isinstance(spec, PipelineView) else pipeline_view(spec)
    for owner, component in [("root", view.root), *view.components.items()]:
        tasks = component.dag.tasks if component.dag is not None else {}
        groups = {name for name, task in tasks.items() if view.component_of(task).dag is not None}
        mimic = _mimic(list(tasks), groups)
        if mimic:
            raise PipelineLoadError(
                f"{source}: task '{mimic[0]}' in '{owner}' starts with '{mimic[1]}/', the name "
                "of a sub-pipeline or loop there, so its path in the run could be that of a "
                f"task nested in '{mimic[1]}'. Rename it (kfp's compiler never puts '/' in a "
                "name)."
            )
        clash = _clash(tasks)
        if clash:
            raise PipelineLoadError(
                f"{source}: tasks '{clash[0]}' and '{clash[1]}' in '{owner}' differ only in "
                "letter case, so they would share a folder on macOS and Windows. Rename one "
                "and compile the pipeline again."
            )
        names = [*component.outputs.parameters, *component.outputs.artifacts]
        clash = _clash(names)
        if clash:
            raise PipelineLoadError(
                f"{source}: component '{owner}' has outputs '{clash[0]}' and '{clash[1]}', "
                "which differ only in letter case, so they would be the same file on macOS "
                "and Windows. Rename one and compile the pipeline again."
            )
        taken = [n for n in names if safe_name(n).casefold() in _TASK_FOLDER_FILES]
        if taken:
            raise PipelineLoadError(
                f"{source}: component '{owner}' has an output named '{taken[0]}', the file "
                "where kfp's executor writes a task's results. Rename the output and compile "
                "the pipeline again."
            )
