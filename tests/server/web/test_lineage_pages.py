"""The Artifacts and Executions pages, an artifact's and an execution's page with their
lineage, and the pages of an experiment and of a recurring run, over real HTTP: a real
server on loopback running a real pipeline (make-data -> train -> evaluate), or records put
straight into its SQLite store where a test needs shapes no small pipeline makes.

The browser side (clicking through the lineage, keyboard, contrast) is in
test_lineage_browser.py.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import markupsafe
import pytest
import sqlalchemy as sa
import yaml

from kubeline.pipelines.compile import compile_function
from kubeline.store import ArtifactRecord, RunRecord, TaskRecord, database_url, open_store
from kubeline.store.schema import artifact_consumers, tasks
from tests.server.conftest import LiveServer, start_server
from tests.server.web import lineage_pipelines

PAGE_LIMIT = 300_000  # bytes: no page of the UI weighs more (issue #12)
# What a page shows when a template prints a Python object instead of its value.
PYTHON_REPR = re.compile(r"Record\(|object at 0x|&lt;kubeline\.|datetime\.datetime\(")


def fetch(http: httpx.Client, path: str, status: int = 200) -> str:
    """A page's HTML, checked: its status, its weight, no Python object printed."""
    response = http.get(path)
    assert response.status_code == status, (path, response.text[-2000:])
    assert "text/html" in response.headers["content-type"], path
    assert len(response.content) < PAGE_LIMIT, (path, len(response.content))
    assert not PYTHON_REPR.search(response.text), path
    return response.text


def rows_of(page: str, table_id: str) -> list[str]:
    """The body rows of the table ``table_id``, as HTML."""
    match = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert match, f"no table {table_id}"
    return re.findall(r"<tr.*?</tr>", match.group(1), re.S)


def upload_chain(http: httpx.Client) -> dict[str, str]:
    text = yaml.safe_dump(compile_function(lineage_pipelines.chain))
    response = http.post(
        "/apis/v2beta1/pipelines/upload",
        params={"name": "lineage-chain"},
        files={"uploadfile": ("chain.yaml", text.encode(), "application/yaml")},
    )
    assert response.status_code == 200, response.text
    pipeline_id = response.json()["pipeline_id"]
    versions = http.get(f"/apis/v2beta1/pipelines/{pipeline_id}/versions").json()
    return {
        "pipeline_id": pipeline_id,
        "pipeline_version_id": versions["pipeline_versions"][0]["pipeline_version_id"],
    }


