"""Containers, whole processes: ``kubeline run X.yaml --runner docker --pull never``
against a Python process that runs kfp.local with ``DockerRunner`` on the same YAML, every
task of both in the same image (kubeline's ``kubeline:<version>``).

    .venv/bin/python bench/containers.py [--repeat 3] [--only sklearn13 chain10]
                          [--image kubeline:0.1.0] [--no-floor] [--json PATH]
                          [--markdown PATH] [--workdir PATH]

Needs a running Docker daemon, the image (``python3 tasks.py image``) and, for the peer, the
``docker`` Python SDK, which kubeline does not depend on: install it into the venv for this
bench only (``.venv/bin/pip install docker``); the script exits 2 naming what is missing.

The pipelines are ``bench/pipelines.py``'s, compiled once with every component in the image
(``compile_pipeline(..., image=...)``, as ``kubeline compile --image`` does): the 13-task
scikit-learn pipeline (goal: kubeline at least 3x faster, from running independent tasks
at once), a chain of 10 trivial tasks, and a pipeline whose one task a false ``dsl.If``
skips (KFP refuses a pipeline with no task): everything but the containers. Each side's
per-task container overhead is (chain of 10 - no task) / 10, from the best of each.

Measured as ``bench/whole_process.py`` measures (its Runner): whole processes, timed from
before they start to after they exit, the sides taking turns, best of ``--repeat``, caching
off on both, kubeline on a fresh ``KUBELINE_HOME``; no process and no container of an earlier
run is left when the next starts, and the image's id is checked before every run (a tag
rebuilt during the bench would mix two images: the case then fails).

The peer runs as kubeline runs by default: as the caller's uid:gid with ``HOME=/tmp``
(``DockerRunner(user=..., environment=...)``); as the image's own user (kubeline's 10001)
it cannot write the pipeline root the caller owns. kfp.local finds the local tag itself
(it pulls only a tag that ``docker images`` does not list).

Progress goes to stderr, the tables to stdout. Exit code 1 when a process failed.
"""

# No `from __future__ import annotations`: KFP reads the no-task pipeline's real annotation.
import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

# As in whole_process.py: import bench/ as the package `bench`, never its modules bare.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from bench.measure import BenchError  # noqa: E402 - after the path fix above
from bench.report import Figure  # noqa: E402
from bench.whole_process import Runner  # noqa: E402

__all__ = ["CASES", "main"]

#: The label the peer's containers get (in _PEER_SCRIPT), so the bench can see none is left.
_PEER_LABEL = "io.kubeline.bench"
#: kubeline's own label on a task's container (engine/executors/container.py), whose value
#: is the task's folder, inside the run's KUBELINE_HOME.
_OURS_LABEL = "io.kubeline.task"

#: The peer (argv: YAML, pipeline root, mark for its containers' label).
_PEER_SCRIPT = """\
import os, sys
from kfp import components, local

user = f"{os.getuid()}:{os.getgid()}" if hasattr(os, "getuid") else None
local.init(
    runner=local.DockerRunner(
        **({"user": user} if user else {}),
        environment={"HOME": "/tmp"},
        labels={"io.kubeline.bench": sys.argv[3]},
    ),
    pipeline_root=sys.argv[2],
    raise_on_error=True,
    enable_caching=False,
)
components.load_component_from_file(sys.argv[1])()
"""


def _sklearn13() -> Any:
    from bench.pipelines import sklearn_pipeline

    return sklearn_pipeline


def _chain10() -> Any:
    from bench.pipelines import chain_pipeline

    return chain_pipeline(10)


def _no_task() -> Any:
    from kfp import dsl

    from bench.pipelines import add_one

    @dsl.pipeline(name="bench-no-task")
    def no_task(run: bool = False) -> None:
        with dsl.If(run == True):  # noqa: E712 - a KFP condition, not a Python comparison
            add_one(x=0)

    return no_task


#: name -> (label, pipeline); ``chain10`` brings ``empty`` with it (its baseline).
CASES: dict[str, tuple[str, Callable[[], Any]]] = {
    "sklearn13": ("13-task scikit-learn pipeline", _sklearn13),
    "chain10": ("chain of 10 trivial tasks", _chain10),
    "empty": ("no task (its one task skipped by a false dsl.If)", _no_task),
}
_GOAL = 3.0  # sklearn13: kfp.local's time / kubeline's


