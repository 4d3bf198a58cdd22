"""The web UI with a full store: how long the runs list, the page of a 200-task run, the
artifacts, executions, experiment and compare pages take in a real browser (Debian's
Chromium through Playwright), with 10,000 runs in the store; and each page's weight
against the budget (300 KB of HTML, #12).

    .venv/bin/python bench/ui_render.py [--runs 10000] [--items 200] [--repeat 5]

Runs on demand only, never in the tests. Progress goes to stderr, the table to stdout.
Every wait is bounded.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from kfp import dsl  # noqa: E402 - after the path fix above

CHROMIUM = Path(os.environ.get("KUBELINE_CHROMIUM", "/usr/bin/chromium"))
PAGE_GOAL_SECONDS = 1.0
#: No page's HTML may weigh more than this (#12), in KB; rows of this kind print KB.
PAGE_BUDGET_KB = 300


@dsl.component(base_image="python:3.11")
def echo(item: int) -> int:
    print(f"item {item}")
    return item


@dsl.pipeline(name="ui-loop")
def loop(items: list) -> None:
    """One trivial task per item, in a ParallelFor over the pipeline input ``items``."""
    with dsl.ParallelFor(items) as item:
        echo(item=item)


@dsl.component(base_image="python:3.11")
def train(seed: int) -> float:
    return 0.9


@dsl.pipeline(name="ui-filler")
def filler(seed: int = 0) -> float:
    """The spec the 10,000 stored runs carry: small, as most pipelines' are."""
    return train(seed=seed).output


def _fill(home: Path, count: int) -> dict[str, int]:
    """``count`` finished runs of one task each straight into the store: a third return a
    Metrics artifact, a third a number, a third nothing but log a Metrics artifact (the
    list's fallback)."""
    from kubeline.pipelines.compile import compile_function
    from kubeline.store import ArtifactRecord, RunRecord, TaskRecord, database_url, open_store

    spec = compile_function(filler)
    store = open_store(database_url(home))
    experiment = store.experiments.ensure_default().experiment_id
    start = datetime.now(timezone.utc) - timedelta(days=30)
    kinds = {"Metrics output": 0, "numeric output": 0, "Metrics artifact only": 0}
    states = ("SUCCEEDED",) * 8 + ("FAILED", "CANCELED")
    for i in range(count):
        at = start + timedelta(seconds=i * 4)
        run_id = f"ui-filler-{i:05d}"
        accuracy = 0.8 + (i % 200) / 1000
        metrics = {"accuracy": accuracy, "f1": accuracy - 0.01, "roc_auc": accuracy + 0.01}
        outputs: dict[str, Any] = {}
        kind = ("Metrics output", "numeric output", "Metrics artifact only")[i % 3]
        kinds[kind] += 1
        if kind == "Metrics output":
            outputs["metrics"] = {
                "name": "metrics",
                "uri": f"{home}/runs/{run_id}/metrics",
                "type": "system.Metrics",
                "metadata": metrics,
                "artifact_id": f"{run_id}-metrics",
            }
        elif kind == "numeric output":
            outputs["Output"] = accuracy
        state = states[i % len(states)]
        store.runs.add(
            RunRecord(
                run_id=run_id,
                pipeline_name="ui-filler",
                state=state,
                created_at=at,
                started_at=at,
                finished_at=at + timedelta(seconds=3),
                display_name=f"filler run {i:05d}",
                spec=spec,
                arguments={"seed": i},
                outputs=outputs if state == "SUCCEEDED" else {},
                error="stopped" if state != "SUCCEEDED" else None,
                root=f"{home}/runs/{run_id}",
                experiment_id=experiment,
            )
        )
        store.tasks.add(
            TaskRecord(
                task_id=f"{run_id}-train",
                run_id=run_id,
                name="train",
                path="train",
                kind="executor",
                state=state,
                component="comp-train",
                created_at=at,
                started_at=at,
                finished_at=at + timedelta(seconds=3),
                attempts=1,
                inputs={"parameters": {"seed": i}},
                outputs={"parameters": {"Output": accuracy}} if state == "SUCCEEDED" else {},
            )
        )
        if kind == "Metrics artifact only":
            store.artifacts.add(
                ArtifactRecord(
                    artifact_id=f"{run_id}-metrics",
                    run_id=run_id,
                    producer_task_id=f"{run_id}-train",
                    output_name="metrics",
                    uri=f"{home}/runs/{run_id}/metrics",
                    schema_title="system.Metrics",
                    metadata=metrics,
                    created_at=at,
                    name="metrics",
                )
            )
    store.close()
    return kinds


