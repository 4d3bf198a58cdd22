"""Input resolution: what value each input of a task receives, as the KFP backend gives it.

Pure functions over the spec's views and what sibling tasks produced: the enclosing DAG's
inputs, upstream outputs (through ``parseJson`` selectors), constants with KFP's run-level
placeholders, a producer's final status (exit handlers), loop items, and a DAG's own
outputs. Values given to a ``STRING`` input become KFP's text of them. Nothing here runs
a process or touches the store, so the plan can call it and tests can drive it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from kubeline.engine.artifacts import ArtifactRef
from kubeline.engine.spec import (
    ArtifactSource,
    ComponentView,
    DagOutputs,
    ParameterSource,
    TaskView,
)
from kubeline.engine.values import kfp_text
from kubeline.errors import KubelineError

__all__ = [
    "Produced",
    "RunContext",
    "as_declared",
    "dag_outputs",
    "loop_items",
    "resolve_inputs",
    "select",
]

Params = dict[str, Any]
Artifacts = dict[str, list[ArtifactRef]]

_SELECTOR = re.compile(r'parseJson\(string_value\)\["([^"]+)"\]')
# KFP reports a finished task's state as its ML Metadata execution state.
_FINAL_STATUS_STATES = {"SUCCEEDED": "COMPLETE"}


@dataclass(frozen=True)
class RunContext:
    """What KFP's run-level placeholders name: the run, its job id, when it was created,
    and its folder (pipeline root and workspace)."""

    run_id: str
    job_id: str
    created_at: datetime
    root: Path


class Produced(Protocol):
    """What input resolution reads of a sibling task: its outputs and how it ended."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def params_out(self) -> Params: ...
    @property
    def arts_out(self) -> Artifacts: ...


def resolve_inputs(
    task: TaskView,
    component: ComponentView,
    params: Mapping[str, Any],
    arts: Mapping[str, list[ArtifactRef]],
    siblings: Mapping[str, Produced],
    run: RunContext,
    task_id: str,
) -> tuple[Params, Artifacts]:
    """The parameters and artifacts ``task`` receives in a DAG whose inputs are ``params``
    and ``arts`` and whose tasks are ``siblings``.

    An input left out (or given nothing by an upstream task) is absent, so the
    component's own default applies.

    Raises:
        KubelineError: a selector kubeline does not read.
    """
    resolved: Params = {}
    for name, source in task.parameters.items():
        found, value = _parameter(source, params, siblings, run, task, task_id)
        if not found or (value is None and source.kind != "constant"):
            continue
        if source.selector:
            value = select(value, source.selector, task.name, name)
        resolved[name] = value
    artifacts: Artifacts = {}
    for name, art_source in task.artifacts.items():
        refs = _artifact(art_source, arts, siblings)
        if refs is not None:
            artifacts[name] = refs
    return as_declared(component, resolved), artifacts


def as_declared(component: ComponentView, params: Params) -> Params:
    """A number, bool, list or dict given to a ``STRING`` input becomes its text, as the
    KFP driver converts it for every task and loop iteration: ``"1"`` for 1, JSON for a
    list or dict (which ``parseJson(string_value)`` selectors then read back)."""
    declared = component.inputs.parameters
    for name, value in params.items():
        definition = declared.get(name)
        is_string = definition is not None and definition.type == "STRING"
        if is_string and value is not None and not isinstance(value, str):
            params[name] = kfp_text(value)
    return params


def select(value: Any, selector: str, task: str, name: str) -> Any:
    """``parseJson(string_value)["a"]["b"]`` applied to ``value``."""
    keys = _SELECTOR.findall(selector)
    if not keys:
        raise KubelineError(f"Task '{task}' input '{name}': unsupported selector '{selector}'.")
    for key in keys:
        if isinstance(value, str):
            value = json.loads(value)
        value = value[key]
    return value


def loop_items(task: TaskView, params: Params, arts: Artifacts) -> list[Any]:
    """The items a ParallelFor loops over: raw JSON, an input parameter (a list or its
    JSON text), or the artifacts of an input.

    Raises:
        KubelineError: the items are not a list.
    """
    iterator = task.iterator
    assert iterator is not None
    items: Any
    if iterator.kind == "artifact":
        items = arts.get(iterator.items_input, [])
    elif iterator.raw is not None:
        items = json.loads(iterator.raw)
    else:
        items = params.get(iterator.items_input)
        if isinstance(items, str):
            items = json.loads(items)
    if not isinstance(items, list):
        raise KubelineError(
            f"ParallelFor '{task.name}' needs a list to loop over; "
            f"got {type(items).__name__}: {items!r}."
        )
    return items


def dag_outputs(outputs: DagOutputs, tasks: Mapping[str, Produced]) -> tuple[Params, Artifacts]:
    """A DAG's outputs from its tasks: for each, the first candidate that was produced."""
    params: Params = {}
    arts: Artifacts = {}
    for name, selectors in outputs.parameters.items():
        for sel in selectors:
            producer = tasks.get(sel.producer)
            if producer is not None and sel.key in producer.params_out:
                params[name] = producer.params_out[sel.key]
                break
    for name, selectors in outputs.artifacts.items():
        for sel in selectors:
            producer = tasks.get(sel.producer)
            if producer is not None and sel.key in producer.arts_out:
                arts[name] = producer.arts_out[sel.key]
                break
    return params, arts


def run_placeholders(text: str, run: RunContext, task_name: str, task_id: str) -> str:
    """KFP's run-level placeholders in a constant: job and task names, ids, times."""
    if "{{$." not in text:
        return text
    from kfp import dsl

    created = run.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {
        dsl.PIPELINE_JOB_NAME_PLACEHOLDER: run.run_id,
        dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER: run.run_id,
        dsl.PIPELINE_JOB_ID_PLACEHOLDER: run.job_id,
        dsl.PIPELINE_TASK_NAME_PLACEHOLDER: task_name,
        dsl.PIPELINE_TASK_ID_PLACEHOLDER: task_id,
        dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER: created,
        dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER: created,
        dsl.PIPELINE_ROOT_PLACEHOLDER: str(run.root / "tasks"),
        dsl.WORKSPACE_PATH_PLACEHOLDER: str(run.root / "workspace"),
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def _parameter(
    source: ParameterSource,
    params: Mapping[str, Any],
    siblings: Mapping[str, Produced],
    run: RunContext,
    task: TaskView,
    task_id: str,
) -> tuple[bool, Any]:
    if source.kind == "component_input":
        return (source.key in params), params.get(source.key)
    if source.kind == "task_output":
        producer = siblings.get(source.producer)
        if producer is None or source.key not in producer.params_out:
            return False, None
        return True, producer.params_out[source.key]
    if source.kind == "constant":
        value = source.value
        if isinstance(value, str):
            return True, run_placeholders(value, run, task.name, task_id)
        return True, value
    if source.kind == "final_status":
        producer = siblings[source.producer]
        return True, {
            "state": _FINAL_STATUS_STATES.get(producer.state, producer.state),
            "pipelineJobResourceName": run.run_id,
            "pipelineTaskName": producer.name,
            "error": {
                "code": 0 if producer.state == "SUCCEEDED" else 2,
                "message": producer.error or "",
            },
        }
    return False, None


def _artifact(
    source: ArtifactSource,
    arts: Mapping[str, list[ArtifactRef]],
    siblings: Mapping[str, Produced],
) -> list[ArtifactRef] | None:
    if source.kind == "component_input":
        return arts.get(source.key)
    if source.kind == "task_output":
        producer = siblings.get(source.producer)
        if producer is None:
            return None
        return producer.arts_out.get(source.key)
    return None
