"""kubeline's image built and run for real: ``python3 tasks.py image`` builds
``kubeline:<version>`` from the unchanged Dockerfile on the stand-in base (scripts/images.py),
the CLI and the lifecycle pipeline run in it with no network, and a second build is a no-op.

The tests marked ``docker`` need a Docker daemon (as root on Linux, ``python3 tasks.py docker
start`` installs one and starts it): without one they skip here and fail in CI
(tests/requirements.py). The rest check the command's errors and its digests without Docker.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO
from tests.requirements import need

TASKS = REPO / "tasks.py"
SCRIPT = REPO / "scripts" / "images.py"
HOW = "as root on Linux: python3 tasks.py docker start (installs docker.io, starts dockerd)"
#: The first build downloads every wheel and, on a fresh machine, debootstraps the stand-in:
#: about 2.5 minutes here; the limit leaves room for a slow mirror.
BUILD_TIMEOUT = 1200


def _images(monkeypatch: pytest.MonkeyPatch | None = None, **env: str) -> ModuleType:
    if monkeypatch is not None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("kubeline_images_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tasks(*args: str, timeout: float, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    """``python3 tasks.py ARGS``: exit code, stderr (its messages) and seconds taken."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(TASKS), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return done.returncode, done.stderr, time.monotonic() - started


# -- without Docker ----------------------------------------------------------------------


def test_image_without_a_daemon_exits_2_and_says_how_to_start_one(tmp_path: Path) -> None:
    dead = f"unix://{tmp_path}/no-docker.sock"
    code, err, _ = _tasks("image", timeout=120, env={"DOCKER_HOST": dead})
    assert code == 2, err
    assert "Traceback" not in err
    assert "no Docker daemon answers" in err or "no docker command" in err
    assert "tasks.py docker start" in err


def test_image_refuses_an_unknown_option_with_exit_2() -> None:
    code, err, _ = _tasks("image", "--no-such-option", timeout=60)
    assert code == 2
    assert "Traceback" not in err and "--no-such-option" in err


def test_image_digest_follows_its_inputs_and_ignores_caches() -> None:
    images = _images()
    one = images.image_digest("sha256:base-a", {"VERSION": "1"})
    assert one == images.image_digest("sha256:base-a", {"VERSION": "1"})
    assert one != images.image_digest("sha256:base-b", {"VERSION": "1"})
    assert one != images.image_digest("sha256:base-a", {"VERSION": "2"})
    names = {p.relative_to(REPO).as_posix() for p in images._input_files()}
    assert {"Dockerfile", "requirements.txt", "pyproject.toml", "README.md"} <= names
    assert "src/kubeline/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "docs/", ".venv/"))]


def test_stand_in_digest_follows_its_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    images = _images()
    before = images.stand_in_digest()
    monkeypatch.setattr(images, "STAND_IN_PACKAGES", (*images.STAND_IN_PACKAGES, "curl"))
    assert images.stand_in_digest() != before


