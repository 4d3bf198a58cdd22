"""Whole processes, as a user feels them: ``kubeline run pipeline.yaml`` against a Python
process that runs kfp.local (``SubprocessRunner(use_venv=False)``) on the same YAML.

    .venv/bin/python bench/whole_process.py [--repeat 3] [--only one sleep8 sklearn13]
                          [--baseline-src OLD/src] [--markdown PATH] [--workdir PATH]

Each figure is the best of ``--repeat`` runs of a whole process, timed from before it is
started to after it has exited, so every import, the engine's start-up and its shutdown
count. Each run starts with no process of an earlier run alive (no resident or pre-warmed
helper), kubeline on a fresh ``KUBELINE_HOME``, caching off on both sides. The two sides
take turns, run after run, so the machine's background load falls on both alike.

A second table, the floor, times the whole processes that only import what a run needs
(a Python start-up, ``import kfp.dsl`` as a task process imports it, SQLAlchemy...): what
no engine that starts from nothing can go below.

The tables go to stdout, progress to stderr. Exit code 1 when a process failed to run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ itself first on the path, where its module names
# (data, measure, ...) could shadow other packages; import it as the package `bench`.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.measure import BenchError  # noqa: E402 - after the path fix above
from bench.report import Figure  # noqa: E402

__all__ = ["CASES", "Case", "main"]

_TIMEOUT = 900.0
#: Set in every measured process's environment; the processes it starts (kubeline's fork
#: server, its tasks, kfp.local's task processes) inherit it, which is how the bench makes
#: sure none of them is still alive when the next measured process starts.
_MARK = "KUBELINE_WHOLE_PROCESS_BENCH"
# As in bench/peers.py: pip's weekly version check would make the peer's per-task
# `pip install kfp==...` slower and less steady; without it the peer is at its best.
_PEER_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}

#: The peer: a fresh interpreter that imports kfp.local, loads the compiled YAML as a
#: pipeline and runs it, as a user of kfp.local would (argv: YAML, pipeline root).
_PEER_SCRIPT = """\
import sys
from kfp import components, local

local.init(
    runner=local.SubprocessRunner(use_venv=False),
    pipeline_root=sys.argv[2],
    raise_on_error=True,
    enable_caching=False,
)
components.load_component_from_file(sys.argv[1])()
"""


@dataclass(frozen=True)
class Case:
    """One pipeline of the table, with the issue's goal for kubeline / kfp.local."""

    name: str
    label: str
    goal: float
    pipeline: Callable[[], Any]  # the @dsl.pipeline, built when the bench runs


def _trivial() -> Any:
    from bench.pipelines import chain_pipeline

    return chain_pipeline(1)


def _sleep8() -> Any:
    from bench.pipelines import sleep_pipeline

    return sleep_pipeline(8)


def _sklearn13() -> Any:
    from bench.pipelines import sklearn_pipeline

    return sklearn_pipeline


CASES = (
    Case("one", "one trivial task", 0.6, _trivial),
    Case("sleep8", "8 independent tasks sleeping 1 s, no --workers", 0.15, _sleep8),
    Case("sklearn13", "13-task scikit-learn pipeline", 0.10, _sklearn13),
)


# ------------------------------------------------------------------ processes


def _marked_pids(mark: str) -> list[int]:
    """Processes whose environment holds ``_MARK=mark`` (Linux /proc; none elsewhere)."""
    needle = f"{_MARK}={mark}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _wait_none_alive(mark: str, *, grace: float = 30.0) -> None:
    """Wait until no process of run ``mark`` is alive; kill what is left after ``grace``."""
    deadline = time.monotonic() + grace
    while _marked_pids(mark):
        if time.monotonic() > deadline:
            for pid in _marked_pids(mark):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise BenchError(f"processes of run {mark} were still alive {grace:.0f} s after it")
        time.sleep(0.05)


