"""What ``up`` needs from this machine, checked before anything is created: the three
programs, a Docker daemon that answers, enough CPU, memory and disk, inotify limits kind
can live with, and a free port for the UI. Each problem is a :class:`Finding`: one line
that names the fix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kubeline.deploy.kind.commands import (
    CommandFailedError,
    Runner,
    install_hint,
    os_family,
    run_command,
)
from kubeline.deploy.kind.facts import (
    DOCKER_INFO,
    INOTIFY_MINIMUMS,
    KIND_VERSION,
    RECOMMENDED_CPUS,
    RECOMMENDED_FREE_DISK_GB,
    RECOMMENDED_MEMORY_GB,
    SYSCTL_FILE,
)
from kubeline.errors import UserError

__all__ = [
    "INOTIFY_DIR",
    "DockerNotRunningError",
    "Finding",
    "PortInUseError",
    "check_inotify",
    "check_port",
    "check_resources",
    "check_tools",
    "docker_info",
    "free_disk",
    "host_resources",
    "is_listening",
    "kind_version",
]

INOTIFY_DIR = Path("/proc/sys/fs/inotify")


class DockerNotRunningError(UserError):
    """The docker CLI is there but its daemon does not answer."""


class PortInUseError(UserError):
    """The port for the UI's port-forward is taken."""


@dataclass(frozen=True)
class Finding:
    """One prerequisite problem, in one line that names the fix."""

    level: Literal["error", "warning"]
    message: str


def check_tools(
    which: Callable[[str], str | None] = shutil.which, platform: str = sys.platform
) -> list[Finding]:
    """An error for each of docker, kind and kubectl that is not on PATH."""
    return [
        Finding("error", f"{tool} is not on PATH: {install_hint(tool, platform)}.")
        for tool in ("docker", "kind", "kubectl")
        if which(tool) is None
    ]


def check_inotify(proc_dir: Path | None = None, platform: str = sys.platform) -> list[Finding]:
    """On Linux, a warning when the inotify limits are below what kind recommends.

    Elsewhere kind's node runs in Docker Desktop's VM, whose limits cannot be read from
    here, so nothing is checked.
    """
    if os_family(platform) != "linux":
        return []
    proc_dir = INOTIFY_DIR if proc_dir is None else proc_dir
    current: dict[str, int] = {}
    for name in INOTIFY_MINIMUMS:
        try:
            current[name] = int((proc_dir / name).read_text().strip())
        except (OSError, ValueError):
            continue  # not readable (a sandbox, an unusual kernel): nothing to say
    low = {n: v for n, v in current.items() if v < INOTIFY_MINIMUMS[n]}
    if not low:
        return []
    said = ", ".join(
        f"fs.inotify.{n} is {v} (kind needs {INOTIFY_MINIMUMS[n]})" for n, v in low.items()
    )
    raise_now = " ".join(f"fs.inotify.{n}={INOTIFY_MINIMUMS[n]}" for n in low)
    keep = "\\n".join(
        f"fs.inotify.{n} = {max(current.get(n, 0), minimum)}"
        for n, minimum in INOTIFY_MINIMUMS.items()
    )
    return [
        Finding(
            "warning",
            f"{said}, so pods may fail with 'too many open files'. Raise the limits now with "
            f"'sudo sysctl -w {raise_now}', and keep them after a reboot with "
            f"\"printf '{keep}\\n' | sudo tee {SYSCTL_FILE} && sudo sysctl --system\".",
        )
    ]


def host_resources() -> tuple[int | None, int | None]:
    """This machine's CPUs and memory in bytes (None where the OS does not say)."""
    memory = None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        memory = None
    return os.cpu_count(), memory


def check_resources(
    cpus: int | None, memory_bytes: int | None, free_disk_bytes: int | None, where: str
) -> list[Finding]:
    """Warnings when ``where`` (Docker, or this machine) is short of CPU, memory or disk."""
    findings = []
    advice = (
        "raise it in Docker Desktop (Settings > Resources)"
        if "Docker" in where
        else "close other programs or use a bigger machine"
    )
    if cpus is not None and cpus < RECOMMENDED_CPUS:
        findings.append(
            Finding(
                "warning",
                f"{where} has {cpus} CPUs; KFP is comfortable with {RECOMMENDED_CPUS} or more "
                f"(pods may stay Pending): {advice}.",
            )
        )
    # 0.9: a machine sold as 8 GB reports a little less.
    if memory_bytes is not None and memory_bytes < 0.9 * RECOMMENDED_MEMORY_GB * 1024**3:
        findings.append(
            Finding(
                "warning",
                f"{where} has {memory_bytes / 1024**3:.1f} GB of memory; KFP is comfortable "
                f"with {RECOMMENDED_MEMORY_GB} GB or more (pods may stay Pending or be "
                f"evicted): {advice}.",
            )
        )
    if free_disk_bytes is not None and free_disk_bytes < RECOMMENDED_FREE_DISK_GB * 1024**3:
        findings.append(
            Finding(
                "warning",
                f"only {free_disk_bytes / 1024**3:.1f} GB of disk is free for Docker; kind's "
                f"node image, KFP's images and pipeline artifacts want about "
                f"{RECOMMENDED_FREE_DISK_GB} GB: free some with 'docker system prune'.",
            )
        )
    return findings


def free_disk(path: str | None) -> int | None:
    for candidate in (path, str(Path.home())):
        if candidate and Path(candidate).exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                continue
    return None


def docker_info(runner: Runner = run_command, platform: str = sys.platform) -> dict[str, Any]:
    """``docker info`` as a dict; :class:`DockerNotRunningError` when the daemon is away."""
    argv = DOCKER_INFO
    try:
        result = runner(argv, timeout=60, check=False)
    except CommandFailedError as exc:  # timed out: a daemon that hangs is not running either
        raise DockerNotRunningError(
            f"'docker info' got no answer from the Docker daemon: {_start_docker(platform)}."
        ) from exc
    said = next((ln for ln in reversed(result.tail()) if ln.strip()), "")
    if result.returncode != 0:
        if "permission denied" in said.lower():
            raise DockerNotRunningError(
                f"Docker refused this user ({said.strip()}): run 'sudo usermod -aG docker "
                "$USER', log out and in again, then retry."
            )
        raise DockerNotRunningError(
            f"The Docker daemon is not reachable ({said.strip() or 'no answer'}): "
            f"{_start_docker(platform)}, then retry."
        )
    try:
        info = json.loads(result.stdout)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _start_docker(platform: str) -> str:
    if os_family(platform) == "linux":
        return "start it with 'sudo systemctl start docker' (or start Docker Desktop)"
    return "start Docker Desktop and wait until it says it is running"


def kind_version(runner: Runner = run_command) -> str | None:
    """The installed kind's version, e.g. ``0.33.0`` (None if it does not say)."""
    found = re.search(r"v(\d+\.\d+\.\d+)", runner(KIND_VERSION, timeout=60).stdout)
    return found.group(1) if found else None


def check_port(port: int, host: str = "127.0.0.1") -> Finding | None:
    """An error when ``port`` cannot be listened on, as the port-forward would need."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if sys.platform != "win32":  # as kubectl does; on Windows this would allow stealing
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return Finding(
                "error",
                f"Port {port} on {host} is in use ({exc.strerror or exc}): stop what uses it "
                "or pass another --port, e.g. --port 8081.",
            )
    return None


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0
