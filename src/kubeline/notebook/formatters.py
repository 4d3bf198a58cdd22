"""Rich display of kubeline's records in IPython and Jupyter, registered with IPython's
display formatter rather than written into the records' classes: the engine and the store
never import this package (an import-linter contract says so), and a notebook still shows
a :class:`~kubeline.engine.RunResult`, a run, a task or an artifact as HTML.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["in_kernel", "register"]

_registered: set[int] = set()


def _shell() -> Any:
    """The running IPython shell, or None (IPython is never imported here: a kernel has
    it loaded already, and kubeline does not depend on it)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (a frontend that shows rich output), not a
    plain terminal, a script or terminal IPython."""
    shell = _shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _run_result(result: Any) -> str:
    from kubeline.notebook.results import Result

    return str(Result.of(result)._repr_html_())


def _run_record(run: Any) -> str:
    from kubeline.notebook.results import Result, home_of
    from kubeline.notebook.views import run_html
    from kubeline.store import database_url, open_store

    if not run.root:
        return str(run_html(run, [], []))
    with open_store(database_url(home_of(run.root))) as store:
        tasks = store.tasks.list(run.run_id)
        artifacts = store.artifacts.list(run_ids=[run.run_id])
    return str(Result(run=run, tasks=tasks, artifacts=artifacts)._repr_html_())


def _task_record(task: Any) -> str:
    from kubeline.engine import kubeline_home
    from kubeline.notebook.views import task_html
    from kubeline.store import database_url, open_store

    home = _home_of_log(task.log_path, task.run_id) or kubeline_home()
    with open_store(database_url(home)) as store:
        artifacts = store.artifacts.list(producer_task_id=task.task_id)
    return str(task_html(task, artifacts, runs_root=home / "runs"))


def _home_of_log(log_path: str | None, run_id: str) -> Path | None:
    """The home a task's log is in (``<home>/runs/<run id>/logs/...``), or None."""
    if not log_path:
        return None
    parts = Path(log_path).parts
    for i in range(1, len(parts) - 1):
        if parts[i] == run_id and parts[i - 1] == "runs":
            return Path(*parts[: i - 1])
    return None


def _artifact_record(record: Any) -> str:
    from kubeline.notebook.views import artifact_html

    return str(artifact_html(record))


_VIEWS = (
    ("kubeline.engine.results", "RunResult", _run_result),
    ("kubeline.store.records", "RunRecord", _run_record),
    ("kubeline.store.records", "TaskRecord", _task_record),
    ("kubeline.store.records", "ArtifactRecord", _artifact_record),
)


def register(shell: Any = None) -> bool:
    """Show kubeline's records as HTML in this IPython shell (once per shell); False when
    there is no shell. Registered by name, so nothing is imported until one is shown."""
    shell = shell if shell is not None else _shell()
    if shell is None:
        return False
    if id(shell) in _registered:
        return True
    html = shell.display_formatter.formatters["text/html"]
    for module, name, view in _VIEWS:
        html.for_type_by_name(module, name, _safe(view))
    _registered.add(id(shell))
    return True


def _safe(view: Any) -> Any:
    """A view that falls back to the plain one-line repr when it fails (IPython would print
    a traceback into the cell otherwise)."""

    def show(obj: Any) -> str | None:
        try:
            return str(view(obj))
        except Exception:  # noqa: BLE001 - the text/plain repr is shown instead
            return None

    return show
