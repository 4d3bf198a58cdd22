"""The kubeline command in a real subprocess: exit codes, streams, and nothing half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli

TINY = """
from kfp import dsl

@dsl.component(base_image="python:3.11")
def double(x: int) -> int:
    return 2 * x

@dsl.component(base_image="python:3.11")
def explode(x: int) -> int:
    raise ValueError(f"cannot take {x}")

@dsl.pipeline(name="tiny")
def tiny(x: int = 2) -> int:
    return double(x=double(x=x).output).output

@dsl.pipeline(name="broken")
def broken(x: int = 1) -> int:
    return explode(x=double(x=x).output).output
"""


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    return path


def _csv(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["dataset=no_such_set"], "Unknown dataset 'no_such_set'"),
        (["dataset={tmp}/missing.csv"], "Dataset file not found"),
        (["dataset={tmp}/empty.csv"], "is empty"),
        (["dataset={tmp}/plain.csv"], "Target column 'target' is not in"),
        (["dataset={tmp}/plain.csv", "target=b"], "has only the class 'x'"),
        (["test_size=abc"], "Parameter 'test_size' expects a number. Got 'abc'"),
        (["trials_per_family=two"], "'trials_per_family' expects an integer"),
        (["colour=red"], "Unknown parameter"),
        (["families=boosted_unicorns"], "Unknown model family 'boosted_unicorns'"),
        (["test_size=1.5"], "test_size must be a fraction between 0 and 1"),
        (["threshold=95"], "threshold is a test accuracy between 0 and 1"),
    ],
    ids=[
        "unknown-dataset",
        "missing-file",
        "empty-file",
        "no-target-column",
        "single-class",
        "non-numeric",
        "non-integer",
        "unknown-param",
        "unknown-family",
        "test-size-range",
        "threshold-range",
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, kubeline_home: Path, params: list[str], message: str
) -> None:
    (tmp_path / "empty.csv").write_text("")
    _csv(tmp_path, "plain.csv", "a,b\n1,x\n2,x\n")
    args = [arg for p in params for arg in ("-p", p.format(tmp=tmp_path))]
    proc = run_cli("run", *args, home=kubeline_home)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""
    assert not (kubeline_home / "runs").exists()


def test_run_user_pipeline_json(tiny_file: Path, kubeline_home: Path) -> None:
    proc = run_cli("run", f"{tiny_file}:tiny", "-p", "x=5", "--output", "json", home=kubeline_home)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["state"] == "SUCCEEDED"
    assert document["outputs"] == {"Output": 20}
    assert [(t["name"], t["state"]) for t in document["tasks"]] == [
        ("double", "SUCCEEDED"),
        ("double-2", "SUCCEEDED"),
    ]
    assert Path(document["root"]).is_dir()
    assert "double" in proc.stderr  # progress went to stderr


def test_run_compiled_yaml_text_output(
    tiny_file: Path, tmp_path: Path, kubeline_home: Path
) -> None:
    compiled = tmp_path / "tiny.yaml"
    assert (
        run_cli("compile", f"{tiny_file}:tiny", "-o", str(compiled), home=kubeline_home).returncode
        == 0
    )
    proc = run_cli("run", str(compiled), "-p", "x=1", home=kubeline_home)
    assert proc.returncode == 0, proc.stderr
    assert "SUCCEEDED" in proc.stdout and "Output" in proc.stdout


def test_failed_task_exits_1_naming_the_task_and_error(
    tiny_file: Path, kubeline_home: Path
) -> None:
    proc = run_cli("run", f"{tiny_file}:broken", home=kubeline_home)
    assert proc.returncode == 1
    assert "failed in task 'explode'" in proc.stderr
    assert "ValueError: cannot take 2" in proc.stderr
    assert "kubeline runs logs" in proc.stderr


def test_failed_run_json_still_prints_one_document(tiny_file: Path, kubeline_home: Path) -> None:
    proc = run_cli("run", f"{tiny_file}:broken", "--output", "json", home=kubeline_home)
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    assert document["state"] == "FAILED"
    assert document["failed_task"] == "explode"


def test_compile_json_output_and_image(tmp_path: Path, kubeline_home: Path) -> None:
    out = tmp_path / "lifecycle.yaml"
    proc = run_cli(
        "compile", "-o", str(out), "--image", "me/kl:2", "--output", "json", home=kubeline_home
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["pipeline"] == "kubeline-lifecycle"
    assert document["image"] == "me/kl:2"
    spec = yaml.safe_load(out.read_text())
    assert {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()} == {
        "me/kl:2"
    }


def test_compile_recompiles_a_yaml_with_a_new_image(
    tiny_file: Path, tmp_path: Path, kubeline_home: Path
) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    run_cli("compile", f"{tiny_file}:tiny", "-o", str(first), home=kubeline_home)
    proc = run_cli(
        "compile", str(first), "-o", str(second), "--image", "me/x:1", home=kubeline_home
    )
    assert proc.returncode == 0, proc.stderr
    assert "me/x:1" in second.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compile", "{tmp}/nope.py:f", "-o", "{tmp}/out.yaml"], "Pipeline file not found"),
        (["run", "{tmp}/bad.yaml"], "is not a valid KFP PipelineSpec"),
        (["run", "{tmp}/missing.yaml"], "Pipeline file not found"),
    ],
    ids=["compile-missing", "run-invalid-yaml", "run-missing-yaml"],
)
def test_bad_pipeline_is_exit_2(
    tmp_path: Path, kubeline_home: Path, args: list[str], message: str
) -> None:
    (tmp_path / "bad.yaml").write_text("pipelineInfo: {name: x}\nroot: {}\nextra_key: 1\n")
    proc = run_cli(*[a.format(tmp=tmp_path) for a in args], home=kubeline_home)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_usage_error_is_exit_2(kubeline_home: Path) -> None:
    proc = run_cli("run", "--output", "xml", home=kubeline_home)
    assert proc.returncode == 2


def test_version(kubeline_home: Path) -> None:
    proc = run_cli("--version", home=kubeline_home)
    assert proc.returncode == 0 and proc.stdout.startswith("kubeline ")


def test_runs_list_show_and_logs(tiny_file: Path, kubeline_home: Path) -> None:
    first = run_cli("run", f"{tiny_file}:tiny", "-p", "x=4", "--output", "json", home=kubeline_home)
    run_id = json.loads(first.stdout)["run_id"]
    listed = json.loads(run_cli("runs", "list", "--output", "json", home=kubeline_home).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [run_id]
    shown = json.loads(
        run_cli("runs", "show", run_id[:12], "--output", "json", home=kubeline_home).stdout
    )
    assert shown["state"] == "SUCCEEDED" and shown["arguments"] == {"x": 4}
    logs = run_cli("runs", "logs", "last", "double-2", home=kubeline_home)
    assert logs.returncode == 0
    assert "Wrote executor output file" in logs.stdout
    as_json = json.loads(
        run_cli("runs", "logs", run_id, "--output", "json", home=kubeline_home).stdout
    )
    assert [t["path"] for t in as_json["tasks"]] == ["double", "double-2"]
    assert all("Wrote executor output file" in t["log"] for t in as_json["tasks"])


def test_runs_show_unknown_is_exit_2(kubeline_home: Path) -> None:
    proc = run_cli("runs", "show", "nope", home=kubeline_home)
    assert proc.returncode == 2 and "No run 'nope'" in proc.stderr


NAPS = """
from kfp import dsl

