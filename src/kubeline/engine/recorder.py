"""The recorder: the only code that writes a run's rows (the run, its tasks, their
artifacts and cache entries) and calls the model registry's hook.

The scheduler tells it what happened to each node of the plan; it keeps what the rows
need beside the plan's state (when a task started and ended, its cache key, log and exit
code, its error as data) and writes each fact once, from the run's own thread.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubeline.engine.artifacts import ArtifactRef, local_path
from kubeline.engine.diskspace import DiskGuard, is_disk_full
from kubeline.engine.executors.base import TaskError
from kubeline.engine.plan import FAILED, Node
from kubeline.engine.registration import keep_copy, model_version_from, wants_registration
from kubeline.engine.results import TaskEvent
from kubeline.store import (
    ArtifactRecord,
    CacheRecord,
    RunRecord,
    RunStore,
    TaskRecord,
    process_alive,
)

__all__ = ["EVENTS_KEPT", "Recorder", "TaskFacts", "plain_outputs"]

#: The engine's decisions a run keeps (its last ones): enough to see how a burst of tasks
#: was admitted, few enough that the run's row stays small however many tasks it has.
EVENTS_KEPT = 200
#: A running run's new decisions are written at most this often (seconds); the rest wait
#: for the next decision, a task's end or the run's end.
EVENTS_EVERY = 1.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class TaskFacts:
    """What a task's row holds beyond the plan's state."""

    started: datetime | None = None
    finished: datetime | None = None
    cache_key: str | None = None
    log_path: str | None = None
    exit_code: int | None = None
    error: TaskError | None = None  # the structured error, when the task wrote one
    recorded: bool = False
    attempts: int = 0  # the attempts its row says
    started_unwritten: bool = False  # the executor's start time is not in the row yet


def _io(params: dict[str, Any], arts: dict[str, list[ArtifactRef]]) -> dict[str, Any]:
    return {
        "parameters": params,
        "artifacts": {k: [r.uri for r in v] for k, v in arts.items()},
        "artifact_ids": {k: [r.artifact_id for r in v if r.artifact_id] for k, v in arts.items()},
    }


def plain_outputs(params: dict[str, Any], arts: dict[str, list[ArtifactRef]]) -> dict[str, Any]:
    """A run's outputs as its row keeps them: parameters as they are, an artifact as a
    small dict (a list of them for a list output)."""
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


class Recorder:
    """Writes one run's rows.

    Args:
        store: where.
        run_id: the run.
        models_root: where the registry keeps its copies of registered models (None: no
            copy, the version points at the run's files).
        disk: the home's disk: a write that fails on a full disk frees its reserve and is
            tried once more, then raises :class:`~kubeline.engine.diskspace.DiskFullError`.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        models_root: Path | None = None,
        disk: DiskGuard | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.models_root = models_root
        self.disk = disk
        self._facts: dict[str, TaskFacts] = {}
        self._events: deque[dict[str, Any]] | None = None  # read from the row at the first
        self._events_unwritten = False
        self._events_written = -EVENTS_EVERY  # monotonic time of the last write

    def _write(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """One store write; on a full disk, once more with the reserve freed, then a
        DiskFullError instead of the database's own error."""
        try:
            call(*args, **kwargs)
            return
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            if self.disk is None:
                raise
            if not self.disk.full():
                raise self.disk.error("the run's progress could not be recorded", exc) from exc
        try:
            call(*args, **kwargs)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            raise self.disk.error("the run's progress could not be recorded", exc) from exc

    # ---------------------------------------------------------------------- runs
    @staticmethod
    def fail_orphans(store: RunStore, reason: str) -> list[str]:
        """Mark FAILED (with ``reason``) the runs a process that is gone left RUNNING."""
        return store.runs.fail_orphaned(process_alive, reason)

    @staticmethod
    def add_run(store: RunStore, record: RunRecord) -> None:
        """Record a run that has not started yet, and date its experiment's last run."""
        store.runs.add(record)
        if record.experiment_id:
            store.experiments.update(record.experiment_id, last_run_created_at=record.created_at)

    def run_started(self) -> None:
        self._write(
            self.store.runs.update,
            self.run_id,
            state="RUNNING",
            started_at=_now(),
            pid=os.getpid(),
            host=socket.gethostname(),
        )

    def fail_run(self, error: str) -> None:
        """End the run FAILED with ``error``, its unfinished tasks too, in one write (after
        the run's loop stopped on a full disk)."""
        mine = self.run_id
        self._write(self.store.runs.fail_orphaned, lambda run: run.run_id != mine, error)

    def run_ended(self, state: str, error: str | None, outputs: dict[str, Any]) -> None:
        events = {"events": list(self._events or ())} if self._events_unwritten else {}
        self._events_unwritten = False
        self._write(
            self.store.runs.update,
            self.run_id,
            state=state,
            finished_at=_now(),
            error=error,
            outputs=outputs,
            **events,
        )

    def event(self, event: TaskEvent, at: datetime) -> None:
        """An engine decision about a task (the process's admission started it beyond the
        core count, or made it wait): kept with the run, the last :data:`EVENTS_KEPT`."""
        if self._events is None:  # a retried run keeps what its earlier attempt decided
            run = self.store.runs.get(self.run_id)
            self._events = deque(run.events if run else (), maxlen=EVENTS_KEPT)
        self._events.append(
            {
                "at": at.isoformat(),
                "kind": event.kind,
                "task": event.task,
                "state": event.state,
                "message": event.detail or "",
            }
        )
        self._events_unwritten = True
        self._write_events()

    def _write_events(self) -> None:
        """The kept events into the run's row, unless written less than
        :data:`EVENTS_EVERY` ago (the run's end writes them in any case)."""
        if not self._events_unwritten or self._events is None:
            return
        clock = time.monotonic()
        if clock - self._events_written < EVENTS_EVERY:
            return
        self._events_unwritten = False
        self._events_written = clock
        self._write(self.store.runs.update, self.run_id, events=list(self._events))

    def tasks(self) -> list[TaskRecord]:
        return self.store.tasks.list(self.run_id)

    def run(self) -> RunRecord:
        run = self.store.runs.get(self.run_id)
        assert run is not None
        return run

    # --------------------------------------------------------------------- tasks
    def facts(self, node: Node) -> TaskFacts:
        found = self._facts.get(node.task_id)
        if found is None:
            found = self._facts[node.task_id] = TaskFacts()
        return found

    def begin(self, node: Node, parent: Node | None = None) -> None:
        """``node`` started now: its row, with its inputs and the artifacts it reads."""
        self.facts(node).started = _now()
        self._add(node, parent)

    def attempt(self, node: Node) -> None:
        """Another attempt of ``node`` is handed to the executor (the first one is in the
        row already when the row was added for it)."""
        facts = self.facts(node)
        if facts.attempts != node.attempts:
            facts.attempts = node.attempts
            self._write(
                self.store.tasks.update, node.task_id, attempts=node.attempts, state=node.state
            )

    def started_at(self, node: Node, when: datetime) -> None:
        """When an executor really started ``node`` (it may have queued). Written with the
        task's end, which follows at once, or before a retry waits (:meth:`retrying`)."""
        facts = self.facts(node)
        facts.started = when
        facts.started_unwritten = True

    def retrying(self, node: Node) -> None:
        """``node`` failed and waits for another attempt: its row says when it started."""
        facts = self.facts(node)
        if facts.started_unwritten:
            facts.started_unwritten = False
            self._write(self.store.tasks.update, node.task_id, started_at=facts.started)

    def finish(self, node: Node) -> None:
        """``node`` reached its final state: its end, outputs and error."""
        facts = self.facts(node)
        facts.finished = _now()
        if not facts.recorded:
            self._add(node, None)
        # The structured error only when it is the one the node failed with.
        error = facts.error
        if error is not None and (node.state != FAILED or node.error != str(error)):
            error = None
        started = {"started_at": facts.started} if facts.started_unwritten else {}
        facts.started_unwritten = False
        self._write(
            self.store.tasks.update,
            node.task_id,
            **started,
            state=node.state,
            finished_at=facts.finished,
            error=node.error,
            error_type=(error.type or None) if error is not None else None,
            user_error=error.user_error if error is not None else False,
            cache_hit=node.cache_hit,
            exit_code=facts.exit_code,
            attempts=node.attempts,
            kind=node.kind or "executor",
            outputs=_io(node.params_out, node.arts_out),
        )
        self._write_events()

    def _add(self, node: Node, parent: Node | None) -> None:
        facts = self.facts(node)
        if facts.recorded:
            return
        facts.recorded = True
        facts.attempts = node.attempts
        owner = parent or node.parent
        task = node.task
        self._write(
            self.store.tasks.add,
            TaskRecord(
                task_id=node.task_id,
                run_id=self.run_id,
                name=node.name,
                path=node.path,
                kind=node.kind or "executor",
                state=node.state,
                parent_task_id=owner.task_id if owner else None,
                component=task.component if task else "",
                display_name=task.display_name if task else node.name,
                created_at=_now(),
                started_at=facts.started,
                attempts=node.attempts,
                cache_key=facts.cache_key,
                inputs=_io(node.params_in, node.arts_in),
                log_path=facts.log_path,
            ),
        )
        for name, refs in node.arts_in.items():
            for ref in refs:
                if ref.artifact_id:
                    self._write(
                        self.store.artifacts.add_consumer, ref.artifact_id, node.task_id, name
                    )

    # ---------------------------------------------------------- artifacts, cache
    def artifact(self, node: Node, output: str, ref: ArtifactRef) -> ArtifactRef:
        """Record an artifact ``node`` produced; the reference with its new id."""
        ref = replace(ref, artifact_id=uuid.uuid4().hex)
        size = None
        path = local_path(ref.uri)
        if path is not None and path.is_file():
            size = path.stat().st_size
        self._write(
            self.store.artifacts.add,
            ArtifactRecord(
                artifact_id=ref.artifact_id or "",
                run_id=self.run_id,
                producer_task_id=node.task_id,
                output_name=output,
                uri=ref.uri,
                schema_title=ref.schema_title,
                metadata=ref.metadata,
                digest=ref.digest,
                size=size,
                created_at=_now(),
                name=ref.name,
            ),
        )
        return ref

    def artifacts(
        self, node: Node, outputs: dict[str, list[ArtifactRef]]
    ) -> dict[str, list[ArtifactRef]]:
        return {
            name: [self.artifact(node, name, r) for r in refs] for name, refs in outputs.items()
        }

    def cached(self, key: str) -> CacheRecord | None:
        return self.store.cache.get(key)

    def put_cache(self, node: Node) -> None:
        """Keep ``node``'s outputs under its cache key (when it has one)."""
        key = self.facts(node).cache_key
        if key is None:
            return
        self._write(
            self.store.cache.put,
            CacheRecord(
                key=key,
                component=node.task.component if node.task else "",
                outputs=node.params_out,
                artifacts={k: [r.to_dict() for r in v] for k, v in node.arts_out.items()},
                created_at=_now(),
                run_id=self.run_id,
                task_id=node.task_id,
            ),
        )

    def register_models(self, node: Node) -> str | None:
        """Register the Model outputs of ``node`` that ask to be; the error when one
        cannot be (the task then fails), else None."""
        for refs in node.arts_out.values():
            for ref in refs:
                if not wants_registration(ref):
                    continue
                try:
                    version = model_version_from(ref, run_id=self.run_id, task_id=node.task_id)
                    if self.models_root is not None:
                        version = keep_copy(version, self.models_root)
                    self.store.models.register_version(version)
                except Exception as exc:  # noqa: BLE001 - the task fails, not the engine
                    return f"could not register the model: {exc}"
        return None
