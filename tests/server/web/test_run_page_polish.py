"""The run page and its graph, polished (#12, defects 3, 4, 5 and 8), in a real Chromium on
a real kubeline server running real pipelines. Each test catches one defect coming back:

3. a finished task inside a running loop iteration drawn as running; stale header counts;
4. wide previews clipped with no cue; the model card's digest out of its box; JSON defaults
   broken mid-word on the pipeline page;
5. an empty task panel taking room beside the graph; iteration titles like ``item {"tri…``;
8. Tab order not the graph's, Esc not closing the panel, "selected" looking like "focused",
   focus left behind after a form error, nodes' names not starting with what they show.

No ``from __future__ import annotations``: KFP reads the real annotations of the components
defined here.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import dsl

from kubeline.pipelines.compile import compile_function
from tests.server.web.conftest import Api, BrowserProblems, need_playwright
from tests.server.web.pipelines import typed

need_playwright()

from playwright.sync_api import Page, expect  # noqa: E402

IMAGE = "python:3.11"
RUN_TIMEOUT = 120_000  # ms: a small run takes seconds, but the machine is shared
LIFECYCLE_TIMEOUT = 300_000  # ms

# ----------------------------------------------------------------------------- pipelines


@dsl.component(base_image=IMAGE)
def prepare(trial: dict) -> str:
    """Quick: done while its iteration's second task still runs."""
    return str(trial["trial_id"])


@dsl.component(base_image=IMAGE)
def fit(name: str, pause: float) -> str:
    """Slow: keeps its iteration running."""
    import time

    time.sleep(pause)
    return name


@dsl.pipeline(name="polish-trials")
def trials(pause: float = 2.0):
    """Ten iterations over trial dicts (the id is not their first key), two at a time."""
    items = [
        {"family": "tree", "trial_id": f"trial-{i}", "params": {"depth": i}} for i in range(10)
    ]
    with dsl.ParallelFor(items, parallelism=2) as trial:
        fit(name=prepare(trial=trial).output, pause=pause)


@dsl.component(base_image=IMAGE)
def zulu() -> str:
    return "z"


@dsl.component(base_image=IMAGE)
def alpha(text: str) -> str:
    return text


@dsl.component(base_image=IMAGE)
def yankee(text: str) -> str:
    return text


@dsl.component(base_image=IMAGE)
def mike(left: str, right: str) -> str:
    return left + right


@dsl.pipeline(name="polish-order")
def ordered():
    """Alphabetically alpha, mike, yankee, zulu; in the graph zulu, then alpha and yankee,
    then mike."""
    top = zulu()
    mike(left=alpha(text=top.output).output, right=yankee(text=top.output).output)


def compiled(pipeline: Any) -> str:
    return yaml.safe_dump(compile_function(pipeline), sort_keys=True)


# ------------------------------------------------------------------------------ helpers

# The style that tells a node's state, of the box of the node at ``path``.
BOX_STYLE_JS = """
(path) => {
  const node = [...document.querySelectorAll("svg.dag .node[data-path]")]
    .find((n) => n.dataset.path === path);
  const box = node.querySelector(".node-box");
  const style = getComputedStyle(box);
  return {
    classes: node.getAttribute("class"),
    dash: style.strokeDasharray,
    animation: style.animationName,
    stroke: style.stroke,
    fill: style.fill,
  };
}
"""

# Accessible names against visible text, the way axe's label-content-name-mismatch rule
# compares them: lower case, punctuation dropped, spaces collapsed; the name must start with
# the visible text (the label, a space, the meta line; or a group's title).
NAME_MISMATCHES_JS = r"""
() => {
  const curate = (text) => text.toLowerCase()
    .replace(/[\u2000-\u206F\u2E00-\u2E7F\\'!"#$%&£¢¥§€()*+,\-.\/:;<=>?@\[\]^_`{|}~±]/g, "")
    .replace(/\s+/g, " ").trim();
  const found = [];
  const check = (el, visible) => {
    const name = el.getAttribute("aria-label") || "";
    if (!curate(name).startsWith(curate(visible))) found.push({ visible, name });
  };
  for (const node of document.querySelectorAll("svg.dag [role=button].node")) {
    const label = node.querySelector(".node-label").textContent;
    const meta = node.querySelector(".node-meta").textContent;
    check(node, `${label} ${meta}`);
  }
  for (const title of document.querySelectorAll("svg.dag text.group-label[role=button]")) {
    check(title, title.textContent);
  }
  return found;
}
"""


