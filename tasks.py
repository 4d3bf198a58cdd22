#!/usr/bin/env python3
"""Set up and run kubeline from a fresh clone, on Linux, macOS or Windows.

    python3 tasks.py quickstart   # create .venv, install, run the lifecycle pipeline
    python3 tasks.py test         # create .venv, install dev tools, run ruff, the import
                                  # contracts, mypy and pytest, then the engine tests with
                                  # Python tasks spawned (the Windows path)
    python3 tasks.py image        # build the container image kubeline:<version> (Docker);
                                  # --stand-in-base where python:3.11-slim-bookworm cannot
                                  # be pulled, --force to rebuild, --tag NAME, --full for
                                  # kubeline:<version>-full (with pyarrow)
    python3 tasks.py docker start # Linux, root: install docker.io and debootstrap, start
                                  # dockerd in the background (docker stop|status)

Standard library only: this runs before anything is installed. The virtual environment
is ``.venv`` in the repository root; it is made when missing and re-synced when
``pyproject.toml`` changes.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".kubeline-installed"


def _venv_bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def _say(message: str) -> None:
    print(f"[tasks] {message}", file=sys.stderr, flush=True)


def _run(*args: str | Path, check: bool = True) -> int:
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=check).returncode


def ensure_venv(extras: str) -> Path:
    """Create .venv if missing and install kubeline (editable) with ``extras``."""
    if sys.version_info < (3, 10):  # noqa: UP036 - this file runs on any python3 first
        sys.exit(f"kubeline needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    python = _venv_bin("python")
    if not python.exists():
        _say(f"creating the virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    # The full image's lock: requirements.txt plus pyarrow (the parquet extra, which the
    # dev extra installs too), so every runtime dependency of the venv is pinned.
    lock = ROOT / "requirements-full.txt"
    inputs = (ROOT / "pyproject.toml").read_bytes() + (lock.read_bytes() if lock.exists() else b"")
    wanted = hashlib.sha256(inputs + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python
    _say(f"installing kubeline[{extras}] and its dependencies (first time: a few minutes)")
    _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    # The runtime dependencies at exactly the versions of the container images' locks, so
    # every machine, CI included, tests what the images will run.
    constraints = ["--constraint", str(lock)] if lock.exists() else []
    _run(python, "-m", "pip", "install", "--quiet", *constraints, "--editable", f".[{extras}]")
    STAMP.write_text(wanted)
    return python


def quickstart(args: list[str]) -> int:
    """Run the lifecycle pipeline on the embedded defaults and say where to look."""
    ensure_venv("dev")
    return _run(_venv_bin("kubeline"), "run", *args, check=False)


CHROMIUM = Path(os.environ.get("KUBELINE_CHROMIUM", "/usr/bin/chromium"))

#: Debian packages the tests drive for real: the program each provides (a glob pattern
#: where the path holds a version), and why.
DEBIAN_TOOLS = {
    "chromium": (CHROMIUM, "the browser tests of the web UI"),
    "nginx": (Path("/usr/sbin/nginx"), "the TLS reverse-proxy tests of the server"),
    "postgresql": (
        Path("/usr/lib/postgresql/*/bin/initdb"),
        "the store and server suites on a real PostgreSQL server",
    ),
}


def _installed(program: Path) -> bool:
    return bool(glob.glob(str(program)))


def ensure_debian_tools(tools: dict[str, tuple[Path, str]] = DEBIAN_TOOLS) -> None:
    """Install the Debian packages the tests need when their programs are missing.

    Only where apt-get exists and we may use it (root, or sudo without a password); else
    the tests that need them say how to install them.
    """
    missing = [name for name, (program, _) in tools.items() if not _installed(program)]
    if not missing or not sys.platform.startswith("linux"):
        return
    apt = shutil.which("apt-get")
    needs = "; ".join(f"{name} for {tools[name][1]}" for name in missing)
    if apt is None:
        _say(f"no apt-get to install {needs}")
        return
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None or _run("sudo", "-n", "true", check=False) != 0:
            _say(f"install these Debian packages (apt-get install): {needs}")
            return
        prefix = ["sudo", "-n"]
    _say(f"installing Debian's {' and '.join(missing)} (first time: a minute or two)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, apt, "install", "-y", "-q", "--no-install-recommends", *missing]
    quiet = {"cwd": ROOT, "env": env, "stdout": subprocess.DEVNULL, "check": False}
    if subprocess.run(install, **quiet).returncode != 0:  # a fresh machine has no lists yet
        subprocess.run([*prefix, apt, "update", "-q"], **quiet)
        if subprocess.run(install, **quiet).returncode != 0:
            _say(f"could not install {' '.join(missing)}: the tests that need them will fail")


def test(args: list[str]) -> int:
    """ruff (lint and format), import-linter, mypy, the whole pytest suite, then the spawn
    pass."""
    python = ensure_venv("dev")
    ensure_debian_tools()
    _say("ruff check")
    if _run(python, "-m", "ruff", "check", "src", "tests", "scripts", "tasks.py", check=False):
        return 1
    _say("ruff format --check")
    if _run(
        python,
        "-m",
        "ruff",
        "format",
        "--check",
        "src",
        "tests",
        "scripts",
        "tasks.py",
        check=False,
    ):
        return 1
    # The layers' import contracts and the type checker, both configured in pyproject.toml.
    _say("lint-imports (the layers' import contracts)")
    if _run(_venv_bin("lint-imports"), "--no-logo", check=False):
        return 1
    _say("mypy src/kubeline")
    if _run(python, "-m", "mypy", "src/kubeline", check=False):
        return 1
    _say("pytest")
    # A Docker daemon and kubeline's image for the container tests (marker docker), started
    # and built when missing, the daemon stopped after if this started it; not for a run
    # that leaves those tests out (-m "... not docker").
    wants_docker = not any("not docker" in arg for arg in args)
    with docker_for_tests() if wants_docker else contextlib.nullcontext():
        # The 25 slowest tests' times, so a test that creeps towards its timeout shows.
        code = _run(python, "-m", "pytest", "--durations=25", *args, check=False)
    return code or spawn_pass(python)


def spawn_pass(python: Path) -> int:
    """The engine and conformance tests again with Python tasks spawned, one fresh
    interpreter each, as on Windows (no os.fork there): that path is tested on every OS."""
    _say("pytest, spawn pass (KUBELINE_START_METHOD=spawn): tests/engine, not slow, no Docker")
    env = {**os.environ, "KUBELINE_START_METHOD": "spawn"}
    argv = [str(python), "-m", "pytest", "-q", "-m", "not slow and not docker", "--durations=5"]
    argv.append("tests/engine")
    return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode


#: Debian packages for the container tests: the Docker engine (dockerd; a docker command
#: elsewhere on PATH, such as a newer client in /usr/local/bin, has no daemon with it) and
#: debootstrap, which builds the stand-in for python:3.11-slim-bookworm (scripts/images.py).
DOCKER_TOOLS = {
    "docker.io": (Path("/usr/sbin/dockerd"), "the container image and its tests"),
    "debootstrap": (Path("/usr/sbin/debootstrap"), "the stand-in base image"),
    "docker-registry": (Path("/usr/bin/docker-registry"), "the registry the pull tests use"),
}


def _images() -> ModuleType:
    """scripts/images.py (standard library only), loaded by path: scripts/ is no package."""
    spec = importlib.util.spec_from_file_location("kubeline_images", ROOT / "scripts" / "images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def image(args: list[str]) -> int:
    """Build kubeline's container image when its inputs changed (scripts/images.py)."""
    parser = argparse.ArgumentParser(
        prog="python3 tasks.py image",
        description="Build the container image kubeline:<version> from the Dockerfile, only "
        "when the Dockerfile, pyproject.toml, its requirements lock, README.md or src/ changed.",
    )
    parser.add_argument(
        "--stand-in-base",
        action="store_true",
        help="build on a stand-in for python:3.11-slim-bookworm made from Debian packages "
        "(debootstrap; Linux, root), without trying to pull the official one: a test device",
    )
    parser.add_argument("--force", action="store_true", help="build again even if up to date")
    parser.add_argument("--tag", help="the image's name (default: kubeline:<version>)")
    parser.add_argument(
        "--full",
        action="store_true",
        help="build kubeline:<version>-full: the same image plus pyarrow (requirements-full.txt)",
    )
    options = parser.parse_args(args)
    images = _images()
    try:
        images.build_image(
            _say,
            stand_in=options.stand_in_base,
            force=options.force,
            tag=options.tag,
            full=options.full,
        )
    except images.UserError as exc:
        _say(str(exc))
        return 2
    except RuntimeError as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def docker(args: list[str]) -> int:
    """start: install docker.io and debootstrap when missing (Linux, root) and start dockerd
    in the background, left running; stop: stop that dockerd (only it); status."""
    parser = argparse.ArgumentParser(prog="python3 tasks.py docker")
    parser.add_argument("action", choices=("start", "stop", "status"))
    action = parser.parse_args(args).action
    images = _images()
    try:
        if action == "start":
            ensure_debian_tools(DOCKER_TOOLS)
            started = images.start_dockerd(_say)
            if started is None:
                _say("a Docker daemon already answers; nothing started")
            else:
                _say("it keeps running: `python3 tasks.py docker stop` stops it")
        elif action == "stop":
            if not images.stop_dockerd(_say):
                _say("no dockerd started by `python3 tasks.py docker start` is running")
        else:
            ok, error = images.daemon_answers()
            _say("a Docker daemon answers" if ok else f"no Docker daemon answers: {error}")
            return 0 if ok else 1
    except images.UserError as exc:
        _say(str(exc))
        return 2
    return 0


@contextlib.contextmanager
def docker_for_tests() -> Iterator[bool]:
    """The container tests' set-up, for ``test()`` in one line (``with docker_for_tests():``):
    docker.io and debootstrap installed when missing (Linux, root), a daemon (dockerd started
    for the block and stopped after it when none answers), then the stand-in base and
    kubeline's image built when their inputs changed. Yields whether all that worked; when it
    did not, it says why, and the tests that need Docker skip (or fail in CI)."""
    ensure_debian_tools(DOCKER_TOOLS)
    images = _images()
    with images.docker_daemon(_say) as ok:
        if ok:
            try:
                images.build_image(_say, stand_in=True, quiet=True)
            except (images.UserError, RuntimeError) as exc:
                _say(f"the image was not built: {exc}")
                ok = False
        yield ok


COMMANDS = {"quickstart": quickstart, "test": test, "image": image, "docker": docker}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
