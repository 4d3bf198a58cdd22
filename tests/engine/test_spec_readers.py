"""The engine's spec readers outside the scheduler (platform notes and environment, the
fork server's preload, the name check, a leaf's job) read the frozen views, and give the
same answer for a view as for the spec dict it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubeline.engine.leaf import TaskContext, prepare_job
from kubeline.engine.platform import local_environment, platform_notes
from kubeline.engine.preload import component_imports
from kubeline.engine.safepath import check_spec_names
from kubeline.engine.spec import ExecutorView, load_spec, pipeline_view
from kubeline.errors import KubelineError, PipelineLoadError
from tests.conftest import CONFORMANCE

FILES = (
    sorted((CONFORMANCE / "pipelines" / "valid").rglob("*.yaml"))
    if CONFORMANCE.is_dir()
    else [CONFORMANCE / "the-corpus-is-missing"]
)

_PROGRAM = 'python3 -m kfp.dsl.executor_main --executor_input ... "$program_path/ephemeral_component.py" "$@"\n'  # noqa: E501

SPEC: dict[str, Any] = {
    "pipelineInfo": {"name": "p"},
    "root": {
        "dag": {
            "tasks": {
                "a": {"componentRef": {"name": "comp-a"}},
                "grp": {"componentRef": {"name": "comp-grp"}},
            }
        }
    },
    "components": {
        "comp-a": {
            "executorLabel": "exec-a",
            "outputDefinitions": {"parameters": {"Out": {"parameterType": "STRING"}}},
        },
        "comp-grp": {"dag": {"tasks": {}}},
    },
    "deploymentSpec": {
        "executors": {
            "exec-a": {
                "container": {
                    "image": "python:3.12",
                    "command": ["sh", "-c", _PROGRAM, "import numpy\nfrom json import loads\n"],
                    "env": [{"name": "MODE", "value": 1}, {"value": "no name"}],
                    "resources": {"cpuLimit": 2, "accelerator": {"type": "gpu"}},
                }
            }
        }
    },
    "platformSpec": {
        "platforms": {
            "kubernetes": {
                "deploymentSpec": {
                    "executors": {
                        "exec-a": {
                            "secretAsEnv": [
                                {
                                    "secretName": "s",
                                    "keyToEnv": [{"secretKey": "k", "envVar": "HOUSE_SECRET"}],
                                }
                            ],
                            "tolerations": [{"key": "gpu"}],
                        }
                    }
                }
            }
        }
    },
}


def test_the_views_carry_what_the_readers_need() -> None:
    view = pipeline_view(SPEC)
    executor = view.executors["exec-a"]
    assert dict(executor.env) == {"MODE": "1"}
    assert executor.resources == ("cpuLimit", "accelerator")
    assert set(view.kubernetes["exec-a"]) == {"secretAsEnv", "tolerations"}
    assert pipeline_view({"root": {}}).kubernetes == {}
    assert ExecutorView.of("x", {"importer": {}}).resources == ()
    assert hash(executor) == hash(ExecutorView.of("exec-a", dict(executor.raw)))  # still a key


def test_platform_readers_take_the_view(monkeypatch: pytest.MonkeyPatch) -> None:
    view = pipeline_view(SPEC)
    notes = platform_notes(view)
    assert notes == platform_notes(SPEC)
    assert notes[0] == "exec-a: asks for a CPU limit, an accelerator; ignored on this machine"
    assert notes[-1] == "exec-a: Kubernetes settings tolerations are ignored on this machine"
    monkeypatch.delenv("HOUSE_SECRET", raising=False)
    with pytest.raises(KubelineError, match=r"set HOUSE_SECRET in your environment"):
        local_environment(view, "exec-a", "a")
    monkeypatch.setenv("HOUSE_SECRET", "x")
    assert local_environment(view, "exec-a", "a") == {"HOUSE_SECRET": "x"}
    assert local_environment(SPEC, "exec-a", "a") == {"HOUSE_SECRET": "x"}
    assert local_environment(view, "exec-none", "a") == {}


def test_preload_and_name_check_take_the_view() -> None:
    view = pipeline_view(SPEC)
    assert component_imports(view) == component_imports(SPEC) == ["numpy", "json", "json.loads"]
    check_spec_names(view)
    bad = {**SPEC, "root": {"dag": {"tasks": {"grp": {"componentRef": {"name": "comp-grp"}}}}}}
    bad["root"]["dag"]["tasks"]["grp/x"] = {"componentRef": {"name": "comp-a"}}
    with pytest.raises(PipelineLoadError, match="starts with 'grp/'"):
        check_spec_names(pipeline_view(bad))
    clash = {**SPEC, "components": {**SPEC["components"], "comp-b": {"outputDefinitions": {
        "parameters": {"Out": {}}, "artifacts": {"out": {}}}}}}  # fmt: skip
    with pytest.raises(PipelineLoadError, match="outputs 'Out' and 'out'"):
        check_spec_names(pipeline_view(clash))


def test_a_leaf_job_from_views_is_the_job_from_dicts(tmp_path: Path) -> None:
    spec = {
        **SPEC,
        "components": {
            "comp-a": {
                "executorLabel": "exec-a",
                "inputDefinitions": {
                    "parameters": {
                        "who": {"parameterType": "STRING"},
                        "n": {"parameterType": "NUMBER_INTEGER", "defaultValue": 2},
                    }
                },
            }
        },
        "deploymentSpec": {
            "executors": {
                "exec-a": {
                    "container": {
                        "image": "alpine",
                        "command": ["echo", "{{$.inputs.parameters['who']}}"],
                        "args": ["{{$.inputs.parameters['n']}}"],
                        "env": [{"name": "MODE", "value": "x"}],
                    }
                }
            }
        },
    }
    view = pipeline_view(spec)
    component = view.components["comp-a"]
    executor = view.executor_of(component)
    ctx = TaskContext("r", "p", "a", tmp_path / "tasks" / "a", tmp_path, tmp_path / "ws")
    from_view, _ = prepare_job(component, executor, {"who": "me"}, {}, ctx, "a", tmp_path / "l")
    from_dict, _ = prepare_job(
        spec["components"]["comp-a"],
        spec["deploymentSpec"]["executors"]["exec-a"],
        {"who": "me"},
        {},
        ctx,
        "a",
        tmp_path / "l",
    )
    assert from_view == from_dict
    assert (from_view.kind, from_view.argv, from_view.env) == ("command", ["echo", "me", "2"], {
        "MODE": "x"})  # fmt: skip
    assert from_view.image == "alpine"


@pytest.mark.parametrize("file", FILES, ids=[f.name for f in FILES])
def test_every_corpus_pipeline_reads_alike_as_view_and_dict(
    file: Path, conformance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(file)
    view = pipeline_view(spec)
    assert platform_notes(view) == platform_notes(spec)
    assert component_imports(view) == component_imports(spec)
    check_spec_names(view)
    for label in view.executors:
        try:
            expected: Any = local_environment(spec, label, "t")
        except KubelineError as exc:
            expected = str(exc)
        try:
            got: Any = local_environment(view, label, "t")
        except KubelineError as exc:
            got = str(exc)
        assert got == expected


def test_a_components_odd_escapes_are_not_kubelines_warnings() -> None:
    """Reading a component's imports parses its source: an invalid escape in it ("\\{")
    warns about the component, which is no warning of the run (here: not an error under
    ``-W error``), while kubeline's own and everyone else's warnings stay as they were."""
    import subprocess
    import sys

    script = (
        "import ast\n"
        "from kubeline.engine.preload import source_imports\n"
        "assert source_imports('import os\\nx = \"\\\\{\"\\n') == ['os']\n"
        "try:\n"
        "    ast.parse('x = \"\\\\{\"\\n')\n"
        "except SyntaxError:\n"
        "    print('others still warn')\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "others still warn"
