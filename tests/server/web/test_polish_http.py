"""#12's defects 1, 2, 6, 7 and 9 over real HTTP, where a browser is not needed to see them:
a real server on loopback, real pipelines compiled with the KFP SDK, real runs.

No ``from __future__ import annotations``: KFP reads the real annotations of the components
defined here. The same defects are checked in Chromium by test_polish.py.
"""

import html
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from kfp import dsl

from kubeline import __version__
from kubeline.server.manager import TERMINATED, is_terminated, terminated_message
from kubeline.server.web.api_docs import swagger_ui_dir
from kubeline.server.web.templating import render
from tests.conftest import run_cli
from tests.server.conftest import LiveServer
from tests.server.web import pipelines as p
from tests.server.web.test_pages import start, upload, wait_done

IMAGE = "python:3.11"
MAX_PAGE = 300_000  # bytes: #12 says no page weighs more


@dsl.component(base_image=IMAGE)
def says(word: str) -> str:
    return word


@dsl.component(base_image=IMAGE)
def breaks(reason: str):
    raise RuntimeError(reason)


@dsl.pipeline(name="polish-branches")
def branches(flag: bool = False):
    """The If branch is skipped (flag is false), the Else branch runs."""
    with dsl.If(flag == True, name="flag-set"):  # noqa: E712 - KFP builds a condition
        says(word="yes")
    with dsl.Else(name="flag-unset"):
        says(word="no")


@dsl.pipeline(name="polish-breaks")
def broken(reason: str = "kubeline-polish fails on purpose"):
    breaks(reason=reason)


def _footer(page: str) -> str:
    match = re.search(r'<footer class="footer">(.*?)</footer>', page, re.S)
    assert match, "no footer"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def assert_tidy_page(page: str, where: str) -> None:
    """Defect 1: the footer names kubeline's version, asset links are short, no Python
    object is printed and the page is light."""
    assert _footer(page).startswith(f"kubeline {__version__} · "), where
    links = re.findall(r'(?:href|src)="(/kubeline/static/[^"]*)"', page)
    assert links and all(len(link) < 80 for link in links), (where, [x[:90] for x in links])
    assert f"?v={__version__}" in page, where
    assert "Record(" not in page and "kubeline None" not in page, where
    assert len(page.encode()) < MAX_PAGE, (where, len(page.encode()))


# --------------------------------------------------------------------- defect 1: version


def test_pages_with_a_version_of_their_own_name_kubelines_in_the_footer(
    live_server: LiveServer, http: httpx.Client, kubeline_home: Path
) -> None:
    import kubeline

    ids = upload(http, p.typed, "typed")
    ui_run = start(http, ids, display_name="from the form").headers["location"]
    wait_done(http, ui_run.rsplit("/", 1)[1])
    cli_run = kubeline.run(p.typed).run_id
    for path in (
        f"/pipelines/{ids['pipeline_id']}",
        f"/pipelines/{ids['pipeline_id']}?version={ids['version_id']}",
        f"/runs/new?pipeline_id={ids['pipeline_id']}",
        f"/runs/new?clone={ui_run.rsplit('/', 1)[1]}",
        ui_run,
        f"/runs/{cli_run}",
        "/runs",
        "/recurring/new",
        "/kubeline/api/docs",
    ):
        response = http.get(path)
        assert response.status_code == 200, path
        assert_tidy_page(response.text, path)


def test_render_refuses_a_context_that_would_shadow_a_global() -> None:
    with pytest.raises(ValueError, match="kubeline_version"):
        render(None, "error.html", {"kubeline_version": "a pipeline version"})  # type: ignore[arg-type]


# ------------------------------------------------------------------- defect 2: API docs


