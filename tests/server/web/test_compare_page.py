"""The compare page in a real Chromium, on a real server running real pipelines: two
lifecycle runs (ROC curves in one chart, confusion matrices side by side, the best value
marked, reports side by side) and three runs of a small pipeline (metric charts whose axis
fits close values, parallel coordinates against a chosen metric).

Every test fails on a browser console error, an uncaught script error, a 5xx or a request
leaving the server (the ``page`` fixture). No ``from __future__ import annotations``: KFP
reads the real annotations of the components defined here.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import dsl
from kfp.dsl import Metrics, Output

from kubeline.pipelines.compile import compile_function
from tests.server.web.conftest import Api, need_playwright

need_playwright()

from playwright.sync_api import Locator, Page, expect  # noqa: E402

from tests.server.web.test_browser import assert_contrast  # noqa: E402

MAX_PAGE_BYTES = 300 * 1024
LIFECYCLE_RUN_TIMEOUT = 300  # s: a one-trial lifecycle run takes 5-15 s on 2 cores

# Close on purpose: a 0..1 axis would draw these bars within a pixel of each other.
ACCURACY = {2: 0.9722, 4: 0.9737, 8: 0.9701}


@dsl.component(base_image="python:3.11")
def fake_fit(depth: int, kernel: str, rate: float, metrics: Output[Metrics]):
    """Logs an accuracy and a loss chosen by the depth, so the test knows the best run."""
    accuracy = {2: 0.9722, 4: 0.9737, 8: 0.9701}[depth]
    metrics.log_metric("accuracy", accuracy)
    metrics.log_metric("loss", round(1 - accuracy, 4))
    print(f"kubeline-compare-test: {kernel} rate {rate}", flush=True)


@dsl.pipeline(name="compare-toy")
def toy(depth: int = 2, kernel: str = "linear", rate: float = 0.1):
    fake_fit(depth=depth, kernel=kernel, rate=rate)


def compiled(pipeline: Any) -> str:
    return yaml.safe_dump(compile_function(pipeline), sort_keys=False)


def report_grid(reports: Locator, title: str) -> Locator:
    """The grid of one report group: the one right after its own heading. The section's
    rendered Markdown previews have headings of their own (h3 too), so the group headings
    are the section's children, matched by their whole text."""
    heading = reports.locator(":scope > h3").filter(has_text=re.compile(f"^{re.escape(title)}$"))
    expect(heading).to_have_count(1)
    return heading.locator("xpath=following-sibling::*[1][contains(@class, 'compare-grid')]")


def open_compare(page: Page, run_ids: list[str], query: str = "") -> int:
    """Open the compare page of these runs; the size of its HTML, checked against the limit."""
    response = page.goto(f"/runs/compare?ids={','.join(run_ids)}{query}")
    assert response is not None and response.status == 200
    size = len(response.body())
    assert size <= MAX_PAGE_BYTES, f"the compare page weighs {size} bytes"
    body = page.locator("main").inner_text()
    for python in ("object at 0x", "ArtifactRecord(", "RunRecord(", "Markup(", "{'"):
        assert python not in body, f"the page prints a Python object: {python}"
    return size


def numbers(texts: list[str]) -> list[float]:
    return [float(re.match(r"-?[\d.]+", t.strip()).group()) for t in texts]  # type: ignore[union-attr]


def assert_charts_named(page: Page) -> None:
    """Every chart is an image with a name that carries its numbers."""
    for chart in page.locator("main svg.chart").all():
        assert chart.get_attribute("role") == "img"
        assert len(chart.get_attribute("aria-label") or "") > 20


