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

__all__ = ["PLATFORM_KEY", "SPEC_SUFFIXES", "load_spec", "parse_spec", "validate_spec"]

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
#: Where a loaded spec keeps KFP's platform document (not part of the PipelineSpec schema).
PLATFORM_KEY = "platformSpec"
# libyaml's loader where PyYAML was built with it: ten times faster on a large spec.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_spec(text: str, source: str = "the pipeline") -> dict[str, Any]:
    """Parse YAML/JSON text into a checked PipelineSpec dict."""
    if not text.strip():
        raise PipelineLoadError(f"{source} is empty.")
    try:
        docs = [d for d in yaml.load_all(text, Loader=_SAFE_LOADER) if d is not None]
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
