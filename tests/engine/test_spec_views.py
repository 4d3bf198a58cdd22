"""The frozen views of a PipelineSpec: every compiled pipeline of the conformance corpus
reads into one, and each part says what the raw dict says."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from kubeline.engine.spec import (
    OutputSelector,
    ParameterSource,
    RetryPolicy,
    load_spec,
    pipeline_view,
)
from tests.conftest import CONFORMANCE

# Without the corpus, one placeholder: its `conformance` fixture skips it, or fails it in CI.
FILES = (
    sorted((CONFORMANCE / "pipelines" / "valid").rglob("*.yaml"))
    if CONFORMANCE.is_dir()
    else [CONFORMANCE / "the-corpus-is-missing"]
)

SPEC: dict[str, Any] = {
    "pipelineInfo": {"name": "p"},
    "root": {
        "inputDefinitions": {
            "parameters": {"n": {"parameterType": "NUMBER_INTEGER", "defaultValue": 3}}
        },
        "dag": {
            "outputs": {
                "parameters": {
                    "out": {
                        "valueFromOneof": {
                            "parameterSelectors": [
                                {"producerSubtask": "a", "outputParameterKey": "x"},
                                {"producerSubtask": "b", "outputParameterKey": "y"},
                            ]
                        }
                    }
                }
            },
            "tasks": {
                "a": {
                    "componentRef": {"name": "comp-a"},
                    "taskInfo": {"name": "A"},
                    "inputs": {"parameters": {"n": {"componentInputParameter": "n"}}},
                    "retryPolicy": {
                        "maxRetryCount": 2,
                        "backoffDuration": "2s",
                        "backoffFactor": 3,
                    },
                    "cachingOptions": {"enableCache": True},
                },
                "b": {
                    "componentRef": {"name": "comp-a"},
                    "dependentTasks": ["a"],
                    "inputs": {
                        "parameters": {
                            "n": {
                                "taskOutputParameter": {
                                    "producerTask": "a",
                                    "outputParameterKey": "x",
                                }
                            },
                            "s": {"taskFinalStatus": {"producerTask": "a"}},
                        }
                    },
                    "triggerPolicy": {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"},
                    "parameterIterator": {"itemInput": "i", "items": {"raw": "[1, 2]"}},
                    "iteratorPolicy": {"parallelismLimit": 1},
                },
            },
        },
    },
    "components": {"comp-a": {"executorLabel": "exec-a"}},
    "deploymentSpec": {
        "executors": {"exec-a": {"container": {"image": "python:3.12", "command": ["echo"]}}}
    },
}


def test_a_view_says_what_the_dict_says() -> None:
    view = pipeline_view(SPEC)
    assert view.name == "p"
    assert view.root.inputs.defaults == {"n": 3}
    a, b = view.root.dag.tasks["a"], view.root.dag.tasks["b"]  # type: ignore[union-attr]
    assert (a.display_name, b.display_name) == ("A", "b")
    assert a.parameters["n"] == ParameterSource("component_input", key="n")
    assert a.retry == RetryPolicy(max_retries=2, backoff=2.0, factor=3.0)
    assert a.retry.delay(2) == 6.0 and a.caching.enabled and not b.caching.enabled
    assert b.producers == ("a", "a", "a") or set(b.producers) == {"a"}
    assert b.parameters["s"].kind == "final_status" and b.runs_always
    assert b.iterator is not None and b.iterator.raw == "[1, 2]"
    assert b.iterator.parallelism == 1 and view.kind_of(b) == "loop"
    assert view.kind_of(a) == "executor"
    assert view.executor_of(view.component_of(a)).command == ("echo",)
    outputs = view.root.dag.outputs.parameters["out"]  # type: ignore[union-attr]
    assert outputs == (OutputSelector("a", "x"), OutputSelector("b", "y"))


def test_views_are_frozen() -> None:
    view = pipeline_view(SPEC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        view.components["x"] = view.root  # type: ignore[index]


def test_a_partial_spec_reads_as_empty() -> None:
    view = pipeline_view({"root": {"dag": {"tasks": {"t": None}}}})
    task = view.root.dag.tasks["t"]  # type: ignore[union-attr]
    assert view.name == "" and task.component == "" and view.kind_of(task) == "executor"
    assert view.executor_of(view.component_of(task)).kind == "other"


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
def test_every_corpus_pipeline_reads_into_a_view(file: Path, conformance: Path) -> None:
    spec = load_spec(file)
    view = pipeline_view(spec)
    for name, component in spec.get("components", {}).items():
        assert (view.components[name].dag is not None) == ("dag" in component)
        for task_name, task in component.get("dag", {}).get("tasks", {}).items():
            seen = view.components[name].dag.tasks[task_name]  # type: ignore[union-attr]
            assert seen.dependencies == tuple(task.get("dependentTasks", []))
            assert seen.component == task["componentRef"]["name"]
