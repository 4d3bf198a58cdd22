"""KFP's type rules (issue #13): values reach tasks as KFP's backend gives them, integers
stay integers in placeholders, installs take the compiled command's steps, run notes say
what kubeline does, and results cached under the old rules are not reused."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import kfp
import pytest

from kubeline.engine import RunResult, cache, run_pipeline
from kubeline.engine.platform import platform_notes
from kubeline.engine.requirements import pip_installs
from kubeline.engine.values import kfp_text
from kubeline.engine.venvs import install_commands, install_key
from kubeline.pipelines.compile import compile_function
from tests.engine import type_rules_pipelines as p


def _by_display_name(result: RunResult) -> dict[str, Any]:
    """Each executor task's single output, by the display name the pipeline gave it."""
    found = {}
    for task in result.tasks:
        if task.kind == "executor":
            params = task.outputs["parameters"]
            found[task.display_name] = params.get("Output", params.get("out"))
    return found


def _only_executor(spec: dict[str, Any]) -> dict[str, Any]:
    (executor,) = spec["deploymentSpec"]["executors"].values()
    return executor


# ------------------------------------------------------------- STRING inputs


def test_loop_item_fields_reach_a_str_input_as_kfp_text() -> None:
    result = run_pipeline(compile_function(p.loop_item_fields), {})
    assert result.state == "SUCCEEDED", result.error
    assert _by_display_name(result) == {
        "count": "1",
        "kind": "cottontail",
        "tags": '["a","b"]',
        "size": '{"cm":40,"note":"\\u003csmall \\u0026 soft\\u003e"}',
        "wild": "true",
        "weight": "1.5",
        "made-count": "2",
        "make-rows": [{"count": 2, "kind": "jackrabbit"}],
    }


def test_nested_loop_items_are_json_text_not_python_repr() -> None:
    result = run_pipeline(compile_function(p.nested_loop_items), {})
    assert result.state == "SUCCEEDED", result.error
    assert _by_display_name(result) == {
        "rabbits": '[{"cottontail":1,"ears":2}]',
        "rabbit": '{"cottontail":1,"ears":2}',
        "cottontail": "1",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (1.0, "1"),
        (0.25, "0.25"),
        (1e-7, "0.0000001"),
        (1e21, "1000000000000000000000"),
        (False, "false"),
        (None, ""),
        ("as is", "as is"),
        ([1.0, 2.5, "x"], '[1,2.5,"x"]'),
        ({"b": [1e-7, 1e21], "a": "<&>"}, '{"a":"\\u003c\\u0026\\u003e","b":[1e-7,1e+21]}'),
    ],
)
def test_kfp_text_writes_values_as_go_does(value: Any, text: str) -> None:
    # strconv.FormatFloat(x, 'f', -1, 64) for numbers; json.Marshal of protojson for
    # lists and structs (sorted keys, no spaces, HTML characters escaped).
    assert kfp_text(value) == text


# ------------------------------------------------------ integers in strings


def test_an_int_output_in_an_f_string_or_placeholder_stays_an_int() -> None:
    result = run_pipeline(compile_function(p.int_in_strings), {})
    assert result.state == "SUCCEEDED", result.error
    outputs = _by_display_name(result)
    assert outputs["python-f-string"] == "3 <= 5!"
    assert outputs["container-f-string"] == "[3 <= 5!]"
    assert outputs["container-list"] == "numbers=[1,2]"


# -------------------------------------------------------------- installs


def _old_pin_installs() -> list[Any]:
    executor = _only_executor(compile_function(p.old_pin))
    container = executor["container"]
    return pip_installs([*container["command"], *container.get("args", [])])


def test_installs_follow_the_compiled_commands_steps() -> None:
    packages, kfp_step = _old_pin_installs()
    assert packages.requirements == ("click-option-group==0.5.6",)
    assert kfp_step.requirements[0] == f"kfp=={kfp.__version__}"
    assert "--no-deps" in kfp_step.words
    # This environment's kfp meets the compiled pin: only the packages are installed, on
    # their own, never resolved together with kfp.
    (command,) = install_commands("/venv/python", [packages, kfp_step])
    assert command[:4] == ["/venv/python", "-m", "pip", "install"]
    assert command[-1] == "click-option-group==0.5.6"
    assert not any(word.startswith("kfp") for word in command)
    assert "--quiet" not in command  # pip's output goes to the task log


