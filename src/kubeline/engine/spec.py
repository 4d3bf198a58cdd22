"""Load and check a compiled KFP v2 PipelineSpec (YAML or JSON) before anything runs.

The check is KFP's own schema (the ``pipeline_spec_pb2.PipelineSpec`` protobuf, which
refuses unknown fields) plus the references between its parts, so a broken file is
refused with a message that names the part, instead of failing half-way through a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kubeline.errors import PipelineLoadError

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "PLATFORM_KEY",
    "SPEC_SUFFIXES",
    "load_spec",
    "parse_spec",
    "validate_spec",
]

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
#: Where a loaded spec keeps KFP's platform document (not part of the PipelineSpec schema).
PLATFORM_KEY = "platformSpec"
# libyaml's loader where PyYAML was built with it: ten times faster on a large spec.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Values a spec may hold once YAML aliases are expanded. A compiled pipeline at KFP's
#: 32 MB upload limit holds about a million; an "alias bomb" of a few KB holds billions.
MAX_NODES = 4_000_000
#: Nesting a spec may have (KFP's protobuf parser itself stops at 100).
MAX_DEPTH = 100


def _check_size(root: yaml.Node, source: str) -> None:
    """Count the values ``root`` expands to and its depth, without expanding it.

    An alias points to a node already composed, so the count of each node is computed
    once and reused: a bomb is measured in time linear in its text, before any of it is
    built.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        if key in sizes and not children_done:
            continue
        if depth > MAX_DEPTH:
            raise PipelineLoadError(
                f"{source} is nested more than {MAX_DEPTH} levels deep, the limit: it is not "
                "a compiled pipeline. Compile it with kfp.compiler or 'kubeline compile'."
            )
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            continue
        children: list[yaml.Node] = (
            list(node.value)
            if isinstance(node, yaml.SequenceNode)
            else [part for pair in node.value for part in pair]
        )
        if not children_done:
            stack.append((node, depth, True))
            stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(c), 0) for c in children)
        if total > MAX_NODES:
            raise PipelineLoadError(
                f"{source} expands to more than {MAX_NODES:,} values (YAML aliases repeat "
                "parts of it), the limit: refused before expanding it. A compiled pipeline "
                "uses no aliases; compile it again with kfp.compiler or 'kubeline compile'."
            )
        sizes[key] = total


def _load_documents(text: str, source: str) -> list[Any]:
    """The YAML/JSON documents of ``text``, each measured before it is built."""
    loader = _SAFE_LOADER(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_size(node, source)
            documents.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return documents


def parse_spec(text: str, source: str = "the pipeline") -> dict[str, Any]:
    """Parse YAML/JSON text into a checked PipelineSpec dict."""
    if not text.strip():
        raise PipelineLoadError(f"{source} is empty.")
    try:
        docs = [d for d in _load_documents(text, source) if d is not None]
    except RecursionError as exc:
        raise PipelineLoadError(f"{source} is nested too deeply to be a pipeline.") from exc
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0]
        raise PipelineLoadError(f"{source} is not valid YAML or JSON: {reason}") from exc
    if not docs or not isinstance(docs[0], dict):
        raise PipelineLoadError(f"{source} does not hold a pipeline spec (a YAML mapping).")
    spec = docs[0]
    if "pipelineSpec" in spec and "root" not in spec:  # a PipelineJob wrapping the spec
        spec = spec["pipelineSpec"]
    validate_spec(spec, source)
    platform = next((d for d in docs[1:] if isinstance(d, dict) and "platforms" in d), None)
    if platform is not None:
        # KFP's second YAML document: Kubernetes settings, kept beside the spec.
        spec = {**spec, PLATFORM_KEY: platform}
    return spec


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read and check a compiled pipeline file."""
    file = Path(path).expanduser()
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "not found"
        raise PipelineLoadError(f"Pipeline file {what}: '{file}'.")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineLoadError(f"Cannot read pipeline file '{file}': {exc}") from exc
    return parse_spec(text, f"Pipeline file '{file}'")


def validate_spec(spec: dict[str, Any], source: str = "the pipeline") -> None:
    """Refuse a spec KFP would refuse: unknown fields, no name, dangling references."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    if "root" not in spec or "pipelineInfo" not in spec:
        raise PipelineLoadError(
            f"{source} is not a compiled KFP v2 pipeline (no 'root' or 'pipelineInfo'). "
            "Compile it with 'kubeline compile' or kfp.compiler first."
        )
    try:
        plain = {k: v for k, v in spec.items() if k != PLATFORM_KEY}
        json_format.ParseDict(plain, pipeline_spec_pb2.PipelineSpec())
    except json_format.ParseError as exc:
        raise PipelineLoadError(f"{source} is not a valid KFP PipelineSpec: {exc}") from exc
    if not (spec.get("pipelineInfo") or {}).get("name"):
        raise PipelineLoadError(f"{source} has no pipeline name (pipelineInfo.name).")
    components = spec.get("components", {})
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    dags = [("root", spec["root"]), *list(components.items())]
    for owner, comp in dags:
        for task_name, task in comp.get("dag", {}).get("tasks", {}).items():
            ref = task.get("componentRef", {}).get("name")
            if ref not in components:
                raise PipelineLoadError(
                    f"{source}: task '{task_name}' in '{owner}' uses component '{ref}', "
                    "which the spec does not define."
                )
        label = comp.get("executorLabel")
        if label and label not in executors:
            raise PipelineLoadError(
                f"{source}: component '{owner}' runs executor '{label}', which "
                "deploymentSpec.executors does not define."
            )
