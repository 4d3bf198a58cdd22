"""End to end: the web UI in a real Chromium, on a real kubeline server, running real
pipelines compiled with the KFP SDK.

Every test fails on a browser console error, an uncaught script error, a 5xx answer or a
request leaving the server (see the ``page`` fixture in this folder's conftest). With
``KUBELINE_SCREENSHOTS=1`` the tests also save the screenshots of ``docs/ui.md``.

No ``from __future__ import annotations``: KFP reads the real annotations of the components
defined here.
"""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import dsl
from kfp.dsl import Metrics, Output

from kubeline.pipelines.compile import compile_function
from tests.server.conftest import LiveServer, start_server
from tests.server.web.conftest import Api, BrowserProblems, need_playwright

need_playwright()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

IMAGE = "python:3.11"
RUN_TIMEOUT = 90_000  # ms: a tiny run takes a second or two, but the machine may be busy
LIFECYCLE_TIMEOUT = 300_000  # ms: the lifecycle run takes 15-25 s on 2 cores
Shot = Callable[..., None]

# ----------------------------------------------------------------------------- pipelines


@dsl.component(base_image=IMAGE)
def greet(who: str, times: int) -> str:
    """Prints a line the task panel's log must show."""
    line = f"kubeline-browser-test: hello {who} x{times}"
    print(line, flush=True)
    return line


@dsl.component(base_image=IMAGE)
def score(text: str, weights: list, metrics: Output[Metrics]):
    """A metric that depends on the parameters, so compared runs differ."""
    value = round(len(text) / (len(text) + sum(weights)), 4)
    metrics.log_metric("accuracy", value)
    print(f"kubeline-browser-test: accuracy {value}", flush=True)


@dsl.pipeline(name="browser-demo", description="Greets someone, then scores the greeting.")
def demo(who: str = "world", times: int = 2, weights: list = [1, 2]):  # noqa: B006
    greeting = greet(who=who, times=times)
    score(text=greeting.output, weights=weights)


@dsl.component(base_image=IMAGE)
def talk(pause: float, gate: str = "") -> str:
    """Prints, waits, prints again: the panel must show the log as it grows. With ``gate``
    (a file's path) the test says when: the last line once the file exists, the end once it
    is gone again (each wait at most ``pause`` seconds)."""
    import os
    import time

    def until(condition) -> None:
        deadline = time.monotonic() + pause
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.1)

    print("kubeline-browser-test: first line", flush=True)
    if not gate:
        time.sleep(pause)
    until(lambda: not gate or os.path.exists(gate))
    print("kubeline-browser-test: last line", flush=True)
    until(lambda: not gate or not os.path.exists(gate))
    return "done"


@dsl.pipeline(name="browser-talk")
def talker(pause: float = 3.0, gate: str = ""):
    talk(pause=pause, gate=gate)


@dsl.component(base_image=IMAGE)
def fail(reason: str):
    raise RuntimeError(reason)


@dsl.pipeline(name="browser-fail")
def failing(reason: str = "kubeline-browser-test fails on purpose"):
    fail(reason=reason)


def compiled(pipeline: Any) -> str:
    return yaml.safe_dump(compile_function(pipeline), sort_keys=False)


