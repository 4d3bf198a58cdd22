"""Turn one executor task (container or importer) into a job a worker can run, and read
its outputs back, with kfp's own helpers building the executor input exactly as KFP does
and resolving every placeholder (concat, if-present, input/output paths and values)."""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeline.engine.artifacts import ArtifactRef, local_path
from kubeline.engine.safepath import ensure_inside, safe_name
from kubeline.engine.spec import ComponentView, ExecutorView
from kubeline.engine.values import kfp_text, whole_numbers
from kubeline.errors import PipelineLoadError

__all__ = ["LeafJob", "TaskContext", "import_artifact", "prepare_job", "read_outputs"]

_PROGRAM_MARK = '"$program_path/ephemeral_component.py"'
_EXECUTOR_MODULE = "kfp.dsl.executor_main"


@dataclass(frozen=True)
class TaskContext:
    """Where a task runs and what names its placeholders resolve to."""

    run_id: str
    pipeline_name: str
    task_name: str
    task_root: Path
    pipeline_root: Path
    workspace: Path


@dataclass
class LeafJob:
    """What a worker runs: plain data, picklable to a forked or spawned process.

    ``kind`` is ``python`` (a lightweight Python component: its source, function and
    executor input, run by kfp's executor inside the worker), ``command`` (anything
    else: the resolved command line, run on the host), or ``container`` (any component,
    its resolved command line run in its image, ``--runner docker``).
    """

    kind: str
    task_path: str
    log_path: str
    task_root: str
    env: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    source: str = ""
    function: str = ""
    executor_input: str = ""
    requirements: list[str] = field(default_factory=list)
    python: str | None = None  # an interpreter other than this one (an install venv)
    image: str = ""
    imports: list[str] = field(default_factory=list)  # what a python job's source imports
    limits: dict[str, str] = field(default_factory=dict)  # a container's "cpu" and "memory"


def _pb(message_type: Any, data: dict[str, Any]) -> Any:
    from google.protobuf import json_format

    return json_format.ParseDict(data, message_type(), ignore_unknown_fields=True)


def component_pb(component: dict[str, Any]) -> Any:
    from kfp.pipeline_spec import pipeline_spec_pb2

    return _pb(pipeline_spec_pb2.ComponentSpec, component)


def _replace_workspace(words: list[Any], workspace: Path) -> list[Any]:
    from kfp import dsl
    from kfp.dsl import constants

    def swap(word: Any) -> Any:
        if isinstance(word, str):
            return word.replace(dsl.WORKSPACE_PATH_PLACEHOLDER, str(workspace)).replace(
                constants.WORKSPACE_MOUNT_PATH, str(workspace)
            )
        return word

    return [swap(w) for w in words]


def _workspace_in_input(executor_input: dict[str, Any], workspace: Path) -> dict[str, Any]:
    resolved: dict[str, Any] = json.loads(
        _replace_workspace([json.dumps(executor_input)], workspace)[0]
    )
    return resolved


_WHOLE_ARTIFACTS = re.compile(r"\{\{\$\.(inputs|outputs)\.artifacts\['([^']+)'\]\}\}")


def _replace_artifact_lists(words: list[Any], executor_input: dict[str, Any]) -> list[Any]:
    """``{{$.inputs.artifacts['x']}}`` (no ``.uri`` or ``.path``) is the JSON list of the
    artifacts themselves, as the KFP backend gives it; kfp.local does not resolve it."""

    def swap(match: re.Match[str]) -> str:
        side, name = match.groups()
        found = executor_input.get(side, {}).get("artifacts", {}).get(name, {})
        return json.dumps(found.get("artifacts", []))

    return [_WHOLE_ARTIFACTS.sub(swap, w) if isinstance(w, str) else w for w in words]


def _nested_types(definitions: Any) -> set[str]:
    from kfp.pipeline_spec import pipeline_spec_pb2

    kinds = pipeline_spec_pb2.ParameterType.ParameterTypeEnum
    return {
        name
        for name, spec in definitions.items()
        if spec.parameter_type in (kinds.LIST, kinds.STRUCT)
    }


