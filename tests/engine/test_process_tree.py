"""No task outlives its run (#14): whole ``kubeline run`` processes and a real server, with
tasks that ignore SIGTERM and SIGINT and leave processes behind, one of them in a session
of its own. The executor-level cases (success, cancel, forced cancel, every flavor) are in
``tests/engine/executors/test_contract.py``.

Which processes belong to the test is read from /proc: every task process carries
``KUBELINE_TASK_MARK`` (its task's folder), and every process of the engine inherits the
test's ``KUBELINE_HOME``.

No ``from __future__ import annotations``: KFP reads the pipeline's real annotations.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import dsl

from kubeline.engine.tasktree import MARK
from kubeline.pipelines.compile import compile_function
from tests.engine.executors import components as c
from tests.requirements import exempt_reason

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/environ").exists(),
        reason=exempt_reason("macOS and Windows", "reads Linux /proc"),
    ),
]


@dsl.pipeline(name="stubborn")
def stubborn() -> None:
    """A Python task and a command task, both ignoring SIGTERM and SIGINT, each leaving a
    process in its group and one in a session of its own."""
    c.leave_running(stubborn=True, then_wait=600.0).set_caching_options(False)
    c.leave_running_command(stubborn=True, then_wait=600.0).set_caching_options(False)


@dsl.pipeline(name="mixed")
def mixed() -> None:
    """Two Python tasks, one ending on SIGTERM (its processes do not), one ignoring it: when
    the engine dies, the first ends during the warm parent's shutdown, which must go on."""
    c.leave_running(stubborn=False, then_wait=600.0).set_caching_options(False)
    c.leave_running(stubborn=True, then_wait=600.0).set_caching_options(False)


def _environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            data = f.read()
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return {}  # ended, only not reaped yet
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in data.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def engine_processes(home: Path) -> dict[int, dict[str, str]]:
    """Live processes started for ``home``: the engine's (its environment names the home)
    and the tasks' (their mark is under it)."""
    found = {}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        env = _environ(int(name))
        if env.get("KUBELINE_HOME") == str(home) or env.get(MARK, "").startswith(str(home)):
            found[int(name)] = env
    return found


def task_processes(home: Path) -> set[int]:
    return {pid for pid, env in engine_processes(home).items() if MARK in env}


