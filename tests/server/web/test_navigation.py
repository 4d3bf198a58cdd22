"""Links between the pages (#12): the run page leads to its experiment's page and to the
lineage of each artifact its task read or wrote; the top bar fits a narrow window."""

from __future__ import annotations

import re

import pytest

from tests.server.web.conftest import Api, need_playwright

need_playwright()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.server.web.test_lineage_browser import run_chain  # noqa: E402


def test_the_run_page_links_its_experiment_and_its_artifacts_lineage(page: Page, api: Api) -> None:
    _, run_id = run_chain(api)
    page.goto(f"/runs/{run_id}?task=train#task-panel")
    experiment = page.locator("dt", has_text="Experiment").locator("xpath=..").locator("a")
    expect(experiment).to_have_attribute("href", re.compile(r"^/experiments/[0-9a-f-]{36}$"))
    panel = page.locator("#task-panel")
    expect(panel.locator("#panel-title")).to_have_text("train")
    read = panel.locator("table", has_text="Input artifacts").locator("a[href^='/artifacts/']")
    expect(read).to_have_count(1)
    page.get_by_role("link", name="Lineage of model").click()
    page.wait_for_url(re.compile(r"/artifacts/[0-9a-f]+$"))
    expect(page.locator("#lineage svg.lineage")).to_be_visible()


@pytest.mark.parametrize("path", ["/runs", "/artifacts", "/executions"])
def test_the_top_bar_wraps_instead_of_overflowing_a_narrow_window(page: Page, path: str) -> None:
    page.set_viewport_size({"width": 760, "height": 800})
    page.goto(path)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at 760 px"
    expect(page.get_by_role("link", name="Executions")).to_be_in_viewport()
