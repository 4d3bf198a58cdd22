"""How a run runs: one frozen object passed from the edge (CLI, Python API, server) down to
the scheduler, instead of the same keyword arguments repeated at every level."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubeline.engine.results import TaskEvent
from kubeline.engine.startmethod import StartMethod

if TYPE_CHECKING:
    from kubeline.engine.executors.base import Executor
    from kubeline.engine.forkserver import ForkServerClient

__all__ = ["DEFAULT_OPTIONS", "RunOptions"]


@dataclass(frozen=True)
class RunOptions:
    """Options of one run.

    Args:
        enable_caching: False runs every task again (``--no-cache``).
        workers: tasks running at once (``--workers``); None lets the process's
            admission decide.
        on_event: called with a :class:`~kubeline.engine.results.TaskEvent` as tasks
            start and end (from the run's thread; it must not block).
        allow_installs: tasks whose ``pip install`` this environment does not satisfy run
            in a cached virtual environment with those packages.
        preload: extra modules the warm worker parent imports once.
        display_name: the run's name in lists (default: its id).
        fork_server: a warm worker parent the caller started early (its imports overlap
            the engine's); the run closes it.
        executor: an executor the caller started early (e.g. the CLI, before its own
            imports); the run uses it instead of making one, and closes it.
        log_cap_mb: each task's log is kept under this many MB, the middle cut (its head
            and tail kept, a line says what was cut); 0 for no cap; None: 50 or
            ``$KUBELINE_LOG_CAP_MB``.
        start_method: how Python tasks start, ``fork`` (from a warm parent) or ``spawn``
            (a fresh interpreter each); None: ``$KUBELINE_START_METHOD``, read once when
            the run starts (see :mod:`kubeline.engine.startmethod`).
        grace_period: seconds a stopped task's process tree has to end after SIGTERM,
            before it is killed (``--grace-period``; None: 5).
        runner: where tasks run: ``local`` (this machine's processes), or ``docker`` /
            ``podman`` (each task in its component's image, ``--runner``).
        pull: with a container runner, when images are pulled: ``missing``, ``always`` or
            ``never`` (``--pull``).
        pull_timeout: seconds one image pull may take before the run is refused.
        container_user: with a container runner, who tasks run as: ``caller`` (this
            user's uid:gid, HOME=/tmp), ``image`` (the image's own user) or ``UID:GID``.
        image_ids: the checked images of a container run, by name (set by the engine).
    """

    enable_caching: bool = True
    workers: int | None = None
    on_event: Callable[[TaskEvent], None] | None = None
    allow_installs: bool = False
    preload: tuple[str, ...] = ()
    display_name: str = ""
    fork_server: ForkServerClient | None = None
    executor: Executor | None = None
    log_cap_mb: float | None = None
    start_method: StartMethod | None = None
    grace_period: float | None = None
    runner: str = "local"
    pull: str = "missing"
    pull_timeout: float = 300.0
    container_user: str = "caller"
    image_ids: Mapping[str, str] | None = None


#: A run with every option at its default.
DEFAULT_OPTIONS = RunOptions()
