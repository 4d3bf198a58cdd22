"""#12's defects 1, 2, 6, 7 and 9 in real Chromium, each with a test that fails if it comes
back: a Python object printed in pages, blank API docs, CLI runs second-class, words that
said the wrong thing (terminated, skipped, cached, alias, digest, AUC), and a recurring-run
form of raw JSON.

The lifecycle tests share one server (module scope) holding two real lifecycle runs: one of
``kubeline run`` (breast cancer) and one started from the UI's form (wine, whose ROC area and
``roc_auc`` differ). Every page load fails its test on a console error, a 5xx or a request
leaving the server, as in test_browser.py.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from kubeline import __version__
from tests.conftest import run_cli
from tests.server.conftest import LiveServer, start_server
from tests.server.web.conftest import VIEWPORT, Api, BrowserProblems, need_playwright

need_playwright()

from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.server.web.test_browser import (  # noqa: E402
    RUN_TIMEOUT,
    assert_contrast,
    compiled,
    demo,
    failing,
    field_error,
    talker,
    wait_finished,
)

MAX_PAGE = 300_000  # bytes: no page weighs more (#12)
LIFECYCLE_SECONDS = 300
REJECT = "condition-branches-2/condition-4/reject-model"  # the Else branch: skipped here


@dataclass
class Lifecycle:
    server: LiveServer
    api: Api
    pipeline_id: str
    version_id: str
    cli_run: str
    ui_run: str


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifecycle]:
    """A server over a home with a ``kubeline run`` of the lifecycle and a run of it started
    from the UI's form with the wine data."""
    from kubeline.pipelines.compile import compile_function
    from kubeline.pipelines.lifecycle import lifecycle_pipeline

    home = tmp_path_factory.mktemp("polish-home")
    path = tmp_path_factory.mktemp("polish-files") / "lifecycle.yaml"
    text = yaml.safe_dump(compile_function(lifecycle_pipeline))
    path.write_text(text, encoding="utf-8")
    done = run_cli("run", str(path), home=home)
    assert done.returncode == 0, done.stderr
    cli_run = re.search(r"runs show (kubeline-lifecycle-[\w-]+)", done.stdout)
    assert cli_run, done.stdout
    server = start_server(home)
    api = Api(server)
    try:
        pipeline_id, version_id = api.upload(text, "lifecycle")
        started = api.http.post(
            "/runs/new",
            data={
                "pipeline_id": pipeline_id,
                "version_id": version_id,
                "display_name": "wine from the UI",
                "param.dataset": "wine",
                "cache": "on",
            },
            follow_redirects=False,
        )
        assert started.status_code == 303, started.text
        ui_run = started.headers["location"].rsplit("/", 1)[1]
        assert api.wait(ui_run, timeout=LIFECYCLE_SECONDS) == "SUCCEEDED"
        yield Lifecycle(server, api, pipeline_id, version_id, cli_run.group(1), ui_run)
    finally:
        api.http.close()
        server.stop()


@pytest.fixture
def lc_problems(lifecycle: Lifecycle) -> BrowserProblems:
    return BrowserProblems(origin=lifecycle.server.url)