@dsl.component(base_image="python:3.11")
def nap(i: int) -> int:
    import time
    time.sleep(1)
    return i

@dsl.pipeline(name="naps")
def naps():
    with dsl.ParallelFor([1, 2, 3, 4, 5, 6]) as i:
        nap(i=i).set_caching_options(False)
"""


def test_verbose_run_shows_the_admission_of_waiting_tasks(
    tmp_path: Path, kubeline_home: Path
) -> None:
    """Six sleeping tasks on any machine with fewer than six cores: some must wait for the
    admission or be admitted beyond the core count, and -v says which."""
    path = tmp_path / "naps.py"
    path.write_text(NAPS)
    quiet = run_cli("run", f"{path}:naps", home=kubeline_home)
    assert quiet.returncode == 0, quiet.stderr
    assert "started as task" not in quiet.stderr and "waits for the CPU" not in quiet.stderr
    loud = run_cli("-v", "run", f"{path}:naps", home=kubeline_home)
    assert loud.returncode == 0, loud.stderr
    decisions = [line for line in loud.stderr.splitlines() if line.strip().startswith("·")]
    if (os.cpu_count() or 1) < 6:
        assert decisions, loud.stderr
    said = ("waits for the CPU", "started as task")
    assert all("nap" in d and any(s in d for s in said) for d in decisions)