def _loop_run(home: Path, items: int) -> tuple[str, float, int]:
    """Run the loop pipeline for real on ``home``: its run id, wall time, executor tasks."""
    from kubeline.engine import run_pipeline
    from kubeline.pipelines.compile import compile_function

    spec = compile_function(loop)
    began = time.perf_counter()
    result = run_pipeline(spec, {"items": list(range(items))}, home=home)
    seconds = time.perf_counter() - began
    if result.state != "SUCCEEDED":
        raise SystemExit(f"the {items}-item loop run ended {result.state}: {result.error}")
    return result.run_id, seconds, sum(t.kind == "executor" for t in result.tasks)


_NAVIGATION_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {load: nav.loadEventEnd - nav.startTime, server: nav.responseStart - nav.requestStart};
}"""

_LIVE_JS = """async (url) => {
  const began = performance.now();
  const response = await fetch(url, {cache: "no-store"});
  const live = await response.json();
  return {ms: performance.now() - began, nodes: (live.graph.match(/class="node /g) || []).length};
}"""

# Swap the graph as the page's script does every second while a run goes, then force
# style and layout (what the browser must do before it can paint the new graph).
_RENDER_JS = """async (url) => {
  const live = await (await fetch(url, {cache: "no-store"})).json();
  const graph = document.getElementById("graph");
  const began = performance.now();
  graph.innerHTML = live.graph;
  graph.querySelector("svg").getBoundingClientRect();
  document.body.offsetHeight;
  return performance.now() - began;
}"""


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) / 1000


def _measure(
    url: str, run_id: str, *, runs: int, items: int, repeat: int, err: Any
) -> tuple[list[tuple], str]:
    """Every figure, as (measure, seconds, goal or None); and the browser's version.

    A page's "to load event" is ``loadEventEnd`` of its navigation entry (from navigation
    start, so it includes the server's response); "server response" is request start to
    first byte. The graph render is the page's own swap of the live graph plus a forced
    style and layout."""
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, float, float | None]] = []
    weights: list[tuple[str, int]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.set_default_timeout(60_000)

        def navigation(label: str, path: str) -> tuple[float, float]:
            response = page.goto(url + path)  # one warm-up, not counted
            if response is not None:
                weights.append((label, len(response.body())))
            loads, servers = [], []
            for _ in range(repeat):
                page.goto(url + path, wait_until="load")
                timing = page.evaluate(_NAVIGATION_JS)
                loads.append(timing["load"])
                servers.append(timing["server"])
            return _median_ms(loads), _median_ms(servers)

        run_page = f"/runs/{run_id}"
        page.goto(url + run_page)
        loop_path = page.locator("#graph [data-toggle]").first.get_attribute("data-toggle")
        unfolded = f"{run_page}?expanded={loop_path}"
        for label, path, goal in (
            (f"/runs ({runs:,} runs)", "/runs", PAGE_GOAL_SECONDS),
            (
                f"/runs sorted by name, last page (offset {(runs - 1) // 20 * 20:,})",
                f"/runs?sort=name&order=asc&page={(runs + 19) // 20}",
                None,
            ),
            (f"run page, {items} tasks, loop folded", run_page, PAGE_GOAL_SECONDS),
            (f"run page, {items} tasks, loop unfolded", unfolded, None),
        ):
            err.print(f"loading {path} {repeat + 1} times…")
            load, server = navigation(label, path)
            rows.append((f"{label}: to load event", load, goal))
            rows.append((f"{label}: server response", server, None))

        listed = page.request.get(f"{url}/apis/v2beta1/runs?page_size=2").json()["runs"]
        other = next(r["run_id"] for r in listed if r["run_id"] != run_id)
        default = page.request.get(f"{url}/apis/v2beta1/experiments?page_size=1").json()
        experiment = default["experiments"][0]["experiment_id"]
        for label, path in (
            (f"/artifacts ({runs:,} runs)", "/artifacts"),
            (f"/executions ({runs:,} runs)", "/executions"),
            ("experiment page (Default)", f"/experiments/{experiment}"),
            ("compare, 2 runs", f"/runs/compare?runs={run_id},{other}"),
        ):
            err.print(f"loading {path} {repeat + 1} times…")
            load, server = navigation(label, path)
            rows.append((f"{label}: to load event", load, PAGE_GOAL_SECONDS))
            rows.append((f"{label}: server response", server, None))

        for label, expanded in (("folded", ""), ("unfolded", loop_path or "")):
            live_url = f"{url}{run_page}/live" + (f"?expanded={expanded}" if expanded else "")
            page.goto(url + run_page)
            page.evaluate(_LIVE_JS, live_url)  # warm-up
            fetched = [page.evaluate(_LIVE_JS, live_url) for _ in range(repeat)]
            nodes = fetched[0]["nodes"]
            boxes = f"{nodes} box" if nodes == 1 else f"{nodes} boxes"
            rows.append(
                (
                    f"/runs/{{id}}/live JSON, loop {label} ({boxes})",
                    _median_ms([f["ms"] for f in fetched]),
                    None,
                )
            )
            page.evaluate(_RENDER_JS, live_url)  # warm-up
            renders = [page.evaluate(_RENDER_JS, live_url) for _ in range(repeat)]
            rows.append((f"graph fragment render, loop {label}", _median_ms(renders), None))
        version = browser.version
        browser.close()
    for label, size in weights:
        rows.append((f"{label}: page weight", size / 1000, PAGE_BUDGET_KB))
    return rows, version


def _text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the store")
    parser.add_argument("--items", type=int, default=200, help="tasks of the big run")
    parser.add_argument("--repeat", type=int, default=5, help="samples per measure")
    options = parser.parse_args()
    if not CHROMIUM.is_file():
        raise SystemExit(f"no Chromium at {CHROMIUM}: set KUBELINE_CHROMIUM")

    from rich.console import Console
    from rich.table import Table
    from tests.server.conftest import start_server

    err = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        err.print(f"filling the store with {options.runs:,} runs…")
        began = time.perf_counter()
        kinds = _fill(home, options.runs)
        fill_seconds = time.perf_counter() - began
        err.print(f"running the {options.items}-item loop pipeline for real…")
        run_id, loop_seconds, executors = _loop_run(home, options.items)
        server = start_server(home)
        try:
            rows, version = _measure(
                server.url,
                run_id,
                runs=options.runs,
                items=options.items,
                repeat=options.repeat,
                err=err,
            )
        finally:
            server.stop()

    table = Table(title=f"kubeline web UI, {options.runs:,} runs in the store (Chromium {version})")
    table.add_column("measure")
    table.add_column(f"median of {options.repeat}", justify="right")
    table.add_column("goal", justify="right")
    table.add_column("met?")
    failed = False
    for measure, value, goal in rows:
        met = "" if goal is None else ("yes" if value < goal else "NO")
        failed = failed or met == "NO"
        if measure.endswith("page weight"):
            shown, budget = f"{value:.0f} KB", f"< {goal:.0f} KB"
        else:
            shown, budget = _text(value), "" if goal is None else f"< {_text(goal)}"
        table.add_row(measure, shown, budget, met)
    out = Console(width=max(100, Console().width))
    out.print(table)
    described = ", ".join(f"{n:,} with {kind}" for kind, n in kinds.items())
    out.print(
        f"Store: {options.runs:,} runs inserted directly ({described}; "
        f"{fill_seconds:.0f} s to insert), plus one run of a ParallelFor over "
        f"{options.items} items, run for real by the engine ({executors} executor tasks, "
        f"{loop_seconds:.1f} s). {os.cpu_count()} cores."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