def axe_rule(page: Page, rule: str) -> list[dict[str, Any]] | None:
    """Violations of one axe-core rule on the page; None where axe-core is not installed
    (then the name check above stands alone)."""
    try:
        import axe_playwright_python
    except ImportError:
        return None
    script = Path(axe_playwright_python.__file__).with_name("axe.min.js")
    page.evaluate(script.read_text(encoding="utf-8"))
    result = page.evaluate(
        "(rule) => axe.run(document, {runOnly: {type: 'rule', values: [rule]}})", rule
    )
    return [{"html": n["html"][:160]} for v in result["violations"] for n in v["nodes"]]


def focused_path(page: Page) -> str:
    return page.evaluate(
        "() => { const n = document.activeElement && document.activeElement.closest("
        "'svg.dag .node[data-path]'); return n ? n.dataset.path : ''; }"
    )


def tab_to_graph(page: Page) -> str:
    """Tab from the top of the page to the graph's first node; its path."""
    for _ in range(80):
        page.keyboard.press("Tab")
        path = focused_path(page)
        if path:
            return path
    raise AssertionError("Tab never reached a task node of the graph")


def wait_finished(page: Page, timeout: int = RUN_TIMEOUT) -> None:
    expect(page.locator("#run-head")).to_have_attribute("data-finished", "true", timeout=timeout)


# ---------------------------------------------------------------------- 3: the live graph


def test_live_graph_draws_a_finished_task_of_a_running_iteration_as_finished(
    page: Page, api: Api
) -> None:
    pipeline_id, version_id = api.upload(compiled(trials), "polish-trials")
    run_id = api.start(pipeline_id, version_id, "trials", {"pause": 4.0})
    page.goto(f"/runs/{run_id}")
    page.evaluate("window.kubelineSamePage = true")  # gone if the page reloads
    initial = page.locator("#run-counts").inner_text()

    # An iteration that runs while its first task has succeeded (the second still sleeps).
    found = page.wait_for_function(
        """() => {
          const running = "svg.dag .group.kind-iteration.state-running";
          for (const it of document.querySelectorAll(running)) {
            const done = it.querySelector(".node.state-succeeded[data-path$='/prepare']");
            const going = it.querySelector(".node.state-running[data-path$='/fit']");
            if (done && going) return [done.dataset.path, going.dataset.path];
          }
          return null;
        }""",
        timeout=RUN_TIMEOUT,
    ).json_value()
    done_path, running_path = found
    done = page.evaluate(BOX_STYLE_JS, done_path)
    running = page.evaluate(BOX_STYLE_JS, running_path)
    # The finished task: solid, still, green (its meta says succeeded).
    assert done["dash"] == "none", done
    assert done["animation"] == "none", done
    assert done["stroke"] == "rgb(21, 128, 61)", done  # --ok-line
    node = page.locator(f'svg.dag .node[data-path="{done_path}"]')
    expect(node.locator(".node-meta")).to_have_text(re.compile(r"^succeeded"))
    # Its running neighbour is drawn running: the test can tell the two apart.
    assert running["dash"] not in ("none", ""), running
    assert running["animation"] == "dag-run", running

    # The header's task counts follow the run without a reload.
    page.wait_for_function(
        """(initial) => window.kubelineSamePage === true
          && document.querySelector("#run-counts").innerText !== initial""",
        arg=initial,
        timeout=RUN_TIMEOUT,
    )
    live = page.request.get(f"/runs/{run_id}/live").json()
    assert live["counts_html"].count('class="count state-') == len(live["counts"])
    assert api.wait(run_id, timeout=RUN_TIMEOUT / 1000) == "SUCCEEDED"
    wait_finished(page)
    expect(page.locator("#run-counts")).to_have_text(re.compile(r"^20 succeeded\s*$"))