@pytest.fixture
def lc_page(browser: Browser, lifecycle: Lifecycle, lc_problems: BrowserProblems) -> Iterator[Page]:
    """A page on the lifecycle server, failing its test as conftest's ``page`` does."""
    context = browser.new_context(viewport=VIEWPORT, base_url=lifecycle.server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("console", lc_problems.on_console)
    tab.on("pageerror", lc_problems.on_page_error)
    tab.on("response", lc_problems.on_response)
    tab.on("request", lc_problems.on_request)
    yield tab
    context.close()
    assert not lc_problems.problems, "\n".join(lc_problems.problems)


# ------------------------------------------------------------- defect 1: no Python object


def assert_no_python_object(page: Page, where: str) -> None:
    footer = page.locator("footer.footer")
    expect(footer).to_have_text(re.compile(rf"^kubeline {re.escape(__version__)} · "))
    box = footer.bounding_box()
    assert box and box["height"] < 120, (where, box)  # it was 3,500 px of a record
    links = page.eval_on_selector_all(
        "link[rel=stylesheet], script[src]", "els => els.map(e => e.href || e.src)"
    )
    assert links and all(len(link) < 120 for link in links), (where, [x[:130] for x in links])
    assert all(f"?v={__version__}" in link for link in links if "/kubeline/static/" in link)
    text = page.locator("body").inner_text()
    assert "Record(" not in text and "kubeline None" not in text, where
    size = len(page.content().encode())
    assert size < MAX_PAGE, (where, size)


def test_no_page_prints_a_python_object(lc_page: Page, lifecycle: Lifecycle) -> None:
    for path in (
        f"/pipelines/{lifecycle.pipeline_id}",
        f"/runs/new?pipeline_id={lifecycle.pipeline_id}",
        f"/runs/{lifecycle.ui_run}",
        f"/runs/{lifecycle.cli_run}",
    ):
        lc_page.goto(path)
        lc_page.wait_for_load_state("load")
        assert_no_python_object(lc_page, path)


# -------------------------------------------------------------------- defect 2: API docs


def test_api_docs_list_the_kfp_operations_offline(page: Page) -> None:
    page.goto("/runs")
    page.locator("footer").get_by_role("link", name="interactive API docs").click()
    page.wait_for_url(re.compile(r"/kubeline/api/docs$"))
    operation = page.locator(
        ".opblock-summary-path", has_text=re.compile(r"^/apis/v2beta1/pipelines$")
    )
    expect(operation.first).to_be_visible(timeout=20_000)
    expect(
        page.locator(".opblock-summary-path", has_text="/apis/v2beta1/runs").first
    ).to_be_visible()
    # Opening an operation works (Swagger UI runs, under the page's CSP).
    # No link inside an operation's button (axe's nested-interactive): no deep links.
    expect(page.locator(".opblock-summary-control a[href]")).to_have_count(0)
    assert_contrast(page, "/kubeline/api/docs")  # Swagger UI's badges, recoloured
    operation.first.click()
    expect(page.locator(".opblock.is-open").first).to_be_visible()
    assert_no_python_object(page, "/kubeline/api/docs")


# ------------------------------------------------------- defect 6: CLI runs are first-class


def test_cli_runs_have_an_experiment_and_a_pipeline_filter(
    lc_page: Page, lifecycle: Lifecycle
) -> None:
    page = lc_page
    page.goto("/runs")
    cli_row = page.locator(f'#runs-table tr[data-run-id="{lifecycle.cli_run}"]')
    ui_row = page.locator(f'#runs-table tr[data-run-id="{lifecycle.ui_run}"]')
    expect(cli_row.locator("td").nth(4)).to_have_text("Default")
    expect(ui_row.locator("td").nth(4)).to_have_text("Default")

    pipeline_filter = page.get_by_label("Pipeline", exact=True)
    options = pipeline_filter.locator("option").all_inner_texts()
    assert options == ["any", "kubeline-lifecycle"], options
    pipeline_filter.select_option("kubeline-lifecycle")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"pipeline=kubeline-lifecycle"))
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)  # the CLI run too

    # Column, filter and link say the same name; the link leads to the uploaded pipeline,
    # whose page says its runs carry that name.
    cell = ui_row.locator("td").nth(3)
    expect(cell).to_have_text("kubeline-lifecycle")
    expect(cli_row.locator("td").nth(3)).to_have_text("kubeline-lifecycle")
    expect(page.get_by_label("Pipeline", exact=True).locator("option:checked")).to_have_text(
        "kubeline-lifecycle"
    )
    cell.get_by_role("link", name="kubeline-lifecycle").click()
    page.wait_for_url(re.compile(rf"/pipelines/{lifecycle.pipeline_id}$"))
    expect(page.locator("#file-name")).to_contain_text("kubeline-lifecycle")
    page.get_by_role("link", name=re.compile(r"^Runs \(1\)$")).click()
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#pipeline-id-filter")).to_contain_text("lifecycle")
    # kfp.Client's list_pipelines sees no invented pipeline for the CLI run.
    assert [p["display_name"] for p in lifecycle.api.pipelines()] == ["lifecycle"]


