"""The Artifacts and Executions pages, lineage walks, and the experiment and recurring-run
pages, in a real Chromium on a real server running real pipelines.

Every test fails on a browser console error, an uncaught script error, a 5xx answer or a
request leaving the server (the ``page`` fixture). Pages are also checked for weight (under
300 KB), for Python objects printed where values belong, and for WCAG AA contrast.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeline.pipelines.compile import compile_function
from tests.server.web import lineage_pipelines
from tests.server.web.conftest import Api, need_playwright

need_playwright()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.server.web.test_browser import LIFECYCLE_TIMEOUT, Shot, assert_contrast  # noqa: E402

PAGE_LIMIT = 300_000
PYTHON_REPR = re.compile(r"Record\(|object at 0x|<kubeline\.|datetime\.datetime\(")
MAX_TABS = 80  # a bounded walk through the page's focusable elements


def chain_yaml() -> str:
    return yaml.safe_dump(compile_function(lineage_pipelines.chain), sort_keys=False)


def run_chain(api: Api, name: str = "chain one", **fields: Any) -> tuple[dict[str, str], str]:
    """Upload the chain (once per server) and start a run of it; its ids and the run's."""
    found = [p for p in api.pipelines() if p["display_name"] == "lineage-chain"]
    if found:
        pipeline_id = found[0]["pipeline_id"]
        ids = {"pipeline_id": pipeline_id, "pipeline_version_id": api.version_of(pipeline_id)}
    else:
        pipeline_id, version_id = api.upload(chain_yaml(), "lineage-chain")
        ids = {"pipeline_id": pipeline_id, "pipeline_version_id": version_id}
    response = api.http.post(
        "/apis/v2beta1/runs",
        json={"display_name": name, "pipeline_version_reference": ids, **fields},
    )
    response.raise_for_status()
    run_id = response.json()["run_id"]
    assert api.wait(run_id) == "SUCCEEDED"
    return ids, run_id


def checked(page: Page, where: str) -> None:
    """The page now shown weighs under 300 KB, prints no Python object, and reads in AA
    contrast."""
    page.wait_for_load_state("load")
    document = page.content()
    assert len(document.encode()) < PAGE_LIMIT, (where, len(document))
    assert not PYTHON_REPR.search(page.inner_text("body")), where
    assert_contrast(page, where)


def table_rows(page: Page, table: str) -> Any:
    return page.locator(f"#{table} tbody tr")


def lineage(page: Page) -> Any:
    return page.locator("#lineage svg.lineage")


