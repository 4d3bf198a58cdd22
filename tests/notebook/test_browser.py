"""A run's HTML as a notebook renders it, in Chromium: the reports' scripts never run (the
frames are sandboxed), a Markdown report's raw HTML reads as text, and the confusion matrix
and ROC curve are drawn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeline.notebook import Result
from tests.server.web.conftest import browser, need_playwright

need_playwright()

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["browser"]  # the fixture, imported for the tests below


def test_reports_run_nothing_and_the_charts_are_drawn(browser: Browser, result: Result) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    html = result._repr_html_().replace("<details>", "<details open>")
    page.set_content(f"<!doctype html><meta charset=utf-8><body>{html}</body>")
    page.wait_for_timeout(500)
    assert dialogs == []  # no alert() from any report, nor from any name
    frames = page.locator("iframe.kl-report")
    assert frames.count() == 2
    assert all(frames.nth(i).get_attribute("sandbox") == "" for i in range(2))
    texts = [
        frame.locator("body").inner_text()
        for frame in (
            page.frame_locator("iframe.kl-report").nth(0),
            page.frame_locator("iframe.kl-report").nth(1),
        )
    ]
    assert any("raw <script>alert(2)</script> stays text" in t for t in texts)  # Markdown
    assert any(t.strip().startswith("Report") for t in texts)  # the HTML report, drawn
    assert page.locator("table.confusion td").count() == 4
    box = page.locator("svg.chart-roc").first.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    page.close()
