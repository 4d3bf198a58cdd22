"""A real server runs a pipeline with hostile task names contained, and its log endpoint
serves no file outside the run's own folder, whatever the store says."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubeline.engine.safepath import safe_name
from kubeline.pipelines.compile import compile_function
from kubeline.store import RunStore
from tests.engine import pipelines as p
from tests.engine.hostile import rename_task
from tests.server.conftest import LiveServer, start_server

SECRET = "kubeline-test-secret: never served"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[Path, LiveServer]]:
    """(top, server): the server's home two levels below ``top``, where anything a
    hostile name climbs out to would land."""
    home = tmp_path / "outer" / "home"
    home.mkdir(parents=True)
    (tmp_path / "secret.txt").write_text(SECRET)
    server = start_server(home)
    yield tmp_path, server
    server.stop()


def _outside(top: Path, home: Path) -> set[str]:
    return {
        p.relative_to(top).as_posix()
        for p in top.rglob("*")
        if not p.is_relative_to(home) and not home.is_relative_to(p)
    }


def _wait(http: httpx.Client, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = http.get(f"/apis/v2beta1/runs/{run_id}").json()
        if run["state"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def _store(server: LiveServer) -> RunStore:
    return server.server.config.app.state.store


def _log_url(run_id: str, task_id: str) -> str:
    return f"/kubeline/api/runs/{run_id}/tasks/{task_id}/log"


def test_hostile_task_names_run_contained_and_their_logs_are_served(
    sandbox: tuple[Path, LiveServer],
) -> None:
    top, server = sandbox
    spec = rename_task(compile_function(p.two_step), "write-text", "../../../../x")
    spec = rename_task(spec, "read-text", "nul\x00byte")
    before = _outside(top, server.home)
    with server.http() as http:
        made = http.post("/apis/v2beta1/runs", json={"display_name": "h", "pipeline_spec": spec})
        assert made.status_code == 200, made.text
        run_id = made.json()["run_id"]
        assert _wait(http, run_id)["state"] == "SUCCEEDED"
        run = _store(server).runs.get(run_id)
        tasks = {t.name: t for t in _store(server).tasks.list(run_id)}
        assert set(tasks) == {"../../../../x", "nul\x00byte", "stamp"}
        for task in tasks.values():
            log = Path(task.log_path or "")
            assert log.resolve().is_relative_to(Path(run.root).resolve() / "logs")
            served = http.get(_log_url(run_id, task.task_id))
            assert served.status_code == 200
            assert served.content == log.read_bytes() and served.content
        assert Path(tasks["../../../../x"].log_path or "").name == (
            f"{safe_name('../../../../x')}.log"
        )
    assert _outside(top, server.home) == before


def test_a_log_path_outside_the_run_folder_is_never_served(
    sandbox: tuple[Path, LiveServer],
) -> None:
    top, server = sandbox
    secret = top / "secret.txt"
    store = _store(server)
    with server.http() as http:
        made = http.post(
            "/apis/v2beta1/runs",
            json={"display_name": "r", "pipeline_spec": compile_function(p.two_step)},
        )
        run_id = made.json()["run_id"]
        assert _wait(http, run_id)["state"] == "SUCCEEDED"
        run = store.runs.get(run_id)
        task = next(t for t in store.tasks.list(run_id) if t.name == "stamp")
        assert http.get(_log_url(run_id, task.task_id)).status_code == 200

        # A record that names a file elsewhere (an older kubeline's, or an edited store):
        # outside the home, climbing out of the run folder, or in another run's folder.
        other_run = server.home / "runs" / "someone-else" / "logs" / "x.log"
        other_run.parent.mkdir(parents=True)
        other_run.write_text(SECRET)
        for i, elsewhere in enumerate(
            [secret, Path(run.root) / ".." / ".." / ".." / "secret.txt", other_run]
        ):
            forged = dataclasses.replace(
                task, task_id=f"forged-{i}", path=f"forged-{i}", log_path=str(elsewhere)
            )
            store.tasks.add(forged)
            refused = http.get(_log_url(run_id, forged.task_id))
            assert refused.status_code == 403, elsewhere
            assert SECRET not in refused.text
            assert "not inside the folder of run" in refused.text

        # A log swapped for a symlink that leads out of the run folder.
        log = Path(task.log_path or "")
        log.unlink()
        log.symlink_to(secret)
        refused = http.get(_log_url(run_id, task.task_id))
        assert refused.status_code == 403 and SECRET not in refused.text

        # A run whose recorded folder is not one of runs/ (here: runs/ itself, or /).
        for i, root in enumerate([server.home / "runs", Path(secret.anchor)]):
            other = dataclasses.replace(run, run_id=f"other-{i}", root=str(root))
            store.runs.add(other)
            inside_runs = Path(run.root) / "logs" / "stamp.log"
            forged = dataclasses.replace(
                task, task_id=f"other-task-{i}", run_id=other.run_id, log_path=str(inside_runs)
            )
            store.tasks.add(forged)
            refused = http.get(_log_url(other.run_id, forged.task_id))
            assert refused.status_code == 403, root


def test_a_spec_whose_names_would_share_a_file_is_refused_with_400(
    sandbox: tuple[Path, LiveServer],
) -> None:
    top, server = sandbox
    spec = rename_task(compile_function(p.two_step), "stamp", "Read-Text")
    before = _outside(top, server.home)
    with server.http() as http:
        refused = http.post("/apis/v2beta1/runs", json={"pipeline_spec": spec})
    assert refused.status_code == 400
    assert "letter case" in refused.text
    assert _outside(top, server.home) == before
