"""Start a run: record it, run its scheduler on a worker pool, and record how it ended.

This is what ``kubeline run``, :func:`kubeline.run` and the server call.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from kubeline.engine.arguments import resolve_arguments
from kubeline.engine.platform import platform_notes
from kubeline.engine.preload import component_imports
from kubeline.engine.results import RunResult, TaskEvent
from kubeline.engine.scheduler import Scheduler
from kubeline.engine.workers import WorkerPool
from kubeline.store import RunRecord, RunStore, open_store, process_alive

__all__ = ["ORPHAN_REASON", "new_run_id", "recover_orphans", "run_spec"]

ORPHAN_REASON = (
    "The process running this run ended before the run finished (it was killed "
    "or crashed); the run was marked FAILED when the engine next started."
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_run_id(pipeline_name: str) -> str:
    return f"{pipeline_name}-{_now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def recover_orphans(store: RunStore) -> list[str]:
    """Mark FAILED the runs a killed process left RUNNING."""
    return store.fail_orphaned_runs(process_alive, ORPHAN_REASON)


def _plain_outputs(params: dict[str, Any], arts: dict[str, list[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = dict(params)
    for name, refs in arts.items():
        items = [
            {
                "name": r.name,
                "uri": r.uri,
                "type": r.schema_title,
                "metadata": r.metadata,
                "artifact_id": r.artifact_id,
            }
            for r in refs
        ]
        out[name] = items[0] if len(items) == 1 else items
    return out


def run_spec(
    spec: dict[str, Any],
    arguments: dict[str, Any] | None = None,
    *,
    home: Path,
    store: RunStore | None = None,
    enable_caching: bool = True,
    workers: int | None = None,
    on_event: Callable[[TaskEvent], None] | None = None,
    allow_installs: bool = False,
    preload: list[str] | None = None,
    display_name: str = "",
    run_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> RunResult:
    """Run a compiled PipelineSpec to its end and return what happened.

    Raises:
        kubeline.errors.ConfigError: the arguments do not match the pipeline (before
            anything is recorded or run).
    """
    resolved = resolve_arguments(spec, arguments or {})
    store = store or open_store(home)
    recover_orphans(store)
    name = spec["pipelineInfo"]["name"]
    run_id = run_id or new_run_id(name)
    root = home / "runs" / run_id
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "workspace").mkdir(exist_ok=True)
    (root / "pipeline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    notes = platform_notes(spec)
    store.add_run(
        RunRecord(
            run_id=run_id,
            pipeline_name=name,
            state="RUNNING",
            created_at=_now(),
            display_name=display_name or run_id,
            started_at=_now(),
            spec=spec,
            arguments=resolved,
            root=str(root),
            cache_enabled=enable_caching,
            host=socket.gethostname(),
            pid=os.getpid(),
            **(extra or {}),
        )
    )
    pool = WorkerPool(workers, [*component_imports(spec), *(preload or [])])
    scheduler = Scheduler(
        run_id=run_id,
        spec=spec,
        arguments=resolved,
        store=store,
        pool=pool,
        run_root=root,
        enable_caching=enable_caching,
        on_event=on_event,
        allow_installs=allow_installs,
        install_venv=_venv_installer(home) if allow_installs else None,
    )
    error = None
    try:
        state = scheduler.run()
    except KeyboardInterrupt:
        state, error = "CANCELED", "Interrupted (Ctrl-C): running tasks were stopped."
    finally:
        pool.close()
    if state == "CANCELED" and error is None:
        error = "The run was canceled."
    params, arts = scheduler._dag_outputs(scheduler.root)
    tasks = store.list_tasks(run_id)
    if state == "FAILED":
        failed = [t for t in tasks if t.state == "FAILED" and t.kind in ("executor", "importer")]
        first = failed[0] if failed else next((t for t in tasks if t.state == "FAILED"), None)
        error = f"Task '{first.path}' failed: {first.error}" if first else "The run failed."
    store.update_run(
        run_id, state=state, finished_at=_now(), error=error, outputs=_plain_outputs(params, arts)
    )
    run = store.get_run(run_id)
    assert run is not None
    return RunResult(run=run, tasks=tasks, notes=notes)


def _venv_installer(home: Path) -> Callable[[list[str]], str]:
    from kubeline.engine.venvs import VenvCache

    return VenvCache(home / "venvs").python_for
