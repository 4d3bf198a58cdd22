"""Every task in its component's image (``--runner docker|podman``), as KFP's launcher runs
it in a pod: the compiled command and arguments with the placeholders resolved, the
executor input, and outputs written back to the run's folder through a mount.

Paths are a pod's, not the host's: the home's ``runs`` folder is mounted read-only at
:data:`RUNS_MOUNT` and the run's own folder read-write below it, an input from elsewhere
(an importer's local file) read-only under :data:`INPUTS_MOUNT`; every host path in the
command line is rewritten to its place in the container, and back in the output metadata
the component writes. This works the same from a Windows host, whose paths a Linux
container could not use as they are.

The task runs as the caller's uid:gid with ``HOME=/tmp`` by default (the image's own user,
such as kubeline's 10001, could not write a run folder the caller owns), or as the image's
user (``container_user="image"``). Docker and Podman are driven through their CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from pathlib import Path, PurePosixPath

from kubeline.engine.executors.admission import RunAdmission
from kubeline.engine.executors.images import is_image_reference
from kubeline.engine.executors.processes import (
    GRACE_SECONDS,
    HostProcess,
    StartFailed,
    TaskProcess,
    start_logged,
)
from kubeline.engine.executors.threaded import ThreadedExecutor
from kubeline.engine.leaf import LeafJob
from kubeline.engine.taskenv import task_environ, without_secrets
from kubeline.engine.tasktree import MARK

__all__ = [
    "INPUTS_MOUNT",
    "LABEL",
    "RUNS_MOUNT",
    "ContainerExecutor",
    "PathMap",
    "remove_containers",
]

#: Where the home's runs folder is in a task's container.
RUNS_MOUNT = "/kubeline/runs"
#: Where inputs from outside the runs folder are, read-only.
INPUTS_MOUNT = "/kubeline/inputs"
#: The label that ties a container to its task (its mark: the task's folder).
LABEL = "io.kubeline.task"


class PathMap:
    """Host path prefixes and their places in the container, longest first."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)

    @staticmethod
    def _forms(path: str) -> list[str]:
        # As written, and as json.dumps writes it inside an embedded executor input.
        escaped = json.dumps(path)[1:-1]
        return [path] if escaped == path else [path, escaped]

    def to_container(self, text: str) -> str:
        for host, inside in self.pairs:
            for form in self._forms(host):
                text = text.replace(form, inside)
        return text

    def to_host(self, path: str) -> str:
        """A container path as the host's (unchanged when it is no mounted one)."""
        for host, inside in self.pairs:
            if path == inside or path.startswith(inside + "/"):
                return host + path[len(inside) :].replace("/", os.sep)
        return path


def _artifact_paths(executor_input: str) -> list[str]:
    """The local files and folders of a job's input artifacts."""
    try:
        data = json.loads(executor_input) if executor_input else {}
    except ValueError:
        return []
    found = []
    for entry in (data.get("inputs", {}).get("artifacts", {}) or {}).values():
        for artifact in entry.get("artifacts", []) or []:
            uri = str(artifact.get("uri", ""))
            path = uri[len("file://") :] if uri.startswith("file://") else uri
            if path and os.path.isabs(path) and os.path.exists(path):
                found.append(path)
    return found


class _ContainerProcess:
    """A task's ``docker run``: stopping it stops the container, whatever the client did."""

    def __init__(self, client: HostProcess, cli: str, name: str) -> None:
        self.client = client
        self.cli = cli
        self.name = name
        self.pid = client.pid
        self.stopped = False  # asked to stop: the client may end before its container

    def wait(self, timeout: float | None = None) -> int | None:
        """The container's exit code; one a signal caused (the runtime says 128 + N, as
        a pod's status does) as -N, as a local task's."""
        code = self.client.wait(timeout)
        if code is not None and 128 < code < 160:
            return 128 - code
        return code

    def _runtime(self, *args: str, timeout: float) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [self.cli, *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )

    def terminate(self) -> None:
        self.stopped = True
        self._runtime("kill", "--signal", "TERM", self.name, timeout=10)
        self.client.terminate()

    def kill(self) -> None:
        self.stopped = True
        self._runtime("kill", self.name, timeout=10)
        self.client.kill()

    def remove(self) -> None:
        """Remove the container should it outlive its client: after a stop, or a client
        that did not end by itself (``--rm`` removes it otherwise, for free)."""
        code = self.client.process.returncode
        if self.stopped or code is None or code < 0:
            self._runtime("rm", "--force", self.name, timeout=30)


def container_name(job: LeafJob) -> str:
    """A name unique to the task's attempt folder, valid for the runtime."""
    digest = hashlib.sha256(f"{job.task_root}\0{os.getpid()}".encode()).hexdigest()[:16]
    return f"kubeline-{digest}"