def wait_until(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not after {timeout} s")


@dataclass
class Chain:
    """A server with one finished run of the chain, in the experiment 'lineage checks'."""

    server: LiveServer
    http: httpx.Client
    run_id: str
    experiment_id: str
    artifacts: dict[str, ArtifactRecord]  # by name: table, model, metrics
    tasks: dict[str, TaskRecord]  # by name: make-data, train, evaluate


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    server = start_server(tmp_path_factory.mktemp("lineage-home"))
    http = server.http()
    try:
        ids = upload_chain(http)
        experiment = http.post(
            "/apis/v2beta1/experiments",
            json={"display_name": "lineage checks", "description": "Walks of the lineage."},
        ).json()
        run = http.post(
            "/apis/v2beta1/runs",
            json={
                "display_name": "chain one",
                "experiment_id": experiment["experiment_id"],
                "pipeline_version_reference": ids,
                "runtime_config": {"parameters": {"rows": 8}},
            },
        ).json()
        state = wait_until(
            "the chain run ends",
            lambda: (
                http.get(f"/apis/v2beta1/runs/{run['run_id']}").json()["state"]
                in ("SUCCEEDED", "FAILED")
            ),
        )
        assert state
        assert http.get(f"/apis/v2beta1/runs/{run['run_id']}").json()["state"] == "SUCCEEDED"
        store = open_store(database_url(server.home))
        try:
            found = store.artifacts.list(run_id=run["run_id"])
            made = {a.name or a.output_name: a for a in found}
            ran = {t.name: t for t in store.tasks.list(run["run_id"])}
        finally:
            store.close()
        yield Chain(server, http, run["run_id"], experiment["experiment_id"], made, ran)
    finally:
        http.close()
        server.stop()


def test_navigation_leads_to_artifacts_and_executions(chain: Chain) -> None:
    runs = fetch(chain.http, "/runs")
    assert re.search(r'<li><a href="/artifacts"\s*>Artifacts</a></li>', runs)
    assert re.search(r'<li><a href="/executions"\s*>Executions</a></li>', runs)
    for path in ("/artifacts", "/executions"):
        page = fetch(chain.http, path)
        assert re.search(rf'<a href="{path}"\s+aria-current="page">', page), path


def test_artifacts_lists_every_artifact_with_its_run_and_producer(chain: Chain) -> None:
    page = fetch(chain.http, "/artifacts")
    rows = rows_of(page, "artifacts-table")
    names = [re.search(r'<a href="/artifacts/[^"]+">([^<]+)</a>', r).group(1) for r in rows]
    assert names == ["metrics", "model", "table"]  # newest first
    model_row = rows[1]
    model = chain.artifacts["model"]
    train = chain.tasks["train"]
    assert f'href="/artifacts/{model.artifact_id}"' in model_row
    assert ">Model</td>" in model_row and 'title="system.Model"' in model_row
    assert f'href="/runs/{chain.run_id}">chain one</a>' in model_row
    assert f'href="/runs/{chain.run_id}?task={train.path}#task-panel">train</a>' in model_row
    assert '<td class="num">3 B</td>' in model_row  # "0.5"
    assert "3 in all" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"type": "system.Model"}, ["model"]),
        ({"type": "system.Dataset"}, ["table"]),
        ({"q": "TAB"}, ["table"]),  # any case
        ({"run": "chain ONE"}, ["metrics", "model", "table"]),
        ({"q": "m", "type": "system.Metrics"}, ["metrics"]),
    ],
)
def test_artifacts_filter_by_type_name_and_run(
    chain: Chain, query: dict[str, str], expected: list[str]
) -> None:
    path = "/artifacts?" + "&".join(f"{k}={v}" for k, v in query.items())
    page = fetch(chain.http, path)
    rows = rows_of(page, "artifacts-table")
    names = [re.search(r'<a href="/artifacts/[^"]+">([^<]+)</a>', r).group(1) for r in rows]
    assert names == expected
    if "type" in query:
        assert f'<option value="{query["type"]}" selected>' in page


def test_artifacts_filter_that_matches_nothing_says_so(chain: Chain) -> None:
    page = fetch(chain.http, "/artifacts?run=nobody")
    assert "No artifact matches these filters" in page
    assert "artifacts-table" not in page
    options = re.findall(r'<option value="(system\.\w+)"', page)
    assert options == ["system.Dataset", "system.Metrics", "system.Model"]


def test_artifact_page_shows_what_it_is_and_where_it_came_from(chain: Chain) -> None:
    model, table, metrics = (chain.artifacts[n] for n in ("model", "table", "metrics"))
    train, evaluate = chain.tasks["train"], chain.tasks["evaluate"]
    page = fetch(chain.http, f"/artifacts/{model.artifact_id}")
    assert "<h1>model" in page and "Model artifact" in page
    assert html.escape(model.uri) in page
    assert model.digest and model.digest in page
    assert "share-of-ones" in page  # its metadata
    assert "Model: model" in page  # the preview, by previews.py
    assert f'href="/kubeline/api/artifacts/{model.artifact_id}/content?download=true"' in page
    producer = re.search(r'id="artifact-producer">(.*?)</dd>', page, re.S).group(1)
    assert f'href="/executions/{train.task_id}">train</a>' in producer
    svg = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" class="lineage"') :]
    svg = svg[: svg.index("</svg>")]
    for href, name in [
        (f"/artifacts/{table.artifact_id}", "table, Dataset artifact"),
        (f"/executions/{train.task_id}", "train, task, succeeded"),
        (f"/executions/{evaluate.task_id}", "evaluate, task, succeeded"),
        (f"/artifacts/{metrics.artifact_id}", "metrics, Metrics artifact"),
    ]:
        assert f'href="{href}" aria-label="{name}"' in svg, name
    assert 'aria-label="model, Model artifact" aria-current="page"' in svg
    (reader,) = rows_of(page, "consumers-table")
    assert f'href="/executions/{evaluate.task_id}">evaluate</a>' in reader
    assert ">model</td>" in reader  # the input it read it as
    assert f'href="/runs/{chain.run_id}?task=evaluate#task-panel"' in reader


