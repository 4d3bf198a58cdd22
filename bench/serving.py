"""Benchmark kubeline's model server side by side with MLServer and KServe's model server.

    .venv/bin/python bench/serving.py [--quick] [--seconds S] [--venvs DIR] [--markdown PATH]

One scikit-learn model (breast_cancer, StandardScaler + LogisticRegression) served by each
server in turn on loopback, on this machine, in one run: single-row requests at
concurrency 1 and 16, and one 1,000-row request at a time; plus in-process
``model.predict`` as the floor. MLServer and KServe are installed into venvs of their own
(their pins conflict with kubeline's); a peer that cannot be installed or started gets the
reason in its cells and the rest still runs. Progress goes to stderr, the table to stdout.
Runs on demand only, never in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ itself first on the path, where its module names
# (data, measure, ...) could shadow other packages: take it off.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import httpx  # noqa: E402
import joblib  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

MODEL = "bc"  # the model's name on every server
ROWS_BIG = 1000
CONCURRENCY = (1, 16)


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Cell:
    """One measurement: requests, the time they took, their latencies and failures."""

    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    rows_per_request: int = 1

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length or chunked) and return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return status


async def _raw_connection(port: int, request: bytes, until: float, cell: Cell | None) -> None:
    """One keep-alive connection sending ``request`` back to back until ``until``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            if cell is not None:
                cell.latencies.append(time.perf_counter() - started)
                cell.requests += 1
                cell.failures += status != 200
    finally:
        writer.close()


async def _httpx_connection(
    client: httpx.AsyncClient, path: str, body: bytes, until: float, cell: Cell | None
) -> None:
    headers = {"content-type": "application/json"}
    while time.perf_counter() < until:
        started = time.perf_counter()
        response = await client.post(path, content=body, headers=headers)
        if cell is not None:
            cell.latencies.append(time.perf_counter() - started)
            cell.requests += 1
            cell.failures += response.status_code != 200


async def _load(
    cell: Cell | None,
    port: int,
    path: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    client: str,
) -> None:
    """``concurrency`` connections, each sending requests back to back for ``seconds``
    (bounded in time); recorded into ``cell``, or not at all (warm-up) when it is None."""
    started = time.perf_counter()
    until = started + seconds
    if client == "httpx":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120
        ) as http:
            await asyncio.gather(
                *(_httpx_connection(http, path, body, until, cell) for _ in range(concurrency))
            )
    else:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        await asyncio.gather(
            *(_raw_connection(port, request, until, cell) for _ in range(concurrency))
        )
    if cell is not None:
        cell.seconds += time.perf_counter() - started


def _predict_loop(cell: Cell, model: Any, rows: np.ndarray, seconds: float) -> None:
    """The floor: ``model.predict`` called back to back in this process."""
    started = time.perf_counter()
    until = started + seconds
    while time.perf_counter() < until:
        tick = time.perf_counter()
        model.predict(rows)
        cell.latencies.append(time.perf_counter() - tick)
        cell.requests += 1
    cell.seconds += time.perf_counter() - started


# -- the servers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """How to start one server configuration and talk to it."""

    key: str  # column title
    protocol: str  # "v1" or "v2"
    start: Callable[[int, Path], subprocess.Popen]  # (port, folder) -> process
    ready_path: str
    kubeline: bool = False
    note: str = ""