def test_an_unmet_kfp_pin_installs_after_the_packages_without_dependencies() -> None:
    packages, kfp_step = _old_pin_installs()
    pinned = f"kfp=={kfp.__version__}"
    kfp_1 = type(kfp_step)(
        tuple("kfp==1.8.22" if w == pinned else w for w in kfp_step.words),
        ("kfp==1.8.22", *kfp_step.requirements[1:]),
    )
    first, second = install_commands(sys.executable, [packages, kfp_1])
    assert first[-1] == "click-option-group==0.5.6"
    assert "kfp==1.8.22" in second and "--no-deps" in second
    assert second.index("kfp==1.8.22") < second.index("--no-deps")


def test_the_environment_key_counts_install_order_not_spelling_within_one() -> None:
    packages, kfp_step = _old_pin_installs()
    respelled = type(packages)(
        tuple(w.replace("click-option-group", "Click_Option_Group") for w in packages.words),
        ("Click_Option_Group==0.5.6",),
    )
    assert install_key([packages, kfp_step]) == install_key([respelled, kfp_step])
    assert install_key([packages, kfp_step]) != install_key([kfp_step, packages])


def test_a_failed_install_names_the_package_and_logs_pips_output() -> None:
    # A file:// index that does not exist: pip fails at once, without the network.
    result = run_pipeline(compile_function(p.unavailable), {}, allow_installs=True)
    assert result.state == "FAILED"
    assert "pip could not install kubeline-no-such-package==1.0" in (result.error or "")
    log = Path(result.failed_task.log_path or "").read_text() if result.failed_task else ""
    assert "kubeline: pip install" in log and "kubeline-no-such-package==1.0" in log
    assert "ERROR:" in log  # pip's own words, whole


@pytest.mark.slow
def test_a_pin_kfp_itself_excludes_installs_as_on_a_cluster() -> None:
    """Needs PyPI: click-option-group 0.5.6 (a 12 KB wheel) while kfp pins 0.5.7."""
    result = run_pipeline(compile_function(p.old_pin), {}, allow_installs=True)
    assert result.state == "SUCCEEDED", result.error
    assert result.outputs["Output"] == "0.5.6"
    (task,) = [t for t in result.tasks if t.kind == "executor"]
    log = Path(task.log_path or "").read_text()
    assert "Successfully installed click-option-group-0.5.6" in log


# ----------------------------------------------------------------- notes


def test_platform_notes_say_what_kubeline_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBIT_COLOUR", "brown")
    spec = compile_function(p.reads_config_map)
    (label,) = spec["deploymentSpec"]["executors"]
    spec["platformSpec"] = {
        "platforms": {
            "kubernetes": {
                "deploymentSpec": {
                    "executors": {
                        label: {
                            "configMapAsEnv": [
                                {
                                    "configMapName": "rabbits",
                                    "keyToEnv": [
                                        {"configMapKey": "colour", "envVar": "RABBIT_COLOUR"}
                                    ],
                                }
                            ],
                            "pvcMount": [{"mountPath": "/data", "optional": True}],
                            "nodeSelector": {"labels": {"pool": "gpu"}},
                            "tolerations": [{"key": "gpu", "operator": "Exists"}],
                        }
                    }
                }
            }
        }
    }
    result = run_pipeline(spec, {})
    assert result.state == "SUCCEEDED", result.error
    assert result.outputs["Output"] == "brown"  # the note below is true
    assert result.notes == [
        f"{label}: the Kubernetes config map keys it reads as $RABBIT_COLOUR are taken from "
        "the same variables in this machine's environment",
        f"{label}: mounts a Kubernetes volume (PVC) at /data (optional): not mounted on this "
        "machine",
        f"{label}: Kubernetes settings nodeSelector, tolerations are ignored on this machine",
    ]
    assert not any("configMap" in note and "ignored" in note for note in result.notes)


def test_a_required_mount_is_noted_as_refused() -> None:
    spec = {
        "platformSpec": {
            "platforms": {
                "kubernetes": {
                    "deploymentSpec": {
                        "executors": {
                            "exec-a": {"secretAsVolume": [{"secretName": "s", "mountPath": "/s"}]}
                        }
                    }
                }
            }
        }
    }
    assert platform_notes(spec) == [
        "exec-a: mounts a Kubernetes secret at /s, which only a cluster provides: the task "
        "is refused"
    ]


# ----------------------------------------------------------------- cache


def test_results_cached_under_the_old_key_version_are_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = compile_function(p.int_in_strings)
    with monkeypatch.context() as old:
        old.setattr(cache, "KEY_VERSION", "kubeline-cache-1")  # as kubeline made them before
        first = run_pipeline(spec, {})
    assert first.state == "SUCCEEDED", first.error
    again = run_pipeline(spec, {})
    assert again.state == "SUCCEEDED", again.error
    assert not any(t.cache_hit for t in again.tasks)
    assert all(t.cache_hit for t in run_pipeline(spec, {}).tasks if t.kind == "executor")