def test_a_dataset_read_twice_shows_both_readers(chain: Chain) -> None:
    table = chain.artifacts["table"]
    page = fetch(chain.http, f"/artifacts/{table.artifact_id}")
    assert "Read by 2 tasks" in page
    assert len(rows_of(page, "consumers-table")) == 2
    assert "Dataset" in page and "8 rows" in page  # the preview reads the CSV


def test_execution_page_shows_inputs_outputs_and_lineage(chain: Chain) -> None:
    evaluate, train, make = (chain.tasks[n] for n in ("evaluate", "train", "make-data"))
    model, table, metrics = (chain.artifacts[n] for n in ("model", "table", "metrics"))
    page = fetch(chain.http, f"/executions/{evaluate.task_id}")
    assert "<h1>evaluate" in page and "succeeded" in page
    assert f'href="/runs/{chain.run_id}?task=evaluate#task-panel">Open in its run</a>' in page
    inputs = rows_of(page, "input-artifacts")
    assert [re.search(r"<td class=\"mono\">(\w+)</td>", r).group(1) for r in inputs] == [
        "model",
        "table",
    ]
    assert f'href="/executions/{train.task_id}">train</a>' in inputs[0]
    assert f'href="/executions/{make.task_id}">make-data</a>' in inputs[1]
    (output,) = rows_of(page, "output-artifacts")
    assert f'href="/artifacts/{metrics.artifact_id}">metrics</a>' in output
    svg = page[page.index('class="lineage"') : page.index("</svg>")]
    assert 'aria-label="evaluate, task, succeeded" aria-current="page"' in svg
    for href in (
        f"/artifacts/{model.artifact_id}",
        f"/artifacts/{table.artifact_id}",
        f"/executions/{train.task_id}",
        f"/executions/{make.task_id}",
        f"/artifacts/{metrics.artifact_id}",
    ):
        assert f'href="{href}"' in svg, href


def test_executions_lists_every_task_with_state_run_and_artifacts(chain: Chain) -> None:
    page = fetch(chain.http, "/executions")
    rows = rows_of(page, "executions-table")
    assert len(rows) == 3
    (row,) = [r for r in rows if f'data-task-id="{chain.tasks["evaluate"].task_id}"' in r]
    assert f'href="/runs/{chain.run_id}?task=evaluate#task-panel">evaluate</a>' in row
    assert 'class="badge state-succeeded">succeeded</span>' in row
    assert f'href="/runs/{chain.run_id}">chain one</a>' in row
    for name in ("model", "table", "metrics"):
        assert f'href="/artifacts/{chain.artifacts[name].artifact_id}"' in row, name
    assert f'href="/executions/{chain.tasks["evaluate"].task_id}">Lineage' in row
    assert re.search(r"<td>\d+\.\d s</td>", row)  # its duration


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("state=SUCCEEDED", 3),
        ("state=FAILED", 0),
        ("state=CACHED", 0),
        ("q=EVAL", 1),
        ("q=a", 3),  # make-data, train, evaluate
        ("run=chain%20one", 3),
        ("run=other", 0),
        ("state=bogus", 3),  # an unknown state is no filter, not an error
    ],
)
def test_executions_filter_by_state_task_and_run(chain: Chain, query: str, count: int) -> None:
    page = fetch(chain.http, f"/executions?{query}")
    if count:
        assert len(rows_of(page, "executions-table")) == count
    else:
        assert "No execution matches these filters" in page


def test_unknown_artifacts_and_executions_are_404_pages(chain: Chain) -> None:
    assert "Artifact not found" in fetch(chain.http, "/artifacts/nope", 404)
    assert "Execution not found" in fetch(chain.http, "/executions/nope", 404)
    assert "Experiment not found" in fetch(chain.http, "/experiments/nope", 404)
    assert "Recurring run not found" in fetch(chain.http, "/recurring/nope", 404)