def _eventually(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``check`` until it holds; the seconds it took."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"no {what} after {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture
def no_leftovers(kubeline_home: Path) -> Iterator[None]:
    """Whatever the test's processes left is killed afterwards, so one failure cannot
    spread to the tests after it."""
    yield
    for pid in engine_processes(kubeline_home):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _start_run(
    home: Path, tmp_path: Path, *options: str, pipeline: Any = stubborn
) -> subprocess.Popen[bytes]:
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(yaml.safe_dump(compile_function(pipeline)))
    process = subprocess.Popen(
        [sys.executable, "-m", "kubeline", "run", str(spec), *options],
        env={**os.environ, "KUBELINE_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C in the terminal running pytest stays pytest's
    )
    # Both tasks started what they leave running: "left PID PID" in both logs.
    _eventually(lambda: _lefts(home) == 2, 90, "two tasks with their processes started")
    assert process.poll() is None
    return process


def _lefts(home: Path) -> int:
    logs = home.glob("runs/*/logs/**/*.log")
    return sum("left " in p.read_text(errors="replace") for p in logs if p.is_file())


def _last_run(home: Path) -> dict[str, object]:
    shown = subprocess.run(
        [sys.executable, "-m", "kubeline", "runs", "show", "last", "--output", "json"],
        env={**os.environ, "KUBELINE_HOME": str(home)},
        capture_output=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr.decode()
    document = json.loads(shown.stdout)
    return dict(document.get("run", document))


@pytest.mark.usefixtures("no_leftovers")
def test_ctrl_c_cancels_the_run_and_ends_every_task_process(
    kubeline_home: Path, tmp_path: Path
) -> None:
    run = _start_run(kubeline_home, tmp_path, "--grace-period", "2")
    stubborn_ones = task_processes(kubeline_home)
    assert len(stubborn_ones) >= 6  # 2 leaders, 4 left running (and the command's shell)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode != 0
    assert b"Traceback" not in err, err.decode()
    _eventually(lambda: not engine_processes(kubeline_home), 10, "end of the engine's processes")
    shown = _last_run(kubeline_home)
    assert shown["state"] == "CANCELED", shown


@pytest.mark.usefixtures("no_leftovers")
def test_a_second_ctrl_c_kills_at_once(kubeline_home: Path, tmp_path: Path) -> None:
    run = _start_run(kubeline_home, tmp_path, "--grace-period", "60")
    run.send_signal(signal.SIGINT)
    time.sleep(1.0)
    assert run.poll() is None  # the grace period of 60 s runs
    asked = time.monotonic()
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=30)
    assert time.monotonic() - asked < 15
    _eventually(lambda: not engine_processes(kubeline_home), 10, "end of the engine's processes")
    assert _last_run(kubeline_home)["state"] == "CANCELED"


@pytest.mark.usefixtures("no_leftovers")
def test_sigterm_stops_kubeline_run_as_ctrl_c_does(kubeline_home: Path, tmp_path: Path) -> None:
    run = _start_run(kubeline_home, tmp_path, "--grace-period", "1")
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()
    _eventually(lambda: not engine_processes(kubeline_home), 10, "end of the engine's processes")
    assert _last_run(kubeline_home)["state"] == "CANCELED"


@pytest.mark.usefixtures("no_leftovers")
def test_kill_9_of_kubeline_run_leaves_no_task_process(kubeline_home: Path, tmp_path: Path) -> None:
    """The engine dies without a word: the fork server and the host task's leader see
    their pipe close and end their trees (SIGTERM, the grace period, SIGKILL)."""
    run = _start_run(kubeline_home, tmp_path, "--grace-period", "1")
    run.kill()
    run.wait(timeout=10)
    took = _eventually(lambda: not engine_processes(kubeline_home), 20, "end of the task processes")
    assert took < 15
    assert _last_run(kubeline_home)["state"] == "FAILED"  # the next start says it died


@pytest.mark.usefixtures("no_leftovers")
def test_kill_9_while_one_task_ends_on_sigterm_still_ends_every_tree(
    kubeline_home: Path, tmp_path: Path
) -> None:
    """The warm parent tells the engine each task's end; once the engine is dead that
    write fails, and the shutdown must still end the other trees (found by the chaos test)."""
    run = _start_run(kubeline_home, tmp_path, pipeline=mixed)
    run.kill()
    run.wait(timeout=10)
    _eventually(lambda: not engine_processes(kubeline_home), 20, "end of the task processes")


@pytest.mark.usefixtures("no_leftovers")
def test_the_next_engine_start_ends_what_a_dead_engine_left(
    kubeline_home: Path, tmp_path: Path
) -> None:
    """The engine, its fork server and the task leaders all killed at once (an OOM kill, a
    kill of the whole session): the tasks' processes are orphans nobody watches, until
    the next kubeline command marks the run FAILED and ends them by their mark."""
    run = _start_run(kubeline_home, tmp_path, "--grace-period", "1")
    engine = [
        pid
        for pid, env in engine_processes(kubeline_home).items()
        if pid == run.pid
        or MARK not in env  # the fork server
        or "engine/tasktree.py" in _cmdline(pid)  # a host task's leader
    ]
    for pid in engine:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    run.wait(timeout=10)
    time.sleep(1.0)
    left = task_processes(kubeline_home)
    assert len(left) >= 4, "the test should leave orphans for the next start to end"
    assert _last_run(kubeline_home)["state"] == "FAILED"
    _eventually(lambda: not task_processes(kubeline_home), 10, "end of the orphans")


@pytest.mark.usefixtures("no_leftovers")
def test_terminate_through_kfp_client_ends_the_tree_and_frees_the_slot(
    kubeline_home: Path, tmp_path: Path
) -> None:
    """A real server with one run slot and the default grace period: kfp.Client's
    terminate ends a stubborn run within 20 s, with every process it started, and the
    next run gets the slot."""
    import kfp

    from tests.engine import pipelines as p
    from tests.server.conftest import start_server

    server = start_server(kubeline_home, max_concurrent_runs=1)
    try:
        client = kfp.Client(host=server.url)
        spec = tmp_path / "stubborn.yaml"
        spec.write_text(yaml.safe_dump(compile_function(stubborn)))
        run = client.create_run_from_pipeline_package(str(spec), arguments={})
        _eventually(lambda: _lefts(kubeline_home) == 2, 90, "two stubborn tasks")
        assert len(task_processes(kubeline_home)) >= 5
        asked = time.monotonic()
        client.terminate_run(run.run_id)
        done = client.wait_for_run_completion(run.run_id, timeout=60)
        assert time.monotonic() - asked < 20
        assert done.state == "FAILED"  # what kfp.Client waits for; the UI says terminated
        assert "Terminated" in done.error.message
        _eventually(lambda: not task_processes(kubeline_home), 5, "end of the task processes")
        two = tmp_path / "two.yaml"
        two.write_text(yaml.safe_dump(compile_function(p.two_step)))
        after = client.create_run_from_pipeline_package(str(two), arguments={})
        assert client.wait_for_run_completion(after.run_id, timeout=120).state == "SUCCEEDED"
    finally:
        server.stop()


def _start_server(home: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    from tests.live import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "kubeline", "server", "--port", str(port), *options],
        env={**os.environ, "KUBELINE_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        import httpx

        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    _eventually(answers, 60, "answer from the server")
    return server, url


def _post_stubborn(url: str, home: Path) -> str:
    import httpx

    answer = httpx.post(
        f"{url}/apis/v2beta1/runs",
        json={"display_name": "stubborn", "pipeline_spec": compile_function(stubborn)},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    _eventually(lambda: _lefts(home) == 2, 90, "two stubborn tasks")
    return str(answer.json()["run_id"])


@pytest.mark.usefixtures("no_leftovers")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_server_ends_its_runs_tasks(
    kubeline_home: Path, signum: signal.Signals
) -> None:
    """SIGTERM (a service manager) or Ctrl-C: the server stops its runs, gives their tasks
    the grace period, kills what is left, and records the runs as ended."""
    server, url = _start_server(kubeline_home, "--grace-period", "1")
    run_id = _post_stubborn(url, kubeline_home)
    server.send_signal(signum)
    server.wait(timeout=30)
    _eventually(lambda: not engine_processes(kubeline_home), 10, "end of the engine's processes")
    shown = _last_run(kubeline_home)
    assert shown["run_id"] == run_id
    assert shown["state"] == "FAILED", shown
    assert "server stopped" in str(shown.get("error")), shown


@pytest.mark.usefixtures("no_leftovers")
def test_a_second_ctrl_c_stops_the_server_at_once(kubeline_home: Path) -> None:
    server, url = _start_server(kubeline_home, "--grace-period", "60")
    _post_stubborn(url, kubeline_home)
    server.send_signal(signal.SIGINT)
    time.sleep(1.5)
    assert server.poll() is None  # the tasks' grace period of 60 s runs
    asked = time.monotonic()
    server.send_signal(signal.SIGINT)
    server.wait(timeout=30)
    assert time.monotonic() - asked < 15
    _eventually(lambda: not engine_processes(kubeline_home), 10, "end of the engine's processes")