@pytest.mark.slow
def test_compare_two_lifecycle_runs(
    page: Page, api: Api, tmp_path: Path, screenshot: Callable[..., None]
) -> None:
    from kubeline.pipelines.lifecycle import lifecycle_pipeline

    pipeline_id, version_id = api.upload(compiled(lifecycle_pipeline), "lifecycle")
    small = {"trials_per_family": 1, "cv_folds": 3}
    run_ids = []
    for name, family in (("lr", "logistic_regression"), ("knn", "knn")):
        run_id = api.start(pipeline_id, version_id, name, {"families": [family], **small})
        assert api.wait(run_id, timeout=LIFECYCLE_RUN_TIMEOUT) == "SUCCEEDED"
        run_ids.append(run_id)

    # The way a user gets there: tick both runs on the list, press Compare.
    page.goto("/runs")
    page.get_by_label(re.compile(r"^Select run lr ")).check()
    page.get_by_label(re.compile(r"^Select run knn ")).check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/runs/compare\?ids="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 2 runs")
    open_compare(page, run_ids)
    labels = page.locator("table.runs-head thead th").all_text_contents()[1:]
    assert labels[0].startswith("lr (") and labels[1].startswith("knn (")

    # Parameters: the family differs; the switch hides the rows that do not.
    params = page.locator("#cmp-params-table")
    families = params.locator("tr", has=page.locator("th", has_text="families"))
    expect(families).to_have_class(re.compile(r"\bdiffers\b"))
    expect(families.locator(".diff-mark")).to_have_text("differs")
    seed = params.locator("tr", has=page.locator("th", has_text=re.compile(r"^seed$")))
    expect(seed).to_have_class(re.compile(r"\bsame\b"))
    toggle = page.get_by_label("Show only the parameters that differ")
    toggle.check()
    expect(seed).to_be_hidden()
    expect(families).to_be_visible()
    toggle.uncheck()
    expect(seed).to_be_visible()

    # Metrics: the best value marked, with the way each metric counts.
    metrics = page.locator("section[aria-labelledby=cmp-metrics] table.metric-table")
    for name, direction, pick in (("accuracy", "higher", max), ("log_loss", "lower", min)):
        row = metrics.locator("tr", has=page.locator("th", has_text=re.compile(f"^{name}")))
        expect(row.locator("td.direction")).to_have_text(
            f"{'↑' if direction == 'higher' else '↓'} {direction} is better"
        )
        cells = row.locator("td.num")
        values = numbers(cells.all_text_contents())
        assert len(values) == 2 and values[0] != values[1], values
        best = row.locator("td.best")
        expect(best).to_have_count(1)
        expect(best.locator(".best-mark")).to_have_text("★ best")  # a symbol and a word
        assert numbers([best.inner_text()])[0] == pick(values)
    test_rows = metrics.locator("tr", has=page.locator("th", has_text="test_rows"))
    expect(test_rows.locator("td.best")).to_have_count(0)  # a count has no best

    # The accuracy chart: its axis fits the two values and says it is zoomed.
    chart = page.locator("svg.chart-bars[aria-label^='accuracy:']")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.chart-bar")
    expect(bars).to_have_count(2)
    widths = [bars.nth(i).bounding_box()["width"] for i in range(2)]  # type: ignore[index]
    assert abs(widths[0] - widths[1]) > 30, widths
    expect(chart.locator("text.chart-note").last).to_contain_text("not from 0")
    expect(chart.locator("rect.chart-bar.best")).to_have_count(1)

    # Both ROC curves in one chart, told apart without colour, AUCs in the legend and table.
    roc = page.locator("section[aria-labelledby=cmp-classification] svg.chart-roc-overlay")
    expect(roc).to_have_count(1)
    expect(roc).to_be_visible()
    curves = roc.locator("polyline.chart-series-line")
    expect(curves).to_have_count(2)
    assert curves.nth(0).get_attribute("stroke") != curves.nth(1).get_attribute("stroke")
    assert curves.nth(0).get_attribute("stroke-dasharray") != curves.nth(1).get_attribute(
        "stroke-dasharray"
    )
    legend = roc.locator("g.chart-legend text").all_text_contents()
    assert any(t.startswith("lr (") and "AUC 0.9" in t for t in legend), legend
    assert any(t.startswith("knn (") and "AUC 0.9" in t for t in legend), legend
    aria = roc.get_attribute("aria-label") or ""
    assert "2 ROC curves" in aria and "lr (" in aria and "knn (" in aria
    aucs = page.locator("table.roc-aucs tbody tr")
    expect(aucs).to_have_count(2)
    expect(page.locator("table.roc-aucs td.best .best-mark")).to_have_count(1)
    points = page.locator("details.chart-numbers", has_text="ROC curves' points")
    points.locator("summary").click()
    expect(points.locator("table.roc-points")).to_have_count(2)
    expect(points.locator("table.roc-points").first.locator("tbody tr").first).to_be_visible()

    # Both confusion matrices, in the same class order, with their counts printed.
    matrices = page.locator(
        "section[aria-labelledby=cmp-classification] .confusions table.confusion"
    )
    expect(matrices).to_have_count(2)
    for i, label in enumerate(labels):
        matrix = matrices.nth(i)
        expect(matrix.locator("caption")).to_have_text(f"Confusion matrix of {label}")
        expect(matrix.locator("thead th")).to_have_text(
            ["True \\ Predicted", "benign", "malignant"]
        )
        expect(matrix.locator("tbody th")).to_have_text(["benign", "malignant"])
        counts = [int(t) for t in matrix.locator("tbody td").all_text_contents()]
        assert len(counts) == 4 and sum(counts) == 114  # the held-out fifth of 569 rows
    box = [matrices.nth(i).bounding_box() for i in range(2)]
    assert box[0] and box[1] and abs(box[0]["y"] - box[1]["y"]) < 2  # side by side
    assert box[1]["x"] > box[0]["x"] + box[0]["width"]

    # Reports side by side: HTML in sandboxed frames, Markdown rendered.
    reports = page.locator("section[aria-labelledby=cmp-reports]")
    evaluate = report_grid(reports, "evaluate · report (HTML)")
    frames = evaluate.locator("iframe.artifact-html")
    expect(frames).to_have_count(2)
    for i, family in enumerate(("logistic_regression", "knn")):
        assert frames.nth(i).get_attribute("sandbox") == ""
        frames.nth(i).scroll_into_view_if_needed()  # they load lazily
        content = evaluate.frame_locator("iframe.artifact-html").nth(i)
        expect(content.locator("body")).to_contain_text(family, timeout=15_000)
    leaderboard = report_grid(reports, "select-best · leaderboard (Markdown)")
    expect(leaderboard.locator(".markdown")).to_have_count(2)
    expect(leaderboard.locator(".markdown").nth(0)).to_contain_text("logistic_regression")
    expect(leaderboard.locator(".markdown").nth(1)).to_contain_text("knn")
    expect(leaderboard.locator(".markdown script")).to_have_count(0)

    page.evaluate("document.querySelector('#cmp-classification').scrollIntoView({block: 'start'})")
    screenshot(page, "compare-classification")

    # With two runs there is no parallel-coordinates view (it needs three or more).
    expect(page.locator("#cmp-parallel")).to_have_count(0)
    assert_charts_named(page)
    page.evaluate("window.scrollTo(0, 0)")
    assert_contrast(page, "the compare page of two lifecycle runs")