def _double_types(definitions: Any) -> set[str]:
    from kfp.pipeline_spec import pipeline_spec_pb2

    double = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.NUMBER_DOUBLE
    return {name for name, spec in definitions.items() if spec.parameter_type == double}


_PARAMETER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")


def _parameter_texts(text: str, values: dict[str, Any]) -> str:
    """Each ``{{$.inputs.parameters['x']}}`` in ``text`` as the KFP launcher writes it:
    ``3`` for 3, JSON for a list (kfp.local writes ``3.0`` and Python's ``[1, 2]``). One
    without a value is left to kfp.local."""
    return _PARAMETER.sub(lambda m: kfp_text(values[m[1]]) if m[1] in values else m[0], text)


def _resolve_command(
    words: list[str], executor_input_dict: dict[str, Any], ctx: TaskContext
) -> tuple[list[str], dict[str, Any]]:
    """kfp.local's ``replace_placeholders``, step by step, with input parameters written
    as the KFP backend writes them: in f-string inputs (references from one input to
    another) and in the command, after concat and if-present placeholders are taken
    apart and before ``{{$}}`` is, so the executor input's own JSON is left as it is.

    Returns the command and the executor input it was resolved with (what ``{{$}}`` is).
    """
    from kfp.local import placeholder_utils as kfp_placeholders

    values = executor_input_dict.get("inputs", {}).get("parameterValues", {})
    for name, value in list(values.items()):
        if isinstance(value, str):
            values[name] = _parameter_texts(value, values)
    names = {
        "pipeline_resource_name": ctx.run_id,
        "task_resource_name": ctx.task_name,
        "pipeline_root": str(ctx.pipeline_root),
        "pipeline_job_id": ctx.run_id,
        "pipeline_task_id": kfp_placeholders.make_random_id(),
    }
    executor_input_dict = kfp_placeholders.resolve_self_references_in_executor_input(
        executor_input_dict=executor_input_dict, **names
    )
    provided = kfp_placeholders.get_provided_inputs(executor_input_dict)
    words = kfp_placeholders.flatten_list(
        [kfp_placeholders.resolve_struct_placeholders(word, provided) for word in words]
    )
    resolved: list[str] = []
    for word in words:
        found = kfp_placeholders.resolve_individual_placeholder(
            element=_parameter_texts(word, values),
            executor_input_dict=executor_input_dict,
            **names,
        )
        if isinstance(found, list):
            resolved.extend(found)
        elif found is not None:
            resolved.append(found)
    return resolved, executor_input_dict


def _python_source(words: list[str]) -> str | None:
    """The program source of a lightweight Python component's command, else None."""
    for i, word in enumerate(words[:-1]):
        if _PROGRAM_MARK in word and '"$@"' in word and _EXECUTOR_MODULE in word:
            return words[i + 1]
    return None


def _function_name(compiled: list[Any]) -> str:
    """The function a lightweight component runs, as compiled (a fixed word, never a
    placeholder)."""
    for i, word in enumerate(compiled[:-1]):
        if word == "--function_to_execute" and isinstance(compiled[i + 1], str):
            return str(compiled[i + 1])
    return ""


def _own_output_paths(executor_input: Any, task_root: Path) -> None:
    """Each output's file at ``task_root/<safe name>``. kfp joins the spec's output name to
    the task root as it is, so ``../x`` or an absolute name would point anywhere; an
    ordinary name keeps the path kfp gives it."""
    for name, parameter in executor_input.outputs.parameters.items():
        parameter.output_file = str(ensure_inside(task_root / safe_name(name), task_root))
    for name, output in executor_input.outputs.artifacts.items():
        for artifact in output.artifacts:
            artifact.uri = str(ensure_inside(task_root / safe_name(name), task_root))


