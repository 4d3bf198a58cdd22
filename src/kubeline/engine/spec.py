"""Load and check a compiled KFP v2 PipelineSpec (YAML or JSON) before anything runs, and
read it once into small frozen views for the rest of kubeline.

The check is KFP's own schema (the ``pipeline_spec_pb2.PipelineSpec`` protobuf, which
refuses unknown fields) plus the references between its parts, so a broken file is
refused with a message that names the part, instead of failing half-way through a run.

:func:`pipeline_view` turns the checked dict into a :class:`PipelineView` (components,
their DAGs' :class:`TaskView` objects with dependencies, inputs, trigger policy, iterator,
retry and caching options, and the executors), so the engine and the UI never walk the
raw dicts. The views are lenient as KFP's protobuf defaults are: a missing part reads as
empty, so any stored spec gives a view. The raw dicts stay reachable (``raw``) only for
kfp's own helpers and the cache key, which take KFP's document form.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from kubeline.errors import PipelineLoadError

__all__ = [
    "ALL_UPSTREAM_TASKS_COMPLETED",
    "MAX_DEPTH",
    "MAX_NODES",
    "PLATFORM_KEY",
    "SPEC_SUFFIXES",
    "ArtifactInput",
    "ArtifactSource",
    "CachingOptions",
    "ComponentView",
    "DagOutputs",
    "DagView",
    "ExecutorView",
    "InputsView",
    "IteratorView",
    "OutputSelector",
    "ParameterInput",
    "ParameterSource",
    "PipelineView",
    "RetryPolicy",
    "TaskView",
    "load_spec",
    "parse_spec",
    "pipeline_view",
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


def load_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- views
#: The trigger strategy of exit handlers and ``ignore_upstream_failure`` tasks.
ALL_UPSTREAM_TASKS_COMPLETED = "ALL_UPSTREAM_TASKS_COMPLETED"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _map(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else empty: a part a spec leaves out reads empty."""
    return dict(value) if isinstance(value, Mapping) else {}


def _frozen(items: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(items))


def _duration(value: Any, default: float) -> float:
    """KFP's protobuf Duration as JSON (``"30s"``) or a number of seconds."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value).rstrip("s") or 0)


@dataclass(frozen=True)
class ParameterInput:
    """One declared input or output parameter of a component."""

    name: str
    type: str  # KFP's parameterType: STRING, NUMBER_INTEGER, LIST...
    default: Any = None
    has_default: bool = False
    optional: bool = False


@dataclass(frozen=True)
class ArtifactInput:
    """One declared input or output artifact of a component."""

    name: str
    schema_title: str = ""
    is_list: bool = False
    optional: bool = False


@dataclass(frozen=True)
class InputsView:
    """A component's input (or output) definitions."""

    parameters: Mapping[str, ParameterInput] = field(default_factory=lambda: _EMPTY)
    artifacts: Mapping[str, ArtifactInput] = field(default_factory=lambda: _EMPTY)

    @property
    def defaults(self) -> dict[str, Any]:
        """The parameters' default values, by name (only those that have one)."""
        return {n: p.default for n, p in self.parameters.items() if p.has_default}

    @classmethod
    def of(cls, definitions: Any) -> InputsView:
        data = _map(definitions)
        params = {}
        for name, p in _map(data.get("parameters")).items():
            p = _map(p)
            params[name] = ParameterInput(
                name=name,
                type=str(p.get("parameterType", "STRING")),
                default=p.get("defaultValue"),
                has_default="defaultValue" in p,
                optional=bool(p.get("isOptional", False)),
            )
        arts = {}
        for name, a in _map(data.get("artifacts")).items():
            a = _map(a)
            arts[name] = ArtifactInput(
                name=name,
                schema_title=str(_map(a.get("artifactType")).get("schemaTitle", "")),
                is_list=bool(a.get("isArtifactList", False)),
                optional=bool(a.get("isOptional", False)),
            )
        return cls(parameters=_frozen(params), artifacts=_frozen(arts))


ParameterKind = Literal["component_input", "task_output", "constant", "final_status", "none"]