def _spawn(argv: list[str], folder: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        argv,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its own group: stopping it stops its workers too
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not ready after {seconds:.0f} s")


def kubeline_server(workers: int, batching: bool, model_path: Path) -> Server:
    def start(port: int, folder: Path) -> subprocess.Popen:
        from kubeline.serving import ModelEntry, ServeConfig

        config = ServeConfig(
            models=[ModelEntry(MODEL, "1", str(model_path))],
            workers=workers,
            max_batch_size=64 if batching else 1,
        )
        (folder / "config.json").write_text(config.to_json(), encoding="utf-8")
        script = textwrap.dedent(
            f"""
            from pathlib import Path
            from kubeline.serving import ServeConfig, run_server
            config = ServeConfig.from_json(Path("config.json").read_text())
            run_server(config, host="127.0.0.1", port={port}, log_level="warning")
            """
        )
        return _spawn([sys.executable, "-c", script], folder)

    title = f"kubeline w={workers}" + ("" if batching else " no batching")
    return Server(title, "v2", start, f"/v2/models/{MODEL}/ready", kubeline=True)


def mlserver_server(venv: Path, model_path: Path) -> Server:
    def start(port: int, folder: Path) -> subprocess.Popen:
        repo = folder / "models" / MODEL
        repo.mkdir(parents=True)
        shutil.copy(model_path, repo / "model.joblib")
        settings = {
            "name": MODEL,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib", "version": "1"},
        }
        (repo / "model-settings.json").write_text(json.dumps(settings))
        server_settings = {
            "http_port": port,
            "grpc_port": _free_port(),
            "metrics_port": _free_port(),
            "debug": False,
        }
        (folder / "models" / "settings.json").write_text(json.dumps(server_settings))
        return _spawn([str(_bin(venv, "mlserver")), "start", str(folder / "models")], folder)

    return Server("MLServer", "v2", start, f"/v2/models/{MODEL}/ready")


_KSERVE_MODEL = '''
"""A KServe model server for a joblib scikit-learn model: KServe's own Model API."""
import sys

import joblib
import kserve
import numpy as np


class JoblibModel(kserve.Model):
    def __init__(self, name, path):
        super().__init__(name)
        self.path = path
        self.load()

    def load(self):
        self.model = joblib.load(self.path)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        rows = np.asarray(payload["instances"])
        return {"predictions": self.model.predict(rows).tolist()}


if __name__ == "__main__":
    kserve.ModelServer().start([JoblibModel(sys.argv[1], sys.argv[2])])
'''


def kserve_server(venv: Path, model_path: Path, workers: int) -> Server:
    def start(port: int, folder: Path) -> subprocess.Popen:
        (folder / "serve_kserve.py").write_text(_KSERVE_MODEL)
        argv = [
            str(_bin(venv, "python")),
            "serve_kserve.py",
            MODEL,
            str(model_path),
            f"--http_port={port}",
            f"--grpc_port={_free_port()}",
            f"--workers={workers}",
            "--enable_grpc=false",
            "--enable_latency_logging=false",
        ]
        return _spawn(argv, folder)

    return Server(f"KServe w={workers}", "v1", start, f"/v1/models/{MODEL}")


# -- peer virtual environments --------------------------------------------------------------


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def ensure_venv(folder: Path, packages: list[str], probe: str) -> Path:
    """A venv at ``folder`` with ``packages``, made once; ``probe`` must import there."""
    python = _bin(folder, "python")
    if python.exists():
        check = subprocess.run([str(python), "-c", probe], capture_output=True, timeout=300)
        if check.returncode == 0:
            return folder
    _say(f"  installing {' '.join(packages)} into {folder} (a few minutes)")
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--clear", str(folder)], check=True, timeout=300)
    log = folder / "pip.log"
    with open(log, "wb") as out:
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", *packages],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=1800,
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"pip install failed ({' '.join(tail)[:120]}; log: {log})")
    check = subprocess.run([str(python), "-c", probe], capture_output=True, timeout=300)
    if check.returncode != 0:
        raise RuntimeError(f"installed but cannot import: {check.stderr.decode()[-160:]}")
    return folder


def _same_stack() -> list[str]:
    """Pins that let a peer load the very joblib file: scikit-learn, numpy and joblib as in
    kubeline's own venv."""
    import sklearn

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"joblib=={joblib.__version__}",
    ]


# -- the run --------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fit(folder: Path) -> tuple[Any, Path, np.ndarray]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    path = folder / "model.joblib"
    joblib.dump(model, path)
    big = np.resize(X, (ROWS_BIG, X.shape[1]))  # the 569 rows, cycled to 1,000
    return model, path, big


def _bodies(protocol: str, X: np.ndarray) -> dict[str, bytes]:
    def body(rows: np.ndarray) -> bytes:
        if protocol == "v1":
            return json.dumps({"instances": rows.tolist()}).encode()
        tensor = {"name": "input-0", "shape": list(rows.shape), "datatype": "FP64"}
        return json.dumps({"inputs": [{**tensor, "data": rows.tolist()}]}).encode()

    return {"one": body(X[:1]), "big": body(X)}