# ------------------------------------------------------------------ docker


def _docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"docker {args[0]}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def image_id(image: str) -> str:
    return _docker("image", "inspect", "--format", "{{.Id}}", image)


def _refuse(message: str) -> NoReturn:
    print(f"bench/containers.py: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_ready(image: str) -> str:
    """The image's id; exit 2 naming what is missing (the daemon, the image, the SDK)."""
    if shutil.which("docker") is None:
        _refuse("no `docker` command: install docker.io (python3 tasks.py docker start)")
    try:
        _docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    except (BenchError, subprocess.SubprocessError) as exc:
        _refuse(f"no Docker daemon answers ({exc}): python3 tasks.py docker start")
    try:
        found = image_id(image)
    except BenchError:
        _refuse(f"no image {image} here: build it with `python3 tasks.py image`")
    if importlib.util.find_spec("docker") is None:  # kfp.local's DockerRunner imports it
        _refuse(
            "kfp.local's DockerRunner needs the docker Python SDK: "
            f"{Path(sys.executable).parent / 'pip'} install docker"
        )
    return found


def _containers(label: str) -> list[tuple[str, str]]:
    listed = _docker("ps", "--all", "--filter", f"label={label}", "--format",
                     f'{{{{.ID}}}} {{{{.Label "{label}"}}}}')  # fmt: skip
    return [(line.partition(" ")[0], line.partition(" ")[2]) for line in listed.splitlines()]


def _wait_no_container(label: str, owns: Callable[[str], bool], grace: float = 30) -> None:
    """Wait until no container with ``label`` whose value ``owns`` is left (a runtime may
    still be removing one its client saw end)."""
    deadline = time.monotonic() + grace
    while left := [cid for cid, value in _containers(label) if owns(value)]:
        if time.monotonic() > deadline:
            _docker("rm", "--force", *left)
            raise BenchError(f"containers {', '.join(left)} were still there {grace:.0f} s after")
        time.sleep(0.1)


# ------------------------------------------------------------------ sides


class Sides:
    """Runs the two sides on one YAML, each run in folders of its own under ``workdir``."""

    def __init__(self, runner: Runner, image: str, expected_id: str) -> None:
        self.runner = runner
        self.image = image
        self.expected_id = expected_id
        self._count = 0

    def _fresh(self, kind: str) -> Path:
        self._count += 1
        if image_id(self.image) != self.expected_id:
            raise BenchError(
                f"{self.image} was rebuilt during the bench (it was {self.expected_id[:19]}):"
                " figures of two images would be mixed; run the bench again"
            )
        return self.runner.workdir / f"{kind}-{self._count:03d}"

    def peer(self, pipeline_yaml: Path) -> float:
        root = self._fresh("pipeline-root")
        mark = f"{os.getpid()}-{self._count}"
        argv = [sys.executable, "-c", _PEER_SCRIPT, str(pipeline_yaml), str(root), mark]
        seconds = self.runner.command("kfp-local-docker", argv)
        _wait_no_container(_PEER_LABEL, lambda value: value == mark)
        return seconds

    def ours(self, pipeline_yaml: Path) -> float:
        home = self._fresh("home")
        argv = [self.runner.kubeline, "run", str(pipeline_yaml), "--runner", "docker"]
        argv += ["--pull", "never", "--no-cache"]
        seconds = self.runner.command("kubeline-docker", argv, {"KUBELINE_HOME": str(home)})
        _wait_no_container(_OURS_LABEL, lambda value: value.startswith(str(home)))
        return seconds


@dataclass
class Result:
    name: str
    label: str
    peer: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    error: str = ""


def measure(name: str, sides: Sides, image: str, repeat: int, log: Callable[[str], None]) -> Result:
    """Compile the case's pipeline in ``image`` once, then run both sides in turn."""
    from kubeline.pipelines.compile import compile_function, compile_pipeline

    label, pipeline = CASES[name]
    result = Result(name, label)
    folder = sides.runner.workdir / f"yaml-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    pipeline_yaml = compile_pipeline(
        compile_function(pipeline()), folder / f"{name}.yaml", image=image
    )
    try:
        for attempt in range(1, repeat + 1):
            result.peer.append(sides.peer(pipeline_yaml))
            result.ours.append(sides.ours(pipeline_yaml))
            log(
                f"{name} {attempt}/{repeat}: kfp.local DockerRunner {result.peer[-1]:.2f} s, "
                f"kubeline --runner docker {result.ours[-1]:.2f} s"
            )
    except BenchError as exc:
        result.error = str(exc)
    return result