# ------------------------------------------------------- 5: room for the graph, titles


def test_no_panel_takes_room_until_a_task_is_selected_and_iterations_name_their_trial(
    page: Page, api: Api
) -> None:
    pipeline_id, version_id = api.upload(compiled(trials), "polish-trials")
    run_id = api.start(pipeline_id, version_id, "trials", {"pause": 0.0})
    assert api.wait(run_id, timeout=RUN_TIMEOUT / 1000) == "SUCCEEDED"
    page.goto(f"/runs/{run_id}")

    panel = page.locator("#task-panel")
    expect(panel).to_be_hidden()
    sizes = page.evaluate(
        """() => ({
          layout: document.querySelector("#run-layout").getBoundingClientRect().width,
          card: document.querySelector(".graph-card").getBoundingClientRect().width,
          page: document.documentElement.scrollWidth,
          view: document.documentElement.clientWidth,
        })"""
    )
    assert sizes["card"] >= sizes["layout"] - 1, sizes  # the graph has the whole width
    assert sizes["page"] <= sizes["view"], sizes  # nothing overflows sideways

    # Iteration titles name the trial, not the start of its JSON; the tooltip has it all.
    title = page.locator('svg.dag .group[data-path$="/iteration-3"] > text.group-label')
    expect(title).to_have_text("iteration-3 · trial-3")
    tooltip = page.locator('svg.dag .group[data-path$="/iteration-3"] > title')
    expect(tooltip).to_contain_text('"trial_id": "trial-3"')
    labels = page.locator("svg.dag .group.kind-iteration > text.group-label").all_text_contents()
    assert len(labels) == 10 and not [t for t in labels if "{" in t], labels

    # Selecting a task brings the panel; closing it gives the room back.
    page.locator('svg.dag .node[data-path$="iteration-0/fit"]').click()
    expect(panel).to_be_visible()
    expect(panel.locator("#panel-title")).to_have_text("fit")
    expect(page.locator("#run-layout")).to_have_class(re.compile(r"\bwith-task\b"))
    panel.get_by_role("button", name="Close task details").click()
    expect(panel).to_be_hidden()
    assert "task=" not in page.url

    # In a narrow window the wide loop scrolls inside its box, with a cue; the page does not.
    page.set_viewport_size({"width": 900, "height": 800})
    graph = page.locator("#graph")
    cue = page.locator(".graph-card .scroll-cue")
    expect(cue).to_be_visible()
    expect(cue).to_contain_text("scroll sideways")
    wide = graph.evaluate("(g) => [g.scrollWidth, g.clientWidth]")
    assert wide[0] > wide[1], wide
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    page.set_viewport_size({"width": 1600, "height": 900})
    expect(cue).to_be_hidden()


# ------------------------------------------------------------------------ 8: keyboard