def _predictions(protocol: str, body: dict) -> list:
    if protocol == "v1":
        return body["predictions"]
    return np.ravel(body["outputs"][0]["data"]).tolist()


def _batch_rows(port: int) -> tuple[float, float]:
    """(rows, predict calls) so far, from kubeline's batch size histogram."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    rows = calls = 0.0
    for line in text.splitlines():
        if line.startswith("kubeline_serving_batch_size_sum"):
            rows += float(line.rsplit(" ", 1)[1])
        elif line.startswith("kubeline_serving_batch_size_count"):
            calls += float(line.rsplit(" ", 1)[1])
    return rows, calls


@dataclass
class Running:
    """A started server whose answers were checked."""

    server: Server
    port: int
    process: subprocess.Popen
    path: str
    bodies: dict[str, bytes]


def start_checked(server: Server, folder: Path, X: np.ndarray, expected: list) -> Running | str:
    """Start a server and check its answers to a 1-row and a 1,000-row request; on any
    failure, stop it and return the reason (which goes into its cells)."""
    port = _free_port()
    folder.mkdir(parents=True)
    _say(f"  starting {server.key}")
    process = server.start(port, folder)
    try:
        _wait_ready(f"http://127.0.0.1:{port}{server.ready_path}", process)
        if server.protocol == "v1":
            path = f"/v1/models/{MODEL}:predict"
        else:
            path = f"/v2/models/{MODEL}/infer"
        bodies = _bodies(server.protocol, X)
        for key, rows in (("one", 1), ("big", len(X))):  # right answers before any timing
            response = httpx.post(
                f"http://127.0.0.1:{port}{path}",
                content=bodies[key],
                headers={"content-type": "application/json"},
                timeout=120,
            )
            response.raise_for_status()
            if _predictions(server.protocol, response.json()) != expected[:rows]:
                raise RuntimeError(f"wrong predictions for {rows} row(s)")
        return Running(server, port, process, path, bodies)
    except Exception as exc:  # noqa: BLE001 - the table says why, the others still run
        _stop(process)
        return f"failed: {exc} (log: {folder / 'server.log'})"


#: What is measured: (cell, which body, concurrency).
KINDS = (("c1", "one", 1), ("c16", "one", 16), ("big", "big", 1))


def measure_all(
    running: list[Running], model: Any, X: np.ndarray, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Every kind of cell for every server, in interleaved rounds: each round gives each
    server (and the in-process floor) ``seconds / rounds`` in turn, starting with a
    different one, so that the background load of a shared machine falls on all alike."""
    floor = "in-process predict"
    results: dict[str, dict[str, Any]] = {floor: {}, **{r.server.key: {} for r in running}}
    share = args.seconds / args.rounds
    for kind, body, concurrency in KINDS:
        _say(
            f"  {kind}: {args.warmup:g} s warm-up each, then {args.rounds} interleaved rounds "
            f"of {share:g} s per server"
        )
        rows = ROWS_BIG if body == "big" else 1
        cells = {key: Cell(rows_per_request=rows) for key in results}
        batch = {r.server.key: [0.0, 0.0] for r in running if r.server.kubeline}
        for r in running:
            asyncio.run(
                _load(None, r.port, r.path, r.bodies[body], concurrency, args.warmup, args.client)
            )
        for round_index in range(args.rounds):
            turn = round_index % (len(running) + 1)
            order: list[Running | None] = [*running, None]  # None: the in-process floor
            for r in order[turn:] + order[:turn]:
                if r is None:
                    if concurrency == 1:
                        _predict_loop(cells[floor], model, X[:rows], share)
                    continue
                before = _batch_rows(r.port) if r.server.key in batch else None
                asyncio.run(
                    _load(
                        cells[r.server.key],
                        r.port,
                        r.path,
                        r.bodies[body],
                        concurrency,
                        share,
                        args.client,
                    )
                )
                if before is not None:
                    after = _batch_rows(r.port)
                    batch[r.server.key][0] += after[0] - before[0]
                    batch[r.server.key][1] += after[1] - before[1]
        for key, cell in cells.items():
            if cell.requests:
                results[key][kind] = cell
        if kind == "c16":
            for key, (batched_rows, calls) in batch.items():
                results[key]["rows_per_call"] = batched_rows / calls if calls else float("nan")
    return results


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _rate(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}"


