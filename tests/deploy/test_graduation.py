"""The graduation path crossed for real (#15 item 5): what a cluster would run, run here in
the real image (``kubeline:<version>``, tests/containers.py) with a real Docker daemon.

- the lifecycle compiled with ``--image kubeline:<version>`` runs with ``kubeline run
  --runner docker --pull never`` to SUCCEEDED, one container per task, its model registered;
- container components run in their image (the corpus' own and one compiled here);
- ``kubeline serve --model-dir /mnt/models`` in the image answers V1 and V2 on that model;
- the InferenceService ``kubeline deploy kserve`` writes has its command and args run as
  written, the model where KServe's storage initializer puts it;
- the ``docker build`` step of cloudbuild.yaml runs as written, with a local tag.

Without Docker or the image these skip here and fail in CI (tests/requirements.py).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import yaml

from kubeline.deploy.kserve import parse_quantity
from kubeline.engine.executors.container import LABEL
from tests.conftest import CALLER_SETTINGS, REPO
from tests.containers import HOW, docker_image
from tests.deploy.test_cloudbuild import CONFIG, VALUES, _step, _substitute
from tests.live import free_port
from tests.requirements import need

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MODEL = "breast-cancer-classifier"  # the lifecycle's default: <dataset>-classifier
#: The lifecycle took 88 s here with 2 cores (other work running); the limit leaves room.
RUN_TIMEOUT = 900
#: A build whose dependency layer is not cached downloads every wheel (about 75 s here).
BUILD_TIMEOUT = 1200
#: Where KServe's storage initializer puts the model (STORAGE_URI) in the predictor's pod.
KSERVE_MODEL_DIR = "/mnt/models"


# -- helpers --------------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    """This process's environment without a caller's kubeline settings, with ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in CALLER_SETTINGS}
    return {**env, "KUBELINE_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}


def _kubeline(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m kubeline ARGS`` in a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "kubeline", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _docker(
    *args: str, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert done.returncode == 0, f"docker {' '.join(args[:3])}...: {done.stderr[-3000:]}"
    return done


def _image_id(image: str) -> str:
    return _docker("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def _run_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


@dataclass(frozen=True)
class Start:
    """A container the daemon started for a task: its id, its task's mark, its image id."""

    container: str
    mark: str
    image: str


class ContainerStarts:
    """The daemon's own record of the task containers started: ``docker events`` filtered
    on kubeline's task label, as :func:`container_starts` writes them to ``out``."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def under(self, folder: Path, at_least: int = 0, wait: float = 15) -> list[Start]:
        """The starts of tasks whose folder is under ``folder``, once there are
        ``at_least`` (events reach the stream a moment after the run ends)."""
        deadline = time.monotonic() + wait
        while True:
            self._out.seek(0)
            starts = []
            for line in self._out.read().splitlines():
                actor = json.loads(line)
                mark = actor["Attributes"].get(LABEL, "")
                if mark.startswith(f"{folder}{os.sep}"):
                    starts.append(Start(actor["ID"], mark, actor["Attributes"].get("image", "")))
            if len(starts) >= at_least or time.monotonic() > deadline:
                return starts
            time.sleep(0.2)


@contextlib.contextmanager
def container_starts() -> Iterator[ContainerStarts]:
    """Task containers started from just before it opens until it closes."""
    with tempfile.TemporaryFile(mode="w+") as out:
        events = subprocess.Popen(
            [
                *("docker", "events", "--since", f"{time.time() - 1:.3f}"),
                *("--filter", f"label={LABEL}", "--filter", "event=start"),
                *("--format", "{{json .Actor}}"),
            ],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield ContainerStarts(out)
        finally:
            events.terminate()
            try:
                events.wait(timeout=10)
            except subprocess.TimeoutExpired:
                events.kill()
                events.wait(timeout=10)


def _left_over(folder: Path) -> list[str]:
    """Task containers (running or not) of runs under ``folder``."""
    listed = _docker(
        *("ps", "--all", "--filter", f"label={LABEL}"),
        *("--format", '{{.ID}} {{.Label "' + LABEL + '"}}'),
    )
    return [line.split()[0] for line in listed.stdout.splitlines() if f" {folder}{os.sep}" in line]


def _one_container_per_attempt(
    result: dict[str, Any], starts: list[Start], image_ids: set[str]
) -> None:
    """Every task that ran (not cached) started one container per attempt, all in one image
    of ``image_ids`` (the tag's id before and after the run: another session may rebuild
    it meanwhile), and no container started for anything else."""
    root = result["root"]
    expected = collections.Counter(
        {
            f"{root}/tasks/{task['path']}": task["attempts"]
            for task in result["tasks"]
            if task["kind"] == "executor" and not task["cached"] and task["attempts"]
        }
    )
    assert expected, "no task ran"
    assert collections.Counter(s.mark for s in starts) == expected
    (used,) = {s.image for s in starts}
    assert used in image_ids
    assert len({s.container for s in starts}) == len(starts)


@dataclass(frozen=True)
class ContainerRun:
    """A ``kubeline run --runner docker`` and the task containers the daemon started for it."""

    result: dict[str, Any]
    starts: list[Start]
    image_ids: frozenset[str]
    seconds: float


def _run_in_containers(
    home: Path, spec: Path, image: str, *options: str, timeout: float = 300
) -> ContainerRun:
    """``kubeline run SPEC OPTIONS --runner docker --pull never --output json``."""
    before = _image_id(image)
    with container_starts() as starts:
        started = time.monotonic()
        done = _kubeline(
            home,
            *("run", str(spec), *options, "--runner", "docker", "--pull", "never"),
            *("--output", "json"),
            timeout=timeout,
        )
        seconds = time.monotonic() - started
        result = _run_json(done)
        ran = sum(t["attempts"] for t in result["tasks"] if t["kind"] == "executor")
        seen = starts.under(home, at_least=ran)
    return ContainerRun(result, seen, frozenset({before, _image_id(image)}), seconds)


def _check_containers(run: ContainerRun, home: Path) -> None:
    _one_container_per_attempt(run.result, run.starts, set(run.image_ids))
    assert _left_over(home) == []  # each removed when its task ended


# -- (a) the lifecycle in kubeline's image ----------------------------------------------------


@dataclass(frozen=True)
class Lifecycle:
    home: Path
    spec: Path
    run: ContainerRun


@pytest.fixture(scope="module")
def image() -> str:
    return docker_image()


@pytest.fixture(scope="module")
def lifecycle(image: str, tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    """``kubeline compile lifecycle --image kubeline:<version>``, then ``kubeline run
    --runner docker --pull never`` on it, in a home of this module's."""
    home = tmp_path_factory.mktemp("graduation-home")
    spec = home.parent / "lifecycle.yaml"
    compiled = _kubeline(home, "compile", "lifecycle", "--image", image, "-o", str(spec))
    assert compiled.returncode == 0, compiled.stderr
    run = _run_in_containers(home, spec, image, timeout=RUN_TIMEOUT)
    accuracy = run.result["outputs"].get("accuracy")
    print(
        f"lifecycle, --runner docker: {run.seconds:.1f} s, {len(run.starts)} containers, {accuracy}"
    )
    return Lifecycle(home, spec, run)


def _registered(lifecycle: Lifecycle) -> dict[str, Any]:
    return _run_json(_kubeline(lifecycle.home, "models", "show", MODEL, "--output", "json"))


@pytest.mark.timeout(RUN_TIMEOUT + 300)
def test_lifecycle_runs_in_kubeline_image_one_container_per_task(
    lifecycle: Lifecycle, image: str
) -> None:
    spec = yaml.safe_load(lifecycle.spec.read_text(encoding="utf-8"))
    executors = spec["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {image}

    result = lifecycle.run.result
    assert result["state"] == "SUCCEEDED", result["error"]
    assert result["outputs"]["accuracy"] >= 0.95
    assert result["outputs"]["decision"].startswith(f"registered {MODEL}")
    _check_containers(lifecycle.run, lifecycle.home)
    assert len(lifecycle.run.starts) >= 20  # 10 trials and the steps around them


@pytest.mark.timeout(RUN_TIMEOUT + 300)
def test_lifecycle_model_is_registered_as_trained_in_the_image(
    lifecycle: Lifecycle, image: str
) -> None:
    version = _registered(lifecycle)
    assert version["version"] == 1 and version["run_id"] == lifecycle.run.result["run_id"]
    assert version["metrics"]["accuracy"] == lifecycle.run.result["outputs"]["accuracy"]
    # The Python that trained it is the image's (Debian's 3.11), recorded with the model.
    inside = _docker(
        *("run", "--rm", "--network", "none", image),
        *("python3", "-c", "import platform; print(platform.python_version())"),
        timeout=120,
    )
    assert version["libraries"]["python"] == inside.stdout.strip()
    assert Path(version["uri"]).is_file()


# -- (b) container components in their image --------------------------------------------------

#: The corpus' container cases (cases.json, kind "container") and what each task prints.
#: Their images (registry.access.redhat.com/ubi9/python-311 and the like) cannot be pulled
#: here (no registry is reachable), so each component is pointed at the image built here,
#: which has the sh and echo they call: only the image changes, command and args stay.
CORPUS_PRINTS = {
    "producer-consumer": "this is an output parameter",
    "container-hello-world": "hello world",
    "sequential-container": "Second",
    "container-no-input": "hello world",
    "container-arguments": "arg1-arg2",
}


@pytest.mark.parametrize("case_name", sorted(CORPUS_PRINTS))
def test_corpus_container_components_run_in_the_image(
    case_name: str, conformance: Path, image: str, kubeline_home: Path, tmp_path: Path
) -> None:
    cases = json.loads((conformance / "cases.json").read_text(encoding="utf-8"))["cases"]
    case = next(c for c in cases if c["name"] == case_name)
    assert case["kind"] == "container"
    spec = yaml.safe_load((conformance / "pipelines" / case["file"]).read_text(encoding="utf-8"))
    for executor in spec["deploymentSpec"]["executors"].values():
        executor["container"]["image"] = image
    path = tmp_path / Path(case["file"]).name
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    params = [f"-p{k}={v}" for k, v in case["args"].items()]
    run = _run_in_containers(kubeline_home, path, image, *params)
    assert run.result["state"] == case["state"], run.result["error"]
    _check_containers(run, kubeline_home)
    logs = "".join(p.read_text() for p in Path(run.result["root"]).glob("logs/**/*.log"))
    assert CORPUS_PRINTS[case_name] in logs


COMPONENT = '''
from kfp import dsl


@dsl.container_component
def where(answer: dsl.OutputPath(str)):
    """Its container's hostname (Docker's default: the container's short id), its uid and
    the kubeline the image has."""
    report = (
        'mkdir -p "$(dirname "$0")" && printf "%s %s %s" "$(hostname)" "$(id -u)" '
        '"$(python3 -c "import kubeline; print(kubeline.__version__)")" > "$0"'
    )
    return dsl.ContainerSpec(image=IMAGE, command=["sh", "-c", report], args=[answer])


@dsl.pipeline(name="where-it-runs")
def where_it_runs() -> str:
    return where().output
'''


def test_a_container_component_compiled_against_the_image_runs_in_it(
    image: str, kubeline_home: Path, tmp_path: Path
) -> None:
    source = tmp_path / "where.py"
    source.write_text(f"IMAGE = {image!r}\n{COMPONENT}", encoding="utf-8")
    spec = tmp_path / "where.yaml"
    compiled = _kubeline(kubeline_home, "compile", f"{source}:where_it_runs", "-o", str(spec))
    assert compiled.returncode == 0, compiled.stderr
    run = _run_in_containers(kubeline_home, spec, image)
    assert run.result["state"] == "SUCCEEDED", run.result["error"]
    _check_containers(run, kubeline_home)
    hostname, uid, version = run.result["outputs"]["Output"].split()
    assert run.starts[0].container.startswith(hostname)  # written inside that very container
    assert uid == str(os.getuid())  # the caller's uid (--container-user caller)
    assert version == image.split(":")[1]


# -- (c) and (d): the model served by the image ----------------------------------------------


@contextlib.contextmanager
def _serving(image: str, port: int, options: list[str], command: list[str]) -> Iterator[str]:
    """``docker run --detach OPTIONS IMAGE COMMAND``, published on a loopback port; its URL
    once it answers /v2/health/ready. The container is removed on the way out."""
    name = f"kubeline-graduation-{uuid.uuid4().hex[:12]}"
    try:
        _docker("run", "--detach", "--name", name, *options, image, *command, timeout=120)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/v2/health/ready", timeout=5).status_code == 200:
                    break
            state = _docker("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            if state != "running" or time.monotonic() > deadline:
                logs = _docker("logs", name, check=False)
                pytest.fail(f"the server in {image} is {state}, not ready: {logs.stderr[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        _docker("rm", "--force", name, check=False)


def _answers_v1_and_v2(url: str, lifecycle: Lifecycle, name: str) -> None:
    """The served model predicts what the registered file predicts here, over both
    protocols."""
    import joblib
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    rows = frame.iloc[[0, 19, 100, 300, 500]]
    expected = joblib.load(_registered(lifecycle)["uri"]).predict(rows).tolist()

    v1 = httpx.post(
        f"{url}/v1/models/{name}:predict", json={"instances": rows.to_numpy().tolist()}, timeout=30
    )
    assert v1.status_code == 200, v1.text
    assert v1.json() == {"predictions": expected}

    tensor = {"name": "input-0", "shape": list(rows.shape), "datatype": "FP64"}
    v2 = httpx.post(
        f"{url}/v2/models/{name}/infer",
        json={"inputs": [{**tensor, "data": rows.to_numpy().ravel().tolist()}]},
        timeout=30,
    )
    assert v2.status_code == 200, v2.text
    body = v2.json()
    assert body["model_name"] == name
    assert body["outputs"][0]["data"] == expected


def _model_folder(lifecycle: Lifecycle) -> Path:
    """The registry's folder of the lifecycle's model: what a bucket would hold."""
    return Path(_registered(lifecycle)["uri"]).parent


@pytest.mark.timeout(RUN_TIMEOUT + 300)
def test_kubeline_serve_in_the_image_answers_v1_and_v2(lifecycle: Lifecycle, image: str) -> None:
    port = free_port()
    options = [
        *("--publish", f"127.0.0.1:{port}:8080"),
        *("--mount", f"type=bind,source={_model_folder(lifecycle)},target=/mnt/models,readonly"),
    ]
    command = ["kubeline", "serve", "--model-dir", "/mnt/models", "--name", MODEL]
    command += ["--host", "0.0.0.0", "--port", "8080", "--workers", "1"]
    with _serving(image, port, options, command) as url:
        _answers_v1_and_v2(url, lifecycle, MODEL)


@pytest.mark.timeout(RUN_TIMEOUT + 300)
def test_the_inference_services_container_runs_as_written_in_the_image(
    lifecycle: Lifecycle, image: str, tmp_path: Path
) -> None:
    manifest_path = tmp_path / "isvc.yaml"
    wrote = _kubeline(
        lifecycle.home,
        *("deploy", "kserve", MODEL, "--image", image, "-o", str(manifest_path)),
        *("--storage-uri", f"gs://graduation-test/models/{MODEL}/1"),
    )
    assert wrote.returncode == 0, wrote.stderr
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    (container,) = manifest["spec"]["predictor"]["containers"]
    assert container["image"] == image
    args = container["args"]
    assert KSERVE_MODEL_DIR in args  # it serves what the storage initializer fetched
    name = args[args.index("--name") + 1]
    (port_spec,) = container["ports"]
    port = free_port()
    # As the kubelet runs it: command replaces the image's entrypoint, args its CMD, the
    # env and the limits as written (requests only schedule the pod: nothing to map), the
    # image's own user (the manifest sets no securityContext).
    limits = container.get("resources", {}).get("limits", {})
    options = ["--entrypoint", container["command"][0]]
    options += [f"--env={e['name']}={e['value']}" for e in container.get("env", [])]
    if "cpu" in limits:
        options += ["--cpus", str(parse_quantity(limits["cpu"]))]
    if "memory" in limits:
        options += ["--memory", str(int(parse_quantity(limits["memory"])))]
    options += ["--publish", f"127.0.0.1:{port}:{port_spec['containerPort']}"]
    folder = _model_folder(lifecycle)
    options += ["--mount", f"type=bind,source={folder},target={KSERVE_MODEL_DIR},readonly"]
    with _serving(image, port, options, [*container["command"][1:], *args]) as url:
        _answers_v1_and_v2(url, lifecycle, name)


# -- (e) cloudbuild.yaml's docker build step ------------------------------------------------

LOCAL_TAG = "kubeline-graduation/cloudbuild:test"


@pytest.mark.timeout(BUILD_TIMEOUT + 120)
def test_cloudbuild_docker_build_step_runs_as_written(image: str) -> None:
    base = "python:3.11-slim-bookworm"
    if _docker("image", "inspect", base, check=False).returncode != 0:
        need(f"the base image {base}", "it is not here (nor its stand-in)", HOW)
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    step = _step(config, "build-image")
    # Cloud Build's docker builder: its entrypoint is docker, the args are docker's.
    assert step["name"] == "gcr.io/cloud-builders/docker" and "entrypoint" not in step
    # BUILD_ID (Cloud Build's) given the Dockerfile's default REVISION, and _TAG its
    # default: the build arguments tasks.py image builds with, so its cached layers serve.
    revision = re.search(r"^ARG REVISION=(\S+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert revision is not None
    values = {**VALUES, "_TAG": config["substitutions"]["_TAG"], "BUILD_ID": revision[1]}
    args = [_substitute(arg, values) for arg in step["args"]]
    assert args[0] == "build"
    (tag,) = [a for a in args if a.startswith("--tag=")]
    assert tag == f"--tag={_substitute(config['images'][0], values)}"
    args[args.index(tag)] = f"--tag={LOCAL_TAG}"  # the only change: a local tag
    # pip inside the build reaches the package index through the host's network here.
    argv = ["docker", "build", "--network", "host", *args[1:]]
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv, cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        print(f"cloudbuild's build step: {time.monotonic() - started:.1f} s")
        labels = json.loads(
            _docker("image", "inspect", "--format", "{{json .Config.Labels}}", LOCAL_TAG).stdout
        )
        assert labels["org.opencontainers.image.version"] == values["_TAG"]
        assert labels["org.opencontainers.image.revision"] == values["BUILD_ID"]
        said = _docker("run", "--rm", "--network", "none", LOCAL_TAG, "kubeline", "--version")
        assert said.stdout.strip() == f"kubeline {values['_TAG']}"
    finally:
        # Only the tag and its own layers go: those it shares with kubeline:<version> stay.
        _docker("image", "rm", LOCAL_TAG, check=False)
