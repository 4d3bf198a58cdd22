"""The real kfp.Client against a real kubeline server on loopback: no mocks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from kfp_server_api.exceptions import ApiException

from kubeline.pipelines.compile import compile_function, compile_pipeline
from tests.engine import pipelines as p
from tests.server.conftest import LiveServer

# Every test here runs on SQLite and on PostgreSQL (marker "postgres").
pytestmark = pytest.mark.usefixtures("database")


def _yaml(tmp_path: Path, pipeline: Any, name: str) -> str:
    return str(compile_pipeline(compile_function(pipeline), tmp_path / f"{name}.yaml"))


def _status(exc: pytest.ExceptionInfo[ApiException]) -> tuple[int, str]:
    return exc.value.status, json.loads(exc.value.body)["message"]


def test_upload_versions_list_and_get_by_name(client: Any, tmp_path: Path) -> None:
    path = _yaml(tmp_path, p.two_step, "two")
    pipeline = client.upload_pipeline(path, pipeline_name="two-step", description="demo")
    assert pipeline.display_name == "two-step"
    version = client.upload_pipeline_version(
        path, pipeline_version_name="v2", pipeline_id=pipeline.pipeline_id
    )
    assert version.pipeline_id == pipeline.pipeline_id
    assert client.get_pipeline_id("two-step") == pipeline.pipeline_id
    versions = client.list_pipeline_versions(pipeline.pipeline_id)
    assert {v.display_name for v in versions.pipeline_versions} == {"two-step", "v2"}
    with pytest.raises(ApiException) as duplicate:
        client.upload_pipeline(path, pipeline_name="two-step")
    assert _status(duplicate)[0] == 409
    client.upload_pipeline(path, pipeline_name="another")
    first = client.list_pipelines(page_size=1, sort_by="created_at desc")
    assert first.total_size == 2 and len(first.pipelines) == 1
    assert first.pipelines[0].display_name == "another"
    second = client.list_pipelines(
        page_size=1, page_token=first.next_page_token, sort_by="created_at desc"
    )
    assert second.pipelines[0].display_name == "two-step" and not second.next_page_token


def test_run_from_package_waits_to_success_with_task_details(client: Any, tmp_path: Path) -> None:
    path = _yaml(tmp_path, p.two_step, "two")
    experiment = client.create_experiment("exp-a")
    run = client.create_run_from_pipeline_package(
        path, arguments={"text": "kfp"}, run_name="first", experiment_name="exp-a"
    )
    done = client.wait_for_run_completion(run.run_id, timeout=120)
    assert done.state == "SUCCEEDED"
    assert done.experiment_id == experiment.experiment_id
    by_name = client.get_experiment(experiment_name="exp-a")  # a filtered list underneath
    assert by_name.experiment_id == experiment.experiment_id
    tasks = {t.display_name: t for t in done.run_details.task_details}
    assert {"write-text", "read-text", "stamp"} <= set(tasks)
    assert all(t.state == "SUCCEEDED" for t in tasks.values())
    assert tasks["read-text"].inputs["data"].artifact_ids


def test_run_from_function_and_by_version_id(client: Any, tmp_path: Path) -> None:
    run = client.create_run_from_pipeline_func(p.two_step, arguments={"text": "func"})
    assert client.wait_for_run_completion(run.run_id, timeout=120).state == "SUCCEEDED"
    pipeline = client.upload_pipeline(_yaml(tmp_path, p.two_step, "two"), pipeline_name="tw")
    version_id = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions[0]
    experiment = client.create_experiment("by-version")
    by_version = client.run_pipeline(
        experiment_id=experiment.experiment_id,
        job_name="by-version",
        params={"text": "v"},
        pipeline_id=pipeline.pipeline_id,
        version_id=version_id.pipeline_version_id,
    )
    done = client.wait_for_run_completion(by_version.run_id, timeout=120)
    assert done.state == "SUCCEEDED"
    assert done.pipeline_version_reference.pipeline_version_id == (version_id.pipeline_version_id)


def test_list_runs_filters_sorts_and_pages(client: Any, tmp_path: Path) -> None:
    path = _yaml(tmp_path, p.two_step, "two")
    ids = []
    for i in range(3):
        run = client.create_run_from_pipeline_package(
            path, arguments={"text": f"t{i}"}, run_name=f"run-{i}"
        )
        ids.append(run.run_id)
    for run_id in ids:
        client.wait_for_run_completion(run_id, timeout=120)
    page = client.list_runs(page_size=2, sort_by="created_at desc")
    assert page.total_size == 3 and [r.run_id for r in page.runs] == ids[:0:-1]
    rest = client.list_runs(page_size=2, page_token=page.next_page_token, sort_by="created_at desc")
    assert [r.run_id for r in rest.runs] == [ids[0]]
    named = client.list_runs(
        filter=json.dumps(
            {
                "predicates": [
                    {"key": "display_name", "operation": "EQUALS", "string_value": "run-1"}
                ]
            }
        )
    )
    assert [r.run_id for r in named.runs] == [ids[1]]
    experiments = client.list_experiments()
    assert "Default" in {e.display_name for e in experiments.experiments}


def test_terminate_ends_in_a_state_the_client_sees_as_final(client: Any, tmp_path: Path) -> None:
    run = client.create_run_from_pipeline_package(
        _yaml(tmp_path, p.sleeper, "sleep"), arguments={"seconds": 60}
    )
    deadline = time.monotonic() + 60
    while client.get_run(run.run_id).state != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    client.terminate_run(run.run_id)
    done = client.wait_for_run_completion(run.run_id, timeout=60)
    assert done.state == "FAILED"
    assert "Terminated" in done.error.message
    assert {t.state for t in done.run_details.task_details} == {"CANCELED"}


def test_retry_runs_a_failed_run_again(client: Any, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    counter.write_text("0")  # the first attempt fails, with retries off
    spec = compile_function(p.retrying)
    spec["root"]["dag"]["tasks"]["flaky"].pop("retryPolicy", None)
    path = compile_pipeline(spec, tmp_path / "retry.yaml")
    run = client.create_run_from_pipeline_package(
        str(path), arguments={"counter_path": str(counter)}
    )
    assert client.wait_for_run_completion(run.run_id, timeout=120).state == "FAILED"
    client._run_api.run_service_retry_run(run_id=run.run_id)  # kfp.Client has no wrapper
    assert client.wait_for_run_completion(run.run_id, timeout=60).state == "SUCCEEDED"


def test_recurring_run_really_starts_runs(client: Any, tmp_path: Path) -> None:
    experiment = client.create_experiment("scheduled")
    recurring = client.create_recurring_run(
        experiment_id=experiment.experiment_id,
        job_name="every-second",
        pipeline_package_path=_yaml(tmp_path, p.two_step, "two"),
        params={"text": "tick"},
        interval_second=1,
        max_concurrency=1,
    )
    deadline = time.monotonic() + 60
    runs: list[Any] = []
    while time.monotonic() < deadline:  # bounded: until it has fired twice
        runs = client.list_runs(experiment_id=experiment.experiment_id).runs or []
        if len(runs) >= 2:
            break
        time.sleep(0.2)
    assert len(runs) >= 2
    assert all(r.recurring_run_id == recurring.recurring_run_id for r in runs)
    client.disable_recurring_run(recurring.recurring_run_id)
    assert client.get_recurring_run(recurring.recurring_run_id).status == "DISABLED"
    client.delete_recurring_run(recurring.recurring_run_id)
    with pytest.raises(ApiException) as gone:
        client.get_recurring_run(recurring.recurring_run_id)
    assert _status(gone)[0] == 404


def test_delete_calls(client: Any, tmp_path: Path) -> None:
    path = _yaml(tmp_path, p.two_step, "two")
    pipeline = client.upload_pipeline(path, pipeline_name="doomed")
    version = client.upload_pipeline_version(
        path, pipeline_version_name="v2", pipeline_id=pipeline.pipeline_id
    )
    client.delete_pipeline_version(pipeline.pipeline_id, version.pipeline_version_id)
    client.delete_pipeline(pipeline.pipeline_id)
    with pytest.raises(ApiException) as gone:
        client.get_pipeline(pipeline.pipeline_id)
    assert _status(gone)[0] == 404
    run = client.create_run_from_pipeline_package(path, arguments={"text": "x"})
    client.wait_for_run_completion(run.run_id, timeout=120)
    client.delete_run(run.run_id)
    with pytest.raises(ApiException):
        client.get_run(run.run_id)
    experiment = client.create_experiment("short-lived")
    client.delete_experiment(experiment.experiment_id)
    with pytest.raises(ApiException) as missing:
        client.get_experiment(experiment_id=experiment.experiment_id)
    assert _status(missing)[0] == 404


def test_runs_from_the_cli_and_the_api_share_one_store(
    live_server: LiveServer, client: Any
) -> None:
    import kubeline

    kubeline.run(p.two_step, {"text": "cli"}, home=live_server.home)
    names = {r.display_name for r in client.list_runs().runs}
    assert any(n.startswith("two-step-") for n in names)
