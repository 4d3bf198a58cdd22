"""The compiled lifecycle YAML is standard KFP v2 and has every feature the pipeline
promises; user pipelines compile from ``file.py:function``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import components

from kubeline.engine.spec import load_spec
from kubeline.errors import PipelineLoadError
from kubeline.pipelines.compile import compile_pipeline, compile_to_spec, load_pipeline_function
from kubeline.pipelines.image import DEFAULT_IMAGE

USER_PIPELINES = """
from kfp import dsl

@dsl.component(base_image="python:3.11")
def hello(name: str) -> str:
    return "hello " + name

@dsl.pipeline(name="first")
def first(name: str = "world") -> str:
    return hello(name=name).output

@dsl.pipeline(name="second")
def second() -> str:
    return hello(name="b").output

def not_a_pipeline():
    return 1
"""


@pytest.fixture(scope="module")
def lifecycle_yaml(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("compiled") / "lifecycle.yaml"
    compile_pipeline(None, out)
    components.load_component_from_file(str(out))  # kfp's own loader accepts it
    return yaml.safe_load(out.read_text())


def _tasks(dag: dict[str, Any]) -> dict[str, Any]:
    return dag.get("dag", {}).get("tasks", {})


def _all_tasks(spec: dict[str, Any]) -> dict[str, Any]:
    found = dict(_tasks(spec["root"]))
    for comp in spec["components"].values():
        found.update(_tasks(comp))
    return found


def _artifact_types(spec: dict[str, Any]) -> set[str]:
    types = set()
    for comp in spec["components"].values():
        for art in comp.get("outputDefinitions", {}).get("artifacts", {}).values():
            types.add(art["artifactType"]["schemaTitle"])
    return types


def test_lifecycle_has_a_parallel_for_with_a_parallelism_limit(lifecycle_yaml: dict) -> None:
    loops = [t for t in _all_tasks(lifecycle_yaml).values() if "parameterIterator" in t]
    assert len(loops) == 1
    assert loops[0]["iteratorPolicy"]["parallelismLimit"] == 4


def test_lifecycle_collects_trial_results_into_select_best(lifecycle_yaml: dict) -> None:
    select = _all_tasks(lifecycle_yaml)["select-best"]
    source = select["inputs"]["parameters"]["results"]["taskOutputParameter"]
    assert source["producerTask"].startswith("for-loop")
    loop = lifecycle_yaml["components"]["comp-" + source["producerTask"]]
    assert (
        loop["outputDefinitions"]["parameters"][source["outputParameterKey"]]["parameterType"]
        == "LIST"
    )


def test_lifecycle_gates_registration_with_if_else(lifecycle_yaml: dict) -> None:
    conditions = [
        t["triggerPolicy"]["condition"]
        for t in _all_tasks(lifecycle_yaml).values()
        if "triggerPolicy" in t
    ]
    assert len(conditions) == 2
    assert any(">=" in c and "threshold" in c for c in conditions)
    assert any(c.startswith("!(") for c in conditions)  # the Else branch


def test_lifecycle_outputs_typed_artifacts(lifecycle_yaml: dict) -> None:
    assert {
        "system.Dataset",
        "system.Model",
        "system.Metrics",
        "system.ClassificationMetrics",
        "system.HTML",
        "system.Markdown",
    } <= _artifact_types(lifecycle_yaml)


def test_lifecycle_retries_io_steps_and_caches(lifecycle_yaml: dict) -> None:
    tasks = _all_tasks(lifecycle_yaml)
    assert tasks["ingest"]["retryPolicy"]["maxRetryCount"] == 2
    assert tasks["register-model"]["retryPolicy"]["maxRetryCount"] == 2
    leaves = {n: t for n, t in tasks.items() if "cachingOptions" in t}
    cached = {n for n, t in leaves.items() if t["cachingOptions"].get("enableCache")}
    # Registering is an action of each run (its lineage names the run): never cached.
    assert set(leaves) - cached == {"register-model"}


def test_lifecycle_parameters_cover_the_experiment(lifecycle_yaml: dict) -> None:
    params = lifecycle_yaml["root"]["inputDefinitions"]["parameters"]
    assert {
        "dataset",
        "target",
        "test_size",
        "seed",
        "families",
        "trials_per_family",
        "threshold",
        "cv_folds",
    } <= set(params)
    assert params["dataset"]["defaultValue"] == "breast_cancer"
    assert params["families"]["parameterType"] == "LIST"


def test_components_run_in_the_kubeline_image_without_pip(lifecycle_yaml: dict) -> None:
    executors = lifecycle_yaml["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {DEFAULT_IMAGE}
    for executor in executors:
        assert "pip install" not in " ".join(executor["container"]["command"])


def test_image_option_repoints_every_python_component(tmp_path: Path) -> None:
    out = compile_pipeline(None, tmp_path / "p.yaml", image="registry.example/me/kl:1")
    spec = yaml.safe_load(out.read_text())
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {"registry.example/me/kl:1"}


def test_json_output_when_the_file_ends_in_json(tmp_path: Path) -> None:
    out = compile_pipeline(None, tmp_path / "p.json")
    assert json.loads(out.read_text())["pipelineInfo"]["name"] == "kubeline-lifecycle"
    components.load_component_from_file(str(out))


def test_user_pipeline_by_file_and_function(tmp_path: Path) -> None:
    source = tmp_path / "mine.py"
    source.write_text(USER_PIPELINES)
    out = compile_pipeline(f"{source}:first", tmp_path / "first.yaml")
    spec = yaml.safe_load(out.read_text())
    assert spec["pipelineInfo"]["name"] == "first"
    # A user's container components keep their own image when --image is not given.
    assert "python:3.11" in out.read_text()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("{dir}/mine.py", r"defines 2 pipelines \(first, second\); name one"),
        ("{dir}/mine.py:missing", "has no function named 'missing'"),
        ("{dir}/mine.py:not_a_pipeline", "not a KFP pipeline: decorate it with @dsl.pipeline"),
        ("{dir}/absent.py:f", "Pipeline file not found"),
        ("{dir}/broken.py:f", "Importing .* failed: SyntaxError"),
        ("{dir}/notes.txt", "expected 'lifecycle', 'path/to/file.py:function'"),
    ],
    ids=[
        "two-pipelines",
        "no-function",
        "not-a-pipeline",
        "no-file",
        "syntax-error",
        "wrong-suffix",
    ],
)
def test_bad_pipeline_references(tmp_path: Path, ref: str, message: str) -> None:
    (tmp_path / "mine.py").write_text(USER_PIPELINES)
    (tmp_path / "broken.py").write_text("def f(:\n")
    with pytest.raises(PipelineLoadError, match=message):
        load_pipeline_function(ref.format(dir=tmp_path))


def test_failed_compile_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    with pytest.raises(PipelineLoadError):
        compile_pipeline(f"{tmp_path}/absent.py:f", target)
    assert list(tmp_path.iterdir()) == []


def test_output_that_is_a_folder_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(PipelineLoadError, match="is a folder"):
        compile_pipeline(None, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["empty_file.yaml", "invalid_yaml.yaml", "no_name.yaml"])
def test_invalid_corpus_pipelines_are_refused(conformance: Path, name: str) -> None:
    with pytest.raises(PipelineLoadError):
        load_spec(conformance / "pipelines" / "invalid" / name)


def test_every_valid_corpus_pipeline_passes_the_spec_check(conformance: Path) -> None:
    files = sorted((conformance / "pipelines" / "valid").rglob("*.yaml"))
    assert files
    for file in files:
        assert load_spec(file)["pipelineInfo"]["name"], file


def test_lifecycle_spec_passes_the_same_check(tmp_path: Path) -> None:
    out = compile_pipeline(compile_to_spec(None), tmp_path / "p.yaml")
    assert load_spec(out)["pipelineInfo"]["name"] == "kubeline-lifecycle"