class ContainerExecutor(ThreadedExecutor):
    """Runs every job in its image with ``cli`` (docker or podman).

    ``runs_root`` is the home's runs folder (mounted read-only) and ``run_root`` the run's
    own (read-write); ``image_ids`` the checked images (see
    :func:`~kubeline.engine.executors.images.ensure_images`), run by id so a tag moved
    during the run changes nothing; ``user``: ``caller``, ``image`` or ``UID:GID``.
    """

    def __init__(
        self,
        admission: RunAdmission,
        cli: str,
        runs_root: Path,
        run_root: Path,
        image_ids: dict[str, str] | None = None,
        user: str = "caller",
        grace: float = GRACE_SECONDS,
    ) -> None:
        super().__init__(admission, grace)
        self.cli = cli
        self.runs_root = Path(runs_root)
        self.run_root = Path(run_root)
        self.image_ids = dict(image_ids or {})
        self.user = user
        self._paths: dict[str, PathMap] = {}  # by task folder, while its task runs

    def _user(self) -> list[str]:
        if self.user == "image":
            return []
        if self.user != "caller":
            return [f"--user={self.user}", "--env=HOME=/tmp"]
        if not hasattr(os, "getuid"):  # pragma: no cover - Windows: Docker Desktop maps it
            return []
        return [f"--user={os.getuid()}:{os.getgid()}", "--env=HOME=/tmp"]

    def _run_mounts(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The runs folder read-only, the run's own folder read-write: (path pairs, mounts)."""
        runs, run = self.runs_root.resolve(), self.run_root.resolve()
        if run == runs:
            return [(str(self.runs_root), RUNS_MOUNT)], [_bind(runs, RUNS_MOUNT)]
        try:
            below = PurePosixPath(RUNS_MOUNT, *run.relative_to(runs).parts)
        except ValueError:  # a run folder elsewhere: a mount of its own
            below = PurePosixPath("/kubeline/run")
            pairs = [(str(self.run_root), str(below)), (str(self.runs_root), RUNS_MOUNT)]
        else:
            pairs = [(str(self.runs_root), RUNS_MOUNT)]
        return pairs, [_bind(runs, RUNS_MOUNT, readonly=True), _bind(run, str(below))]

    def command(self, job: LeafJob) -> tuple[list[str], PathMap]:
        """The ``run`` command for ``job``, and how its paths map into the container."""
        pairs, mounts = self._run_mounts()
        outside = [p for p in _artifact_paths(job.executor_input) if not _inside(p, self.runs_root)]
        for number, path in enumerate(dict.fromkeys(outside)):
            target = f"{INPUTS_MOUNT}/{number}/{Path(path).name}"
            pairs.append((path, target))
            mounts.append(_bind(Path(path), target, readonly=True))
        paths = PathMap(pairs)
        words = [paths.to_container(word) for word in job.argv]
        # Every value in its option's own word (--name=...): a value from the pipeline that
        # starts with '-' is never read as another option.
        argv = [self.cli, "run", "--rm", f"--name={container_name(job)}"]
        argv += [f"--label={LABEL}={job.task_root}", "--init"]
        for mount in mounts:
            argv.append(f"--mount={mount}")
        argv += self._user()
        for name in without_secrets(job.env):
            argv.append(f"--env={name}")  # its value from the client's environment, not argv
        if "cpu" in job.limits:
            argv.append(f"--cpus={job.limits['cpu']}")
        if "memory" in job.limits:
            argv.append(f"--memory={job.limits['memory']}")
        if words:  # KFP's command is the image's entrypoint, as in a pod
            argv.append(f"--entrypoint={words[0]}")
        image = self.image_ids.get(job.image, job.image)
        if not is_image_reference(image) and not image.startswith("sha256:"):
            raise StartFailed(f"'{job.image}' is not an image reference")
        argv.append(image)
        argv += words[1:]
        return argv, paths

    def _start(self, job: LeafJob) -> TaskProcess:
        argv, paths = self.command(job)
        self._paths[job.task_root] = paths
        env = task_environ({**without_secrets(job.env), MARK: job.task_root})
        client = start_logged(argv, env, job.log_path, self.grace)
        return _ContainerProcess(client, self.cli, container_name(job))

    def _pid(self, process: TaskProcess) -> int | None:
        return None  # the task's CPU is the container's, not its client's: admission by count

    def _finished(self, job: LeafJob, process: TaskProcess) -> None:
        if isinstance(process, _ContainerProcess):
            process.remove()
        paths = self._paths.pop(job.task_root, None)
        if paths is not None:
            _map_back(Path(job.task_root), paths)


def _bind(source: Path, target: str, readonly: bool = False) -> str:
    """A ``--mount`` value; a comma would end the source's field, so such a path is
    refused rather than misread."""
    if "," in str(source) or "," in target:
        raise StartFailed(f"cannot mount '{source}' into a container: its path holds a comma")
    return f"type=bind,source={source},target={target}" + (",readonly" if readonly else "")


def _inside(path: str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _map_back(task_root: Path, paths: PathMap) -> None:
    """Rewrite the URIs of the artifacts in the output metadata a component wrote (one it
    moved, ``artifact.uri = ...``) from the container's paths to the host's; parameter
    values stay as the component returned them."""
    for output in task_root.glob("**/executor_output.json"):
        try:
            data = json.loads(output.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        changed = False
        artifacts = data.get("artifacts", {}) if isinstance(data, dict) else {}
        for entry in artifacts.values() if isinstance(artifacts, dict) else ():
            for artifact in entry.get("artifacts", []) if isinstance(entry, dict) else ():
                uri = artifact.get("uri") if isinstance(artifact, dict) else None
                if isinstance(uri, str) and paths.to_host(uri) != uri:
                    artifact["uri"] = paths.to_host(uri)
                    changed = True
        if changed:
            output.write_text(json.dumps(data), encoding="utf-8")


def remove_containers(cli: str, marks: list[str]) -> None:
    """Remove the containers of tasks whose mark starts with one of ``marks`` (the runs a
    dead engine left), found by their label."""
    if not marks:
        return
    try:
        listed = subprocess.run(
            [
                cli,
                *("ps", "--all", "--filter", f"label={LABEL}"),
                *("--format", f'{{{{.ID}}}} {{{{.Label "{LABEL}"}}}}'),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return
    wanted = tuple(marks)
    ids = []
    for line in listed.stdout.splitlines():
        container, _, mark = line.partition(" ")
        if mark.startswith(wanted):
            ids.append(container)
    if ids:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [cli, "rm", "--force", *ids], capture_output=True, timeout=60, check=False
            )