def _stop_group(pid: int, stopped: list[bool]) -> None:
    """The watchdog: kill a measured process (and its session) that ran too long."""
    stopped.append(True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _timed(argv: list[str], env: dict[str, str], folder: Path, mark: str) -> float:
    """Start ``argv`` in ``folder`` and time it until it exits; its output to ``run.log``."""
    folder.mkdir(parents=True)
    env = {**os.environ, **env, _MARK: mark, "TMPDIR": str(folder)}
    with open(folder / "run.log", "wb") as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        # A blocking wait returns the moment the process exits; wait(timeout=...) would
        # poll with growing sleeps (up to 50 ms) and add up to that much to every figure.
        stopped: list[bool] = []
        watchdog = threading.Timer(_TIMEOUT, _stop_group, args=(child.pid, stopped))
        watchdog.start()
        try:
            code = child.wait()
        finally:
            watchdog.cancel()
        seconds = time.perf_counter() - started
        if stopped:
            _wait_none_alive(mark, grace=0)
            raise BenchError(f"{argv[0]} took over {_TIMEOUT:.0f} s (log: {folder})")
    _wait_none_alive(mark)
    if code != 0:
        tail = (folder / "run.log").read_text(errors="replace").strip().splitlines()[-3:]
        raise BenchError(f"{Path(argv[0]).name} exited {code}: {' | '.join(tail)}")
    return seconds


def _kubeline_command() -> str:
    """The ``kubeline`` console script installed beside this interpreter."""
    beside = Path(sys.executable).parent / "kubeline"
    found = str(beside) if beside.is_file() else shutil.which("kubeline")
    if not found:
        raise BenchError("no `kubeline` command beside this Python or on PATH")
    return found


class Runner:
    """Starts the measured processes, each in a folder of its own under ``workdir``."""

    def __init__(self, workdir: Path, baseline: Path | None = None) -> None:
        self.workdir = workdir
        self.baseline = baseline
        #: The 1-minute load average as each measured process starts: how busy the
        #: machine was (other work on the same cores slows both sides).
        self.loads: list[float] = []
        self.kubeline = _kubeline_command()
        self._count = 0

    def _folder(self, name: str) -> tuple[Path, str]:
        self._count += 1
        with contextlib.suppress(OSError, AttributeError):  # no getloadavg on Windows
            self.loads.append(os.getloadavg()[0])
        mark = f"{os.getpid()}-{self._count}"
        return self.workdir / f"{self._count:03d}-{name}", mark

    def peer(self, pipeline_yaml: Path) -> float:
        folder, mark = self._folder("kfp-local")
        root = folder / "pipeline_root"
        argv = [sys.executable, "-c", _PEER_SCRIPT, str(pipeline_yaml), str(root)]
        return _timed(argv, _PEER_ENV, folder, mark)

    def ours(self, pipeline_yaml: Path, src: Path | None = None) -> float:
        """``kubeline run``; with ``src``, the kubeline package in that folder instead."""
        folder, mark = self._folder("kubeline-baseline" if src else "kubeline")
        env = {"KUBELINE_HOME": str(folder / "home")}
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(src), os.environ.get("PYTHONPATH")])
            )
        return _timed([self.kubeline, "run", str(pipeline_yaml), "--no-cache"], env, folder, mark)

    def command(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> float:
        folder, mark = self._folder(name)
        return _timed(argv, env or {}, folder, mark)


# ------------------------------------------------------------------ measures


@dataclass(frozen=True)
class Result:
    case: Case
    peer: list[float]
    ours: list[float]
    baseline: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.peer or not self.ours:
            return None
        return min(self.ours) / min(self.peer)

    @property
    def baseline_ratio(self) -> float | None:
        if not self.peer or not self.baseline:
            return None
        return min(self.baseline) / min(self.peer)


def measure_case(case: Case, runner: Runner, repeat: int, log: Callable[[str], None]) -> Result:
    """Compile the case's pipeline once, then run both sides ``repeat`` times in turn."""
    from bench.pipelines import compile_to

    folder = runner.workdir / f"yaml-{case.name}"
    folder.mkdir(parents=True, exist_ok=True)
    pipeline_yaml = compile_to(case.pipeline(), folder / f"{case.name}.yaml")
    peer: list[float] = []
    ours: list[float] = []
    baseline: list[float] = []
    try:
        for attempt in range(1, repeat + 1):
            peer.append(runner.peer(pipeline_yaml))
            if runner.baseline is not None:
                baseline.append(runner.ours(pipeline_yaml, runner.baseline))
            ours.append(runner.ours(pipeline_yaml))
            before = f", baseline {baseline[-1]:.2f} s" if baseline else ""
            log(
                f"{case.name} {attempt}/{repeat}: kfp.local {peer[-1]:.2f} s{before}, "
                f"kubeline {ours[-1]:.2f} s"
            )
    except BenchError as exc:
        return Result(case, peer, ours, baseline, error=str(exc))
    return Result(case, peer, ours, baseline)


_PY = sys.executable
_RUNTIME = {"_KFP_RUNTIME": "true"}
_SKLEARN_PARTS = (
    "datasets ensemble linear_model metrics model_selection neighbors preprocessing tree"
)
_SKLEARN = ", ".join(f"sklearn.{part}" for part in _SKLEARN_PARTS.split())

#: The floor: whole processes that only import (name, argv, environment).
FLOOR: tuple[tuple[str, list[str], dict[str, str]], ...] = (
    ("python -c pass", [_PY, "-c", "pass"], {}),
    (
        "import kubeline.cli.app (the CLI: typer, rich, its modules)",
        [_PY, "-c", "import kubeline.cli.app"],
        {},
    ),
    (
        "import kfp.pipeline_spec + protobuf json_format, _KFP_RUNTIME=true (the spec check)",
        [_PY, "-c", "import google.protobuf.json_format, kfp.pipeline_spec.pipeline_spec_pb2"],
        _RUNTIME,
    ),
    ("import sqlalchemy (the store)", [_PY, "-c", "import sqlalchemy"], {}),
    (
        "import kfp.dsl.executor_main, _KFP_RUNTIME=true (a warm parent's least)",
        [_PY, "-c", "import kfp.dsl.executor_main"],
        _RUNTIME,
    ),
    (
        "import kfp.dsl.executor_main + what the 13-task pipeline's components import "
        "(pandas, joblib, 8 sklearn modules), _KFP_RUNTIME=true (its warm parent's preload)",
        [_PY, "-c", "import kfp.dsl.executor_main, pandas, joblib, pyarrow.parquet, " + _SKLEARN],
        _RUNTIME,
    ),
    (
        "import kfp.dsl without _KFP_RUNTIME (kfp's __init__ then imports kfp.client)",
        [_PY, "-c", "import kfp.dsl"],
        {},
    ),
    ("import kfp.local (the peer's first line)", [_PY, "-c", "from kfp import local"], {}),
)


def measure_floor(runner: Runner, repeat: int) -> list[tuple[str, float]]:
    rows = []
    for name, argv, env in FLOOR:
        rows.append((name, min(runner.command("floor", argv, env) for _ in range(repeat))))
    return rows


# ------------------------------------------------------------------ tables

_COLUMNS = ("pipeline", "kfp.local", "kubeline", "ratio", "goal", "met?")
_BASELINE_COLUMNS = ("kubeline (baseline)", "ratio (baseline)")


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.2f}" + (" (slower)" if ratio > 1 else "")