@dataclass(frozen=True)
class ParameterSource:
    """Where a task's input parameter comes from.

    ``component_input``: the enclosing DAG's input ``key``; ``task_output``: output ``key``
    of sibling ``producer``; ``constant``: ``value`` (KFP's ``runtimeValue``);
    ``final_status``: the final status of ``producer`` (an exit handler's input).
    """

    kind: ParameterKind
    key: str = ""
    producer: str = ""
    value: Any = None
    selector: str = ""  # KFP's parameterExpressionSelector, e.g. parseJson(...)["a"]

    @classmethod
    def of(cls, source: Any) -> ParameterSource:
        data = _map(source)
        selector = str(data.get("parameterExpressionSelector") or "")
        if "componentInputParameter" in data:
            return cls(
                "component_input", key=str(data["componentInputParameter"]), selector=selector
            )
        if "taskOutputParameter" in data:
            ref = _map(data["taskOutputParameter"])
            return cls(
                "task_output",
                key=str(ref.get("outputParameterKey", "")),
                producer=str(ref.get("producerTask", "")),
                selector=selector,
            )
        if "runtimeValue" in data:
            value = _map(data["runtimeValue"]).get("constant")
            return cls("constant", value=value, selector=selector)
        if "taskFinalStatus" in data:
            producer = str(_map(data["taskFinalStatus"]).get("producerTask", ""))
            return cls("final_status", producer=producer, selector=selector)
        return cls("none", selector=selector)


@dataclass(frozen=True)
class ArtifactSource:
    """Where a task's input artifact comes from: the enclosing DAG's input ``key``
    (``component_input``) or output ``key`` of sibling ``producer`` (``task_output``)."""

    kind: Literal["component_input", "task_output", "none"]
    key: str = ""
    producer: str = ""

    @classmethod
    def of(cls, source: Any) -> ArtifactSource:
        data = _map(source)
        if "componentInputArtifact" in data:
            return cls("component_input", key=str(data["componentInputArtifact"]))
        if "taskOutputArtifact" in data:
            ref = _map(data["taskOutputArtifact"])
            return cls(
                "task_output",
                key=str(ref.get("outputArtifactKey", "")),
                producer=str(ref.get("producerTask", "")),
            )
        return cls("none")


@dataclass(frozen=True)
class IteratorView:
    """A ParallelFor: what it loops over and the input each iteration's item fills.

    ``kind`` is ``parameter`` (items from ``raw`` JSON or the input parameter
    ``items_input``) or ``artifact`` (the items of input artifact ``items_input``).
    """

    kind: Literal["parameter", "artifact"]
    item_input: str
    raw: str | None = None
    items_input: str = ""
    parallelism: int = 0  # at most this many iterations at once; 0: no limit