def _component_view(component: ComponentView | Mapping[str, Any]) -> ComponentView:
    """The component's view; a component dict as KFP writes it is read into one."""
    if isinstance(component, ComponentView):
        return component
    return ComponentView.of(str(component.get("executorLabel") or ""), component)


def _executor_view(executor: ExecutorView | Mapping[str, Any]) -> ExecutorView:
    """The executor's view; an executor dict as KFP writes it is read into one."""
    return executor if isinstance(executor, ExecutorView) else ExecutorView.of("", executor)


def prepare_job(
    component: ComponentView | Mapping[str, Any],
    executor: ExecutorView | Mapping[str, Any],
    parameters: dict[str, Any],
    artifacts: dict[str, list[ArtifactRef]],
    ctx: TaskContext,
    task_path: str,
    log_path: Path,
    *,
    in_container: bool = False,
) -> tuple[LeafJob, Any]:
    """Build the job for a container executor, and the ExecutorInput to read outputs with.

    ``component`` and ``executor`` are the spec's views (or KFP's dicts of them, read into
    views). ``artifacts`` holds a list per input; inputs declared as a single artifact get
    its first element. ``in_container``: a ``container`` job, the command line as KFP's
    launcher runs it in the component's image (host paths, which the container executor
    maps to its mounts).
    """
    from kfp.local import executor_input_utils

    from kubeline.engine.preload import source_imports
    from kubeline.engine.requirements import pip_requirements

    component_view = _component_view(component)
    executor_view = _executor_view(executor)
    spec = component_pb(dict(component_view.raw))  # kfp's helpers take KFP's document
    arguments: dict[str, Any] = dict(parameters)
    for name, refs in artifacts.items():
        definition = spec.input_definitions.artifacts.get(name)
        if definition is None:
            continue
        dsl_refs = [r.to_dsl() for r in refs]
        arguments[name] = dsl_refs if definition.is_artifact_list else (dsl_refs or [None])[0]
    ctx.task_root.mkdir(parents=True, exist_ok=True)
    executor_input = executor_input_utils.construct_executor_input(
        component_spec=spec,
        arguments=arguments,
        task_root=str(ctx.task_root),
        block_input_artifact=False,
    )
    _own_output_paths(executor_input, ctx.task_root)
    declared = component_view.inputs.parameters
    for name in list(executor_input.inputs.parameter_values):
        if name not in arguments and not (name in declared and declared[name].has_default):
            # An optional input nobody gave: absent, as the KFP backend leaves it, so the
            # component's own default applies.
            del executor_input.inputs.parameter_values[name]
    executor_input_dict = executor_input_utils.executor_input_to_dict(executor_input, spec)
    values = executor_input_dict.get("inputs", {}).get("parameterValues", {})
    for name in set(values) - _double_types(spec.input_definitions.parameters):
        # Integral numbers stay ints, as the backend's JSON prints them: lists and dicts,
        # and the undeclared inputs of an f-string (``pipelinechannel--...``), which
        # kfp.local turns into floats.
        values[name] = whole_numbers(values[name])
    executor_input_dict = _workspace_in_input(executor_input_dict, ctx.workspace)
    for output in executor_input_dict.get("outputs", {}).get("artifacts", {}).values():
        for art in output.get("artifacts", []):
            Path(art["uri"]).parent.mkdir(parents=True, exist_ok=True)
    compiled = [*executor_view.command, *executor_view.args]
    words = _replace_workspace(compiled, ctx.workspace)
    words = _replace_artifact_lists(words, executor_input_dict)
    resolved, resolved_input = _resolve_command(words, executor_input_dict, ctx)
    common: dict[str, Any] = {
        "task_path": task_path,
        "log_path": str(log_path),
        "task_root": str(ctx.task_root),
        "env": dict(executor_view.env),
        "image": executor_view.image,
    }
    if in_container:
        limits = _container_limits(executor_view)
        return LeafJob(kind="container", argv=resolved, limits=limits, **common), executor_input
    source = _python_source(resolved)
    if source is not None:
        job = LeafJob(
            kind="python",
            source=source,
            function=_function_name(compiled),
            # As data: the executor builds kfp's command line where it runs the task.
            executor_input=json.dumps(resolved_input),
            # From the command as compiled: the same for every run of the component, so
            # the parsed result is cached (the resolved one embeds each task's input).
            requirements=pip_requirements(compiled),
            imports=source_imports(source),
            **common,
        )
        return job, executor_input
    if resolved[:3] == ["python3", "-m", _EXECUTOR_MODULE] or (
        len(resolved) > 2 and resolved[1:3] == ["-m", _EXECUTOR_MODULE]
    ):
        raise PipelineLoadError(
            f"Task '{ctx.task_name}' is a containerized Python component: its code lives in "
            f"the image '{common['image']}', which kubeline does not run locally. Build it as a "
            "lightweight component (@dsl.component without target_image) or run it on a cluster."
        )
    if not resolved:
        raise PipelineLoadError(
            f"Task '{ctx.task_name}' gives no command: it relies on the entrypoint of image "
            f"'{common['image']}', which kubeline does not run locally"
            + (
                " (argostub/createpvc and deletepvc are KFP's Kubernetes volume steps)"
                if "argostub/" in str(common["image"])
                else ""
            )
            + ". Run this pipeline on a cluster."
        )
    return LeafJob(kind="command", argv=resolved, **common), executor_input


