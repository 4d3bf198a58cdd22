"""Cached virtual environments, one per component install, for tasks whose packages this
environment lacks (only when the user allowed installs)."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from kubeline.engine.requirements import PipInstall, requirement_set_key, unsatisfied
from kubeline.errors import KubelineError

__all__ = ["VenvCache", "install_commands", "install_key"]

# pip's whole output goes to the task log, and a virtual environment has no user site.
_LEFT_OUT = frozenset({"-q", "-qq", "-qqq", "--quiet", "--user"})
# How pip names the requirement it could not install, newest wording first.
_PIP_NAMES = (
    re.compile(r"No matching distribution found for (.+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"Cannot install (.+?) because these package versions have conflicting"),
)


def install_key(installs: list[PipInstall]) -> str:
    """The folder name of the environment for these installs, on this environment.

    The installs count in order (pip resolves each on top of the ones before), each by its
    options and its requirement set (:func:`requirement_set_key`: their order and spelling
    within one install do not matter, as pip resolves them together).
    """
    steps = [
        "\0".join([*(w for w in step.words if w not in step.requirements), "|"])
        + requirement_set_key(list(step.requirements))
        for step in installs
    ]
    return hashlib.sha256("\n".join([sys.prefix, *steps]).encode()).hexdigest()[:16]


def install_commands(python: str, installs: list[PipInstall]) -> list[list[str]]:
    """The pip commands that make a task's environment: one per ``pip install`` of its
    compiled command, in the same order and with the same options (``--no-deps`` for kfp,
    index URLs), as the cluster runs them.

    An install whose requirements this environment meets is left out, and so is a kfp 2.x
    pin that the installed kfp meets (any kfp 2.x runs a 2.x component, as without
    ``--allow-installs``); ``--quiet`` and ``--user`` are dropped.
    """
    return [command for command, _ in _planned(python, installs)]


def _planned(python: str, installs: list[PipInstall]) -> list[tuple[list[str], list[str]]]:
    """Each pip command with the requirements it is there for (to name them if it fails)."""
    planned = []
    for step in installs:
        missing = [problem.requirement for problem in unsatisfied(list(step.requirements))]
        if not missing:
            continue
        met_kfp = {r for r in step.requirements if r not in missing and _is_kfp(r)}
        words = [w for w in step.words if w not in _LEFT_OUT and w not in met_kfp]
        command = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
        planned.append(([*command, *words], missing))
    return planned


def _is_kfp(text: str) -> bool:
    try:
        return canonicalize_name(Requirement(text).name) == "kfp"
    except InvalidRequirement:
        return False


def _site_folders() -> list[str]:
    """The site-packages folders this interpreter imports from, in its order."""
    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return [f for f in dict.fromkeys(folders) if Path(f).is_dir()]


def _layer_on_this_environment(folder: Path) -> None:
    """Let the new environment import this one's packages, after its own: a ``.pth`` file
    that adds each of this interpreter's site folders (with their own ``.pth`` files, so
    editable installs too). ``--system-site-packages`` would show the base Python's
    packages instead, not those of the virtual environment kubeline itself may run in."""
    ours = sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)})
    lines = [f"import site; site.addsitedir({f!r})\n" for f in _site_folders()]
    Path(ours).mkdir(parents=True, exist_ok=True)
    (Path(ours) / "_kubeline_parent_environment.pth").write_text("".join(lines), "utf-8")


class VenvCache:
    """``home/venvs/<key>/``: made once, layered on this environment (its packages
    visible, the new ones first) so only the missing ones are installed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def python_for(self, installs: list[PipInstall], log_path: Path) -> str:
        """The interpreter of the environment for ``installs``, made now if need be; what
        pip says goes to ``log_path`` (the task's log).

        Raises:
            KubelineError: naming the package pip could not install.
        """
        folder = self.root / install_key(installs)
        python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        ready = folder / ".ready"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as log:
            if ready.exists():
                log.write(f"kubeline: packages from the virtual environment {folder}\n")
                return str(python)
            log.write(f"kubeline: making a virtual environment for this task at {folder}\n")
            log.flush()
            venv.EnvBuilder(with_pip=True, clear=True).create(folder)
            _layer_on_this_environment(folder)
            for command, wanted in _planned(str(python), installs):
                log.write(f"kubeline: {shlex.join(['pip', *command[3:]])}\n")
                log.flush()
                done = subprocess.run(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    check=False,
                )
                log.write(done.stdout)
                if done.returncode != 0:
                    raise KubelineError(_failure(wanted, done.stdout, log_path))
        ready.write_text(sys.version)
        return str(python)


def _failure(wanted: list[str], output: str, log_path: Path) -> str:
    """One line: the package pip could not install, pip's reason, where the rest is."""
    named, reason = "", ""
    for line in output.splitlines():
        for pattern in _PIP_NAMES:
            match = pattern.search(line)
            if match and not named:
                named = match[1].strip().rstrip(".")
        if line.startswith("ERROR:") and not reason:
            reason = line.removeprefix("ERROR:").strip()
    if len(reason) > 300:
        reason = reason[:297] + "..."
    return (
        f"pip could not install {named or ', '.join(wanted)}"
        + (f" ({reason})" if reason else "")
        + f". pip's whole output is in the task log {log_path}."
    )