def write_yaml(pipeline: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(compiled(pipeline), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ browser checks

# WCAG 2 contrast of every visible text against what is behind it. For HTML text the
# background is found by walking up the ancestors, compositing translucent backgrounds
# until an opaque one; opacity on the way scales the text's alpha. SVG text is checked
# against the rects drawn before it under its centre (a graph node's box, a group's box),
# over the HTML background of the SVG. Not checked: disabled controls (WCAG exempts inactive
# components), text hidden off-screen or clipped to 1 px (screen-reader only), and the
# sandboxed HTML reports in iframes (another document, written by the pipeline).
CONTRAST_JS = r"""
() => {
  const parse = (value) => {
    const m = /rgba?\(([^)]+)\)/.exec(value || "");
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const channel = (c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const htmlBackground = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const bg = parse(getComputedStyle(e).backgroundColor);
      if (bg && bg[3] > 0) {
        layers.push(bg);
        if (bg[3] >= 1) break;
      }
    }
    let color = [255, 255, 255, 1]; // the canvas
    for (const layer of layers.reverse()) color = over(layer, color);
    return color;
  };
  const opacity = (el) => {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o;
  };
  const invisible = (el) => {
    if (getComputedStyle(el).visibility !== "visible") return true;
    const r = el.getBoundingClientRect();
    return r.width <= 1 || r.height <= 1 || r.right <= 0 || r.bottom <= 0;
  };
  const describe = (el, text) => {
    const name = el.tagName.toLowerCase(), classes = el.getAttribute("class") || "";
    return `<${name} class="${classes}"> "${text.slice(0, 60)}"`;
  };
  const failures = [];
  let checked = 0;
  const check = (el, text, background) => {
    const style = getComputedStyle(el);
    const fg = parse(el instanceof SVGElement ? style.fill : style.color);
    if (!fg) return;
    fg[3] *= opacity(el);
    if (fg[3] === 0) return;
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const needed = large ? 3 : 4.5;
    const got = ratio(over(fg, background), background);
    checked += 1;
    if (got < needed) {
      failures.push({
        element: describe(el, text),
        color: style.color,
        fill: style.fill,
        background: `rgb(${background.slice(0, 3).map(Math.round).join(", ")})`,
        ratio: Math.round(got * 100) / 100,
        needed,
      });
    }
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg, script, style, noscript, option, template")) continue;
    if (el.closest(":disabled")) continue;
    let text = "";
    for (const node of el.childNodes) if (node.nodeType === 3) text += node.textContent;
    const boxes = ["checkbox", "radio", "hidden", "file"];
    if (["INPUT", "TEXTAREA"].includes(el.tagName) && !boxes.includes(el.type)) text = el.value;
    if (el.tagName === "SELECT") text = el.selectedOptions.length ? el.selectedOptions[0].text : "";
    text = text.trim();
    if (!text || invisible(el)) continue;
    check(el, text, htmlBackground(el));
  }
  for (const el of document.querySelectorAll("svg text")) {
    const text = el.textContent.trim();
    if (!text || invisible(el)) continue;
    const svg = el.closest("svg");
    const box = el.getBoundingClientRect();
    const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
    const layers = [];
    for (let e = el; e && e !== svg; e = e.parentElement) {
      for (let s = e.previousElementSibling; s; s = s.previousElementSibling) {
        if (s.tagName.toLowerCase() !== "rect") continue;
        const r = s.getBoundingClientRect();
        if (cx < r.left || cx > r.right || cy < r.top || cy > r.bottom) continue;
        const style = getComputedStyle(s);
        const fill = parse(style.fill);
        if (fill) {
          fill[3] *= Number(style.fillOpacity);
          layers.push(fill);
        }
        break;
      }
    }
    let background = htmlBackground(svg.parentElement);
    for (const layer of layers.reverse()) background = over(layer, background);
    check(el, text, background);
  }
  return { checked, failures };
}
"""

# Form controls without an accessible name: no label with text, aria-label, aria-labelledby
# pointing at text, title, or (buttons) text of their own.
UNNAMED_CONTROLS_JS = r"""
() => {
  const text = (el) => (el ? el.textContent.trim() : "");
  return [...document.querySelectorAll("input, select, textarea, button")]
    .filter((el) => el.type !== "hidden")
    .filter((el) => {
      if (el.labels && [...el.labels].some((label) => text(label))) return false;
      if ((el.getAttribute("aria-label") || "").trim()) return false;
      const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
      if (ids.some((id) => text(document.getElementById(id)))) return false;
      if ((el.getAttribute("title") || "").trim()) return false;
      if (el.tagName === "BUTTON" && text(el)) return false;
      return true;
    })
    .map((el) => el.outerHTML.slice(0, 160));
}
"""


def assert_contrast(page: Page, where: str) -> None:
    """Every visible text on the page reaches WCAG AA contrast."""
    result = page.evaluate(CONTRAST_JS)
    assert result["checked"] > 0, f"no text checked on {where}"
    lines = [json.dumps(f) for f in result["failures"]]
    assert not lines, f"low contrast on {where}:\n" + "\n".join(lines)


def wait_finished(page: Page, state: str = "succeeded", timeout: int = RUN_TIMEOUT) -> None:
    """The run page has reloaded after the run ended, showing ``state``."""
    expect(page.locator("#run-head")).to_have_attribute("data-finished", "true", timeout=timeout)
    expect(page.locator("#run-state .badge")).to_have_text(state)


def executor_nodes_succeeded(page: Page, count: int, timeout: int = RUN_TIMEOUT) -> None:
    """Wait (bounded) until the graph shows ``count`` executor nodes, all succeeded."""
    page.wait_for_function(
        """(count) => {
          const nodes = [...document.querySelectorAll("svg.dag .node.kind-executor")];
          return nodes.length === count
            && nodes.every((n) => n.classList.contains("state-succeeded"));
        }""",
        arg=count,
        timeout=timeout,
    )


def field_error(page: Page, label: str) -> Any:
    """The error paragraph of the run form's field labelled ``label``."""
    field_id = page.get_by_label(label).get_attribute("id")
    return page.locator(f"#{field_id}-error")


def run_names_in_table(page: Page) -> list[str]:
    return page.locator("#runs-table tbody tr td:nth-child(2) a").all_inner_texts()


def upload_through_picker(page: Page, path: Path) -> None:
    """Choose ``path`` in the upload form's file picker and press Upload."""
    with page.expect_file_chooser() as chooser:
        page.get_by_label("Pipeline file").click()
    chooser.value.set_files(str(path))
    page.get_by_role("button", name="Upload", exact=True).click()


# ------------------------------------------------------------------------------- uploads


def test_upload_compiled_pipeline_with_file_picker(
    page: Page, api: Api, tmp_path: Path, screenshot: Shot
) -> None:
    path = write_yaml(demo, tmp_path, "browser-demo")
    page.goto("/pipelines")
    expect(page.get_by_role("heading", name="No pipelines yet")).to_be_visible()
    screenshot(page, "pipelines-empty")

    upload_through_picker(page, path)

    page.wait_for_url(re.compile(r"/pipelines/[0-9a-f-]{36}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("browser-demo")
    expect(page.locator(".lead")).to_have_text("Greets someone, then scores the greeting.")
    graph = page.locator("#graph svg.dag")
    expect(graph).to_be_visible()
    expect(graph.locator(".node[data-path]")).to_have_count(2)
    expect(graph.locator('.node[data-path="greet"] .node-label')).to_have_text("greet")
    expect(graph.locator('.node[data-path="score"] .node-label')).to_have_text("score")
    expect(graph.locator("path.edge")).to_have_count(1)

    rows = page.locator("section[aria-labelledby=params-title] tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="who")).to_contain_text(re.compile(r"STRING\s+world"))
    expect(rows.filter(has_text="times")).to_contain_text(re.compile(r"NUMBER_INTEGER\s+2"))
    # KFP stores list defaults as protobuf doubles ([1.0, 2.0]); the page shows them tidy.
    expect(rows.filter(has_text="weights")).to_contain_text(re.compile(r"LIST\s+\[1, 2\]"))
    assert [p["display_name"] for p in api.pipelines()] == ["browser-demo"]
    assert_contrast(page, "the pipeline page")


def test_upload_corpus_pipeline_and_run_it(
    page: Page, api: Api, conformance: Path, screenshot: Shot
) -> None:
    """add_numbers from the KFP conformance corpus: upload, see it, run it with a and b."""
    page.goto("/pipelines")
    upload_through_picker(page, conformance / "pipelines/valid/critical/add_numbers.yaml")

    page.wait_for_url(re.compile(r"/pipelines/[0-9a-f-]{36}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("add_numbers")
    expect(page.locator('#graph svg.dag .node[data-path="add-numbers"]')).to_be_visible()
    params = page.locator("section[aria-labelledby=params-title] tbody tr")
    expect(params).to_have_count(2)
    for row, name in zip(params.all(), ("a", "b"), strict=True):
        expect(row.locator("th")).to_contain_text(name)
        expect(row.locator("th .required")).to_have_text("required")
        expect(row).to_contain_text("NUMBER_INTEGER")

    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("a integer").fill("5")
    page.get_by_label("b integer").fill("5")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/runs/add-numbers-"))
    wait_finished(page)
    outputs = page.locator("section[aria-labelledby=outputs-title]")
    expect(outputs.locator("tr", has_text="Output")).to_contain_text("10")


def test_upload_by_drag_and_drop(page: Page, api: Api) -> None:
    page.goto("/pipelines")
    form = page.locator("#upload-form")
    transfer = page.evaluate_handle(
        """([name, text]) => {
          const data = new DataTransfer();
          data.items.add(new File([text], name, { type: "application/yaml" }));
          return data;
        }""",
        ["dropped.yaml", compiled(demo)],
    )
    form.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(form).to_have_class(re.compile(r"\bdragging\b"))
    form.dispatch_event("drop", {"dataTransfer": transfer})

    page.wait_for_url(re.compile(r"/pipelines/[0-9a-f-]{36}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("dropped")
    expect(page.locator("#graph svg.dag .node[data-path]")).to_have_count(2)
    assert [p["display_name"] for p in api.pipelines()] == ["dropped"]


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("broken.yaml", "this: is: not: [yaml", "is not valid YAML or JSON"),
        ("notes.txt", "just some words", "does not hold a pipeline spec"),
        ("config.yaml", "hello: world\nitems: [1, 2]\n", "is not a compiled KFP v2 pipeline"),
    ],
    ids=["not-yaml", "plain-text", "yaml-not-a-pipeline"],
)
def test_upload_invalid_file_shows_the_servers_error(
    page: Page,
    api: Api,
    browser_problems: BrowserProblems,
    tmp_path: Path,
    filename: str,
    content: str,
    message: str,
) -> None:
    browser_problems.allow(400, "/apis/v2beta1/pipelines/upload")
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    page.goto("/pipelines")
    error = page.locator("#upload-error")
    expect(error).to_be_hidden()

    upload_through_picker(page, path)

    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_contain_text(f"Invalid pipeline: '{filename}' {message}")
    assert page.url.endswith("/pipelines")
    expect(page.get_by_role("heading", name="No pipelines yet")).to_be_visible()
    assert api.pipelines() == []
    assert_contrast(page, "the pipelines page with an upload error")


# ------------------------------------------------------------------------------- runs


def test_start_run_from_form_with_field_errors_then_success(
    page: Page, api: Api, browser_problems: BrowserProblems, screenshot: Shot
) -> None:
    browser_problems.allow(400, "/runs/new")
    pipeline_id, _ = api.upload(compiled(demo), "browser-demo")
    page.goto(f"/runs/new?pipeline_id={pipeline_id}")
    expect(page.get_by_role("heading", name="Start a run")).to_be_visible()
    times, weights = page.get_by_label("times"), page.get_by_label("weights")
    expect(times).to_have_value("2")
    expect(weights).to_have_value("[1.0, 2.0]")  # as the compiled YAML holds it

    # Invalid JSON: the page stops the form before it leaves the browser.
    page.get_by_label("who").fill("ada")
    weights.fill("[3, 4")
    page.get_by_role("button", name="Start").click()
    weights_error = field_error(page, "weights")
    expect(weights_error).to_be_visible()
    expect(weights_error).to_contain_text("Not valid JSON")
    expect(weights).to_have_attribute("aria-invalid", "true")
    expect(weights).to_be_focused()
    assert "/runs/new" in page.url

    # Not an integer: the server refuses, and says so beside the field.
    weights.fill("[3, 4]")
    expect(weights_error).to_be_hidden()
    times.fill("1.5")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("p.form-error[role=alert]")).to_have_text(
        "The run was not started: fix the fields marked below."
    )
    times_error = field_error(page, "times")
    expect(times_error).to_be_visible()
    expect(times_error).to_contain_text("expects an integer")
    expect(page.get_by_label("times")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("times")).to_have_accessible_description(
        re.compile(r"expects an integer")
    )
    expect(page.get_by_label("times")).to_have_value("1.5")
    expect(page.get_by_label("who")).to_have_value("ada")  # what was typed is kept
    assert api.runs() == []
    screenshot(page, "run-form-error")
    assert_contrast(page, "the run form with errors")

    page.get_by_label("times").fill("3")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/runs/browser-demo-"))
    executor_nodes_succeeded(page, 2)
    wait_finished(page)
    given = page.locator("section[aria-labelledby=params-title] table").first
    expect(given.locator("tr", has_text="who")).to_contain_text("ada")
    expect(given.locator("tr", has_text="times")).to_contain_text("3")
    expect(given.locator("tr", has_text="weights")).to_contain_text("[3, 4]")
    runs = api.runs()
    assert len(runs) == 1 and runs[0]["state"] == "SUCCEEDED"
    assert runs[0]["runtime_config"]["parameters"] == {"who": "ada", "times": 3, "weights": [3, 4]}


def test_task_panel_shows_inputs_outputs_and_streams_the_log(
    page: Page, api: Api, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"  # the task prints its last line once it exists, ends once gone
    pipeline_id, version_id = api.upload(compiled(talker), "browser-talk")
    run_id = api.start(pipeline_id, version_id, "talker", {"pause": 120.0, "gate": str(gate)})
    page.goto(f"/runs/{run_id}")
    node = page.locator('svg.dag .node[data-path="talk"]')
    expect(node).to_have_class(re.compile(r"\bstate-(running|succeeded)\b"), timeout=RUN_TIMEOUT)
    node.click()

    panel = page.locator("#task-panel")
    expect(panel.locator("#panel-title")).to_have_text("talk")
    assert "task=talk" in page.url
    log = panel.locator("#task-log")
    expect(log).to_contain_text("kubeline-browser-test: first line", timeout=RUN_TIMEOUT)
    # The task waits at its gate: the last line is not printed yet, so not shown.
    expect(node).to_have_class(re.compile(r"\bstate-running\b"))
    expect(log).not_to_contain_text("kubeline-browser-test: last line")
    gate.touch()
    # It prints it and waits again: the open panel shows the line while the run still runs
    # (no reload at the run's end has brought it).
    expect(log).to_contain_text("kubeline-browser-test: last line", timeout=RUN_TIMEOUT)
    expect(page.locator("#run-head")).not_to_have_attribute("data-finished", "true")
    expect(node).to_have_class(re.compile(r"\bstate-running\b"))
    gate.unlink()
    wait_finished(page)

    # After the reload the panel is still open (the URL keeps the task).
    expect(panel.locator("#panel-title")).to_have_text("talk")
    inputs = panel.locator("table.kv", has=page.locator("caption", has_text="Input parameters"))
    expect(inputs.locator("tr", has_text="pause")).to_contain_text("120")
    outputs = panel.locator("table.kv", has=page.locator("caption", has_text="Output parameters"))
    expect(outputs.locator("tr", has_text="Output")).to_contain_text("done")
    expect(panel.locator(".badge")).to_have_text("succeeded")
    expect(log).to_contain_text("kubeline-browser-test: last line")
    expect(node).to_have_class(re.compile(r"\bselected\b"))

    panel.get_by_role("button", name="Close task details").click()
    expect(panel).to_contain_text("No task selected")
    assert "task=" not in page.url


def test_demo_run_panel_shows_metrics_artifact_and_printed_line(page: Page, api: Api) -> None:
    pipeline_id, version_id = api.upload(compiled(demo), "browser-demo")
    run_id = api.start(pipeline_id, version_id, "demo", {"who": "grace"})
    page.goto(f"/runs/{run_id}")
    executor_nodes_succeeded(page, 2)
    wait_finished(page)

    page.locator('svg.dag .node[data-path="greet"]').click()
    panel = page.locator("#task-panel")
    expect(panel.locator("#panel-title")).to_have_text("greet")
    expect(panel.locator("#task-log")).to_contain_text("kubeline-browser-test: hello grace x2")
    inputs = panel.locator("table.kv", has=page.locator("caption", has_text="Input parameters"))
    expect(inputs.locator("tr", has_text="who")).to_contain_text("grace")

    page.locator('svg.dag .node[data-path="score"]').click()
    expect(panel.locator("#panel-title")).to_have_text("score")
    artifact = panel.locator("details.artifact")
    expect(artifact.locator("summary")).to_contain_text("metrics")
    expect(artifact.locator("table.metrics")).to_contain_text("accuracy")
    expect(panel.locator("#task-log")).to_contain_text("kubeline-browser-test: accuracy")
    assert_contrast(page, "the run page with a task panel")


@pytest.mark.slow
def test_lifecycle_pipeline_end_to_end(
    page: Page, api: Api, tmp_path: Path, screenshot: Shot
) -> None:
    from kubeline.pipelines.lifecycle import lifecycle_pipeline

    path = tmp_path / "lifecycle.yaml"
    path.write_text(yaml.safe_dump(compile_function(lifecycle_pipeline)), encoding="utf-8")
    page.goto("/pipelines")
    upload_through_picker(page, path)
    page.wait_for_url(re.compile(r"/pipelines/[0-9a-f-]{36}"))
    expect(page.locator('#graph svg.dag .node[data-path="evaluate"]')).to_be_visible()
    screenshot(page, "pipeline")

    page.get_by_role("link", name="Start a run").click()
    page.get_by_label("Run name").fill("lifecycle, defaults")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/runs/kubeline-lifecycle-"))
    wait_finished(page, timeout=LIFECYCLE_TIMEOUT)
    expect(page.locator("svg.dag .node.kind-executor.state-failed")).to_have_count(0)

    visuals = page.locator("#visuals")
    confusion = visuals.locator("table.confusion")
    expect(confusion).to_be_visible()
    expect(confusion.locator("thead")).to_contain_text("benign")
    expect(confusion.locator("thead")).to_contain_text("malignant")
    expect(confusion.locator("tbody th")).to_have_text(["benign", "malignant"])
    roc = visuals.locator("figure.roc svg.chart")
    expect(roc).to_be_visible()
    expect(roc).to_have_attribute("aria-label", re.compile(r"AUC 0\.9"))
    expect(roc.locator("polyline.chart-line")).to_have_count(1)
    accuracy = page.locator("th", has_text=re.compile(r"^accuracy$"))
    metrics = visuals.locator("table.metrics", has=accuracy)
    expect(metrics).to_have_count(1)
    expect(metrics.locator("caption")).to_have_text("Metrics: metrics")
    expect(metrics.locator("tr", has=accuracy).locator("td")).to_have_text(re.compile(r"^0\.9\d*$"))

    page.locator('svg.dag .node[data-path="evaluate"]').click()
    panel = page.locator("#task-panel")
    expect(panel.locator("#panel-title")).to_have_text("evaluate")
    expect(panel.locator("#task-log")).not_to_be_empty()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "run")
    assert_contrast(page, "the lifecycle run page")

    page.evaluate("document.querySelector('#visuals').scrollIntoView({block: 'start'})")
    screenshot(page, "run-visualizations")

    page.goto("/runs")
    expect(page.locator("#runs-table thead")).to_contain_text("accuracy")

    # The run registered its model: the Models page lists it, and an alias can be moved.
    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="breast-cancer-classifier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("breast-cancer-classifier")
    expect(page.locator("table.compare")).to_contain_text("accuracy")
    expect(page.locator('table.compare a[href^="/runs/"]')).to_have_count(1)  # its lineage
    page.get_by_label("Alias").fill("production")
    page.get_by_role("button", name=re.compile("Point it at version 1")).click()
    expect(page.locator("table.compare .badge")).to_have_text("production")
    card = page.locator(".markdown h3").first
    expect(card).to_contain_text("Model card: breast-cancer-classifier")
    assert_contrast(page, "the model page")
    screenshot(page, "model")


def test_compare_two_runs(page: Page, api: Api, screenshot: Shot) -> None:
    pipeline_id, version_id = api.upload(compiled(demo), "browser-demo")
    ids = {
        "alpha": api.start(pipeline_id, version_id, "alpha", {"weights": [1, 2]}),
        "bravo": api.start(pipeline_id, version_id, "bravo", {"weights": [5, 8, 13]}),
        "charlie": api.start(pipeline_id, version_id, "charlie", {"who": "bob", "weights": [2]}),
    }
    for run_id in ids.values():
        assert api.wait(run_id) == "SUCCEEDED"

    page.goto("/runs")
    expect(page.locator("#runs-table thead")).to_contain_text("accuracy")
    screenshot(page, "runs")
    compare = page.get_by_role("button", name="Compare")
    expect(compare).to_be_disabled()
    page.get_by_label(re.compile(r"^Select run alpha ")).check()
    expect(page.locator("#bulk-count")).to_have_text("1 selected")
    expect(compare).to_be_disabled()
    page.get_by_label(re.compile(r"^Select run bravo ")).check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    compare.click()

    page.wait_for_url(re.compile(r"/runs/compare\?ids="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 2 runs")
    head = page.locator("table.runs-head")
    expect(head).to_contain_text("alpha")
    expect(head).to_contain_text("bravo")
    expect(head).not_to_contain_text("charlie")
    params = page.locator("section[aria-labelledby=cmp-params] table.compare")
    expect(params.locator("tr.differs")).to_have_count(1)
    expect(params.locator("tr.differs th")).to_contain_text("weights")
    expect(params.locator("tr.differs .diff-mark")).to_have_text("differs")
    expect(params.locator("tr.same", has_text="times")).to_have_count(1)
    metrics = page.locator("section[aria-labelledby=cmp-metrics] table.compare")
    expect(metrics.locator("tr.differs th")).to_contain_text("accuracy")
    chart = page.locator(".chart-box svg.chart-bars")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.chart-bar")).to_have_count(2)
    expect(chart).to_have_attribute("aria-label", re.compile(r"^accuracy: "))
    label = chart.get_attribute("aria-label") or ""
    assert "alpha" in label and "bravo" in label and "charlie" not in label
    screenshot(page, "compare", full_page=True)  # the chart is below the fold
    assert_contrast(page, "the compare page")


def test_run_list_filter_and_sort(page: Page, api: Api) -> None:
    demo_id, demo_version = api.upload(compiled(demo), "browser-demo")
    fail_id, fail_version = api.upload(compiled(failing), "browser-fail")
    started = [
        api.start(demo_id, demo_version, "bravo"),
        api.start(fail_id, fail_version, "charlie"),
        api.start(demo_id, demo_version, "alpha"),
    ]
    assert [api.wait(run_id) for run_id in started] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]

    page.goto("/runs")
    assert run_names_in_table(page) == ["alpha", "charlie", "bravo"]  # newest first

    page.get_by_label("State").select_option(label="failed")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"state=FAILED"))
    assert run_names_in_table(page) == ["charlie"]
    expect(page.locator("#runs-table tbody .badge")).to_have_text(["failed"])
    expect(page.get_by_label("State")).to_have_value("FAILED")
    assert_contrast(page, "the runs list filtered")

    page.get_by_label("State").select_option(label="succeeded")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"state=SUCCEEDED"))
    assert sorted(run_names_in_table(page)) == ["alpha", "bravo"]

    page.get_by_role("link", name="Reset").click()
    header = page.locator("#runs-table thead th", has_text="Run")
    header.get_by_role("link").click()
    page.wait_for_url(re.compile(r"sort=name&order=desc"))
    assert run_names_in_table(page) == ["charlie", "bravo", "alpha"]
    expect(header).to_have_attribute("aria-sort", "descending")
    header.get_by_role("link").click()
    page.wait_for_url(re.compile(r"sort=name&order=asc"))
    assert run_names_in_table(page) == ["alpha", "bravo", "charlie"]
    expect(header).to_have_attribute("aria-sort", "ascending")

    page.locator("#runs-table thead th", has_text="State").get_by_role("link").click()
    page.wait_for_url(re.compile(r"sort=state"))
    states = page.locator("#runs-table tbody .badge").all_inner_texts()
    assert states in (["succeeded", "succeeded", "failed"], ["failed", "succeeded", "succeeded"])


def test_empty_state_tells_a_newcomer_what_to_do(page: Page, screenshot: Shot) -> None:
    page.goto("/")
    page.wait_for_url(re.compile(r"/runs$"))
    empty = page.locator("section.empty")
    expect(empty.get_by_role("heading", name="No runs yet")).to_be_visible()
    expect(empty).to_contain_text("kubeline compile -o lifecycle.yaml")
    expect(empty).to_contain_text("Start a run")
    expect(page.locator("#runs-table")).to_have_count(0)
    assert_contrast(page, "the empty runs list")

    empty.get_by_role("link", name="Upload it on the Pipelines page").click()
    page.wait_for_url(re.compile(r"/pipelines$"))
    expect(page.get_by_role("heading", name="No pipelines yet")).to_be_visible()
    expect(page.locator("section.empty")).to_contain_text("kubeline compile -o lifecycle.yaml")
    assert_contrast(page, "the empty pipelines list")


def test_terminate_a_running_run_then_archive_it(page: Page, api: Api) -> None:
    pipeline_id, version_id = api.upload(compiled(talker), "browser-talk")
    run_id = api.start(pipeline_id, version_id, "sleeper", {"pause": 600.0})
    page.goto(f"/runs/{run_id}")
    node = page.locator('svg.dag .node[data-path="talk"]')
    expect(node).to_have_class(re.compile(r"\bstate-running\b"), timeout=RUN_TIMEOUT)
    expect(page.locator("#run-state .badge")).to_have_text("running")
    assert_contrast(page, "a running run's page")

    page.get_by_role("button", name="Terminate").click()
    wait_finished(page, state="terminated")  # the API says FAILED, which kfp.Client needs
    error = page.locator("#run-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile(r"Terminated on request .* by the web UI from "))
    expect(node).not_to_have_class(re.compile(r"\bstate-running\b"))
    expect(page.get_by_role("button", name="Terminate")).to_be_hidden()
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    assert api.run(run_id)["state"] == "FAILED"

    page.goto("/runs")
    page.get_by_label(re.compile(r"^Select run sleeper ")).check()
    page.locator("#bulk").get_by_role("button", name="Archive").click()
    expect(page.locator("p.empty")).to_contain_text("No run matches these filters")
    page.get_by_label("Archived").check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"archived=true"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Archived runs")
    assert run_names_in_table(page) == ["sleeper"]
    assert api.run(run_id)["storage_state"] == "ARCHIVED"


# --------------------------------------------------------------- experiments, recurring


def test_create_an_experiment(page: Page, api: Api, screenshot: Shot) -> None:
    page.goto("/experiments")
    expect(page.get_by_role("heading", level=1)).to_have_text("Experiments")
    page.get_by_label("Name", exact=True).fill("tuning ideas")
    page.get_by_label("Description").fill("every run of the new feature set")
    page.get_by_role("button", name="Create").click()

    row = page.locator("table.list tbody tr", has_text="tuning ideas")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("every run of the new feature set")
    expect(row.get_by_role("button", name="Archive tuning ideas")).to_be_visible()
    expect(page.locator("table.list tbody tr", has_text="Default")).to_have_count(1)
    found = api.http.get("/apis/v2beta1/experiments").json()["experiments"]
    assert "tuning ideas" in [e["display_name"] for e in found]
    screenshot(page, "experiments")
    assert_contrast(page, "the experiments page")

    row.get_by_role("link", name="tuning ideas").click()
    page.wait_for_url(re.compile(r"/experiments/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("tuning ideas")
    expect(page.locator("p.empty")).to_contain_text("No runs in this experiment yet")


def test_create_and_disable_a_recurring_run(page: Page, api: Api, screenshot: Shot) -> None:
    api.upload(compiled(demo), "browser-demo")
    page.goto("/recurring")
    expect(page.locator("p.empty")).to_contain_text("No recurring runs yet")
    page.get_by_role("link", name="New recurring run").click()
    page.get_by_label("Name", exact=True).fill("hourly greeting")
    page.get_by_label("Repeat").select_option("interval")
    page.get_by_label("Every (seconds) or cron").fill("3600")
    page.get_by_label("who").fill("cron")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/recurring$"))

    row = page.locator("table.list tbody tr", has_text="hourly greeting")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("browser-demo")
    expect(row).to_contain_text("every 1 h")
    expect(row.locator(".badge")).to_have_text("enabled")
    screenshot(page, "recurring")
    assert_contrast(page, "the recurring runs page")

    row.get_by_role("button", name="Disable hourly greeting").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    expect(row.get_by_role("button", name="Enable hourly greeting")).to_be_visible()
    found = api.http.get("/apis/v2beta1/recurringruns").json()["recurringRuns"]
    assert [(r["display_name"], r["status"]) for r in found] == [("hourly greeting", "DISABLED")]


# ------------------------------------------------------------------------ errors, access


@pytest.mark.parametrize(
    ("path", "title"),
    [("/runs/does-not-exist", "Run not found"), ("/nope", "Page not found")],
)
def test_unknown_pages_show_the_error_page(
    page: Page, browser_problems: BrowserProblems, screenshot: Shot, path: str, title: str
) -> None:
    browser_problems.allow(404, path)
    response = page.goto(path)
    assert response is not None and response.status == 404
    assert "text/html" in response.headers["content-type"]
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".error-page")).to_contain_text(path.rsplit("/", 1)[-1])
    if path == "/nope":
        screenshot(page, "error")
    assert_contrast(page, f"the error page of {path}")
    page.locator(".error-page").get_by_role("link", name="Back to the runs").click()
    page.wait_for_url(re.compile(r"/runs$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")


def test_keyboard_reaches_skip_link_then_main_navigation(page: Page) -> None:
    page.goto("/pipelines")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Skip to content")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the skip link stays off screen"

    menu = page.locator("nav[aria-label=Main] a").all_inner_texts()
    assert menu[:3] == ["Pipelines", "Runs", "Experiments"] and "Recurring runs" in menu
    reached = []
    for _ in range(len(menu) + 4):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => [document.activeElement.textContent.trim(),"
                " !!document.activeElement.closest('nav[aria-label=Main]')]"
            )
        )
    in_nav = [text for text, nav in reached if nav]
    assert in_nav == menu, reached  # every menu entry, in order, right after the brand

    page.goto("/pipelines")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def test_keyboard_opens_a_task_from_the_graph(page: Page, api: Api) -> None:
    pipeline_id, version_id = api.upload(compiled(demo), "browser-demo")
    run_id = api.start(pipeline_id, version_id, "keyboard")
    assert api.wait(run_id) == "SUCCEEDED"
    page.goto(f"/runs/{run_id}")
    focused_path = ""
    for _ in range(60):
        page.keyboard.press("Tab")
        focused_path = page.evaluate(
            "() => { const n = document.activeElement.closest('svg.dag .node[data-path]');"
            " return n ? n.dataset.path : ''; }"
        )
        if focused_path:
            break
    assert focused_path == "greet", "Tab never reached a task node of the graph"
    node = page.locator('svg.dag .node[data-path="greet"]')
    expect(node).to_have_attribute("role", "button")
    expect(node).to_have_attribute("aria-label", re.compile(r"^greet, succeeded · "))
    # The focused node gets the focus ring, so a keyboard user sees where they are.
    ring = node.evaluate(
        "el => [getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineColor]"
    )
    assert ring == ["solid", "rgb(180, 83, 9)"]

    page.keyboard.press("Enter")
    panel = page.locator("#task-panel")
    expect(panel.locator("#panel-title")).to_have_text("greet")
    expect(panel.locator("#task-log")).to_contain_text("kubeline-browser-test: hello world x2")
    page.keyboard.press("Tab")  # on to the next node
    page.keyboard.press("Enter")
    expect(panel.locator("#panel-title")).to_have_text("score")


def test_every_form_control_has_an_accessible_name(page: Page, api: Api) -> None:
    pipeline_id, _ = api.upload(compiled(demo), "browser-demo")
    for path in (
        "/pipelines",
        f"/pipelines/{pipeline_id}",
        f"/runs/new?pipeline_id={pipeline_id}",
        "/experiments",
        f"/recurring/new?pipeline_id={pipeline_id}",  # /recurring itself has no form now
    ):
        page.goto(path)
        count = page.locator("input:not([type=hidden]), select, textarea, button").count()
        assert count > 0, path
        unnamed = page.evaluate(UNNAMED_CONTROLS_JS)
        assert unnamed == [], f"controls without an accessible name on {path}: {unnamed}"


def test_contrast_checker_flags_what_it_should(page: Page) -> None:
    """The checker itself, on known colours: it must not pass pages vacuously."""
    page.set_content(
        """<body style="background:#fff; margin:0">
        <p style="color:#1f2933">ok: dark on white (14.7)</p>
        <p style="color:#9aa5b1">bad: light grey on white (2.5)</p>
        <p style="color:#8a8a8a; font-size:32px">ok: large grey on white (3.5)</p>
        <div style="background:rgba(0,0,0,0.5)">
          <span style="color:#444">bad: on half black</span></div>
        <p style="color:#000; opacity:0.3">bad: faded by opacity</p>
        <button disabled style="color:#ddd">ok: disabled, exempt</button>
        <span style="position:absolute; width:1px; height:1px; overflow:hidden;
          clip:rect(0 0 0 0); color:#eee">ok: screen-reader only</span>
        <svg width="300" height="60"><rect width="300" height="60" fill="#1d4ed8"/>
          <text x="10" y="25" fill="#1f2933">bad: svg dark on blue</text>
          <text x="10" y="50" fill="#ffffff">ok: svg white on blue</text></svg>
        </body>"""
    )
    result = page.evaluate(CONTRAST_JS)
    flagged = sorted(
        re.search(r'"(\w+: [^"]+)"', f["element"]).group(1) for f in result["failures"]
    )
    assert flagged == [
        "bad: faded by opacity",
        "bad: light grey on white (2.5)",
        "bad: on half black",
        "bad: svg dark on blue",
    ]
    assert result["checked"] == 7  # the disabled button and the hidden span are skipped


def test_contrast_on_every_page(page: Page, api: Api, screenshot: Shot) -> None:
    """WCAG AA contrast on each page with real content (other tests check the states they
    reach: errors, running graphs, task panels, charts)."""
    demo_id, demo_version = api.upload(compiled(demo), "browser-demo")
    fail_id, fail_version = api.upload(compiled(failing), "browser-fail")
    api.upload(compiled(talker), "browser-talk")
    good = api.start(demo_id, demo_version, "good", {"who": "contrast"})
    bad = api.start(fail_id, fail_version, "bad")
    assert api.wait(good) == "SUCCEEDED" and api.wait(bad) == "FAILED"

    page.goto("/pipelines")
    expect(page.locator("table.list tbody tr")).to_have_count(3)
    screenshot(page, "pipelines")
    pages = [
        "/pipelines",
        f"/pipelines/{demo_id}",
        f"/runs/new?pipeline_id={demo_id}",
        "/runs",
        f"/runs/{good}?task=score",
        f"/runs/{bad}?task=fail",
        f"/runs/compare?ids={good},{bad}",
        "/experiments",
        "/recurring",
        f"/recurring/new?pipeline_id={demo_id}",
    ]
    for path in pages:
        page.goto(path)
        page.wait_for_load_state("load")
        assert_contrast(page, path)


def test_sign_in_with_the_servers_token(browser: Browser, kubeline_home: Path) -> None:
    """A server started with a token sends a browser to the sign-in page; the token opens it."""
    server: LiveServer = start_server(kubeline_home, token="s3cret-token")
    problems = BrowserProblems(origin=server.url)
    problems.allow(401, "/login")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)
    try:
        page = context.new_page()
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)
        page.on("response", problems.on_response)
        page.on("request", problems.on_request)
        page.goto("/experiments")
        page.wait_for_url(re.compile(r"/login\?next=/experiments"))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert_contrast(page, "the sign-in page")

        page.get_by_label("Token").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#token-error")).to_have_text("That token is not this server's token.")
        expect(page.get_by_label("Token")).to_have_attribute("aria-invalid", "true")

        page.get_by_label("Token").fill("s3cret-token")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/experiments$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Experiments")
        # The page's own API calls carry the cookie: creating an experiment works.
        page.get_by_label("Name", exact=True).fill("signed in")
        page.get_by_role("button", name="Create").click()
        expect(page.locator("table.list tbody tr", has_text="signed in")).to_have_count(1)
    finally:
        context.close()
        server.stop()
    assert not problems.problems, "\n".join(problems.problems)


def test_rest_api_link_works_offline(page: Page) -> None:
    page.goto("/runs")
    href = page.get_by_role("link", name="REST API").get_attribute("href")
    assert href
    # Fetched, not opened: opening it would make the browser reach for the CDN.
    html = page.request.get(href).text()
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)
    assert external == []


# Words a table cell's text breaks across lines (a header squeezed narrower than its word).
BROKEN_WORDS_JS = r"""
(selector) => {
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}
"""


def test_pipeline_parameters_header_keeps_words_whole(page: Page, api: Api) -> None:
    pipeline_id, _ = api.upload(compiled(demo), "browser-demo")
    page.goto(f"/pipelines/{pipeline_id}")
    headers = "section[aria-labelledby=params-title] thead th"
    expect(page.locator(headers)).to_have_text(["Name", "Type", "Default"])
    assert page.evaluate(BROKEN_WORDS_JS, headers) == []


def test_short_run_ids_tell_runs_apart(page: Page, api: Api) -> None:
    pipeline_id, version_id = api.upload(compiled(demo), "browser-demo")
    for name in ("one", "two"):
        api.start(pipeline_id, version_id, name)
    page.goto("/runs")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    short = page.locator("#runs-table tbody td:nth-child(2) .mono").all_inner_texts()
    assert len(set(short)) == 2, short


def test_json_field_error_is_the_fields_description(page: Page, api: Api) -> None:
    pipeline_id, _ = api.upload(compiled(demo), "browser-demo")
    page.goto(f"/runs/new?pipeline_id={pipeline_id}")
    weights = page.get_by_label("weights")
    weights.fill("[3, 4")
    page.get_by_role("button", name="Start").click()
    expect(field_error(page, "weights")).to_be_visible()
    expect(weights).to_have_accessible_description(re.compile(r"Not valid JSON"), timeout=2000)
