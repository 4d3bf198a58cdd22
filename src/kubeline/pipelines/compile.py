"""Find a pipeline (ours, or a user's ``file.py:function``) and compile it to the standard
KFP v2 YAML that the KFP UI and Vertex AI Pipelines accept."""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kubeline.errors import PipelineLoadError
from kubeline.ml._files import write_text
from kubeline.pipelines.image import image_setting, set_default_image, set_python_image

__all__ = [
    "LIFECYCLE",
    "compile_function",
    "compile_pipeline",
    "compile_to_spec",
    "dump_spec",
    "load_pipeline_function",
]

#: The name ``kubeline compile`` and ``kubeline run`` give the lifecycle pipeline.
LIFECYCLE = "lifecycle"


def _graph_component_type() -> type:
    from kfp.dsl.graph_component import GraphComponent

    return GraphComponent


def load_pipeline_function(ref: str | None) -> Any:
    """Return the pipeline (a ``@dsl.pipeline`` function) that ``ref`` names.

    ``ref`` is ``None`` or ``lifecycle`` for kubeline's own pipeline, or
    ``path/to/file.py:function``; ``path/to/file.py`` alone works when the file defines
    exactly one pipeline.

    Raises:
        PipelineLoadError: the file or function is missing or is not a KFP pipeline.
    """
    if ref in (None, "", LIFECYCLE):
        from kubeline.pipelines.lifecycle import lifecycle_pipeline

        return lifecycle_pipeline
    assert ref is not None
    path_text, _, func_name = ref.partition(":")
    if len(path_text) == 1 and func_name and func_name[0] in "\\/":  # Windows drive "C:\..."
        drive_rest, _, func_name = func_name.partition(":")
        path_text = f"{path_text}:{drive_rest}"
    path = Path(path_text).expanduser()
    if path.suffix != ".py":
        raise PipelineLoadError(
            f"Cannot load pipeline '{ref}': expected 'lifecycle', 'path/to/file.py:function', "
            "or a compiled .yaml / .json pipeline."
        )
    if not path.is_file():
        raise PipelineLoadError(f"Pipeline file not found: '{path}'.")
    module_name = f"_kubeline_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"Cannot import '{path}' as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PipelineLoadError(f"Importing '{path}' failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(path.parent.resolve()))
    graph = _graph_component_type()
    if func_name:
        found = getattr(module, func_name, None)
        if found is None:
            raise PipelineLoadError(f"'{path}' has no function named '{func_name}'.")
        if not isinstance(found, graph):
            raise PipelineLoadError(
                f"'{path}:{func_name}' is not a KFP pipeline: decorate it with @dsl.pipeline."
            )
        return found
    pipelines = {n: v for n, v in vars(module).items() if isinstance(v, graph)}
    if len(pipelines) != 1:
        names = ", ".join(sorted(pipelines)) or "none"
        raise PipelineLoadError(
            f"'{path}' defines {len(pipelines)} pipelines ({names}); name one as '{path}:function'."
        )
    return next(iter(pipelines.values()))


def _compile_to_dict(func: Any, default_image: str) -> dict[str, Any]:
    from kfp import compiler

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pipeline.yaml"
        try:
            compiler.Compiler().compile(func, str(out))
        except Exception as exc:
            raise PipelineLoadError(f"KFP could not compile the pipeline: {exc}") from exc
        spec: dict[str, Any] = yaml.safe_load(out.read_text(encoding="utf-8"))
    set_default_image(spec, default_image)
    return spec


def compile_to_spec(ref: str | None, *, default_image: str | None = None) -> dict[str, Any]:
    """Compile the pipeline function ``ref`` names to a PipelineSpec dict.

    kubeline's own components run in ``default_image``; without it, the image
    ``$KUBELINE_IMAGE`` names (else kubeline's), resolved here, at the entry point.
    """
    return _compile_to_dict(load_pipeline_function(ref), default_image or image_setting())


def compile_function(pipeline: Any, *, default_image: str | None = None) -> dict[str, Any]:
    """Compile a ``@dsl.pipeline`` function object to a PipelineSpec dict (kubeline's own
    components in ``default_image``, as :func:`compile_to_spec` says)."""
    if not isinstance(pipeline, _graph_component_type()):
        raise PipelineLoadError(
            f"{pipeline!r} is not a KFP pipeline: decorate it with @dsl.pipeline, or pass "
            "the path of a compiled pipeline."
        )
    return _compile_to_dict(pipeline, default_image or image_setting())


def dump_spec(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False)


def compile_pipeline(
    ref: str | dict[str, Any] | None, output: str | Path, image: str | None = None
) -> Path:
    """Write the pipeline ``ref`` names (or an already compiled spec dict) to ``output``
    (YAML, or JSON when it ends in .json), atomically.

    With ``image``, every lightweight Python component runs in that image.
    The result is checked by loading it back with kfp's own loader.
    """
    spec = ref if isinstance(ref, dict) else compile_to_spec(ref)
    if image:
        set_python_image(spec, image)
    out = Path(output).expanduser()
    if out.is_dir():
        raise PipelineLoadError(
            f"Output '{out}' is a folder; give a file name such as '{out / 'pipeline.yaml'}'."
        )
    text = json.dumps(spec, indent=2, sort_keys=True) if out.suffix == ".json" else dump_spec(spec)
    from kfp import components

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / ("probe" + (out.suffix or ".yaml"))
        probe.write_text(text, encoding="utf-8")
        try:
            components.load_component_from_file(str(probe))
        except Exception as exc:
            raise PipelineLoadError(f"The compiled pipeline does not load back: {exc}") from exc
    write_text(out, text)
    return out
