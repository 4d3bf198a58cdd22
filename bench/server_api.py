"""The server under load: list and get latency with 10,000 runs in the store, and 20 runs
submitted at once through kfp.Client against the same 20 run one after another through
the engine directly.

    .venv/bin/python bench/server_api.py [--runs 10000] [--markdown PATH]

Runs on demand only. Every request goes to a real server on loopback; every loop is
bounded.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from kfp import dsl  # noqa: E402 - after the path fix above

CONCURRENT_RUNS = 20
SAMPLES = 200


@dsl.component(base_image="python:3.11")
def add_one(x: int) -> int:
    return x + 1


@dsl.pipeline(name="five-tasks")
def five_tasks(x: int = 0) -> int:
    """Five tasks: a chain of three beside a pair."""
    chain = add_one(x=add_one(x=add_one(x=x).output).output)
    add_one(x=add_one(x=x).output)
    return chain.output


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _fill(store: object, count: int) -> str:
    """``count`` finished runs straight into the store (the API is what is measured)."""
    from kubeline.store import RunRecord

    start = datetime.now(timezone.utc) - timedelta(days=30)
    last = ""
    for i in range(count):
        at = start + timedelta(seconds=i)
        last = f"filler-{i:05d}"
        store.runs.add(
            RunRecord(  # type: ignore[attr-defined]
                run_id=last,
                pipeline_name="filler",
                state="SUCCEEDED",
                created_at=at,
                started_at=at,
                finished_at=at + timedelta(seconds=3),
                display_name=last,
                arguments={"i": i},
                outputs={"Output": i},
            )
        )
    return last


def _latency(http: object, path: str, params: dict) -> tuple[float, float]:
    samples = []
    for _ in range(SAMPLES):
        began = time.perf_counter()
        response = http.get(path, params=params)  # type: ignore[attr-defined]
        samples.append(time.perf_counter() - began)
        response.raise_for_status()
    return statistics.median(samples), _percentile(samples, 0.99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--markdown", type=Path)
    options = parser.parse_args()

    import kfp
    from rich.console import Console
    from rich.table import Table
    from tests.server.conftest import start_server

    from kubeline.engine import run_pipeline
    from kubeline.pipelines.compile import compile_function, compile_pipeline
    from kubeline.store import RunStore

    rows: list[tuple[str, str, str, str]] = []
    err = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        err.print(f"filling the store with {options.runs:,} runs…")
        last = _fill(RunStore.for_home(home), options.runs)
        server = start_server(home, max_concurrent_runs=4)
        try:
            http = server.http()
            p50, p99 = _latency(
                http, "/apis/v2beta1/runs", {"page_size": 50, "sort_by": "created_at desc"}
            )
            rows.append(
                (
                    "list runs, page of 50",
                    f"{p50 * 1000:.1f} ms",
                    f"{p99 * 1000:.1f} ms",
                    f"{options.runs:,} runs in the store",
                )
            )
            p50, p99 = _latency(http, f"/apis/v2beta1/runs/{last}", {})
            rows.append(
                (
                    "get run",
                    f"{p50 * 1000:.1f} ms",
                    f"{p99 * 1000:.1f} ms",
                    f"{options.runs:,} runs in the store",
                )
            )
            spec = compile_function(five_tasks)
            package = compile_pipeline(spec, Path(tmp) / "five.yaml")
            client = kfp.Client(host=server.url)
            err.print(f"{CONCURRENT_RUNS} runs through kfp.Client at once…")
            began = time.perf_counter()
            runs = [
                client.create_run_from_pipeline_package(
                    str(package), arguments={"x": i}, enable_caching=False
                )
                for i in range(CONCURRENT_RUNS)
            ]
            states = [client.wait_for_run_completion(r.run_id, timeout=1800).state for r in runs]
            together = time.perf_counter() - began
        finally:
            server.stop()
        err.print(f"the same {CONCURRENT_RUNS} runs one after another through the engine…")
        began = time.perf_counter()
        alone = [
            run_pipeline(spec, {"x": i}, home=Path(tmp) / "seq", enable_caching=False)
            for i in range(CONCURRENT_RUNS)
        ]
        one_by_one = time.perf_counter() - began
    succeeded = sum(s == "SUCCEEDED" for s in states)
    rows.append(
        (
            f"{CONCURRENT_RUNS} runs of 5 tasks, submitted at once (kfp.Client)",
            f"{together:.1f} s total",
            "",
            f"{succeeded}/{CONCURRENT_RUNS} succeeded; the same runs one after another "
            f"through the engine: {one_by_one:.1f} s "
            f"({sum(r.state == 'SUCCEEDED' for r in alone)}/{CONCURRENT_RUNS} succeeded)",
        )
    )
    table = Table(title="kubeline server under load")
    for column in ("measure", "p50 / total", "p99", "notes"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if options.markdown:
        lines = ["| measure | p50 / total | p99 | notes |", "| --- | ---: | ---: | --- |"]
        lines += [f"| {' | '.join(row)} |" for row in rows]
        options.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0 if succeeded == CONCURRENT_RUNS else 1


if __name__ == "__main__":
    sys.exit(main())
