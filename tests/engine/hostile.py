"""Real compiled pipelines with their names rewritten into hostile ones, as a pipeline file
anyone wrote could hold them (kfp's compiler would never make them).

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

import copy
from typing import Any

from kfp import dsl
from kfp.dsl import Dataset, Output

#: Names that must never become paths as they are: traversal, absolute-looking, separators,
#: NUL and control characters, drive letters, Windows devices, dot names, an over-long one.
HOSTILE_NAMES = [
    "../../../../x",
    "..",
    ".",
    "",
    "a/b",
    "a\\..\\..\\b",
    "/etc/kubeline-x",
    "nul\x00byte",
    "tab\tand\x1bescape",
    "-rf",
    "C:x",
    "CON",
    "com1.txt",
    "Lpt9",
    ".hidden",
    "trailing.",
    "y" * 300,
]


@dsl.container_component
def write_outputs(data: Output[Dataset], note: dsl.OutputPath(str)):
    """A host command (sh) writing one artifact and one output parameter where told."""
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'echo data > "$0" && printf note > "$1"'],
        args=[data.path, note],
    )


@dsl.pipeline(name="outputs")
def outputs_pipeline():
    write_outputs()


def _walk(node: Any, visit: Any) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in list(node.values()):
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def rename_task(spec: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A copy of ``spec`` whose task ``old`` is called ``new``, every reference included."""
    spec = copy.deepcopy(spec)

    def visit(node: dict[str, Any]) -> None:
        tasks = node.get("tasks")
        if isinstance(tasks, dict) and old in tasks:
            node["tasks"] = {new if k == old else k: v for k, v in tasks.items()}
        for key in ("producerTask", "producerSubtask"):
            if node.get(key) == old:
                node[key] = new
        if isinstance(node.get("dependentTasks"), list):
            node["dependentTasks"] = [new if d == old else d for d in node["dependentTasks"]]

    _walk(spec, visit)
    return spec


def rename_output(spec: dict[str, Any], component: str, old: str, new: str) -> dict[str, Any]:
    """A copy of ``spec`` whose ``component`` output ``old`` is called ``new``: its
    definition, the references to it and the placeholders in its command."""
    spec = copy.deepcopy(spec)
    comp = spec["components"][component]
    for kind in ("parameters", "artifacts"):
        defs = comp.get("outputDefinitions", {}).get(kind, {})
        if old in defs:
            comp["outputDefinitions"][kind] = {new if k == old else k: v for k, v in defs.items()}

    def visit(node: dict[str, Any]) -> None:
        for key in ("outputParameterKey", "outputArtifactKey"):
            if node.get(key) == old:
                node[key] = new

    _walk(spec, visit)
    container = spec["deploymentSpec"]["executors"][comp["executorLabel"]]["container"]
    for key in ("command", "args"):
        container[key] = [w.replace(f"['{old}']", f"['{new}']") for w in container.get(key, [])]
    return spec