# -------------------------------------------------------------- defect 7: words that are true


def test_a_terminated_run_reads_terminated_with_who_and_when(page: Page, api: Api) -> None:
    pipeline_id, version_id = api.upload(compiled(talker), "browser-talk")
    run_id = api.start(pipeline_id, version_id, "to stop", {"pause": 600.0})
    page.goto(f"/runs/{run_id}")
    node = page.locator('svg.dag .node[data-path="talk"]')
    expect(node).to_have_class(re.compile(r"\bstate-running\b"), timeout=RUN_TIMEOUT)
    page.get_by_role("button", name="Terminate").click()
    wait_finished(page, state="terminated")
    expect(page.locator("#run-error")).to_have_text(
        re.compile(
            r"^Terminated on request \(terminate_run\) by the web UI from 127\.0\.0\.1 at "
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: running tasks were stopped\.$"
        )
    )
    expect(node).to_have_class(re.compile(r"\bstate-canceled\b"))
    assert_contrast(page, "a terminated run's page")
    run = api.run(run_id)  # what kfp.Client needs is unchanged
    assert run["state"] == "FAILED" and run["error"]["message"].startswith("Terminated on request")
    page.goto("/runs")
    expect(page.locator(f'tr[data-run-id="{run_id}"] .badge')).to_have_text("terminated")


def test_a_skipped_branch_reads_skipped_in_a_finished_run(
    lc_page: Page, lifecycle: Lifecycle
) -> None:
    page = lc_page
    page.goto(f"/runs/{lifecycle.ui_run}")
    node = page.locator(f'svg.dag .node[data-path="{REJECT}"]')
    expect(node).to_have_class(re.compile(r"\bstate-skipped\b"))
    expect(node.locator(".node-meta")).to_have_text("skipped")
    expect(page.locator("svg.dag")).not_to_contain_text("not started")
    node.click()
    panel = page.locator("#task-panel")
    expect(panel.locator(".badge")).to_have_text("skipped")
    expect(panel).to_contain_text("Skipped with its group")
    expect(panel).not_to_contain_text("has not started")


def test_a_failed_task_says_it_stored_nothing(page: Page, api: Api) -> None:
    pipeline_id, version_id = api.upload(compiled(failing), "browser-fail")
    run_id = api.start(pipeline_id, version_id, "fails")
    assert api.wait(run_id) == "FAILED"
    page.goto(f"/runs/{run_id}?task=fail")
    expect(page.locator("#panel-cache")).to_have_text("nothing stored: the task failed")
    page.goto(f"/runs/{run_id}")
    page.locator('svg.dag .node[data-path="fail"]').click()
    expect(page.locator("#panel-cache")).to_have_text("nothing stored: the task failed")