@dataclass(frozen=True)
class RetryPolicy:
    """KFP's retryPolicy: up to ``max_retries`` more attempts, waiting
    ``backoff * factor ** (attempt - 1)`` seconds (at most ``max_backoff``) before each."""

    max_retries: int = 0
    backoff: float = 0.0
    factor: float = 2.0
    max_backoff: float = 3600.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before trying again after failed attempt ``attempt`` (1-based)."""
        return min(self.backoff * self.factor ** (attempt - 1), self.max_backoff)

    @classmethod
    def of(cls, policy: Any) -> RetryPolicy:
        data = _map(policy)
        return cls(
            max_retries=int(data.get("maxRetryCount", 0) or 0),
            backoff=_duration(data.get("backoffDuration"), 0.0),
            factor=float(data.get("backoffFactor", 2.0) or 2.0),
            max_backoff=_duration(data.get("backoffMaxDuration"), 3600.0),
        )


@dataclass(frozen=True)
class CachingOptions:
    enabled: bool = False
    key: str | None = None  # KFP's cachingOptions.cacheKey: replaces the inputs part


@dataclass(frozen=True)
class TaskView:
    """One task of a DAG, as its DAG declares it."""

    name: str
    component: str  # the component's name in the spec
    display_name: str
    dependencies: tuple[str, ...] = ()
    parameters: Mapping[str, ParameterSource] = field(default_factory=lambda: _EMPTY)
    artifacts: Mapping[str, ArtifactSource] = field(default_factory=lambda: _EMPTY)
    runs_always: bool = False  # ALL_UPSTREAM_TASKS_COMPLETED: exit handlers and the like
    condition: str = ""  # a CEL trigger condition (dsl.If / Elif / Else)
    iterator: IteratorView | None = None
    retry: RetryPolicy = RetryPolicy()
    caching: CachingOptions = CachingOptions()

    @property
    def producers(self) -> tuple[str, ...]:
        """Sibling tasks this one runs after or reads outputs of (for drawing edges)."""
        found = list(self.dependencies)
        found += [s.producer for s in self.parameters.values() if s.kind == "task_output"]
        found += [s.producer for s in self.artifacts.values() if s.kind == "task_output"]
        return tuple(p for p in found if p)

    @classmethod
    def of(cls, name: str, task: Any) -> TaskView:
        data = _map(task)
        inputs = _map(data.get("inputs"))
        trigger = _map(data.get("triggerPolicy"))
        iterator = None
        if "parameterIterator" in data or "artifactIterator" in data:
            is_artifact = "artifactIterator" in data
            it = _map(data["artifactIterator" if is_artifact else "parameterIterator"])
            items = _map(it.get("items"))
            limit = _map(data.get("iteratorPolicy")).get("parallelismLimit", 0)
            iterator = IteratorView(
                kind="artifact" if is_artifact else "parameter",
                item_input=str(it.get("itemInput", "")),
                raw=None if is_artifact or "raw" not in items else str(items["raw"]),
                items_input=str(
                    items.get("inputArtifact" if is_artifact else "inputParameter", "")
                ),
                parallelism=int(limit) if str(limit).lstrip("-").isdigit() else 0,
            )
        caching = _map(data.get("cachingOptions"))
        return cls(
            name=name,
            component=str(_map(data.get("componentRef")).get("name", "")),
            display_name=str(_map(data.get("taskInfo")).get("name") or name),
            dependencies=tuple(str(d) for d in data.get("dependentTasks") or ()),
            parameters=_frozen(
                {k: ParameterSource.of(v) for k, v in _map(inputs.get("parameters")).items()}
            ),
            artifacts=_frozen(
                {k: ArtifactSource.of(v) for k, v in _map(inputs.get("artifacts")).items()}
            ),
            runs_always=trigger.get("strategy") == ALL_UPSTREAM_TASKS_COMPLETED,
            condition=str(trigger.get("condition") or ""),
            iterator=iterator,
            retry=RetryPolicy.of(data.get("retryPolicy")),
            caching=CachingOptions(
                enabled=bool(caching.get("enableCache")), key=caching.get("cacheKey") or None
            ),
        )


@dataclass(frozen=True)
class OutputSelector:
    """A DAG output taken from output ``key`` of its task ``producer``."""

    producer: str
    key: str


@dataclass(frozen=True)
class DagOutputs:
    """A DAG's outputs, each with its candidates in order (``dsl.OneOf`` has several: the
    first whose producer wrote it wins)."""

    parameters: Mapping[str, tuple[OutputSelector, ...]] = field(default_factory=lambda: _EMPTY)
    artifacts: Mapping[str, tuple[OutputSelector, ...]] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def of(cls, outputs: Any) -> DagOutputs:
        data = _map(outputs)
        params = {}
        for name, source in _map(data.get("parameters")).items():
            source = _map(source)
            found = (
                [source["valueFromParameter"]]
                if "valueFromParameter" in source
                else _map(source.get("valueFromOneof")).get("parameterSelectors") or []
            )
            params[name] = tuple(
                OutputSelector(
                    str(_map(s).get("producerSubtask", "")),
                    str(_map(s).get("outputParameterKey", "")),
                )
                for s in found
            )
        arts = {}
        for name, source in _map(data.get("artifacts")).items():
            arts[name] = tuple(
                OutputSelector(
                    str(_map(s).get("producerSubtask", "")),
                    str(_map(s).get("outputArtifactKey", "")),
                )
                for s in _map(source).get("artifactSelectors") or []
            )
        return cls(parameters=_frozen(params), artifacts=_frozen(arts))


@dataclass(frozen=True)
class DagView:
    """A DAG: its tasks in the spec's order, and its outputs."""

    tasks: Mapping[str, TaskView] = field(default_factory=lambda: _EMPTY)
    outputs: DagOutputs = DagOutputs()

    @classmethod
    def of(cls, dag: Any) -> DagView:
        data = _map(dag)
        tasks = {str(n): TaskView.of(str(n), t) for n, t in _map(data.get("tasks")).items()}
        return cls(tasks=_frozen(tasks), outputs=DagOutputs.of(data.get("outputs")))


