"""Runs compiled KFP v2 pipelines on this machine: in parallel, cached by content, with
every run, task, log and artifact kept in the run store.

:func:`run_pipeline` is the entry point the CLI, the Python API and the server use. The
engine runs any pipeline, so it never imports :mod:`kubeline.ml` or
:mod:`kubeline.pipelines`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubeline.engine.arguments import CheckedArguments, parse_assignments, resolve_arguments
    from kubeline.engine.executors.base import Executor
    from kubeline.engine.forkserver import ForkServerClient
    from kubeline.engine.options import RunOptions
    from kubeline.engine.results import FINAL_STATES, RunResult, TaskEvent
    from kubeline.engine.startmethod import StartMethod

# The package's names, imported when first asked for: a process that needs only one of the
# engine's modules (the warm worker parent, ``python -m kubeline.engine.forkserver``, starts
# by importing this package) does not pay for the rest (~50 ms, before its first task).
_LAZY = {
    "CheckedArguments": "kubeline.engine.arguments",
    "parse_assignments": "kubeline.engine.arguments",
    "resolve_arguments": "kubeline.engine.arguments",
    "RunOptions": "kubeline.engine.options",
    "FINAL_STATES": "kubeline.engine.results",
    "RunResult": "kubeline.engine.results",
    "TaskEvent": "kubeline.engine.results",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "FINAL_STATES",
    "CheckedArguments",
    "RunOptions",
    "RunResult",
    "TaskEvent",
    "kubeline_home",
    "mentions_python_components",
    "parse_assignments",
    "resolve_arguments",
    "run_pipeline",
    "start_fork_server",
    "start_warm_parent",
    "warm_imports",
]


def kubeline_home() -> Path:
    """Where runs, logs and artifacts are kept: ``$KUBELINE_HOME`` or ``~/.kubeline``."""
    return Path(os.environ.get("KUBELINE_HOME") or Path.home() / ".kubeline").expanduser()


def run_pipeline(
    spec: dict[str, Any],
    arguments: dict[str, Any] | None = None,
    *,
    home: Path | None = None,
    enable_caching: bool = True,
    workers: int | None = None,
    on_event: Callable[[TaskEvent], None] | None = None,
    allow_installs: bool = False,
    preload: list[str] | None = None,
    display_name: str = "",
    executor: Executor | None = None,
    fork_server: ForkServerClient | None = None,
    log_cap_mb: float | None = None,
    runner: str = "local",
    pull: str = "missing",
    options: RunOptions | None = None,
) -> RunResult:
    """Run a compiled PipelineSpec (a dict) with ``arguments`` and return its result.

    Args:
        spec: the PipelineSpec, e.g. from :func:`kubeline.engine.spec.load_spec`.
        arguments: pipeline parameters by name; checked and converted to their types.
        home: where runs are kept (default :func:`kubeline_home`).
        enable_caching: False runs every task again (``--no-cache``).
        workers: tasks running at once (default: as many as keep the cores busy).
        on_event: called with a :class:`TaskEvent` as tasks start and end.
        allow_installs: let tasks whose ``pip install`` this environment does not satisfy
            run in a cached virtual environment with those packages.
        preload: extra modules the warm worker parent imports once.
        display_name: the run's name in lists (default: its id).
        executor: an executor started early by the caller (the run closes it).
        fork_server: a warm parent from :func:`start_fork_server` (the run closes it).
        log_cap_mb: each task's log is kept under this many MB, its middle cut (0: no
            cap; default: ``$KUBELINE_LOG_CAP_MB`` or 50).
        runner: ``local`` (this machine's processes), or ``docker`` / ``podman``: each
            task in its component's image, as on a cluster.
        pull: with a container runner, ``missing`` (pull absent images), ``always`` or
            ``never``.
        options: all of the above as one :class:`RunOptions` (then they are ignored).

    Raises:
        kubeline.errors.ConfigError: the arguments do not match the pipeline's inputs, or
            an image of a container run is neither present nor pullable (raised before
            anything runs).
    """
    from kubeline.engine.arguments import resolve_arguments
    from kubeline.engine.options import RunOptions
    from kubeline.engine.startmethod import start_method

    if options is None:
        options = RunOptions(
            enable_caching=enable_caching,
            workers=workers,
            on_event=on_event,
            allow_installs=allow_installs,
            preload=tuple(preload or ()),
            display_name=display_name,
            executor=executor,
            fork_server=fork_server,
            log_cap_mb=log_cap_mb,
            runner=runner,
            pull=pull,
        )
    from kubeline.engine.runner import run_spec
    from kubeline.store import database_url, open_store

    home = home or kubeline_home()
    fork_server = options.fork_server
    try:
        checked = resolve_arguments(spec, arguments or {})  # refuse before starting anything
        # $KUBELINE_START_METHOD is read here, once for the whole run.
        method = options.start_method or start_method()
        options = replace(options, start_method=method)
        local = options.runner == "local"
        if fork_server is None and options.executor is None and local:
            fork_server = start_fork_server(spec, options.preload, method=method)
        # The store's URL is settled here, at the edge ($KUBELINE_DATABASE_URL or the home's).
        with open_store(database_url(home)) as store:
            return run_spec(
                spec,
                checked,
                home=home,
                store=store,
                options=replace(options, fork_server=fork_server),
            )
    except BaseException:
        # What the caller handed over (or was started here) ends with the run, even one
        # that never began.
        if fork_server is not None:
            fork_server.close()
        if options.executor is not None:
            options.executor.close()
        raise


# What a lightweight Python component's command writes its source to.
_PROGRAM_FILE = "ephemeral_component.py"


def start_fork_server(
    spec: dict[str, Any], preload: Sequence[str] = (), *, method: StartMethod | None = None
) -> ForkServerClient | None:
    """Start the warm worker parent of a run of ``spec`` early, so its imports (kfp's
    executor, what the components import, ``preload``) overlap everything else the run
    does; None when no lightweight Python component will need it, or when its tasks are
    spawned (``method``, default ``$KUBELINE_START_METHOD``; always where there is no fork).
    Pass it on as ``RunOptions(fork_server=...)``: the run closes it."""
    from kubeline.engine.spec import pipeline_view

    words = (w for e in pipeline_view(spec).executors.values() for w in (*e.command, *e.args))
    if not any(_PROGRAM_FILE in w for w in words):
        return None
    server = start_warm_parent(method=method)
    if server is not None:
        server.preload([*warm_imports(spec), *preload])
    return server


def start_warm_parent(*, method: StartMethod | None = None) -> ForkServerClient | None:
    """Start a warm worker parent that imports only kfp's executor until it is told more
    (:meth:`~kubeline.engine.forkserver.ForkServerClient.preload`): for a caller that
    has not read its pipeline yet. None where tasks are spawned, as :func:`start_fork_server`."""
    from kubeline.engine.preload import DEFAULT_PRELOAD, importable
    from kubeline.engine.startmethod import start_method

    if (method or start_method()) != "fork" or not hasattr(os, "fork"):
        return None
    from kubeline.engine.forkserver import ForkServerClient as Client

    return Client(importable(list(DEFAULT_PRELOAD)))


def warm_imports(spec: dict[str, Any]) -> list[str]:
    """The installed modules the pipeline's Python components import: what its warm
    worker parent imports once for every task."""
    from kubeline.engine.preload import component_imports, importable

    return importable(component_imports(spec))


def mentions_python_components(text: str) -> bool:
    """Whether a pipeline file's text may hold a lightweight Python component (a quick
    look before it is parsed: True can be wrong, False is not)."""
    return _PROGRAM_FILE in text