def test_api_docs_are_served_from_this_server_without_inline_script(
    http: httpx.Client,
) -> None:
    page = http.get("/kubeline/api/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # Every script has a src (the CSP runs no inline code), every address is this server's.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []
    for url in re.findall(r'(?:src|href)="([^"#]+)"', page.text):
        assert url.startswith("/") and not url.startswith("//"), url
    for asset, kind in (
        ("/kubeline/static/swagger-ui/swagger-ui-bundle.js", "javascript"),
        ("/kubeline/static/swagger-ui/swagger-ui.css", "text/css"),
        ("/kubeline/static/api-docs.js", "javascript"),
        ("/kubeline/static/api-docs.css", "text/css"),
    ):
        response = http.get(asset)
        assert response.status_code == 200, asset
        assert kind in response.headers["content-type"], asset
        assert len(response.content) > 100, asset
    # Only the two files the page needs, not the package's folder.
    assert http.get("/kubeline/static/swagger-ui/redoc.standalone.js").status_code == 404
    assert http.get("/kubeline/static/swagger-ui/..%2Fcore.py").status_code == 404
    assert "/apis/v2beta1/pipelines" in http.get("/kubeline/api/openapi.json").json()["paths"]


def test_the_packaged_swagger_ui_is_a_recent_one() -> None:
    bundle = (swagger_ui_dir() / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    found = re.search(r'PACKAGE_VERSION:"(\d+)\.(\d+)\.(\d+)"', bundle)
    assert found, "no version in the Swagger UI bundle"
    assert (int(found[1]), int(found[2])) >= (5, 20), found.group(0)


# ----------------------------------------------------------- defect 6: CLI runs are equal


def test_runs_filter_reaches_pipelines_that_only_ran_from_the_cli(
    http: httpx.Client, kubeline_home: Path
) -> None:
    import kubeline

    kubeline.run(p.required, {"rows": 3})  # a pipeline never uploaded
    ids = upload(http, p.typed, "typed-upload")  # uploaded under another name
    run_id = start(http, ids).headers["location"].rsplit("/", 1)[1]
    wait_done(http, run_id)

    page = http.get("/runs").text
    select = re.search(r'<select id="f-pipeline".*?</select>', page, re.S)
    assert select
    assert re.findall(r'<option value="([^"]*)"', select.group(0)) == [
        "",
        "ui-required",
        "ui-typed",
    ]
    assert (
        http.get("/runs", params={"pipeline": "ui-required"}).text.count('class="select-run"') == 1
    )
    # Every run is in an experiment: the CLI run is in Default, as in KFP.
    assert "No run matches" not in http.get("/runs", params={"pipeline": "ui-required"}).text
    assert [r["experiment_id"] for r in http.get("/apis/v2beta1/runs").json()["runs"]].count(
        None
    ) == 0
    # kfp.Client's list_pipelines sees only the uploaded pipeline: none is invented.
    names = [x["display_name"] for x in http.get("/apis/v2beta1/pipelines").json()["pipelines"]]
    assert names == ["typed-upload"]

    # Column, filter and link name the UI run's pipeline alike.
    chosen = http.get("/runs", params={"pipeline": "ui-typed"}).text
    row = re.search(rf'<tr data-run-id="{run_id}".*?</tr>', chosen, re.S)
    assert row and f'<a href="/pipelines/{ids["pipeline_id"]}">ui-typed</a>' in row.group(0)
    assert '<option value="ui-typed" selected>ui-typed</option>' in chosen
    # The pipeline page says which name its runs carry, and its Runs link lists them.
    pipeline_page = http.get(f"/pipelines/{ids['pipeline_id']}").text
    assert 'href="/runs?pipeline=ui-typed">ui-typed</a>, the name inside the pipeline file' in (
        pipeline_page
    )
    own = http.get("/runs", params={"pipeline_id": ids["pipeline_id"]}).text
    assert own.count('class="select-run"') == 1 and "typed-upload</a>" in own
    # An older link with the pipeline's id in ``pipeline`` still lists its runs.
    old = http.get("/runs", params={"pipeline": ids["pipeline_id"]}).text
    assert old.count('class="select-run"') == 1


# ---------------------------------------------------------- defect 7: words that are true


def test_terminated_message_says_who_and_when() -> None:
    from datetime import datetime, timezone

    text = terminated_message(
        "the web UI from 127.0.0.1", datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    )
    assert text.startswith(TERMINATED)
    assert "by the web UI from 127.0.0.1 at 2030-01-02 03:04:05 UTC" in text
    assert is_terminated("FAILED", text)
    assert not is_terminated("FAILED", "Task 'x' failed")
    assert not is_terminated("SUCCEEDED", text)


def test_a_failed_task_stores_nothing_and_a_skipped_branch_reads_skipped(
    http: httpx.Client,
) -> None:
    ids = upload(http, broken, "broken")
    run_id = start(http, ids).headers["location"].rsplit("/", 1)[1]
    assert wait_done(http, run_id)["state"] == "FAILED"
    panel = http.get(f"/runs/{run_id}/task", params={"path": "breaks"}).text
    assert re.search(r'id="panel-cache">nothing stored: the task failed<', panel), panel
    assert "stored for next time" not in panel

    ids = upload(http, branches, "branches")
    run_id = start(http, ids).headers["location"].rsplit("/", 1)[1]
    assert wait_done(http, run_id)["state"] == "SUCCEEDED"
    skipped = http.get(
        f"/runs/{run_id}/task", params={"path": "condition-branches-1/condition-2/says"}
    ).text
    assert "state-skipped" in skipped and "condition was false" in skipped
    assert "has not started" not in skipped
    ran = http.get(
        f"/runs/{run_id}/task", params={"path": "condition-branches-1/condition-3/says-2"}
    ).text
    assert re.search(r'id="panel-cache">stored for next time<', ran), ran
    page = http.get(f"/runs/{run_id}").text
    node = re.search(r'<g[^>]*data-path="condition-branches-1/condition-2/says".*?</g>', page, re.S)
    assert node and "state-skipped" in node.group(0) and "not started" not in node.group(0)


def test_the_cli_refuses_a_bad_alias_with_exit_2(kubeline_home: Path) -> None:
    done = run_cli("models", "promote", "iris:1", "bad alias!", home=kubeline_home)
    assert done.returncode == 2
    assert "cannot be an alias" in done.stderr + done.stdout
    assert "'-', '_'" in done.stderr + done.stdout


def test_the_api_refuses_a_bad_alias_of_a_real_model(
    http: httpx.Client, kubeline_home: Path, tmp_path: Path
) -> None:
    import joblib
    from sklearn.dummy import DummyClassifier

    model = tmp_path / "model.joblib"
    joblib.dump(DummyClassifier().fit([[0], [1]], [0, 1]), model)
    done = run_cli("models", "register", str(model), "--name", "dummy", home=kubeline_home)
    assert done.returncode == 0, done.stderr
    for alias in ("bad alias!", "a/b", "-x", "123", "x" * 129):
        response = http.put(f"/kubeline/api/models/dummy/aliases/{alias}", json={"version": 1})
        assert response.status_code in (400, 404), alias  # "a/b" is another path: 404
        if response.status_code == 400:
            assert "cannot be an alias" in response.json()["message"], alias
    good = http.put("/kubeline/api/models/dummy/aliases/prod.v2_a-1", json={"version": 1})
    assert good.status_code == 200, good.text
    aliases = http.get("/kubeline/api/models/dummy").json()["versions"][0]["aliases"]
    assert aliases == ["prod.v2_a-1"]


# -------------------------------------------------------- defect 9: recurring runs, typed


def _form(ids: dict[str, Any], **fields: str) -> dict[str, str]:
    form = {
        "pipeline_id": ids["pipeline_id"],
        "version_id": ids["version_id"],
        "display_name": "nightly",
        "kind": "interval",
        "schedule": "3600",
        "max_concurrency": "1",
    }
    form.update(fields)
    return form


def test_recurring_form_has_the_run_forms_typed_fields(http: httpx.Client) -> None:
    ids = upload(http, p.typed, "typed")
    page = http.get("/recurring/new", params={"pipeline_id": ids["pipeline_id"]}).text
    assert re.search(r'name="param.rows" type="number"\s+step="1" value="10"', page)
    assert re.search(r'name="param.factor" type="number"\s+step="any" value="0.5"', page)
    assert re.search(r'<textarea id="param-\d" name="param.labels"[^>]*data-json="list"', page)
    assert re.search(r'<select id="param-\d" name="param.verbose"', page)
    assert "Parameters (JSON object)" not in page
    assert http.get("/recurring").text.count('href="/recurring/new"') == 1


def test_recurring_form_shows_errors_beside_fields_and_creates_typed_arguments(
    http: httpx.Client,
) -> None:
    ids = upload(http, p.typed, "typed")
    refused = http.post(
        "/recurring/new",
        data=_form(ids, **{"param.rows": "1.5", "schedule": "soon", "display_name": " "}),
    )
    assert refused.status_code == 400
    assert "The recurring run was not created" in refused.text
    rows = re.search(r'id="(param-\d)" name="param.rows"', refused.text)
    assert rows
    for field, words in (
        (rows.group(1), "expects an integer"),
        ("rr-every", "whole number of seconds"),
        ("rr-name", "Give the recurring run a name"),
    ):
        error = re.search(rf'<p class="field-error" id="{field}-error"[^>]*>([^<]*)<', refused.text)
        assert error and words in error.group(1), (field, error and error.group(1))
    assert 'value="1.5"' in refused.text  # what was typed is kept
    assert http.get("/apis/v2beta1/recurringruns").json().get("recurringRuns") in (None, [])

    bad_cron = http.post("/recurring/new", data=_form(ids, kind="cron", schedule="at two"))
    assert bad_cron.status_code == 400 and "six fields" in bad_cron.text

    created = http.post(
        "/recurring/new",
        data=_form(
            ids,
            **{
                "param.rows": "7",
                "param.labels": '["x"]',
                "param.options": '{"k": 2}',
                "param.verbose": "true",
                "kind": "cron",
                "schedule": "0 0 2 * * *",
            },
        ),
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/recurring"
    [recurring] = http.get("/apis/v2beta1/recurringruns").json()["recurringRuns"]
    assert recurring["display_name"] == "nightly"
    assert recurring["trigger"]["cron_schedule"]["cron"] == "0 0 2 * * *"
    parameters = recurring["runtime_config"]["parameters"]
    assert parameters["rows"] == 7 and parameters["labels"] == ["x"]
    assert parameters["options"] == {"k": 2} and parameters["verbose"] is True