def test_compare_three_runs_parallel_coordinates_and_fitted_axes(
    page: Page, api: Api, screenshot: Callable[..., None]
) -> None:
    pipeline_id, version_id = api.upload(compiled(toy), "compare-toy")
    settings = [(2, "linear", 0.1), (4, "rbf", 0.1), (8, "poly", 0.01)]
    run_ids = []
    for depth, kernel, rate in settings:
        params = {"depth": depth, "kernel": kernel, "rate": rate}
        run_ids.append(api.start(pipeline_id, version_id, f"toy-{depth}", params))
    for run_id in run_ids:
        assert api.wait(run_id) == "SUCCEEDED"

    open_compare(page, run_ids)
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 3 runs")

    # Three close accuracies: the axis fits them, so their bars differ by tens of pixels.
    chart = page.locator("svg.chart-bars[aria-label^='accuracy:']")
    bars = chart.locator("rect.chart-bar")
    expect(bars).to_have_count(3)
    widths = [bars.nth(i).bounding_box()["width"] for i in range(3)]  # type: ignore[index]
    assert widths[1] - widths[0] > 20 and widths[0] - widths[2] > 20, widths
    ticks = chart.locator("text.chart-tick").all_text_contents()
    assert ticks and ticks[0] != "0" and all(t.startswith("0.9") for t in ticks), ticks
    expect(chart).to_have_attribute("aria-label", re.compile(r"toy-4 \(\w+\) 0\.9737 \(best\)"))
    best = chart.locator("rect.chart-bar.best")
    expect(best).to_have_count(1)
    assert best.bounding_box()["width"] == max(widths)  # type: ignore[index]

    # Parallel coordinates: one axis per differing parameter, then the metric.
    section = page.locator("section[aria-labelledby=cmp-parallel]")
    svg = section.locator("svg.chart-parallel")
    expect(svg).to_be_visible()
    names = svg.locator("text.chart-axis-name").all_text_contents()
    assert names == ["depth", "kernel", "rate", "accuracy"], names
    expect(svg.locator("path.chart-series-line")).to_have_count(3)
    dashes = {
        svg.locator("path.chart-series-line").nth(i).get_attribute("stroke-dasharray")
        for i in range(3)
    }
    assert len(dashes) == 3  # told apart without colour
    ticks = svg.locator("g.chart-axis-group").nth(1).locator("text.chart-tick").all_text_contents()
    assert ticks == ["linear", "poly", "rbf"]  # a categorical axis: one tick per value
    depth_ticks = svg.locator("g.chart-axis-group").nth(0).locator("text.chart-tick")
    assert all(re.fullmatch(r"\d+", t) for t in depth_ticks.all_text_contents())  # numeric
    expect(svg.locator("text.chart-best")).to_have_text("★ best")
    legend = svg.locator("g.chart-legend text").all_text_contents()
    assert [t for t in legend if t.endswith("★ best")] == [
        t for t in legend if t.startswith("toy-4 (")
    ]
    aria = svg.get_attribute("aria-label") or ""
    assert "kernel rbf" in aria and "accuracy 0.9737" in aria and "toy-8 (" in aria

    page.evaluate("document.querySelector('#cmp-metrics').scrollIntoView({block: 'start'})")
    screenshot(page, "compare-metrics")
    page.evaluate("document.querySelector('#cmp-parallel').scrollIntoView({block: 'start'})")
    screenshot(page, "compare-parallel")

    # Its numbers as a table.
    numbers_box = section.locator("details.chart-numbers")
    numbers_box.locator("summary").click()
    rows = numbers_box.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text("rbf")
    expect(rows.nth(1).locator("td.best")).to_contain_text("0.9737")

    # Kubeflow Pipelines' compare links name the runs ``runs``: they open the same page.
    page.goto(f"/runs/compare?runs={run_ids[0]}&runs={run_ids[1]},{run_ids[2]}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 3 runs")
    section = page.locator("section[aria-labelledby=cmp-parallel]")

    # Choosing another metric redraws the last axis (the select submits its form).
    with page.expect_navigation():
        section.get_by_label("Metric on the last axis").select_option("loss")
    assert "metric=loss" in page.url
    svg = page.locator("section[aria-labelledby=cmp-parallel] svg.chart-parallel")
    expect(svg.locator("text.chart-axis-name").last).to_have_text("loss")
    expect(svg.locator("text.chart-note").last).to_have_text("lower is better")
    legend = svg.locator("g.chart-legend text").all_text_contents()
    assert [t for t in legend if t.endswith("★ best")] == [
        t for t in legend if t.startswith("toy-4 (")
    ]
    assert_charts_named(page)
    assert_contrast(page, "the compare page of three runs")