def test_tab_order_is_the_graphs_and_esc_closes_the_panel_back_to_its_node(
    page: Page, api: Api
) -> None:
    pipeline_id, version_id = api.upload(compiled(ordered), "polish-order")
    run_id = api.start(pipeline_id, version_id, "order")
    assert api.wait(run_id, timeout=RUN_TIMEOUT / 1000) == "SUCCEEDED"
    page.goto(f"/runs/{run_id}")
    expect(page.locator("svg.dag .node[data-path]")).to_have_count(4)

    # Tab visits the nodes layer by layer, left to right: as drawn, not alphabetically.
    tabbed = [tab_to_graph(page)]
    for _ in range(3):
        page.keyboard.press("Tab")
        tabbed.append(focused_path(page))
    drawn = page.evaluate(
        """() => [...document.querySelectorAll("svg.dag .node[data-path]")]
          .map((n) => { const r = n.getBoundingClientRect();
                        return [Math.round(r.top), Math.round(r.left), n.dataset.path]; })
          .sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((t) => t[2])"""
    )
    assert tabbed == drawn == ["zulu", "alpha", "yankee", "mike"]

    # Enter opens the panel; Esc from inside it closes it and focus goes back to the node.
    page.keyboard.press("Shift+Tab")
    assert focused_path(page) == "yankee"
    page.keyboard.press("Enter")
    panel = page.locator("#task-panel")
    expect(panel.locator("#panel-title")).to_have_text("yankee")
    panel.get_by_role("button", name="Close task details").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert focused_path(page) == "yankee"
    assert "task=" not in page.url
    # And from the node itself.
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert focused_path(page) == "yankee"

    # Selected and focused look different, and not only by colour.
    page.keyboard.press("Enter")
    expect(panel.locator("#panel-title")).to_have_text("yankee")
    page.keyboard.press("Shift+Tab")
    assert focused_path(page) == "alpha"
    look = """(path) => {
      const node = [...document.querySelectorAll("svg.dag .node[data-path]")]
        .find((n) => n.dataset.path === path);
      const s = getComputedStyle(node), box = getComputedStyle(node.querySelector(".node-box"));
      const mark = node.querySelector(".node-mark");
      return { outline: s.outlineStyle, outlineWidth: s.outlineWidth, stroke: box.stroke,
               strokeWidth: box.strokeWidth, mark: mark ? getComputedStyle(mark).display : "",
               current: node.getAttribute("aria-current") };
    }"""
    selected = page.evaluate(look, "yankee")
    focused = page.evaluate(look, "alpha")
    assert selected["outline"] == "none" and focused["outline"] == "solid", (selected, focused)
    assert selected["mark"] != "none" and focused["mark"] == "none", (selected, focused)
    assert selected["strokeWidth"] != focused["strokeWidth"], (selected, focused)
    assert selected["current"] == "true" and focused["current"] is None


def test_node_names_start_with_their_visible_text(page: Page, api: Api) -> None:
    pipeline_id, version_id = api.upload(compiled(trials), "polish-trials")
    run_id = api.start(pipeline_id, version_id, "names", {"pause": 0.0})
    assert api.wait(run_id, timeout=RUN_TIMEOUT / 1000) == "SUCCEEDED"
    page.goto(f"/runs/{run_id}")
    expect(page.locator("svg.dag .node[data-path]")).to_have_count(20)
    assert page.evaluate(NAME_MISMATCHES_JS) == []
    fit = page.locator('svg.dag .node[data-path$="iteration-0/fit"]')
    expect(fit).to_have_accessible_name(re.compile(r"^fit, succeeded · "))
    title = page.locator('svg.dag .group[data-path$="/iteration-0"] > text.group-label')
    expect(title).to_have_accessible_name("iteration-0 · trial-0, succeeded")
    violations = axe_rule(page, "label-content-name-mismatch")
    assert not violations, violations


def test_a_refused_run_form_puts_focus_on_the_first_wrong_field(
    page: Page, api: Api, browser_problems: BrowserProblems
) -> None:
    browser_problems.allow(400, "/runs/new")
    pipeline_id, _ = api.upload(compiled(typed), "polish-typed")
    page.goto(f"/runs/new?pipeline_id={pipeline_id}")
    page.get_by_label("rows").fill("1.5")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#run-form-error")).to_be_visible()
    rows = page.get_by_label("rows")
    expect(rows).to_have_attribute("aria-invalid", "true")
    expect(rows).to_be_focused()
    assert api.runs() == []


# ---------------------------------------------------------- 4: previews, on the lifecycle


