"""Start a run: record it, drive its plan with an executor, and record how it ended.

This is what ``kubeline run``, :func:`kubeline.run` and the server call.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from kubeline.engine.arguments import resolve_arguments
from kubeline.engine.containers import (
    check_images,
    container_executor,
    in_container,
    remove_left_containers,
)
from kubeline.engine.diskspace import DiskFullError, DiskGuard, is_disk_full, mentions_disk_full
from kubeline.engine.executors import AdmissionNote, Executor, local_executor
from kubeline.engine.executors.logcap import log_cap_bytes
from kubeline.engine.executors.processes import GRACE_SECONDS
from kubeline.engine.inputs import RunContext
from kubeline.engine.options import DEFAULT_OPTIONS, RunOptions
from kubeline.engine.platform import platform_notes
from kubeline.engine.preload import component_imports
from kubeline.engine.recorder import Recorder, plain_outputs
from kubeline.engine.requirements import PipInstall
from kubeline.engine.results import RunResult
from kubeline.engine.safepath import check_spec_names, ensure_inside, is_ordinary, run_id_prefix
from kubeline.engine.scheduler import Scheduler
from kubeline.engine.spec import pipeline_view
from kubeline.engine.tasktree import end_marked
from kubeline.errors import ConfigError
from kubeline.store import RunRecord, RunStore, database_url, open_store

__all__ = [
    "ORPHAN_REASON",
    "RunControl",
    "execute_run",
    "new_run_id",
    "record_run",
    "recover_orphans",
    "run_spec",
]

ORPHAN_REASON = (
    "The process running this run ended before the run finished (it was killed "
    "or crashed); the run was marked FAILED when the engine next started."
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_run_id(pipeline_name: str) -> str:
    """``<pipeline name>-<UTC time>-<random>``; a pipeline name that is not a plain file
    name (``../x``, ``a/b``) gives its letters, digits and dashes instead."""
    return f"{run_id_prefix(pipeline_name)}-{_now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def recover_orphans(store: RunStore) -> list[str]:
    """Mark FAILED the runs a killed process left RUNNING, and end what their tasks left
    running on this machine (should their fork server or task leaders have died too)."""
    failed = Recorder.fail_orphans(store, ORPHAN_REASON)
    roots = []
    for run_id in failed:
        record = store.runs.get(run_id)
        if record is not None and record.root:
            roots.append(os.path.join(record.root, ""))
    end_marked(roots)
    remove_left_containers(roots)
    return failed


class RunControl:
    """Lets another thread stop a run (the server's terminate): set before or while it runs."""

    def __init__(self, canceled_state: str = "CANCELED") -> None:
        self._lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        self.cancel_requested = False
        self.reason = ""
        #: The state a canceled run is recorded with, in the same write as its end: the
        #: server's terminate says FAILED (kfp.Client's waits stop only on that), and a
        #: page polling the run must never see a CANCELED in between.
        self.canceled_state = canceled_state

    def attach(self, scheduler: Scheduler) -> None:
        with self._lock:
            self._scheduler = scheduler
            if self.cancel_requested:
                scheduler.cancel()

    def cancel(self, reason: str = "") -> None:
        with self._lock:
            self.cancel_requested = True
            self.reason = reason
            if self._scheduler is not None:
                self._scheduler.cancel()

    def force(self) -> None:
        """Kill the run's tasks now, without their grace period (a second Ctrl-C)."""
        with self._lock:
            self.cancel_requested = True
            if self._scheduler is not None:
                self._scheduler.cancel()
                self._scheduler.executor.cancel(force=True)


def record_run(
    spec: dict[str, Any],
    arguments: dict[str, Any] | None = None,
    *,
    home: Path,
    store: RunStore,
    options: RunOptions = DEFAULT_OPTIONS,
    run_id: str | None = None,
    state: str = "PENDING",
    extra: dict[str, Any] | None = None,
) -> RunRecord:
    """Check the arguments (unless already checked) and record a run that has not started
    yet (its folder too). Caching and the display name come from ``options``.

    Raises:
        kubeline.errors.ConfigError: the arguments do not match the pipeline, or ``run_id``
            cannot name a folder.
        kubeline.errors.PipelineLoadError: two of the spec's names would share a file.
        kubeline.engine.diskspace.DiskFullError: the disk holding the home is full.
    """
    resolved = resolve_arguments(spec, arguments or {})
    check_spec_names(spec)
    if store.read_only_reason:  # opened read-only: its disk is full
        raise DiskGuard(home).error("the store is read-only and a run needs to write")
    try:
        return _record(spec, resolved, home, store, options, run_id, state, extra)
    except Exception as exc:
        if not is_disk_full(exc) or isinstance(exc, DiskFullError):
            raise
        raise DiskGuard(home).error("the run could not be recorded", exc) from None


def _record(
    spec: dict[str, Any],
    resolved: dict[str, Any],
    home: Path,
    store: RunStore,
    options: RunOptions,
    run_id: str | None,
    state: str,
    extra: dict[str, Any] | None,
) -> RunRecord:
    """What :func:`record_run` writes: the run's folder and its row."""
    name = spec["pipelineInfo"]["name"]
    run_id = run_id or new_run_id(name)
    if not is_ordinary(run_id):
        raise ConfigError(
            f"Run id '{run_id}' cannot name a run folder: use letters, digits, '-', '_' and "
            "'.' (not first or last), or leave it out and kubeline makes one."
        )
    extra = dict(extra or {})
    if not extra.get("experiment_id"):
        # As in Kubeflow Pipelines, a run named into no experiment goes to Default, so runs
        # of 'kubeline run' list, filter and compare like those started from the UI.
        extra["experiment_id"] = store.experiments.ensure_default().experiment_id
    root = ensure_inside(home / "runs" / run_id, home / "runs")
    (root / "logs").mkdir(parents=True, exist_ok=True)
    (root / "workspace").mkdir(exist_ok=True)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml is ~10x faster
    (root / "pipeline.yaml").write_text(
        yaml.dump(spec, Dumper=dumper, sort_keys=False), encoding="utf-8"
    )
    record = RunRecord(
        run_id=run_id,
        pipeline_name=name,
        state=state,
        created_at=_now(),
        display_name=options.display_name or run_id,
        spec=spec,
        arguments=dict(resolved),
        root=str(root),
        cache_enabled=options.enable_caching,
        host=socket.gethostname(),
        pid=os.getpid(),
        **extra,
    )
    Recorder.add_run(store, record)
    return record


def execute_run(
    record: RunRecord,
    *,
    home: Path,
    store: RunStore,
    options: RunOptions = DEFAULT_OPTIONS,
    control: RunControl | None = None,
) -> RunResult:
    """Run a recorded run to its end and record how it ended. Caching follows the record
    (``options.enable_caching`` was recorded with it)."""
    spec, run_id = record.spec, record.run_id
    options = check_images(spec, options)  # a server's run: checked again, by id
    disk = DiskGuard(home)
    disk.keep_reserve()
    recorder = Recorder(store, run_id, models_root=home / "models", disk=disk)
    try:
        recorder.run_started()
    except DiskFullError as exc:
        raise _unrecorded(exc) from None
    hear = _Relay()
    executor = _executor(spec, options, hear, Path(record.root))
    scheduler = Scheduler(
        view=pipeline_view(spec),
        arguments=record.arguments,
        run=RunContext(
            run_id=run_id, job_id=str(uuid.uuid4()), created_at=_now(), root=Path(record.root)
        ),
        recorder=recorder,
        executor=executor,
        options=RunOptions(
            enable_caching=record.cache_enabled,
            on_event=options.on_event,
            allow_installs=options.allow_installs,
            runner=options.runner,
            image_ids=options.image_ids,
        ),
        install_venv=_venv_installer(home) if options.allow_installs else None,
    )
    hear.to = scheduler.admission
    if control is not None:
        control.attach(scheduler)
    error = None
    full: DiskFullError | None = None
    try:
        state = scheduler.run()
    except KeyboardInterrupt:
        state, error = "CANCELED", "Interrupted (Ctrl-C): running tasks were stopped."
    except DiskFullError as exc:  # a store write failed even with the reserve freed
        scheduler.cancel()
        full = exc
    finally:
        _close(executor)
    if full is not None:
        return _end_on_full_disk(recorder, disk, full, spec)
    canceled = state == "CANCELED"
    if canceled and error is None:
        error = control.reason if control and control.reason else "The run was canceled."
        if control is not None:
            state = control.canceled_state
    params, arts = scheduler.outputs()
    tasks = recorder.tasks()
    if state == "FAILED" and not canceled:
        failed = [t for t in tasks if t.state == "FAILED" and t.kind in ("executor", "importer")]
        first = failed[0] if failed else next((t for t in tasks if t.state == "FAILED"), None)
        error = f"Task '{first.path}' failed: {first.error}" if first else "The run failed."
        if disk.looks_full() or mentions_disk_full(error):
            error = f"{_capital(disk.message())}. {error}"
    try:
        recorder.run_ended(state, error, plain_outputs(params, arts))
    except DiskFullError as exc:
        return _end_on_full_disk(recorder, disk, exc, spec)
    notes = platform_notes(spec, in_container(options))
    return RunResult(run=recorder.run(), tasks=tasks, notes=notes)


def _close(executor: Executor) -> None:
    """Wait for the executor's jobs to end; a Ctrl-C meanwhile kills them at once."""
    while True:
        try:
            executor.close()
            return
        except KeyboardInterrupt:
            executor.cancel(force=True)


def _end_on_full_disk(
    recorder: Recorder, disk: DiskGuard, full: DiskFullError, spec: dict[str, Any]
) -> RunResult:
    """Record the run FAILED because the disk is full; when even that cannot be written,
    raise a DiskFullError that says the next engine start will mark it FAILED."""
    message = f"{_capital(disk.message())}: the run was stopped."
    try:
        recorder.fail_run(message)
        notes = platform_notes(spec)
        return RunResult(run=recorder.run(), tasks=recorder.tasks(), notes=notes)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        raise _unrecorded(full) from None


def _unrecorded(full: DiskFullError) -> DiskFullError:
    return DiskFullError(
        f"{full} The run stays unfinished in the store until the next kubeline start "
        "(a run, 'kubeline runs', or the server) marks it FAILED; free some space first."
    )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def run_spec(
    spec: dict[str, Any],
    arguments: dict[str, Any] | None = None,
    *,
    home: Path,
    store: RunStore | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
) -> RunResult:
    """Record a run of a compiled PipelineSpec, run it to its end, return what happened.
    A store it opens itself it closes.

    Raises:
        kubeline.errors.ConfigError: the arguments do not match the pipeline (before
            anything is recorded or run).
    """
    checked = resolve_arguments(spec, arguments or {})  # refuse before touching the store
    if store is None:
        with open_store(database_url(home)) as own:
            return run_spec(spec, checked, home=home, store=own, options=options)
    if store.read_only_reason:  # opened read-only: its disk is full
        raise DiskGuard(home).error("the store is read-only and a run needs to write")
    options = check_images(spec, options)  # an image missing: nothing recorded or started
    try:
        recover_orphans(store)
        record = record_run(spec, checked, home=home, store=store, options=options)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        raise DiskGuard(home).error("the run could not be recorded or started", exc) from None
    return execute_run(record, home=home, store=store, options=options)


class _Relay:
    """Passes the executor's admission decisions on to the scheduler made after it."""

    def __init__(self) -> None:
        self.to: Callable[[str, bool, str], None] | None = None

    def __call__(self, note: AdmissionNote) -> None:
        if self.to is not None:
            self.to(note.task_path, note.admitted, note.message)


def _executor(spec: dict[str, Any], options: RunOptions, hear: _Relay, root: Path) -> Executor:
    """The executor the caller started, else the one of a container run, else the one of a
    local run, its warm parent preloading what the components import."""
    if options.executor is not None:
        return options.executor
    if in_container(options):
        return container_executor(options, root, hear)
    preload = [*component_imports(spec), *options.preload]
    return local_executor(
        options.workers,
        preload,
        options.fork_server,
        on_admission=hear,
        method=options.start_method,
        grace=GRACE_SECONDS if options.grace_period is None else options.grace_period,
        log_cap=None if options.log_cap_mb is None else log_cap_bytes(options.log_cap_mb),
    )


def _venv_installer(home: Path) -> Callable[[list[PipInstall], Path], str]:
    from kubeline.engine.venvs import VenvCache

    return VenvCache(home / "venvs").python_for