def _container_limits(executor: ExecutorView) -> dict[str, str]:
    """``set_cpu_limit`` / ``set_memory_limit`` as the container runtime takes them: CPUs
    as a number (``500m`` is 0.5), memory in bytes (``1G``, ``512Mi``)."""
    resources = executor.raw.get("container", {}).get("resources", {}) or {}
    limits: dict[str, str] = {}
    cpu = resources.get("resourceCpuLimit") or resources.get("cpuLimit")
    if cpu not in (None, "", 0):
        text = str(cpu).strip()
        try:
            cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        except ValueError:
            raise PipelineLoadError(f"'{text}' is not a CPU limit (e.g. 2, 0.5, 500m)") from None
        limits["cpu"] = f"{cores:g}"
    memory = resources.get("resourceMemoryLimit") or resources.get("memoryLimit")
    if memory not in (None, "", 0):
        limits["memory"] = str(_bytes(str(memory)))
    return limits


_UNITS = {
    "": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40, "PI": 2**50, "EI": 2**60,
}  # fmt: skip


def _bytes(quantity: str) -> int:
    """Kubernetes' quantity (``1G``, ``512Mi``, ``1.5e9``) in bytes."""
    match = re.fullmatch(r"\s*([0-9.]+(?:[eE][0-9]+)?)\s*([KMGTPE]i?|)\s*", quantity, re.I)
    if match is None:
        raise PipelineLoadError(f"'{quantity}' is not a memory quantity (e.g. 1G, 512Mi)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _collect_custom_paths(output_file: Path) -> None:
    """An output written to a path of the component's choosing (``artifact.set_path``) is
    copied to the artifact's URI, as KFP's launcher uploads it after the task."""
    if not output_file.is_file():
        return
    data = json.loads(output_file.read_text(encoding="utf-8"))
    for output in data.get("artifacts", {}).values():
        for art in output.get("artifacts", []):
            source, target = art.get("custom_path"), local_path(art.get("uri", ""))
            if not source or target is None or not Path(source).exists():
                continue
            if Path(source).resolve() == target.resolve():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if Path(source).is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)