def test_experiment_page_shows_its_settings_and_runs(chain: Chain) -> None:
    listing = fetch(chain.http, "/experiments")
    assert f'<a href="/experiments/{chain.experiment_id}">lineage checks</a>' in listing
    page = fetch(chain.http, f"/experiments/{chain.experiment_id}")
    assert "<h1>lineage checks" in page and "Walks of the lineage." in page
    assert chain.experiment_id in page
    rows = rows_of(page, "runs-table")
    assert len(rows) == 1 and f'href="/runs/{chain.run_id}">chain one</a>' in rows[0]
    assert 'id="bulk"' in page  # the runs list's actions work here too
    # The same table as the runs list: its sort links stay on this page.
    assert 'href="?sort=name&order=desc&size=20"' in page
    assert (
        len(
            rows_of(
                fetch(chain.http, f"/experiments/{chain.experiment_id}?sort=name"), "runs-table"
            )
        )
        == 1
    )
    archived = fetch(chain.http, f"/experiments/{chain.experiment_id}?archived=true")
    assert "No archived runs in this experiment." in archived
    # The runs list links a run's experiment to this page.
    assert f'href="/experiments/{chain.experiment_id}">lineage checks</a>' in fetch(
        chain.http, "/runs"
    )


def test_recurring_run_page_shows_its_schedule_and_runs(live_server: LiveServer) -> None:
    with live_server.http() as http:
        ids = upload_chain(http)
        experiment = http.post("/apis/v2beta1/experiments", json={"display_name": "nightly"}).json()
        recurring = http.post(
            "/apis/v2beta1/recurringruns",
            json={
                "display_name": "every second",
                "description": "Keeps the chain fresh.",
                "experiment_id": experiment["experiment_id"],
                "pipeline_version_reference": ids,
                "runtime_config": {"parameters": {"rows": 3}},
                "trigger": {"periodic_schedule": {"interval_second": 1}},
                "mode": "ENABLE",
            },
        ).json()
        recurring_id = recurring["recurring_run_id"]

        def started() -> list[dict[str, Any]]:
            runs = http.get("/apis/v2beta1/runs").json().get("runs", [])
            return [r for r in runs if r.get("recurring_run_id") == recurring_id]

        wait_until("the schedule starts a run", started, timeout=60)
        assert http.post(f"/apis/v2beta1/recurringruns/{recurring_id}:disable").status_code == 200
        runs = started()

        listing = fetch(http, "/recurring")
        assert f'<a href="/recurring/{recurring_id}">every second</a>' in listing
        page = fetch(http, f"/recurring/{recurring_id}")
        assert "<h1>every second" in page and "Keeps the chain fresh." in page
        assert "disabled" in page and "every 1.0 s" in page
        assert (
            f'href="/pipelines/{ids["pipeline_id"]}?version={ids["pipeline_version_id"]}"' in page
        )
        assert f'href="/experiments/{experiment["experiment_id"]}">nightly</a>' in page
        assert '<th scope="row">rows</th>' in page  # its parameters
        table = rows_of(page, "runs-table")
        assert len(table) == len(runs) >= 1
        assert all(f'href="/runs/{r["run_id"]}"' in page for r in runs)
        # The experiment's page lists the schedule too.
        mine = fetch(http, f"/experiments/{experiment['experiment_id']}")
        assert f'<a href="/recurring/{recurring_id}">every second</a>' in mine


# ------------------------------------------------------------ shapes no small run makes


