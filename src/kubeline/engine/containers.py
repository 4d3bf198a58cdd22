"""A run whose tasks run in their images (``--runner docker|podman``): its images checked
before anything is recorded or started, its executor, and the containers a dead engine left.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubeline.engine.executors import AdmissionNote, Executor
from kubeline.engine.executors.admission import RunAdmission, process_admission
from kubeline.engine.executors.container import ContainerExecutor, remove_containers
from kubeline.engine.executors.images import PULL_POLICIES, RUNTIMES, ensure_images, runtime_command
from kubeline.engine.executors.logcap import log_cap_bytes
from kubeline.engine.executors.processes import GRACE_SECONDS
from kubeline.engine.options import RunOptions
from kubeline.engine.spec import pipeline_view
from kubeline.errors import ConfigError

__all__ = [
    "RUNNERS",
    "check_images",
    "container_executor",
    "in_container",
    "remove_left_containers",
]

#: Where a run's tasks may run: this machine's processes, or each in its image.
RUNNERS = ("local", *RUNTIMES)


def in_container(options: RunOptions) -> bool:
    """Whether ``options`` run tasks in their images."""
    return options.runner != "local"


def check_runner(options: RunOptions) -> None:
    """Refuse a runner or pull policy kubeline does not know, naming the choices."""
    if options.runner not in RUNNERS:
        raise ConfigError(f"Unknown runner '{options.runner}': choose one of {', '.join(RUNNERS)}.")
    if options.pull not in PULL_POLICIES:
        raise ConfigError(
            f"Unknown pull policy '{options.pull}': choose one of {', '.join(PULL_POLICIES)}."
        )


def check_images(
    spec: dict[str, Any], options: RunOptions, on_note: Callable[[str], None] | None = None
) -> RunOptions:
    """``options`` with the run's images checked (present, or pulled per ``options.pull``)
    and their ids; unchanged for a local run or one already checked.

    Raises:
        ImageError: an image is neither present nor pullable, or the runtime is missing
            (a ConfigError: nothing is recorded or started).
    """
    check_runner(options)
    if not in_container(options) or options.image_ids is not None:
        return options
    runtime_command(options.runner)
    view = pipeline_view(spec)
    images = [e.image for e in view.executors.values() if e.kind == "container" and e.image]
    ids = ensure_images(
        images,
        runtime=options.runner,
        pull=options.pull,
        timeout=options.pull_timeout,
        on_note=on_note,
    )
    return replace(options, image_ids=ids)


def container_executor(
    options: RunOptions, run_root: Path, on_admission: Callable[[AdmissionNote], None]
) -> Executor:
    """The executor of a container run: every task in its image, admitted with the rest of
    the process's tasks."""
    admission = RunAdmission(process_admission(), options.workers, on_admission)
    executor = ContainerExecutor(
        admission,
        runtime_command(options.runner),
        runs_root=run_root.parent,
        run_root=run_root,
        image_ids=dict(options.image_ids or {}),
        user=options.container_user,
        grace=GRACE_SECONDS if options.grace_period is None else options.grace_period,
    )
    if options.log_cap_mb is not None:
        executor.log_cap = log_cap_bytes(options.log_cap_mb)
    return executor


def remove_left_containers(marks: list[str]) -> None:
    """Remove the containers of the runs a dead engine left (their tasks' marks), with
    every runtime installed here."""
    if not marks:
        return
    for runtime in RUNTIMES:
        cli = shutil.which(runtime)
        if cli is not None:
            remove_containers(cli, marks)