def read_outputs(
    executor_input: Any, component: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
    """Parameters and artifacts (with content digests) a finished task wrote."""
    from kfp.local import executor_output_utils

    _collect_custom_paths(Path(executor_input.outputs.output_file))
    outputs = executor_output_utils.get_outputs_for_task(executor_input, component_pb(component))
    params: dict[str, Any] = {}
    arts: dict[str, list[ArtifactRef]] = {}
    nested = _nested_types(component_pb(component).output_definitions.parameters)
    declared = set(component.get("outputDefinitions", {}).get("artifacts", {}))
    for name, value in outputs.items():
        if name in declared:
            values = value if isinstance(value, list) else [value]
            arts[name] = [ArtifactRef.from_dsl(v).with_digest() for v in values]
        else:
            params[name] = whole_numbers(value) if name in nested else value
    # A container component writes its files and no executor output: its artifacts are
    # the ones the executor input named, as KFP's launcher records them.
    for name, output in executor_input.outputs.artifacts.items():
        if name in declared and name not in arts:
            arts[name] = [
                ArtifactRef(
                    name=a.name or name,
                    uri=a.uri,
                    schema_title=a.type.schema_title or "system.Artifact",
                ).with_digest()
                for a in output.artifacts
            ]
    return params, arts


def import_artifact(
    executor: dict[str, Any],
    component: dict[str, Any],
    parameters: dict[str, Any],
    ctx: TaskContext,
) -> ArtifactRef:
    """An importer task: an artifact for a URI that already exists (no copy, unless the
    pipeline asks for it in the workspace)."""
    from kfp.local import executor_input_utils, importer_handler, placeholder_utils
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = component_pb(component)
    executor_pb = _pb(pipeline_spec_pb2.PipelineDeploymentConfig.ExecutorSpec, executor)
    executor_input = executor_input_utils.construct_executor_input(
        component_spec=spec,
        arguments=parameters,
        task_root=str(ctx.task_root),
        block_input_artifact=False,
    )
    uri = importer_handler.get_importer_uri(
        importer_spec=executor_pb.importer, executor_input=executor_input
    )
    metadata = placeholder_utils.recursively_resolve_json_dict_placeholders(
        executor.get("importer", {}).get("metadata", {}) or {},
        executor_input_dict=executor_input_utils.executor_input_to_dict(executor_input, spec),
        pipeline_resource_name=ctx.run_id,
        task_resource_name=ctx.task_name,
        pipeline_root=str(ctx.pipeline_root),
        pipeline_job_id=ctx.run_id,
        pipeline_task_id=placeholder_utils.make_random_id(),
    )
    schema = executor["importer"].get("typeSchema", {}).get("schemaTitle", "system.Artifact")
    if local_path(uri) is None:
        uri, metadata = _fetch_remote(uri, ctx.task_root / "artifact", dict(metadata))
    if executor["importer"].get("downloadToWorkspace"):
        source = Path(uri.removeprefix("file://"))
        if source.exists():
            target = ensure_inside(
                ctx.workspace / ".artifacts" / safe_name(ctx.task_name) / safe_name(source.name),
                ctx.workspace,
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
            uri = str(target)
    return ArtifactRef(
        name="artifact", uri=uri, schema_title=schema, metadata=json.loads(json.dumps(metadata))
    ).with_digest()


def _fetch_remote(uri: str, target: Path, metadata: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Copy a remote artifact here with fsspec, when the backend for its scheme is
    installed (s3fs, gcsfs, adlfs...); else keep the URI, as a reference only."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError):
        return uri, metadata  # no backend for this scheme here
    try:
        if fs.isdir(path):
            for found in fs.find(path):  # a remote name with '..' must not land outside
                ensure_inside(target / posixpath.relpath(found, path), target)
            fs.get(path, str(target), recursive=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get(path, str(target))
    except FileNotFoundError as exc:
        raise PipelineLoadError(f"The importer's artifact '{uri}' does not exist.") from exc
    return str(target), {**metadata, "source_uri": uri}


def host_program_missing(job: LeafJob) -> str | None:
    """A message when a container component's program is not on this machine."""
    if job.kind != "command" or not job.argv:
        return None
    program = job.argv[0]
    if shutil.which(program) or (os.path.isabs(program) and os.access(program, os.X_OK)):
        return None
    return (
        f"'{program}' is not installed on this machine, and kubeline does not run the "
        f"image '{job.image}' locally. Install '{program}', or run the pipeline on a "
        "cluster."
    )
