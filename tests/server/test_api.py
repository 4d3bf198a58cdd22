"""The HTTP API itself: KFP's error statuses, safety defaults, and every response checked
against KFP's own API description (../shared/conformance/kfp/api)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from kubeline.errors import ConfigError
from kubeline.pipelines.compile import compile_function, compile_pipeline
from kubeline.server import ServerSettings, create_app
from tests.conftest import CONFORMANCE, run_cli
from tests.engine import pipelines as p
from tests.server.conftest import LiveServer, free_port, start_server

# Every test here runs on SQLite and on PostgreSQL (marker "postgres").
pytestmark = pytest.mark.usefixtures("database")

SWAGGER = CONFORMANCE / "api" / "kfp_api_single_file.swagger.json"


def _upload(http: httpx.Client, path: Path, name: str | None = None) -> httpx.Response:
    with path.open("rb") as f:
        return http.post(
            "/apis/v2beta1/pipelines/upload",
            params={"name": name} if name else {},
            files={"uploadfile": (path.name, f, "application/x-yaml")},
        )


@pytest.fixture
def two_step_yaml(tmp_path: Path) -> Path:
    return compile_pipeline(compile_function(p.two_step), tmp_path / "two.yaml")


@pytest.mark.parametrize("name", ["empty_file.yaml", "invalid_yaml.yaml", "no_name.yaml"])
def test_invalid_corpus_uploads_are_400(
    live_server: LiveServer, conformance: Path, name: str
) -> None:
    response = _upload(live_server.http(), conformance / "pipelines" / "invalid" / name)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3 and body["message"]


def test_non_pipeline_upload_is_400(live_server: LiveServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n")
    response = _upload(live_server.http(), notes)
    assert response.status_code == 400
    assert "does not hold a pipeline spec" in response.json()["message"]


def test_upload_over_the_cap_is_413(kubeline_home: Path, two_step_yaml: Path) -> None:
    server = start_server(kubeline_home, max_upload_bytes=1024)
    try:
        response = _upload(server.http(), two_step_yaml)
        assert response.status_code == 413
    finally:
        server.stop()


def test_unknown_ids_are_404(live_server: LiveServer) -> None:
    http = live_server.http()
    for path in (
        "/apis/v2beta1/runs/nope",
        "/apis/v2beta1/pipelines/nope",
        "/apis/v2beta1/experiments/nope",
        "/apis/v2beta1/recurringruns/nope",
        "/apis/v2beta1/pipelines/names/nope",
    ):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == 5


def test_duplicate_names_are_409(live_server: LiveServer, two_step_yaml: Path) -> None:
    http = live_server.http()
    assert _upload(http, two_step_yaml, "dup").status_code == 200
    assert _upload(http, two_step_yaml, "dup").status_code == 409
    body = {"display_name": "exp"}
    assert http.post("/apis/v2beta1/experiments", json=body).status_code == 200
    assert http.post("/apis/v2beta1/experiments", json=body).status_code == 409


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"text": 5, "colour": "red"}, "Unknown parameter"),
        ({"other": []}, "'other' expects a string"),
    ],
    ids=["unknown-name", "wrong-type"],
)
def test_run_arguments_that_do_not_match_are_400(
    live_server: LiveServer, parameters: dict, message: str
) -> None:
    spec = compile_function(p.two_step)
    response = live_server.http().post(
        "/apis/v2beta1/runs",
        json={
            "display_name": "bad",
            "pipeline_spec": spec,
            "runtime_config": {"parameters": parameters},
        },
    )
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert live_server.http().get("/apis/v2beta1/runs").json()["total_size"] == 0


def test_token_is_required_when_set(kubeline_home: Path) -> None:
    import kfp

    server = start_server(kubeline_home, token="s3cret")
    try:
        assert server.http().get("/apis/v2beta1/runs").status_code == 401
        assert server.http(token="wrong").get("/apis/v2beta1/runs").status_code == 401
        assert server.http(token="s3cret").get("/apis/v2beta1/runs").status_code == 200
        assert server.http().get("/healthz").status_code == 200
        client = kfp.Client(host=server.url, existing_token="s3cret")
        assert client.list_experiments().total_size == 1  # Default
    finally:
        server.stop()


def test_public_address_without_token_is_refused(kubeline_home: Path) -> None:
    with pytest.raises(ConfigError, match="without a token"):
        create_app(ServerSettings(home=kubeline_home, host="0.0.0.0"))
    create_app(ServerSettings(home=kubeline_home, host="0.0.0.0", token="t"))


def test_artifact_read_out_is_bounded_and_stays_in_the_store(
    live_server: LiveServer, client: Any, two_step_yaml: Path
) -> None:
    run = client.create_run_from_pipeline_package(
        str(two_step_yaml), arguments={"text": "x" * 5000}
    )
    done = client.wait_for_run_completion(run.run_id, timeout=120)
    task = next(t for t in done.run_details.task_details if t.display_name == "read-text")
    artifact_id = task.inputs["data"].artifact_ids[0]
    http = live_server.http()
    meta = http.get(f"/kubeline/api/artifacts/{artifact_id}").json()
    assert meta["type"] == "system.Dataset" and meta["size"] == 5000
    part = http.get(f"/kubeline/api/artifacts/{artifact_id}/content", params={"limit": 100})
    assert part.content == b"x" * 100
    assert part.headers["X-Kubeline-Truncated"] == "true"
    store = live_server.server.config.app.state.store
    record = store.artifacts.get(artifact_id)
    outside = dataclasses.replace(
        record, artifact_id="outside", uri=str(Path(os.sep) / "etc" / "hostname")
    )
    store.artifacts.add(outside)  # a record pointing outside the store must not be served
    response = http.get("/kubeline/api/artifacts/outside/content")
    assert response.status_code == 403


def _validator(definition: str) -> jsonschema.Draft4Validator:
    document = json.loads(SWAGGER.read_text())
    schema = {"$ref": f"#/definitions/{definition}", "definitions": document["definitions"]}
    return jsonschema.Draft4Validator(schema)


def test_every_response_validates_against_kfp_api_description(
    live_server: LiveServer, conformance: Path, two_step_yaml: Path
) -> None:
    http = live_server.http()
    checked: list[tuple[str, Any]] = []

    def check(definition: str, response: httpx.Response) -> dict:
        assert response.status_code == 200, response.text
        body = response.json()
        errors = sorted(_validator(definition).iter_errors(body), key=str)
        assert not errors, f"{definition}: {errors[0].message} at {list(errors[0].path)}"
        checked.append((definition, body))
        return body

    pipeline = check("v2beta1Pipeline", _upload(http, two_step_yaml, "api-check"))
    pid = pipeline["pipeline_id"]
    check("v2beta1ListPipelinesResponse", http.get("/apis/v2beta1/pipelines"))
    check("v2beta1Pipeline", http.get(f"/apis/v2beta1/pipelines/{pid}"))
    check("v2beta1Pipeline", http.get("/apis/v2beta1/pipelines/names/api-check"))
    with two_step_yaml.open("rb") as f:
        version = check(
            "v2beta1PipelineVersion",
            http.post(
                "/apis/v2beta1/pipelines/upload_version",
                params={"pipelineid": pid, "name": "v2"},
                files={"uploadfile": ("two.yaml", f)},
            ),
        )
    check(
        "v2beta1ListPipelineVersionsResponse", http.get(f"/apis/v2beta1/pipelines/{pid}/versions")
    )
    check(
        "v2beta1PipelineVersion",
        http.get(f"/apis/v2beta1/pipelines/{pid}/versions/{version['pipeline_version_id']}"),
    )
    experiment = check(
        "v2beta1Experiment", http.post("/apis/v2beta1/experiments", json={"display_name": "e"})
    )
    check("v2beta1ListExperimentsResponse", http.get("/apis/v2beta1/experiments"))
    check("v2beta1Experiment", http.get(f"/apis/v2beta1/experiments/{experiment['experiment_id']}"))
    run = check(
        "v2beta1Run",
        http.post(
            "/apis/v2beta1/runs",
            json={
                "display_name": "r",
                "experiment_id": experiment["experiment_id"],
                "pipeline_version_reference": {
                    "pipeline_id": pid,
                    "pipeline_version_id": version["pipeline_version_id"],
                },
                "runtime_config": {"parameters": {"text": "hi"}},
            },
        ),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = http.get(f"/apis/v2beta1/runs/{run['run_id']}").json()
        if got["state"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.2)
    done = check("v2beta1Run", http.get(f"/apis/v2beta1/runs/{run['run_id']}"))
    assert done["state"] == "SUCCEEDED" and done["run_details"]["task_details"]
    check("v2beta1ListRunsResponse", http.get("/apis/v2beta1/runs"))
    recurring = check(
        "v2beta1RecurringRun",
        http.post(
            "/apis/v2beta1/recurringruns",
            json={
                "display_name": "nightly",
                "experiment_id": experiment["experiment_id"],
                "pipeline_version_reference": {"pipeline_id": pid},
                "runtime_config": {"parameters": {"text": "n"}},
                "trigger": {"cron_schedule": {"cron": "0 0 3 * * *"}},
                "max_concurrency": "2",
                "mode": "ENABLE",
            },
        ),
    )
    check("v2beta1ListRecurringRunsResponse", http.get("/apis/v2beta1/recurringruns"))
    check(
        "v2beta1RecurringRun",
        http.get(f"/apis/v2beta1/recurringruns/{recurring['recurring_run_id']}"),
    )
    check("v2beta1GetHealthzResponse", http.get("/apis/v2beta1/healthz"))
    spec = compile_function(p.two_step)
    made = check(
        "v2beta1Pipeline",
        http.post("/apis/v2beta1/pipelines", json={"display_name": "empty-first"}),
    )
    check(
        "v2beta1PipelineVersion",
        http.post(
            f"/apis/v2beta1/pipelines/{made['pipeline_id']}/versions",
            json={"display_name": "inline", "pipeline_spec": spec},
        ),
    )
    check(
        "v2beta1Pipeline",
        http.post(
            "/apis/v2beta1/pipelines/create",
            json={
                "pipeline": {"display_name": "both"},
                "pipeline_version": {"display_name": "both-v1", "pipeline_spec": spec},
            },
        ),
    )
    for action in ("archive", "unarchive"):
        assert http.post(f"/apis/v2beta1/runs/{run['run_id']}:{action}").json() == {}
        assert (
            http.post(f"/apis/v2beta1/experiments/{experiment['experiment_id']}:{action}").json()
            == {}
        )
    archived = http.get(
        "/apis/v2beta1/runs",
        params={
            "filter": json.dumps(
                {
                    "predicates": [
                        {"key": "storage_state", "operation": 1, "stringValue": "ARCHIVED"}
                    ]
                }
            )
        },
    ).json()
    assert archived["total_size"] == 0  # archived, then unarchived: available again
    bad = http.get("/apis/v2beta1/runs/missing")
    assert not list(_validator("googleRpcStatus").iter_errors(bad.json()))
    assert len(checked) == 20


def test_bad_cron_is_400(live_server: LiveServer) -> None:
    response = live_server.http().post(
        "/apis/v2beta1/recurringruns",
        json={
            "display_name": "x",
            "pipeline_spec": compile_function(p.two_step),
            "trigger": {"cron_schedule": {"cron": "every day"}},
        },
    )
    assert response.status_code == 400
    assert "six fields, seconds first" in response.json()["message"]


def test_kfp_command_line_creates_a_pipeline_and_watches_a_run(
    live_server: LiveServer, two_step_yaml: Path
) -> None:
    program = shutil.which("kfp", path=str(Path(sys.executable).parent))
    assert program is not None
    kfp = [program, "--endpoint", live_server.url]
    created = subprocess.run(
        [*kfp, "pipeline", "create", "-p", "from-cli", str(two_step_yaml)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    assert "from-cli" in created.stdout
    ran = subprocess.run(
        [
            *kfp,
            "run",
            "create",
            "-e",
            "cli-exp",
            "-r",
            "cli-run",
            "-f",
            str(two_step_yaml),
            "-w",
            "text=hello",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert "SUCCEEDED" in ran.stdout
    runs = live_server.http().get("/apis/v2beta1/runs").json()["runs"]
    assert [r["display_name"] for r in runs] == ["cli-run"]


def test_kubeline_submit_against_the_server(
    live_server: LiveServer, tmp_path: Path, kubeline_home: Path
) -> None:
    from tests.cli.test_cli import TINY

    source = tmp_path / "tiny.py"
    source.write_text(TINY)
    proc = run_cli(
        "submit",
        f"{source}:tiny",
        "--host",
        live_server.url,
        "-p",
        "x=21",
        "--wait",
        "--output",
        "json",
        home=kubeline_home,
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["state"] == "SUCCEEDED"
    assert document["link"].startswith(live_server.url)
    run = live_server.http().get(f"/apis/v2beta1/runs/{document['run_id']}").json()
    assert run["state"] == "SUCCEEDED"


@pytest.mark.parametrize("auth", ["--token", "--cookie"])
def test_submit_authenticates_with_a_token_or_a_cookie(
    auth: str, tmp_path: Path, kubeline_home: Path
) -> None:
    from tests.cli.test_cli import TINY

    source = tmp_path / "tiny.py"
    source.write_text(TINY)
    live = start_server(kubeline_home, token="s3cret")
    try:
        value = "s3cret" if auth == "--token" else "kubeline_token=s3cret"
        args = ["submit", f"{source}:tiny", "--host", live.url, "-p", "x=1", "--output", "json"]
        refused = run_cli(*args, auth, "wrong", home=kubeline_home)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        proc = run_cli(*args, auth, value, "--wait", home=kubeline_home)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["state"] == "SUCCEEDED"
    finally:
        live.stop()


def test_submit_to_a_host_that_is_not_there_is_exit_2(kubeline_home: Path) -> None:
    proc = run_cli("submit", "--host", f"http://127.0.0.1:{free_port()}", home=kubeline_home)
    assert proc.returncode == 2
    assert "Cannot reach a KFP API" in proc.stderr and "Traceback" not in proc.stderr


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for(
    done: Callable[[], bool], what: str, server: subprocess.Popen, seconds: float = 120
) -> None:
    """Poll until ``done()`` (bounded: a server that died or never gets there fails)."""
    deadline = time.monotonic() + seconds
    while not done():
        assert server.poll() is None, f"the server exited ({server.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {seconds} s"
        time.sleep(0.2)


def test_a_restart_marks_interrupted_runs_failed(kubeline_home: Path, tmp_path: Path) -> None:
    """A server killed mid-run: the next one marks that run FAILED with a reason."""
    port = free_port()
    env = {**os.environ, "KUBELINE_HOME": str(kubeline_home)}
    server = subprocess.Popen(
        [sys.executable, "-m", "kubeline", "server", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _answers(f"{url}/healthz"), "the server to answer", server)
        spec = compile_function(p.sleeper)
        run_id = httpx.post(
            f"{url}/apis/v2beta1/runs",
            json={
                "display_name": "long",
                "pipeline_spec": spec,
                "runtime_config": {"parameters": {"seconds": 120}},
            },
        ).json()["run_id"]
        run_url = f"{url}/apis/v2beta1/runs/{run_id}"
        _wait_for(lambda: httpx.get(run_url).json()["state"] == "RUNNING", "RUNNING", server)
    finally:
        server.kill()
        server.wait(timeout=30)
    again = start_server(kubeline_home)
    try:
        run = again.http().get(f"/apis/v2beta1/runs/{run_id}").json()
        assert run["state"] == "FAILED"
        assert "ended before the run finished" in run["error"]["message"]
    finally:
        again.stop()