def _floor(image: str) -> list[tuple[str, list[str]]]:
    """Containers that only start, each a part of every task's cost on both sides."""
    run = ["docker", "run", "--rm", "--init", "--env", "HOME=/tmp", "--env", "_KFP_RUNTIME=true"]
    if hasattr(os, "getuid"):  # as both sides run their tasks; Docker Desktop maps it elsewhere
        run += ["--user", f"{os.getuid()}:{os.getgid()}"]
    pip = (
        "PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet "
        f"--no-warn-script-location 'kfp=={version('kfp')}' '--no-deps'"
    )
    # fastparquet: the default image's Parquet library (the -full one adds pyarrow).
    sklearn = "pandas, joblib, fastparquet, sklearn.datasets, sklearn.model_selection"
    imports = f"import kfp.dsl.executor_main, {sklearn}"
    return [
        ("a container that runs `true` (start and removal)", [*run, "--entrypoint", "true", image]),
        ("python3 -c pass", [*run, "--entrypoint", "python3", image, "-c", "pass"]),
        (
            "the compiled command's `pip install kfp==... --no-deps` (already satisfied)",
            [*run, "--entrypoint", "sh", image, "-c", pip],
        ),
        (
            "import kfp.dsl.executor_main (a task's executor)",
            [*run, "--entrypoint", "python3", image, "-c", "import kfp.dsl.executor_main"],
        ),
        (
            f"import kfp.dsl.executor_main, {sklearn} (a scikit-learn task's imports)",
            [*run, "--entrypoint", "python3", image, "-c", imports],
        ),
    ]  # fmt: skip


def measure_floor(runner: Runner, image: str, repeat: int) -> list[tuple[str, float]]:
    return [
        (name, min(runner.command("floor", argv) for _ in range(repeat)))
        for name, argv in _floor(image)
    ]


# ------------------------------------------------------------------ tables


def _speed(peer: float, ours: float) -> str:
    ratio = peer / ours
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def summary(results: dict[str, Result]) -> list[dict[str, Any]]:
    """The table's rows as data (also what --json writes)."""
    rows: list[dict[str, Any]] = []
    for result in results.values():
        row: dict[str, Any] = {"pipeline": result.label, "measure": "wall time"}
        if result.peer and result.ours:
            row |= {"peer": min(result.peer), "ours": min(result.ours)}
            row["ratio"] = row["peer"] / row["ours"]
        if result.name == "sklearn13":
            row["goal"] = f">= {_GOAL:g}x faster"
            row["met"] = row.get("ratio", 0) >= _GOAL if not result.error else None
        if result.error:
            row["error"] = result.error
        rows.append(row)
    chain, empty = results.get("chain10"), results.get("empty")
    if chain and empty and chain.peer and chain.ours and empty.peer and empty.ours:
        peer = (min(chain.peer) - min(empty.peer)) / 10
        ours = (min(chain.ours) - min(empty.ours)) / 10
        rows.append(
            {
                "pipeline": CASES["chain10"][0],
                "measure": "per-task container overhead: (chain of 10 - no task) / 10",
                "peer": peer,
                "ours": ours,
                "ratio": peer / ours if ours > 0 else None,
            }
        )
    return rows


_HEADER = (
    *("pipeline", "measure", "kfp.local DockerRunner", "kubeline --runner docker"),
    *("ratio", "goal", "met?"),
)