MEASURES = [
    ("c=1, single row: requests/s", lambda c: _rate(c["c1"].per_second, "req/s")),
    ("c=1, single row: p50 latency", lambda c: _ms(c["c1"].percentile(0.5))),
    ("c=1, single row: p99 latency", lambda c: _ms(c["c1"].percentile(0.99))),
    ("c=16, single row: requests/s", lambda c: _rate(c["c16"].per_second, "req/s")),
    ("c=16, single row: p50 latency", lambda c: _ms(c["c16"].percentile(0.5))),
    ("c=16, single row: p99 latency", lambda c: _ms(c["c16"].percentile(0.99))),
    ("c=16: rows per predict call", lambda c: f"{c['rows_per_call']:.1f}"),
    (
        f"{ROWS_BIG:,}-row request: rows/s",
        lambda c: _rate(c["big"].per_second * c["big"].rows_per_request, "rows/s"),
    ),
    (f"{ROWS_BIG:,}-row request: p50 latency", lambda c: _ms(c["big"].percentile(0.5))),
    ("failed requests", lambda c: f"{sum(x.failures for x in c.values() if isinstance(x, Cell))}"),
]


def _cell_text(cells: dict[str, Any], render: Callable[[dict[str, Any]], str]) -> str:
    if "error" in cells:
        return cells["error"]
    try:
        return render(cells)
    except KeyError:
        return "n/a"


def build_rows(
    results: dict[str, dict[str, Any]], ours: list[str]
) -> tuple[list[str], list[list[str]]]:
    """The table's columns and rows: ``results`` maps each column title to its cells (or
    ``{"error": why}``); ``ours`` are kubeline's columns, every other column is a peer."""
    titles = list(results)
    columns = ["measure", *titles, "goal", "met?"]
    table = []
    for title, render in MEASURES:
        table.append([title, *[_cell_text(results[t], render) for t in titles], "", ""])
    return columns, table + _goal_rows(results, ours)


def _goal_rows(results: dict[str, dict[str, Any]], ours: list[str]) -> list[list[str]]:
    """kubeline (its best configuration with batching on) against the best peer: c=16
    throughput at least 1.5x, c=1 p99 no worse."""
    titles = list(results)
    ran = [t for t in titles if "error" not in results[t]]
    candidates = [t for t in ours if t in ran and "no batching" not in t]
    peers = [t for t in ran if t not in ours and t != "in-process predict"]
    if not candidates or not peers:
        why = "no kubeline figure" if not candidates else "no peer could run"
        return [["goals: kubeline vs the best peer", *[""] * len(titles), why, "n/a"]]
    best_rps = max(peers, key=lambda t: results[t]["c16"].per_second)
    best_p99 = min(peers, key=lambda t: results[t]["c1"].percentile(0.99))
    peer_rps = results[best_rps]["c16"].per_second
    peer_p99 = results[best_p99]["c1"].percentile(0.99)

    def ratios(measure: Callable[[dict[str, Any]], float], base: float) -> list[str]:
        return [
            f"{measure(results[t]) / base:.2f}x" if t in ours and t in ran else "" for t in titles
        ]

    best_ours_rps = max(results[t]["c16"].per_second for t in candidates)
    best_ours_p99 = min(results[t]["c1"].percentile(0.99) for t in candidates)
    return [
        [
            f"goal: c=16 requests/s / best peer's ({best_rps})",
            *ratios(lambda c: c["c16"].per_second, peer_rps),
            ">= 1.5x",
            "yes" if best_ours_rps >= 1.5 * peer_rps else "no",
        ],
        [
            f"goal: c=1 p99 / best peer's ({best_p99}, {_ms(peer_p99)})",
            *ratios(lambda c: c["c1"].percentile(0.99), peer_p99),
            "<= 1.00x",
            "yes" if best_ours_p99 <= peer_p99 else "no",
        ],
    ]