def test_the_roc_area_and_the_roc_auc_metric_are_explained(
    lc_page: Page, lifecycle: Lifecycle
) -> None:
    page = lc_page
    page.goto(f"/runs/{lifecycle.ui_run}")
    visuals = page.locator("#visuals")
    metric = visuals.locator(
        "table.metrics tr", has=page.locator("th", has_text=re.compile(r"^roc_auc$"))
    )
    area = visuals.locator("table.roc-summary tr", has_text="Area under this curve").locator("td")
    expect(metric.first).to_be_visible()
    expect(area).to_be_visible()
    metric_text = metric.first.locator("td").inner_text()
    area_text = area.inner_text()
    # Both are written by the same number formatter: 4 significant digits, whole as whole.
    for text in (metric_text, area_text):
        assert re.fullmatch(r"1|0\.\d{1,4}", text), text
    note = visuals.locator(".roc-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("can differ from a roc_auc metric")
    assert metric_text != area_text  # wine: the macro metric is 1, the pooled curve's area not


def test_the_model_card_and_page_show_one_digest(lc_page: Page, lifecycle: Lifecycle) -> None:
    page = lc_page
    for model in ("breast-cancer-classifier", "wine-classifier"):
        page.goto(f"/models/{model}")
        shown = page.locator("dt", has_text="Content digest").locator("xpath=..").locator("dd")
        digest = shown.inner_text()
        card = page.locator(".markdown").first.inner_text()
        in_card = re.search(r"\(content ([0-9a-f]+)\)", card)
        assert in_card, card[:200]
        assert in_card.group(1) == digest and len(digest) == 16, (in_card.group(1), digest)
        full = lifecycle.api.http.get(f"/kubeline/api/models/{model}").json()["versions"][0]
        assert full["digest"].startswith(digest)


def test_a_bad_alias_is_refused_on_the_model_page(
    lc_page: Page, lifecycle: Lifecycle, lc_problems: BrowserProblems
) -> None:
    lc_problems.allow(400, "/kubeline/api/models/")
    page = lc_page
    page.goto("/models/breast-cancer-classifier")
    page.get_by_label("Alias").fill("bad alias!")
    page.get_by_role("button", name=re.compile("Point it at version 1")).click()
    error = page.locator("#alias-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("cannot be an alias")
    aliases = lifecycle.api.http.get("/kubeline/api/models/breast-cancer-classifier").json()
    assert all("bad alias!" not in v["aliases"] for v in aliases["versions"])


# ------------------------------------------------------ defect 9: the recurring-run form


ALIGNMENT_JS = r"""
(form) => {
  // Each field's label sits right above its control, and the fields of one group line up.
  const rows = [...form.querySelectorAll(".row")].filter((r) => r.querySelector("label"));
  const out = [];
  for (const row of rows) {
    const label = row.querySelector("label");
    const control = document.getElementById(label.htmlFor);
    if (!control || control.type === "checkbox") continue;
    const a = label.getBoundingClientRect(), b = control.getBoundingClientRect();
    out.push({ name: label.htmlFor, group: row.parentElement.tagName + (row.parentElement.id || ""),
               labelLeft: Math.round(a.left), controlLeft: Math.round(b.left),
               below: b.top >= a.bottom - 1 });
  }
  return out;
}
"""


def test_the_recurring_form_is_typed_and_aligned(
    page: Page, api: Api, browser_problems: BrowserProblems
) -> None:
    browser_problems.allow(400, "/recurring/new")  # the refused form, on purpose
    api.upload(compiled(demo), "browser-demo")
    page.goto("/recurring")
    page.get_by_role("link", name="New recurring run").click()
    page.wait_for_url(re.compile(r"/recurring/new"))
    times, weights = page.get_by_label("times"), page.get_by_label("weights")
    expect(times).to_have_attribute("type", "number")
    expect(weights).to_have_value("[1.0, 2.0]")
    assert weights.evaluate("e => e.tagName") == "TEXTAREA"
    expect(page.get_by_text("Parameters (JSON object)")).to_have_count(0)

    fields = page.evaluate(ALIGNMENT_JS, page.locator("#recurring-form").element_handle())
    assert len(fields) >= 7, fields
    for field in fields:
        assert field["below"] and field["labelLeft"] == field["controlLeft"], field
    for group in {f["group"] for f in fields}:
        lefts = {f["controlLeft"] for f in fields if f["group"] == group}
        assert len(lefts) == 1, (group, fields)
    assert_contrast(page, "the new recurring run form")

    # Bad JSON is stopped in the page, a bad integer by the server, beside its field.
    page.get_by_label("Name", exact=True).fill("nightly greeting")
    weights.fill("[3, 4")
    page.get_by_role("button", name="Create").click()
    expect(field_error(page, "weights")).to_contain_text("Not valid JSON")
    weights.fill("[3, 4]")
    times.fill("1.5")
    page.get_by_role("button", name="Create").click()
    expect(field_error(page, "times")).to_contain_text("expects an integer")
    expect(page.get_by_label("times")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("weights")).to_have_value("[3, 4]")

    page.get_by_label("times").fill("3")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/recurring$"))
    expect(page.locator("table.list tbody tr", has_text="nightly greeting")).to_have_count(1)
    [made] = api.http.get("/apis/v2beta1/recurringruns").json()["recurringRuns"]
    assert made["runtime_config"]["parameters"] == {"who": "world", "times": 3, "weights": [3, 4]}