def test_stop_dockerd_stops_only_a_dockerd_it_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A pid file naming some other process (a pid reused, a stale file) stops nothing."""
    pidfile = tmp_path / "dockerd.pid"
    images = _images(monkeypatch, KUBELINE_DOCKERD_PID=str(pidfile))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pidfile.write_text(str(other.pid))
        assert images.stop_dockerd(lambda _: None) is False
        assert other.poll() is None, "a process that is not dockerd was stopped"
        assert not pidfile.exists()
        assert images.stop_dockerd(lambda _: None) is False  # no pid file: nothing to do
    finally:
        other.kill()
        other.wait()


# -- with Docker --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker() -> str:
    cli = shutil.which("docker")
    if cli is None:
        need("Docker", "no docker command on PATH", HOW)
    done = subprocess.run(
        [cli, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no answer"])[0]
        need("Docker", f"no Docker daemon answers ({first})", HOW)
    base = subprocess.run(
        [cli, "image", "inspect", "python:3.11-slim-bookworm"], capture_output=True, check=False
    )
    if base.returncode != 0 and not Path("/usr/sbin/debootstrap").exists():
        need("debootstrap", "no base image and no debootstrap to build the stand-in", HOW)
    return cli


@pytest.fixture(scope="module")
def built(docker: str) -> tuple[str, str]:
    """``python3 tasks.py image --stand-in-base``: the tag, and what it said."""
    code, err, seconds = _tasks("image", "--stand-in-base", timeout=BUILD_TIMEOUT)
    assert code == 0, err[-4000:]
    print(f"tasks.py image --stand-in-base: {seconds:.1f} s")
    return f"kubeline:{_images().version()}", err


def _labels(docker: str, image: str) -> dict[str, str]:
    done = subprocess.run(
        [docker, "image", "inspect", "--format", "{{json .Config.Labels}}", image],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def _run_in(docker: str, image: str, *command: str, timeout: float) -> str:
    """``docker run --network none IMAGE COMMAND`` as the image's own user; its stdout."""
    name = f"kubeline-test-{uuid.uuid4().hex[:12]}"
    try:
        done = subprocess.run(
            [docker, "run", "--rm", "--name", name, "--network", "none", image, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


@pytest.mark.docker
def test_image_builds_from_the_unchanged_dockerfile(docker: str, built: tuple[str, str]) -> None:
    tag, said = built
    labels = _labels(docker, tag)
    assert labels["org.opencontainers.image.version"] == tag.split(":")[1]
    assert labels["org.kubeline.inputs"].startswith("sha256:")
    base = labels["org.kubeline.base"]
    assert base in ("stand-in", "official")
    if base == "stand-in":  # it says so, and the stand-in is marked as one
        assert "stand-in" in said
        assert "org.kubeline.stand-in" in _labels(docker, "python:3.11-slim-bookworm")
    assert "FROM python:3.11-slim-bookworm\n" in (REPO / "Dockerfile").read_text()


@pytest.mark.docker
def test_second_build_is_a_quick_no_op(docker: str, built: tuple[str, str]) -> None:
    """Right after the build (the tests run in file order): nothing changed, nothing built."""
    tag, _ = built
    before = _labels(docker, tag)["org.kubeline.inputs"]
    code, err, seconds = _tasks("image", "--stand-in-base", timeout=120)
    assert code == 0, err
    assert "up to date" in err and "nothing to build" in err
    assert "docker build" not in err
    assert seconds < 20, f"the up-to-date check took {seconds:.1f} s"
    assert _labels(docker, tag)["org.kubeline.inputs"] == before


@pytest.mark.docker
def test_the_image_reads_parquet_with_fastparquet_and_has_no_pyarrow(
    docker: str, built: tuple[str, str]
) -> None:
    """The default image leaves pyarrow (156 MB) to the -full one: Parquet goes through
    fastparquet, and a frame's dtypes survive the round trip (the lifecycle test runs it all)."""
    tag, _ = built
    script = (
        "import importlib.util as u, tempfile, os\n"
        "from kubeline.ml.datasets import load_dataset, parquet_engine, read_parquet,"
        " write_parquet\n"
        "frame = load_dataset('iris')\n"
        "path = os.path.join(tempfile.mkdtemp(), 'iris.parquet')\n"
        "write_parquet(frame, path)\n"
        "assert read_parquet(path).equals(frame)\n"
        "dtype = read_parquet(path)['target'].dtype\n"
        "print(u.find_spec('pyarrow') is None, parquet_engine(), dtype)\n"
    )
    out = _run_in(docker, tag, "python3", "-c", script, timeout=120)
    assert out.split() == ["True", "fastparquet", "str"]


@pytest.mark.docker
def test_the_image_adds_at_most_450_mb_to_its_base(docker: str, built: tuple[str, str]) -> None:
    """Issue #15's goal, as bench/image_size.py measures it (docs/benchmarks.md)."""
    tag, _ = built

    def size(image: str) -> int:
        done = subprocess.run(
            [docker, "image", "inspect", "--format", "{{.Size}}", image],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return int(done.stdout.strip())

    above = (size(tag) - size("python:3.11-slim-bookworm")) / 1e6
    assert above <= 450, f"{tag} adds {above:.0f} MB to its base (goal: at most 450 MB)"


@pytest.mark.docker
def test_kubeline_runs_in_the_image_without_network(docker: str, built: tuple[str, str]) -> None:
    tag, _ = built
    out = _run_in(docker, tag, "kubeline", "--version", timeout=120)
    assert out.strip() == f"kubeline {tag.split(':')[1]}"


@pytest.mark.docker
@pytest.mark.slow
def test_lifecycle_pipeline_succeeds_in_the_image_without_network(
    docker: str, built: tuple[str, str]
) -> None:
    tag, _ = built
    out = _run_in(docker, tag, "kubeline", "run", "--output", "json", timeout=600)
    result = json.loads(out)
    assert result["state"] == "SUCCEEDED", result.get("error")
    assert result["outputs"]["accuracy"] >= 0.95