def render(columns: list[str], rows: list[list[str]], title: str, console: Console) -> None:
    table = Table(title=title, show_lines=False)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=i == len(MEASURES) - 1)
    console.print(table)


def markdown(columns: list[str], rows: list[list[str]], title: str) -> str:
    lines = [f"**{title}**", "", "| " + " | ".join(columns) + " |"]
    lines.append("| " + " | ".join(["---"] * len(columns)) + " |")
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/serving.py", description=__doc__.split("\n\n")[0].strip()
    )
    parser.add_argument("--quick", action="store_true", help="2 s per cell: is it working?")
    parser.add_argument("--seconds", type=float, help="measured seconds per cell (default 10)")
    parser.add_argument("--warmup", type=float, help="unrecorded seconds first (default 2)")
    parser.add_argument(
        "--rounds", type=int, help="interleaved rounds the seconds are split into (default 10)"
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal keep-alive HTTP/1.1 client on asyncio (default), "
        "or httpx.AsyncClient (heavier: it takes CPU from the servers on a small machine)",
    )
    parser.add_argument("--venvs", type=Path, help="keep the peers' venvs here (reused)")
    parser.add_argument("--workdir", type=Path, help="keep every file and log here")
    parser.add_argument("--skip-peers", action="store_true", help="kubeline and the floor only")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (2.0 if args.quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 2.0)
    args.rounds = args.rounds or (2 if args.quick else 10)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kubeline-bench-serving-"))
    workdir.mkdir(parents=True, exist_ok=True)
    venvs = args.venvs or workdir / "venvs"
    console = Console()
    try:
        _say(f"bench/serving.py: working in {workdir}")
        model, model_path, X = _fit(workdir)
        expected = model.predict(X).tolist()
        servers = [
            kubeline_server(2, True, model_path),
            kubeline_server(1, True, model_path),
            kubeline_server(1, False, model_path),
        ]
        failed: dict[str, str] = {}
        if not args.skip_peers:
            stack = _same_stack()
            try:
                # mlserver 1.7's worker asks asyncio for a loop the way uvloop >= 0.22 refuses.
                venv = ensure_venv(
                    venvs / "mlserver",
                    ["mlserver", "mlserver-sklearn", "uvloop<0.22", *stack],
                    "import mlserver, mlserver_sklearn",
                )
                servers.append(mlserver_server(venv, model_path))
            except Exception as exc:  # noqa: BLE001
                failed["MLServer"] = f"not run: {exc}"
            try:
                venv = ensure_venv(venvs / "kserve", ["kserve", *stack], "import kserve")
                servers += [kserve_server(venv, model_path, w) for w in (1, 2)]
            except Exception as exc:  # noqa: BLE001
                failed["KServe w=1"] = failed["KServe w=2"] = f"not run: {exc}"

        running: list[Running] = []
        for server in servers:
            folder = workdir / server.key.replace(" ", "-").replace("=", "")
            started = start_checked(server, folder, X, expected)
            if isinstance(started, str):
                failed[server.key] = started
            else:
                running.append(started)
        try:
            results = measure_all(running, model, X, args)
        finally:
            for r in running:
                _stop(r.process)
        results.update({key: {"error": why} for key, why in failed.items()})
        order = ["in-process predict", *[s.key for s in servers], *failed]
        results = {key: results[key] for key in dict.fromkeys(order)}

        cores = os.cpu_count()
        title = (
            f"Model servers, breast_cancer StandardScaler+LogisticRegression, loopback, "
            f"{cores} cores, {args.seconds:g} s per cell in {args.rounds} interleaved rounds "
            f"({args.client} client)"
        )
        columns, rows = build_rows(results, [s.key for s in servers if s.kubeline])
        render(columns, rows, title, console)
        if args.markdown:
            args.markdown.write_text(markdown(columns, rows, title), encoding="utf-8")
        return 1 if any("error" in r for r in results.values()) else 0
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