def _cells(row: dict[str, Any]) -> list[str]:
    if "peer" not in row:
        return [row["pipeline"], row["measure"], f"FAILED: {row.get('error', '')}", "", "", "", ""]
    met = row.get("met")
    return [
        row["pipeline"],
        row["measure"],
        str(Figure(row["peer"])),
        str(Figure(row["ours"])),
        _speed(row["peer"], row["ours"]) if row.get("ratio") else "",
        row.get("goal", ""),
        "" if met is None else ("yes" if met else "no"),
    ]


def _markdown(header: tuple[str, ...], rows: list[list[str]], numeric: set[int]) -> str:
    align = ["---:" if i in numeric else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def facts(repeat: int, image: str, image_ref: str, loads: list[float]) -> dict[str, Any]:
    return {
        "repeat": repeat,
        "cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "kfp": version("kfp"),
        "kubeline": version("kubeline"),
        "docker": _docker("version", "--format", "{{.Server.Version}}"),
        "docker_sdk": version("docker"),
        "image": image,
        "image_id": image_ref,
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": [min(loads), max(loads)] if loads else None,
    }


def render(
    results: dict[str, Result], floor: list[tuple[str, float]], about: dict[str, Any]
) -> str:
    caption = (
        f"best of {about['repeat']}, {about['cpus']} CPUs, {about['system']}, Python "
        f"{about['python']}, kfp {about['kfp']}, kubeline {about['kubeline']}, Docker "
        f"{about['docker']} (docker SDK {about['docker_sdk']}), image {about['image']} "
        f"({about['image_id'][:19]}), {about['when']}"
    )
    if about["load_average"]:
        low, high = about["load_average"]
        caption += f", load average {low:.1f}-{high:.1f} as the processes started"
    text = "kubeline --runner docker vs kfp.local's DockerRunner, whole processes: "
    text += caption + "\n\n"
    header = _HEADER
    text += _markdown(header, [_cells(row) for row in summary(results)], {2, 3, 4})
    text += "\nEach run (seconds):\n"
    for result in results.values():
        peers = ", ".join(f"{s:.2f}" for s in result.peer)
        ours = ", ".join(f"{s:.2f}" for s in result.ours)
        text += f"\n- {result.label}: kfp.local {peers}; kubeline {ours}"
        if result.error:
            text += f" (then FAILED: {result.error})"
    if floor:
        text += "\n\nThe floor: containers of the same image that only start, as the caller\n\n"
        text += _markdown(("container", "best"), [[n, str(Figure(s))] for n, s in floor], {1})
    return text + "\n"


# ------------------------------------------------------------------ entry point


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/containers.py", description=__doc__.split("\n\n")[0].strip()
    )
    parser.add_argument(
        "--only", nargs="+", choices=["sklearn13", "chain10"], metavar="NAME",
        help="only these: sklearn13, chain10 (with its no-task baseline)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument(
        "--image", default=f"kubeline:{version('kubeline')}",
        help="the image every task runs in (default kubeline:<version>)",
    )  # fmt: skip
    parser.add_argument("--no-floor", action="store_true", help="skip the floor table")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the tables")
    parser.add_argument(
        "--workdir", type=Path, metavar="PATH",
        help="keep each process's folder and log here (default: removed)",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.repeat < 1:
        _refuse("--repeat must be at least 1")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    expected = check_ready(args.image)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kubeline-containers-", dir=args.workdir))
    log(f"scratch folder: {workdir}; image {args.image} ({expected[:19]})")
    names = [n for n in ("sklearn13", "chain10") if not args.only or n in args.only]
    if "chain10" in names:
        names.append("empty")
    try:
        runner = Runner(workdir)
        sides = Sides(runner, args.image, expected)
        results = {n: measure(n, sides, args.image, args.repeat, log) for n in names}
        floor: list[tuple[str, float]] = []
        if not args.no_floor:
            try:
                floor = measure_floor(runner, args.image, args.repeat)
            except BenchError as exc:  # the table above stands without it
                log(f"the floor: FAILED: {exc}")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    about = facts(args.repeat, args.image, expected, runner.loads)
    text = render(results, floor, about)
    sys.stdout.write(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        data = {
            "machine": about,
            "rows": summary(results),
            "runs": [asdict(r) for r in results.values()],
            "floor": [{"container": n, "best": s} for n, s in floor],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 1 if any(r.error for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
