"""One store, many writers: a team's ``kubeline server`` taking kfp.Client runs while
``kubeline run`` processes record theirs in the same database, all at once.

The concurrency test runs on SQLite and on PostgreSQL (marker ``postgres``); the PostgreSQL
ones are the team case of docs/engine.md: the records in the shared database, each run's
files in the home of the machine that ran it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kubeline.pipelines.compile import compile_function, compile_pipeline
from kubeline.store import RunStore
from tests.engine import pipelines as p
from tests.server.conftest import LiveServer, start_server

API_RUNS, CLI_RUNS = 4, 2


@pytest.fixture
def two_step_yaml(tmp_path: Path) -> Path:
    return compile_pipeline(compile_function(p.two_step), tmp_path / "two.yaml")


def cli_run(pipeline: Path, home: Path, text: str) -> subprocess.Popen[str]:
    """``kubeline run`` in its own process, with this process's environment (and so its
    ``KUBELINE_DATABASE_URL``), as a team member would start it."""
    env = {**os.environ, "KUBELINE_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "kubeline", "run", str(pipeline), "-p", f"text={text}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def app_store(server: LiveServer) -> RunStore:
    store: RunStore = server.server.config.app.state.store
    return store


def test_api_and_cli_runs_write_one_store_at_once(
    database: str | None, live_server: LiveServer, client: Any, two_step_yaml: Path
) -> None:  # database first: it sets the URL the server starts with
    start = threading.Barrier(API_RUNS + 1)

    def api_run(i: int) -> str:
        start.wait()
        run = client.create_run_from_pipeline_package(
            str(two_step_yaml), arguments={"text": f"api-{i}"}
        )
        return str(client.wait_for_run_completion(run.run_id, timeout=300).state)

    with ThreadPoolExecutor(API_RUNS) as pool:
        futures = [pool.submit(api_run, i) for i in range(API_RUNS)]
        start.wait()
        cli = [cli_run(two_step_yaml, live_server.home, f"cli-{i}") for i in range(CLI_RUNS)]
        outputs = [process.communicate(timeout=300)[0] for process in cli]
        states = [future.result() for future in futures]
    assert [process.returncode for process in cli] == [0] * CLI_RUNS, "\n".join(outputs)
    assert states == ["SUCCEEDED"] * API_RUNS

    listed = live_server.http().get("/apis/v2beta1/runs", params={"page_size": 50}).json()
    assert listed["total_size"] == API_RUNS + CLI_RUNS
    assert {run["state"] for run in listed["runs"]} == {"SUCCEEDED"}
    store = app_store(live_server)
    for run in store.runs.list(limit=50):
        tasks = store.tasks.list(run.run_id)
        assert sorted(t.name for t in tasks if t.kind == "executor") == [
            "read-text",
            "stamp",
            "write-text",
        ], run.run_id
        assert {t.state for t in tasks} == {"SUCCEEDED"}, run.run_id
        (artifact,) = store.artifacts.list(run_id=run.run_id)
        assert [name for _, name in store.artifacts.consumers(artifact.artifact_id)] == ["data"]
    assert sorted(run.outputs.get("Output") for run in store.runs.list(limit=50)) == sorted(
        [f"API-{i}" for i in range(API_RUNS)] + [f"CLI-{i}" for i in range(CLI_RUNS)]
    )  # read-text gives its input upper-cased: each run read its own artifact
    # On PostgreSQL the records are there only; the files stay in the home.
    assert (live_server.home / "kubeline.db").exists() is (database is None)
    assert len(list((live_server.home / "runs").iterdir())) == API_RUNS + CLI_RUNS


@pytest.mark.postgres
def test_a_run_from_another_home_is_listed_by_the_team_s_server(
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    kubeline_home: Path,
    two_step_yaml: Path,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KUBELINE_DATABASE_URL", postgres_url)
    server = start_server(kubeline_home)
    try:
        laptop = tmp_path / "laptop"
        process = cli_run(two_step_yaml, laptop, "from a laptop")
        output = process.communicate(timeout=300)[0]
        assert process.returncode == 0, output

        (run,) = server.http().get("/apis/v2beta1/runs").json()["runs"]
        assert run["state"] == "SUCCEEDED"
        record = app_store(server).runs.get(run["run_id"])
    finally:
        server.stop()
    assert record is not None
    assert Path(record.root).is_relative_to(laptop)  # its files: on the machine that ran it
    assert not (laptop / "kubeline.db").exists()
    assert not (kubeline_home / "runs").exists()