@dataclass(frozen=True)
class ComponentView:
    """A component: a DAG of tasks (``dag``) or one executor (``executor_label``).

    ``raw`` is KFP's own dict, for kfp's helpers (building the executor input) and the
    cache key, which take the document as KFP writes it.
    """

    name: str
    inputs: InputsView = InputsView()
    outputs: InputsView = InputsView()
    dag: DagView | None = None
    executor_label: str = ""
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @classmethod
    def of(cls, name: str, component: Any) -> ComponentView:
        data = _map(component)
        return cls(
            name=name,
            inputs=InputsView.of(data.get("inputDefinitions")),
            outputs=InputsView.of(data.get("outputDefinitions")),
            dag=DagView.of(data["dag"]) if "dag" in data else None,
            executor_label=str(data.get("executorLabel") or ""),
            raw=MappingProxyType(data),
        )


@dataclass(frozen=True)
class ExecutorView:
    """What runs a leaf component: a ``container`` (its image and command line), an
    ``importer``, or something kubeline cannot run locally (``other``)."""

    label: str
    kind: Literal["container", "importer", "other"]
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)  # its own
    resources: tuple[str, ...] = ()  # what the container asks for: cpuLimit, accelerator...

    @classmethod
    def of(cls, label: str, executor: Any) -> ExecutorView:
        data = _map(executor)
        container = _map(data.get("container"))
        kind: Literal["container", "importer", "other"] = (
            "importer" if "importer" in data else "container" if "container" in data else "other"
        )
        return cls(
            label=label,
            kind=kind,
            image=str(container.get("image") or ""),
            command=tuple(str(w) for w in container.get("command") or ()),
            args=tuple(str(w) for w in container.get("args") or ()),
            raw=MappingProxyType(data),
            env=_frozen(
                {
                    str(e["name"]): str(e.get("value", ""))
                    for e in map(_map, container.get("env") or ())
                    if "name" in e
                }
            ),
            resources=tuple(str(k) for k in _map(container.get("resources"))),
        )


TaskKind = Literal["loop", "dag", "importer", "executor"]


@dataclass(frozen=True)
class PipelineView:
    """A whole pipeline: its root DAG, components and executors.

    ``raw`` is the spec dict it was read from (with ``platformSpec`` when the file had one).
    ``kubernetes`` holds each executor's settings from KFP's Kubernetes platform document
    (secrets, volumes, node selectors...), by executor label, as KFP writes them.
    """

    name: str
    root: ComponentView
    components: Mapping[str, ComponentView] = field(default_factory=lambda: _EMPTY)
    executors: Mapping[str, ExecutorView] = field(default_factory=lambda: _EMPTY)
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    kubernetes: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _EMPTY)

    def component_of(self, task: TaskView) -> ComponentView:
        """The component ``task`` runs (an empty one when the spec lacks it)."""
        return self.components.get(task.component) or ComponentView(name=task.component)

    def executor_of(self, component: ComponentView) -> ExecutorView:
        """The executor of a leaf component (kind ``other`` when the spec lacks it)."""
        label = component.executor_label
        return self.executors.get(label) or ExecutorView(label=label, kind="other")

    def kind_of(self, task: TaskView) -> TaskKind:
        """``loop`` (a ParallelFor), ``dag`` (a sub-pipeline or condition group),
        ``importer`` or ``executor``."""
        if task.iterator is not None:
            return "loop"
        component = self.component_of(task)
        if component.dag is not None:
            return "dag"
        return "importer" if self.executor_of(component).kind == "importer" else "executor"


def pipeline_view(spec: Mapping[str, Any]) -> PipelineView:
    """Read a (checked) PipelineSpec dict once into its frozen view."""
    components = {
        str(n): ComponentView.of(str(n), c) for n, c in _map(spec.get("components")).items()
    }
    executors = {
        str(label): ExecutorView.of(str(label), e)
        for label, e in _map(_map(spec.get("deploymentSpec")).get("executors")).items()
    }
    platform = _map(_map(_map(spec.get(PLATFORM_KEY)).get("platforms")).get("kubernetes"))
    kubernetes = {
        str(label): _frozen(_map(settings))
        for label, settings in _map(_map(platform.get("deploymentSpec")).get("executors")).items()
    }
    return PipelineView(
        name=str(_map(spec.get("pipelineInfo")).get("name") or ""),
        root=ComponentView.of("root", spec.get("root")),
        components=_frozen(components),
        executors=_frozen(executors),
        raw=MappingProxyType(dict(spec)),
        kubernetes=_frozen(kubernetes),
    )
