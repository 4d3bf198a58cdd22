"""The web pages over real HTTP: a real server on loopback, real pipelines and runs.

Browser behaviour (scripts, live graph, keyboard) is tested in test_browser.py; these tests
check what the server renders and refuses.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kubeline.pipelines.compile import compile_function
from tests.server.conftest import LiveServer, start_server
from tests.server.web import pipelines as p

# Every test here runs on SQLite and on PostgreSQL (marker "postgres").
pytestmark = pytest.mark.usefixtures("database")


def upload(http: httpx.Client, pipeline: Any, name: str) -> dict[str, Any]:
    text = yaml.safe_dump(compile_function(pipeline))
    response = http.post(
        "/apis/v2beta1/pipelines/upload",
        params={"name": name},
        files={"uploadfile": (f"{name}.yaml", text.encode(), "application/yaml")},
    )
    assert response.status_code == 200, response.text
    pipeline_id = response.json()["pipeline_id"]
    versions = http.get(f"/apis/v2beta1/pipelines/{pipeline_id}/versions").json()
    return {
        "pipeline_id": pipeline_id,
        "version_id": versions["pipeline_versions"][0]["pipeline_version_id"],
    }


def wait_done(http: httpx.Client, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = http.get(f"/apis/v2beta1/runs/{run_id}").json()
        if run["state"] in ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end")


def start(http: httpx.Client, ids: dict[str, Any], **fields: str) -> httpx.Response:
    form = {"pipeline_id": ids["pipeline_id"], "version_id": ids["version_id"], "cache": "on"}
    form.update(fields)
    return http.post("/runs/new", data=form)


def test_every_page_renders_for_a_newcomer(http: httpx.Client) -> None:
    for path, words in [
        ("/runs", "No runs yet"),
        ("/pipelines", "No pipelines yet"),
        ("/experiments", "Default"),
        ("/recurring", "No recurring runs yet"),
        ("/runs/new", "No pipeline to run yet"),
    ]:
        response = http.get(path)
        assert response.status_code == 200, path
        assert "text/html" in response.headers["content-type"]
        assert words in response.text, path
        assert "kubeline compile -o lifecycle.yaml" in response.text or path in (
            "/experiments",
            "/recurring",
        )
    assert http.get("/", follow_redirects=False).headers["location"] == "/runs"


def test_pages_load_nothing_from_elsewhere(http: httpx.Client) -> None:
    page = http.get("/runs")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    for url in re.findall(r'(?:src|href)="([^"#]+)"', page.text):
        assert url.startswith("/") and not url.startswith("//"), url
    for asset in ("kubeline.js", "kubeline.css", "favicon.svg"):
        assert http.get(f"/kubeline/static/{asset}").status_code == 200


def test_unknown_pages_are_html_and_unknown_api_paths_are_json(http: httpx.Client) -> None:
    page = http.get("/runs/no-such-run")
    assert page.status_code == 404
    assert "Run not found" in page.text and 'href="/runs"' in page.text
    assert http.get("/no/such/page").status_code == 404
    assert "Page not found" in http.get("/no/such/page").text
    api = http.get("/apis/v2beta1/no-such-thing")
    assert api.status_code == 404 and api.json()["code"] == 5


def test_run_form_shows_each_parameter_with_its_type_and_default(http: httpx.Client) -> None:
    ids = upload(http, p.typed, "typed")
    page = http.get("/runs/new", params={"pipeline_id": ids["pipeline_id"]}).text
    for name, label in [
        ("rows", "integer"),
        ("factor", "number"),
        ("labels", "list (JSON)"),
        ("options", "dict (JSON)"),
        ("verbose", "boolean"),
    ]:
        assert f'name="param.{name}"' in page
        assert label in page
    assert '["a", "b"]' in html.unescape(page)  # the list default, as JSON
    assert 'step="1"' in page  # integers step by one


def test_bad_values_are_shown_beside_their_fields_and_start_nothing(
    http: httpx.Client,
) -> None:
    ids = upload(http, p.typed, "typed")
    response = start(
        http,
        ids,
        **{"param.rows": "ten", "param.labels": "[1, 2", "param.options": "[1]"},
    )
    assert response.status_code == 400
    assert "The run was not started" in response.text
    assert "expects an integer" in response.text
    assert response.text.count('aria-invalid="true"') == 3
    assert 'value="ten"' in response.text  # what was typed is kept
    assert http.get("/apis/v2beta1/runs").json().get("total_size", 0) == 0


def test_a_missing_required_parameter_is_refused(http: httpx.Client) -> None:
    ids = upload(http, p.required, "required")
    response = start(http, ids, **{"param.rows": ""})
    assert response.status_code == 400
    assert "Required" in response.text
    assert http.get("/apis/v2beta1/runs").json().get("total_size", 0) == 0


def test_a_started_run_records_the_typed_values_and_its_page_shows_the_result(
    http: httpx.Client,
) -> None:
    ids = upload(http, p.typed, "typed")
    response = http.post(
        "/runs/new",
        data={
            **ids,
            "display_name": "from the form",
            "param.rows": "4",
            "param.factor": "2.5",
            "param.labels": '["x"]',
            "param.options": '{"a": 1, "b": 2}',
            "param.verbose": "true",
            "param.note": "",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    run_id = response.headers["location"].rsplit("/", 1)[1]
    run = wait_done(http, run_id)
    assert run["state"] == "SUCCEEDED"
    assert run["display_name"] == "from the form"
    assert run["runtime_config"]["parameters"] == {
        "rows": 4,
        "factor": 2.5,
        "labels": ["x"],
        "options": {"a": 1, "b": 2},
        "verbose": True,
    }  # the blank text field is left to its default
    record = http.get(f"/apis/v2beta1/runs/{run_id}").json()
    assert record["storage_state"] == "AVAILABLE"
    page = http.get(f"/runs/{run_id}").text
    assert "from the form" in page and "succeeded" in page
    assert '<code class="value">14</code>' in page  # 4 * 2.5 + 1 label + 2 options + 1
    runs = http.get("/runs").text
    assert '<th scope="col" class="num">Output</th>' in runs  # the returned score, a column
    assert re.search(r"<td class=\"num\">14</td>", runs)
    live = http.get(f"/runs/{run_id}/live").json()
    assert live["finished"] is True and live["state"] == "SUCCEEDED"
    assert "<svg" in live["graph"] and "state-succeeded" in live["graph"]


def test_caching_switch_off_reruns_every_task(http: httpx.Client) -> None:
    ids = upload(http, p.typed, "typed")
    first = http.post("/runs/new", data={**ids, "cache": "on"}, follow_redirects=False)
    wait_done(http, first.headers["location"].rsplit("/", 1)[1])
    again = http.post("/runs/new", data={**ids}, follow_redirects=False)  # box unticked
    run_id = again.headers["location"].rsplit("/", 1)[1]
    assert wait_done(http, run_id)["state"] == "SUCCEEDED"
    page = http.get(f"/runs/{run_id}").text
    assert "<dt>Caching</dt><dd>off</dd>" in page
    assert "cached" not in http.get(f"/runs/{run_id}/live").json()["graph"]


def test_task_panel_and_log_follow_offsets(http: httpx.Client) -> None:
    ids = upload(http, p.typed, "typed")
    location = http.post("/runs/new", data={**ids, "cache": "on"}, follow_redirects=False)
    run_id = location.headers["location"].rsplit("/", 1)[1]
    wait_done(http, run_id)
    panel = http.get(f"/runs/{run_id}/task", params={"path": "score"}).text
    assert "Input parameters" in panel and "rows" in panel
    task_id = re.search(r'data-task-id="([^"]+)"', panel).group(1)
    url = f"/kubeline/api/runs/{run_id}/tasks/{task_id}/log"
    whole = http.get(url)
    assert "kubeline-ui-test: scoring 10 rows" in whole.text
    total = int(whole.headers["x-kubeline-total-size"])
    assert int(whole.headers["x-kubeline-next-offset"]) == total
    assert whole.headers["x-kubeline-task-state"] == "SUCCEEDED"
    tail = http.get(url, params={"offset": total - 5})
    assert tail.content == whole.content[-5:]
    assert http.get(url, params={"offset": total + 100}).content == b""
    assert http.get(f"/kubeline/api/runs/other/tasks/{task_id}/log").status_code == 404
    missing = http.get(f"/runs/{run_id}/task", params={"path": "no-such-task"}).text
    assert "has not started yet" in missing


def test_compare_needs_two_runs_that_exist(http: httpx.Client) -> None:
    assert http.get("/runs/compare", params={"ids": "one"}).status_code == 400
    missing = http.get("/runs/compare", params={"ids": "a,b"})
    assert missing.status_code == 404 and "no run with id 'a'" in html.unescape(missing.text)


def test_compare_marks_what_differs_and_charts_a_metric(http: httpx.Client) -> None:
    ids = upload(http, p.typed, "typed")
    run_ids = []
    for rows in ("1", "3"):
        response = http.post(
            "/runs/new", data={**ids, "param.rows": rows, "cache": "on"}, follow_redirects=False
        )
        run_ids.append(response.headers["location"].rsplit("/", 1)[1])
    for run_id in run_ids:
        wait_done(http, run_id)
    page = http.get("/runs/compare", params={"ids": ",".join(run_ids)}).text
    differing = re.findall(r'<tr class="differs">\s*<th scope="row">(\w+)', page)
    assert "rows" in differing and "Output" in differing  # the pipeline's returned score
    assert "factor" not in differing
    assert "chart-bar" in page and page.count('class="chart-bar') >= 2


def test_pipeline_page_shows_graph_parameters_and_yaml_round_trips(
    http: httpx.Client,
) -> None:
    ids = upload(http, p.typed, "typed")
    page = http.get(f"/pipelines/{ids['pipeline_id']}").text
    assert 'class="dag"' in page and 'data-path="score"' in page
    assert "NUMBER_INTEGER" in page.replace("<wbr>", "")  # it may wrap after "_"
    text = http.get(f"/pipelines/{ids['pipeline_id']}/versions/{ids['version_id']}.yaml")
    assert "attachment" in text.headers["content-disposition"]
    assert yaml.safe_load(text.text)["pipelineInfo"]["name"] == "ui-typed"
    assert (
        http.get("/pipelines", params={"q": "TYPED"}).text.count("/pipelines/" + ids["pipeline_id"])
        >= 1
    )
    assert "No pipeline matches" in http.get("/pipelines", params={"q": "zzz"}).text


def test_artifact_download_is_whole_and_html_is_sandboxed(
    live_server: LiveServer, http: httpx.Client
) -> None:
    from datetime import datetime, timezone

    from kubeline.store import ArtifactRecord, RunRecord, TaskRecord, database_url, open_store

    folder = live_server.home / "runs" / "r" / "tasks" / "t"
    folder.mkdir(parents=True)
    (folder / "report").write_text("<script>alert(1)</script>" + "x" * 2_000_000)
    store = open_store(database_url(live_server.home))
    now = datetime.now(timezone.utc)
    store.runs.add(RunRecord(run_id="r", pipeline_name="p", state="SUCCEEDED", created_at=now))
    store.tasks.add(
        TaskRecord(task_id="t", run_id="r", name="t", path="t", kind="executor", state="SUCCEEDED")
    )
    store.artifacts.add(
        ArtifactRecord(
            artifact_id="a1",
            run_id="r",
            producer_task_id="t",
            output_name="report",
            uri=str(folder / "report"),
            schema_title="system.HTML",
        )
    )
    store.close()
    shown = http.get("/kubeline/api/artifacts/a1/content")
    assert shown.headers["content-type"].startswith("text/html")
    assert shown.headers["content-security-policy"].split(";")[0] == "sandbox"
    # Framed by the UI's own preview, by no other site.
    assert "frame-ancestors 'self'" in shown.headers["content-security-policy"]
    assert len(shown.content) == live_server.settings.preview_bytes
    whole = http.get("/kubeline/api/artifacts/a1/content", params={"download": "true"})
    assert len(whole.content) == 2_000_000 + len("<script>alert(1)</script>")
    assert 'filename="report.html"' in whole.headers["content-disposition"]


def test_a_token_server_asks_browsers_to_sign_in(kubeline_home: Path) -> None:
    live = start_server(kubeline_home, token="s3cret")
    try:
        with live.http() as anonymous:
            page = anonymous.get("/runs", follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"] == "/login?next=/runs"
            assert anonymous.get("/apis/v2beta1/runs").status_code == 401
            assert "Sign in" in anonymous.get("/login").text
            wrong = anonymous.post("/login", data={"token": "nope", "next": "/runs"})
            assert wrong.status_code == 401 and "not this server" in wrong.text
            away = anonymous.post(
                "/login",
                data={"token": "s3cret", "next": "https://evil.example/"},
                follow_redirects=False,
            )
            assert away.headers["location"] == "/runs"  # never sent elsewhere
            assert "httponly" in away.headers["set-cookie"].lower()
            assert anonymous.get("/runs").status_code == 200  # the cookie now signs in
            assert anonymous.get("/apis/v2beta1/runs").status_code == 200
        with live.http(token="s3cret") as bearer:
            assert bearer.get("/apis/v2beta1/runs").status_code == 200
    finally:
        live.stop()
