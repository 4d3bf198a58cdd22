#!/usr/bin/env python3
"""Set up and run kubeline from a fresh clone, on Linux, macOS or Windows.

    python3 tasks.py quickstart   # create .venv, install, run the lifecycle pipeline
    python3 tasks.py test         # create .venv, install dev tools, run ruff, the import
                                  # contracts, mypy and pytest, then the engine tests with
                                  # Python tasks spawned (the Windows path)

Standard library only: this runs before anything is installed. The virtual environment
is ``.venv`` in the repository root; it is made when missing and re-synced when
``pyproject.toml`` changes.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

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
    lock = ROOT / "requirements.txt"
    inputs = (ROOT / "pyproject.toml").read_bytes() + (lock.read_bytes() if lock.exists() else b"")
    wanted = hashlib.sha256(inputs + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python
    _say(f"installing kubeline[{extras}] and its dependencies (first time: a few minutes)")
    _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    # The runtime dependencies at exactly the versions of requirements.txt (the container
    # image's lock), so every machine, CI included, tests what the image will run.
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


def ensure_debian_tools() -> None:
    """Install the Debian packages the tests need when their programs are missing.

    Only where apt-get exists and we may use it (root, or sudo without a password); else
    the tests that need them say how to install them.
    """
    missing = [name for name, (program, _) in DEBIAN_TOOLS.items() if not _installed(program)]
    if not missing or not sys.platform.startswith("linux"):
        return
    apt = shutil.which("apt-get")
    needs = "; ".join(f"{name} for {DEBIAN_TOOLS[name][1]}" for name in missing)
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
    # The 25 slowest tests' times, so a test that creeps towards its timeout shows.
    code = _run(python, "-m", "pytest", "--durations=25", *args, check=False)
    return code or spawn_pass(python)


def spawn_pass(python: Path) -> int:
    """The engine and conformance tests again with Python tasks spawned, one fresh
    interpreter each, as on Windows (no os.fork there): that path is tested on every OS."""
    _say("pytest, spawn pass (KUBELINE_START_METHOD=spawn): tests/engine, not slow")
    env = {**os.environ, "KUBELINE_START_METHOD": "spawn"}
    argv = [str(python), "-m", "pytest", "-q", "-m", "not slow", "--durations=5", "tests/engine"]
    return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode


COMMANDS = {"quickstart": quickstart, "test": test}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