def _cells(result: Result, with_baseline: bool) -> list[str]:
    extra = ["", ""] if with_baseline else []
    if result.error and result.ratio is None:
        return [result.case.label, f"FAILED: {result.error}", *extra, "", "", "", ""]
    ratio = result.ratio
    assert ratio is not None
    if with_baseline and result.baseline_ratio is not None:
        extra = [str(Figure(min(result.baseline))), _ratio_text(result.baseline_ratio)]
    return [
        result.case.label,
        str(Figure(min(result.peer))),
        *extra,
        str(Figure(min(result.ours))),
        _ratio_text(ratio),
        f"<= {result.case.goal:g}",
        "yes" if ratio <= result.case.goal else "no",
    ]


def _markdown(header: tuple[str, ...], rows: list[list[str]], numeric: set[int]) -> str:
    align = ["---:" if i in numeric else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _caption(repeat: int, loads: list[float]) -> str:
    facts = [
        f"best of {repeat}",
        f"{os.cpu_count()} CPUs",
        f"{platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}",
        f"kfp {version('kfp')}",
        f"kubeline {version('kubeline')}",
        datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    ]
    if loads:
        facts.append(f"load average {min(loads):.1f}-{max(loads):.1f} as the processes started")
    return ", ".join(facts)


def render(
    results: list[Result], floor: list[tuple[str, float]], repeat: int, loads: list[float]
) -> str:
    """Both tables as Markdown (also what the terminal shows: it reads well as text)."""
    text = "kubeline run vs kfp.local, whole processes: " + _caption(repeat, loads) + "\n\n"
    with_baseline = any(r.baseline for r in results)
    header = _COLUMNS[:2] + _BASELINE_COLUMNS + _COLUMNS[2:] if with_baseline else _COLUMNS
    numeric = {1, 2, 3, 4, 5} if with_baseline else {1, 2, 3}
    text += _markdown(header, [_cells(r, with_baseline) for r in results], numeric)
    for result in results:
        if result.peer or result.ours:
            runs = ", ".join(f"{s:.2f}" for s in result.ours)
            peers = ", ".join(f"{s:.2f}" for s in result.peer)
            text += f"\n- {result.case.label}: kfp.local {peers} s; kubeline {runs} s"
            if result.baseline:
                text += f"; baseline {', '.join(f'{s:.2f}' for s in result.baseline)} s"
            if result.error:
                text += f" (then FAILED: {result.error})"
    if floor:
        text += "\n\nThe floor: whole processes that only import\n\n"
        text += _markdown(("process", "best"), [[n, str(Figure(s))] for n, s in floor], {1})
    return text + "\n"


# ------------------------------------------------------------------ entry point


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/whole_process.py", description=__doc__.split("\n\n")[0].strip()
    )
    names = [c.name for c in CASES]
    parser.add_argument(
        "--only",
        nargs="+",
        choices=names,
        metavar="NAME",
        help=f"only these pipelines (of: {', '.join(names)})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor table")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        metavar="PATH",
        help="also time `kubeline run` with the kubeline package of this src/ folder (e.g. "
        "an older commit's, from `git archive REV src | tar -x -C DIR`), in the same turns",
    )
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write it here")
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="PATH",
        help="keep each process's folder and log here (default: removed)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    keep = args.workdir
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kubeline-whole-", dir=keep))
    log(f"scratch folder: {workdir}")
    try:
        baseline = args.baseline_src.resolve() if args.baseline_src else None
        if baseline is not None and not (baseline / "kubeline" / "__init__.py").is_file():
            raise SystemExit(f"--baseline-src: no kubeline package in {baseline}")
        runner = Runner(workdir, baseline)
        cases = [c for c in CASES if not args.only or c.name in args.only]
        results = [measure_case(case, runner, args.repeat, log) for case in cases]
        floor = [] if args.no_floor else measure_floor(runner, max(args.repeat, 5))
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(results, floor, args.repeat, runner.loads)
    sys.stdout.write(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
