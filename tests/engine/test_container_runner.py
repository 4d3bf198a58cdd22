"""``--runner docker``: every task in its component's image, with a real Docker daemon and
kubeline's own image (tests/containers.py: missing, these skip here and fail in CI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import kubeline
from kubeline.engine import RunResult
from kubeline.engine.executors.container import LABEL
from kubeline.pipelines.compile import compile_function
from tests.containers import docker_image
from tests.engine import container_pipelines as cp

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(autouse=True)
def image() -> str:
    return docker_image()


def _containers(home: Path) -> list[str]:
    """The containers (running or not) of tasks of runs in ``home``."""
    listed = subprocess.run(
        [
            "docker",
            "ps",
            "--all",
            "--filter",
            f"label={LABEL}",
            "--format",
            '{{.ID}} {{.Label "' + LABEL + '"}}',
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [
        line.split()[0]
        for line in listed.stdout.splitlines()
        if str(home) in line.split(" ", 1)[-1]
    ]


def _output(result: RunResult, task: str) -> str:
    return str(next(t for t in result.tasks if t.name == task).outputs["parameters"]["Output"])


def _cli(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubeline", *args],
        env={**os.environ, "KUBELINE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_each_task_runs_in_its_image_as_the_caller_with_its_settings(
    kubeline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELINE_TOKEN", "never-reaches-a-task")
    result = kubeline.run(
        cp.in_containers, {"greeting": "hey"}, runner="docker", pull="never", home=kubeline_home
    )
    assert result.state == "SUCCEEDED", result.run.error
    assert result.outputs["Output"] == str(len("hey" * 3))  # the container component's count
    seen = json.loads(_output(result, "inside"))
    assert seen["container"] is True
    assert seen["uid"] == os.getuid()  # may write the run's folder, which the caller owns
    assert seen["home"] == "/tmp"
    assert seen["color"] == "teal"  # set_env_variable
    assert seen["token"] is None  # kubeline's secrets never reach a task
    assert seen["cpus"] == 0.5  # set_cpu_limit("500m")
    assert seen["memory"] == 256 * 2**20  # set_memory_limit("256Mi")
    assert seen["data_path"].startswith("/kubeline/runs/")  # a pod's path, not the host's
    data = result.root.parent / Path(seen["data_path"]).relative_to("/kubeline/runs")
    assert data.read_text() == "hey" * 3 and data.stat().st_uid == os.getuid()
    assert _containers(kubeline_home) == []  # each removed once its task ended
    assert result.notes == ["exec-inside: a CPU limit, a memory limit, applied to its container"]


def test_the_cache_keeps_host_and_container_results_apart(kubeline_home: Path) -> None:
    local = kubeline.run(cp.in_containers, {"greeting": "yo"}, home=kubeline_home)
    assert local.state == "SUCCEEDED", local.run.error
    assert json.loads(_output(local, "inside"))["container"] is False
    first = kubeline.run(cp.in_containers, {"greeting": "yo"}, runner="docker", pull="never")
    assert first.state == "SUCCEEDED", first.run.error
    assert not any(t.cache_hit for t in first.tasks if t.kind == "executor")
    assert json.loads(_output(first, "inside"))["container"] is True
    again = kubeline.run(cp.in_containers, {"greeting": "yo"}, runner="docker", pull="never")
    assert all(t.cache_hit for t in again.tasks if t.kind == "executor")


def test_an_absent_image_refuses_the_run_before_anything_starts(
    kubeline_home: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "absent.yaml"
    spec.write_text(yaml.safe_dump(compile_function(cp.absent_image_pipeline)))
    done = _cli(kubeline_home, "run", str(spec), "--runner", "docker", "--pull", "never")
    assert done.returncode == 2, done.stderr
    assert "kubeline-absent/nowhere:0" in done.stderr
    assert "--pull" in done.stderr  # what to do
    assert "Traceback" not in done.stderr
    listed = _cli(kubeline_home, "runs", "list", "--output", "json")
    assert json.loads(listed.stdout)["runs"] == []  # nothing recorded


def _start_sleeper(home: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    spec = tmp_path / "sleeper.yaml"
    spec.write_text(yaml.safe_dump(compile_function(cp.sleeper_in_container)))
    run = subprocess.Popen(
        [
            *(sys.executable, "-m", "kubeline", "run", str(spec)),
            *("--runner", "docker", "--pull", "never", "--grace-period", "1"),
        ],
        env={**os.environ, "KUBELINE_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not any("sleeping" in p.read_text() for p in home.glob("runs/*/logs/*.log")):
        assert run.poll() is None, run.stderr.read().decode() if run.stderr else ""
        assert time.monotonic() < deadline, "the container never started"
        time.sleep(0.2)
    assert len(_containers(home)) == 1
    return run


def _eventually_no_containers(home: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while _containers(home) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _containers(home) == []


def test_ctrl_c_stops_and_removes_the_container(kubeline_home: Path, tmp_path: Path) -> None:
    run = _start_sleeper(kubeline_home, tmp_path)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert b"Traceback" not in err, err.decode()
    _eventually_no_containers(kubeline_home, 10)
    shown = _cli(kubeline_home, "runs", "show", "last", "--output", "json")
    assert json.loads(shown.stdout)["state"] == "CANCELED"


def test_the_next_start_removes_what_a_killed_engine_left(
    kubeline_home: Path, tmp_path: Path
) -> None:
    """kill -9 of kubeline run: its task's leader ends the docker client, but the container
    lives in the daemon; the next kubeline command marks the run FAILED and removes it."""
    run = _start_sleeper(kubeline_home, tmp_path)
    run.kill()
    run.wait(timeout=30)
    time.sleep(2)
    assert _containers(kubeline_home), "the daemon keeps a container its client left"
    shown = _cli(kubeline_home, "runs", "show", "last", "--output", "json")
    assert json.loads(shown.stdout)["state"] == "FAILED"
    _eventually_no_containers(kubeline_home, 30)


def test_a_server_with_the_docker_runner_runs_kfp_client_runs_in_images(
    kubeline_home: Path, tmp_path: Path
) -> None:
    """kubeline server --runner docker: kfp.Client's runs go into images; one whose image
    is absent (with --pull never) is a 400 that names it, and nothing is recorded."""
    import kfp
    from kfp_server_api.exceptions import ApiException

    from tests.server.conftest import start_server

    server = start_server(kubeline_home, runner="docker", pull="never")
    try:
        client = kfp.Client(host=server.url)
        good = tmp_path / "good.yaml"
        good.write_text(yaml.safe_dump(compile_function(cp.in_containers)))
        run = client.create_run_from_pipeline_package(str(good), arguments={"greeting": "ok"})
        done = client.wait_for_run_completion(run.run_id, timeout=300)
        assert done.state == "SUCCEEDED", done.error
        absent = tmp_path / "absent.yaml"
        absent.write_text(yaml.safe_dump(compile_function(cp.absent_image_pipeline)))
        with pytest.raises(ApiException) as refused:
            client.create_run_from_pipeline_package(str(absent), arguments={})
        assert refused.value.status == 400
        assert "kubeline-absent/nowhere:0" in str(refused.value.body)
        assert [r.run_id for r in client.list_runs().runs] == [run.run_id]
    finally:
        server.stop()