def _seed(home: Path, readers: int) -> dict[str, str]:
    """A run named like markup, whose dataset (named like markup too) is read by
    ``readers`` tasks, plus 25 more small artifacts: put straight into the store."""
    now = datetime.now(timezone.utc)
    hostile = '<img src=x onerror="alert(1)">'
    store = open_store(database_url(home))
    try:
        store.runs.add(
            RunRecord(
                run_id="wide",
                pipeline_name="wide",
                state="SUCCEEDED",
                created_at=now,
                display_name=hostile,
            )
        )
        store.tasks.add(
            TaskRecord(
                task_id="maker",
                run_id="wide",
                name=hostile,
                path="maker",
                kind="executor",
                state="SUCCEEDED",
                created_at=now,
            )
        )
        store.artifacts.add(
            ArtifactRecord(
                artifact_id="wide-data",
                run_id="wide",
                producer_task_id="maker",
                output_name="data",
                uri="/nowhere/data.csv",
                schema_title="system.Dataset",
                created_at=now,
                name=hostile,
            )
        )
        for i in range(25):
            store.artifacts.add(
                ArtifactRecord(
                    artifact_id=f"small-{i:02d}",
                    run_id="wide",
                    producer_task_id="maker",
                    output_name=f"small-{i:02d}",
                    uri=f"/nowhere/{i}",
                    schema_title="system.Artifact",
                    created_at=now - timedelta(seconds=i + 1),
                    name=f"small-{i:02d}",
                )
            )
    finally:
        store.close()
    engine = sa.create_engine(f"sqlite:///{home / 'kubeline.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(
                tasks.insert(),
                [
                    {
                        **TaskRecord(
                            task_id=f"reader-{i:05d}",
                            run_id="wide",
                            name="run-trial",
                            path=f"for-loop-1/iteration-{i}/run-trial",
                            kind="executor",
                            state="SUCCEEDED",
                            created_at=now + timedelta(milliseconds=i),
                        ).__dict__
                    }
                    for i in range(readers)
                ],
            )
            conn.execute(
                artifact_consumers.insert(),
                [
                    {"artifact_id": "wide-data", "task_id": f"reader-{i:05d}", "input_name": "x"}
                    for i in range(readers)
                ],
            )
    finally:
        engine.dispose()
    return {"hostile": hostile}


def test_an_artifact_read_by_thousands_stays_a_small_page(
    live_server: LiveServer, http: httpx.Client
) -> None:
    _seed(live_server.home, readers=5000)
    page = fetch(http, "/artifacts/wide-data")
    assert "Read by 5000 tasks" in page
    assert "The first 100 are listed; 4900 more are not." in page
    assert len(rows_of(page, "consumers-table")) == 100
    svg = page[page.index('class="lineage"') : page.index("</svg>")]
    assert svg.count("<a ") == 12 + 1  # a column's limit of readers, and the producer
    assert "and 4988 more" in svg
    # Readers in loop iterations say which iteration they ran in.
    assert 'aria-label="run-trial #0, task, succeeded"' in svg
    assert 'aria-label="run-trial #11, task, succeeded"' in svg
    for path in ("/executions?size=100", "/artifacts?size=100", "/executions/reader-00007"):
        fetch(http, path)


def test_names_from_a_pipeline_are_text_never_markup(
    live_server: LiveServer, http: httpx.Client
) -> None:
    hostile = _seed(live_server.home, readers=2)["hostile"]
    escaped = str(markupsafe.escape(hostile))
    for path in ("/artifacts", "/artifacts/wide-data", "/executions", "/executions/maker"):
        page = fetch(http, path)
        assert hostile not in page, path
        assert "<img src=x" not in page, path
        assert escaped in page, path


def test_lists_page_and_keep_their_filters(live_server: LiveServer, http: httpx.Client) -> None:
    _seed(live_server.home, readers=30)
    first = fetch(http, "/artifacts?run=wide")
    assert len(rows_of(first, "artifacts-table")) == 20
    assert "Page 1 of 2" in first and "26 in all" in first
    assert 'href="?run=wide&size=20&page=2"' in html.unescape(first)
    second = fetch(http, "/artifacts?run=wide&size=20&page=2")
    assert len(rows_of(second, "artifacts-table")) == 6
    names = re.findall(r'<a href="/artifacts/(small-\d+)">', second)
    assert names == [f"small-{i:02d}" for i in range(19, 25)]  # the oldest, last
    executions = fetch(http, "/executions?q=trial&size=20&page=2")
    assert len(rows_of(executions, "executions-table")) == 10
    assert 'href="?q=trial&size=20&page=1"' in html.unescape(executions)