def test_walk_from_an_artifact_to_its_producer_and_its_input(
    page: Page, api: Api, screenshot: Shot
) -> None:
    run_chain(api)
    page.goto("/runs")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Artifacts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Artifacts")
    rows = table_rows(page, "artifacts-table")
    expect(rows.locator("td:first-child a")).to_have_text(["metrics", "model", "table"])
    checked(page, "the artifacts list")

    # Filter by type, then by name; Reset brings everything back.
    page.get_by_label("Type").select_option("system.Model")
    page.get_by_role("button", name="Apply").click()
    expect(rows.locator("td:first-child a")).to_have_text(["model"])
    expect(page.get_by_label("Type")).to_have_value("system.Model")
    page.get_by_label("Type").select_option("")
    page.get_by_label("Name contains").fill("TAB")
    page.get_by_role("button", name="Apply").click()
    expect(rows.locator("td:first-child a")).to_have_text(["table"])
    page.get_by_label("Run (name or id contains)").fill("no such run")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("p.empty")).to_contain_text("No artifact matches these filters")
    page.get_by_role("link", name="Reset").click()
    expect(rows).to_have_count(3)

    # The model's page: its producer and its reader in the lineage graph.
    rows.get_by_role("link", name="model", exact=True).click()
    page.wait_for_url(re.compile(r"/artifacts/[0-9a-f]{32}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("model")
    graph = lineage(page)
    expect(graph.get_by_role("img", name="model, Model artifact")).to_be_visible()
    expect(graph.get_by_role("link", name="train, task, succeeded")).to_be_visible()
    expect(graph.get_by_role("link", name="evaluate, task, succeeded")).to_be_visible()
    expect(graph.get_by_role("link", name="table, Dataset artifact")).to_be_visible()
    expect(graph.get_by_role("link", name="metrics, Metrics artifact")).to_be_visible()
    expect(page.locator("#artifact-uri")).to_contain_text("/tasks/train/model")
    expect(page.locator("#consumers-table tbody tr")).to_have_count(1)
    checked(page, "the model's page")
    screenshot(page, "artifact")

    # Walk: the model -> the task that made it -> that task's input.
    graph.get_by_role("link", name="train, task, succeeded").click()
    page.wait_for_url(re.compile(r"/executions/[0-9a-f]{32}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("train")
    expect(lineage(page).get_by_role("img", name="train, task, succeeded")).to_be_visible()
    checked(page, "the train execution's page")
    lineage(page).get_by_role("link", name="table, Dataset artifact").click()
    page.wait_for_url(re.compile(r"/artifacts/[0-9a-f]{32}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("table")
    expect(page.locator("table.dataset caption")).to_contain_text("6 rows")  # the preview
    expect(page.locator("#consumers-table tbody tr")).to_have_count(2)
    checked(page, "the table's page")

    # The keyboard reaches the graph's links and opens them.
    target = "make-data, task, succeeded"
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        name = page.evaluate("document.activeElement.getAttribute('aria-label')")
        if name == target:
            break
    else:
        pytest.fail(f"Tab never reached the lineage link {target!r}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/executions/[0-9a-f]{32}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("make-data")


def test_executions_list_links_tasks_runs_and_artifacts(
    page: Page, api: Api, screenshot: Shot
) -> None:
    _, run_id = run_chain(api)
    page.goto("/executions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Executions")
    rows = table_rows(page, "executions-table")
    expect(rows).to_have_count(3)
    row = rows.filter(has=page.get_by_role("link", name="evaluate", exact=True))
    expect(row.locator(".badge")).to_have_text("succeeded")
    expect(row.get_by_role("link", name="chain one")).to_have_attribute("href", f"/runs/{run_id}")
    expect(row.locator("td:nth-child(6) a")).to_have_text(["model", "table"])  # inputs
    expect(row.locator("td:nth-child(7) a")).to_have_text(["metrics"])  # outputs
    expect(row.locator("td:nth-child(5)")).to_have_text(re.compile(r"^\d+(\.\d)? s$"))
    checked(page, "the executions list")
    screenshot(page, "executions")

    page.get_by_label("State").select_option("FAILED")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("p.empty")).to_contain_text("No execution matches these filters")
    page.get_by_label("State").select_option("SUCCEEDED")
    page.get_by_label("Task name contains").fill("eval")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)

    # A row opens its task in the run's page, the panel already open.
    rows.get_by_role("link", name="evaluate", exact=True).click()
    page.wait_for_url(re.compile(rf"/runs/{re.escape(run_id)}\?task=evaluate#task-panel$"))
    expect(page.locator("#task-panel #panel-title")).to_have_text("evaluate")
    page.go_back()
    rows.get_by_role("link", name="model", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("model")
    page.go_back()
    rows.get_by_role("link", name="Lineage of evaluate").click()
    expect(lineage(page).get_by_role("img", name="evaluate, task, succeeded")).to_be_visible()
    expect(page.locator("#input-artifacts tbody tr")).to_have_count(2)


def test_experiment_and_recurring_run_pages_list_their_runs(page: Page, api: Api) -> None:
    experiment = api.http.post(
        "/apis/v2beta1/experiments",
        json={"display_name": "lineage checks", "description": "Walks of the lineage."},
    ).json()
    ids, first = run_chain(api, "by hand", experiment_id=experiment["experiment_id"])
    recurring = api.http.post(
        "/apis/v2beta1/recurringruns",
        json={
            "display_name": "every second",
            "experiment_id": experiment["experiment_id"],
            "pipeline_version_reference": ids,
            "trigger": {"periodic_schedule": {"interval_second": 1}},
            "mode": "ENABLE",
        },
    ).json()
    recurring_id = recurring["recurring_run_id"]
    deadline = time.monotonic() + 60
    while not [r for r in api.runs() if r.get("recurring_run_id") == recurring_id]:
        assert time.monotonic() < deadline, "the schedule started no run"
        time.sleep(0.2)
    api.http.post(f"/apis/v2beta1/recurringruns/{recurring_id}:disable").raise_for_status()
    scheduled = [r for r in api.runs() if r.get("recurring_run_id") == recurring_id]
    for run in scheduled:
        api.wait(run["run_id"])

    page.goto("/experiments")
    page.get_by_role("link", name="lineage checks").click()
    page.wait_for_url(f"**/experiments/{experiment['experiment_id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("lineage checks")
    expect(page.locator(".lead")).to_have_text("Walks of the lineage.")
    runs = page.locator("#runs-table tbody tr")
    expect(runs).to_have_count(1 + len(scheduled))
    expect(runs.get_by_role("link", name="by hand")).to_have_attribute("href", f"/runs/{first}")
    checked(page, "the experiment's page")
    # The runs list's bulk actions work here too.
    boxes = page.locator("#runs-table .select-run")
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    expect(page.locator("#bulk").get_by_role("button", name="Compare")).to_be_enabled()

    page.get_by_role("link", name="every second", exact=True).click()
    page.wait_for_url(f"**/recurring/{recurring_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("every second")
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("disabled")
    expect(page.locator("#recurring-settings")).to_contain_text("every 1.0 s")
    expect(page.locator("#runs-table tbody tr")).to_have_count(len(scheduled))
    checked(page, "the recurring run's page")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("enabled")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("disabled")

    page.goto("/recurring")
    page.get_by_role("link", name="every second", exact=True).click()
    page.wait_for_url(f"**/recurring/{recurring_id}")


@pytest.mark.slow
def test_lifecycle_run_lists_its_model_and_evaluate_task(
    page: Page, api: Api, tmp_path: Path
) -> None:
    from kubeline.pipelines.lifecycle import lifecycle_pipeline

    text = yaml.safe_dump(compile_function(lifecycle_pipeline), sort_keys=False)
    pipeline_id, version_id = api.upload(text, "lifecycle")
    run_id = api.start(pipeline_id, version_id, "lifecycle, defaults")
    assert api.wait(run_id, timeout=LIFECYCLE_TIMEOUT / 1000) == "SUCCEEDED"

    page.goto("/artifacts?size=100")
    checked(page, "the artifacts list of a lifecycle run")
    page.get_by_label("Type").select_option("system.Model")
    page.get_by_label("Name contains").fill("model")
    page.get_by_role("button", name="Apply").click()
    rows = table_rows(page, "artifacts-table")
    expect(rows).to_have_count(1)
    expect(rows.locator("td:nth-child(2)")).to_have_text("Model")
    expect(rows.locator("td:nth-child(4)")).to_have_text("train")
    rows.get_by_role("link", name="model", exact=True).click()
    graph = lineage(page)
    expect(graph.get_by_role("link", name="train, task, succeeded")).to_be_visible()
    expect(graph.get_by_role("link", name="evaluate, task, succeeded")).to_be_visible()
    expect(
        graph.get_by_role("link", name=re.compile(r"^train_data, Dataset artifact"))
    ).to_be_visible()
    checked(page, "the lifecycle model's page")

    page.goto("/executions?size=100")
    checked(page, "the executions list of a lifecycle run")
    page.get_by_label("Task name contains").fill("evaluate")
    page.get_by_role("button", name="Apply").click()
    row = table_rows(page, "executions-table").filter(
        has=page.get_by_role("link", name="evaluate", exact=True)
    )
    expect(row).to_have_count(1)
    expect(row.locator(".badge")).to_have_text("succeeded")
    expect(row.locator("td:nth-child(6) a")).to_have_text(["model", "test_data"])
    outputs = row.locator("td:nth-child(7) a")
    expect(outputs).to_have_count(3)
    assert sorted(outputs.all_inner_texts()) == ["classification", "metrics", "report"]
    row.get_by_role("link", name="Lineage of evaluate").click()
    expect(lineage(page).get_by_role("img", name="evaluate, task, succeeded")).to_be_visible()
    checked(page, "the lifecycle evaluate execution's page")