BROKEN_WORDS_JS = r"""
(selector) => {
  // Runs of letters and digits that a line break cuts (breaks at _ , " or space are fine).
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[A-Za-z0-9]+/g)) {
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


def test_pipeline_page_keeps_json_defaults_words_whole(page: Page, api: Api) -> None:
    from kubeline.pipelines.lifecycle import lifecycle_pipeline

    pipeline_id, _ = api.upload(compiled(lifecycle_pipeline), "lifecycle")
    page.goto(f"/pipelines/{pipeline_id}")
    rows = page.locator("section[aria-labelledby=params-title] tbody tr")
    families = rows.filter(has_text="families")
    expect(families).to_contain_text('"logistic_regression"')
    section = "section[aria-labelledby=params-title]"
    cells = f"{section} tbody td, {section} tbody th"
    assert page.evaluate(BROKEN_WORDS_JS, cells) == []
    # The text itself is unchanged: breaks are chances, not characters.
    expect(families.locator("code.value")).to_have_text(re.compile(r'^\["logistic_regression", '))
    table = page.locator("section[aria-labelledby=params-title] table")
    assert table.evaluate("(t) => t.getBoundingClientRect().right") <= page.locator(
        "section[aria-labelledby=params-title]"
    ).evaluate("(s) => s.getBoundingClientRect().right")


@pytest.mark.slow
def test_lifecycle_previews_scroll_in_their_cards_and_titles_name_trials(
    page: Page, api: Api
) -> None:
    from kubeline.pipelines.lifecycle import lifecycle_pipeline

    pipeline_id, version_id = api.upload(compiled(lifecycle_pipeline), "lifecycle")
    run_id = api.start(pipeline_id, version_id, "lifecycle")
    assert api.wait(run_id, timeout=LIFECYCLE_TIMEOUT / 1000) == "SUCCEEDED"
    page.goto(f"/runs/{run_id}")
    assert page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )

    # The leaderboard is wider than its card: it scrolls inside it, says so, and the
    # keyboard can scroll it.
    board = page.locator("figure.visual", has=page.locator("figcaption", has_text="leaderboard"))
    box = board.locator(".scroll-box")
    sizes = box.evaluate("(b) => [b.scrollWidth, b.clientWidth]")
    assert sizes[0] > sizes[1], sizes
    figure_right = board.evaluate("(f) => f.getBoundingClientRect().right")
    assert box.evaluate("(b) => b.getBoundingClientRect().right") <= figure_right + 0.5
    cue = board.locator(".scroll-cue")
    expect(cue).to_be_visible()
    expect(cue).to_contain_text("scroll sideways")
    expect(box).to_have_attribute("tabindex", "0")
    expect(box).to_have_attribute("role", "region")
    expect(box).to_have_accessible_name(re.compile(r"^leaderboard"))
    expect(box).to_have_accessible_description(re.compile(r"scroll sideways"))
    box.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(b) => b.scrollLeft > 0", arg=box.element_handle(), timeout=5000)
    # A preview that fits has no cue and no tab stop.
    metrics = page.locator("figure.visual", has=page.locator("table.metrics")).first
    expect(metrics.locator(".scroll-cue")).to_be_hidden()
    expect(metrics.locator(".scroll-box")).not_to_have_attribute("tabindex", "0")
    assert axe_rule(page, "scrollable-region-focusable") in (None, [])

    # The model card's digest stays in its box.
    card = page.locator("figure.visual", has=page.locator(".markdown h3", has_text="Model card"))
    digest = card.locator("li", has_text="Digest").locator("code")
    expect(digest).to_have_count(1)
    inside = digest.evaluate(
        """(code) => {
          const box = code.closest(".scroll-box").getBoundingClientRect();
          return [...code.getClientRects()].every((r) => r.right <= box.right + 0.5);
        }"""
    )
    assert inside
    assert card.locator(".scroll-box").evaluate("(b) => b.scrollWidth <= b.clientWidth + 1")

    # Iteration titles name their trial by its id.
    titles = page.locator("svg.dag .group.kind-iteration > text.group-label").all_text_contents()
    assert len(titles) == 10, titles
    assert all(re.fullmatch(r"iteration-\d+ · [a-z_]+-\d+", t) for t in titles), titles
    assert page.evaluate(NAME_MISMATCHES_JS) == []
