"""The scheduler: a small loop that drives one run's :class:`~kubeline.engine.plan.Plan`.

It asks the plan what to do, does it (builds each ready task's job, answers it from the
cache or hands it to the :class:`~kubeline.engine.executors.base.Executor`), has the
:class:`~kubeline.engine.recorder.Recorder` write what happened, and tells the plan how
each task went. Only this thread changes the plan; executors send back plain outcomes.
"""

from __future__ import annotations

import contextlib
import queue
import re
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubeline.engine.artifacts import ArtifactRef, content_gone
from kubeline.engine.cache import cache_key
from kubeline.engine.executors.base import Executor, Outcome, TaskError
from kubeline.engine.inputs import RunContext
from kubeline.engine.leaf import (
    LeafJob,
    TaskContext,
    host_program_missing,
    import_artifact,
    prepare_job,
    read_outputs,
)
from kubeline.engine.options import DEFAULT_OPTIONS, RunOptions
from kubeline.engine.plan import (
    CANCELED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    Action,
    Begin,
    Finish,
    Node,
    Plan,
    Prepare,
    Retry,
    Submit,
)
from kubeline.engine.platform import local_environment
from kubeline.engine.recorder import Recorder
from kubeline.engine.requirements import PipInstall
from kubeline.engine.results import TaskEvent
from kubeline.engine.safepath import ensure_inside
from kubeline.engine.spec import ComponentView, ExecutorView, PipelineView
from kubeline.errors import KubelineError

__all__ = ["Scheduler", "last_error"]

#: Builds (or reuses) a virtual environment with ``installs``; its interpreter's path.
VenvInstaller = Callable[[list[PipInstall], Path], str]


@dataclass
class _Leaf:
    """A prepared leaf: the job the executor runs, and KFP's executor input to read its
    outputs back with."""

    job: LeafJob
    executor_input: Any
    component: ComponentView


class Scheduler:
    """Runs one pipeline run to its end. Not reusable.

    Args:
        view: the pipeline.
        arguments: the run's checked arguments.
        run: the run's identity and folder.
        recorder: writes the run's rows.
        executor: runs the prepared tasks.
        options: the run's options (caching, installs, progress events).
        install_venv: builds install venvs (``--allow-installs``).
    """

    def __init__(
        self,
        *,
        view: PipelineView,
        arguments: dict[str, Any],
        run: RunContext,
        recorder: Recorder,
        executor: Executor,
        options: RunOptions = DEFAULT_OPTIONS,
        install_venv: VenvInstaller | None = None,
    ) -> None:
        self.view = view
        self.run_context = run
        self.recorder = recorder
        self.executor = executor
        self.options = options
        self.install_venv = install_venv
        self.on_event = options.on_event
        self.plan = Plan(
            view,
            arguments,
            run,
            capacity=executor.capacity,
            caching=options.enable_caching,
        )
        self._futures: dict[Future[Outcome], Node] = {}
        self._leaves: dict[Node, _Leaf] = {}
        # Admission decisions heard from other threads, with when they were decided.
        self._notes: queue.SimpleQueue[tuple[TaskEvent, datetime]] = queue.SimpleQueue()

    def admission(self, task_path: str, admitted: bool, message: str) -> None:
        """Hear the executor's admission decide about a task (``admitted``: it starts now;
        else it waits), from any thread: an event, and a line of the run's record, when the
        run's thread next wakes."""
        state = RUNNING if admitted else PENDING
        event = TaskEvent("admission", task_path, state, "admission", detail=message)
        self._notes.put((event, datetime.now(timezone.utc)))

    # ------------------------------------------------------------------ the loop
    def run(self) -> str:
        """Run to the end; returns the run's final state."""
        try:
            while True:
                self._advance()
                if self.plan.done:
                    break
                self._wait()
        except KeyboardInterrupt:
            self.cancel()
            self._drain()
            raise
        self._emit_notes()
        if self.plan.canceled:
            return CANCELED
        return FAILED if self.plan.failed else SUCCEEDED

    def outputs(self) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
        """The pipeline's own outputs (its root DAG's), as far as the run got."""
        return self.plan.outputs()

    def cancel(self) -> None:
        """Stop running tasks and start no new ones (Ctrl-C, or terminate). Safe from
        another thread: it only raises the plan's flag and stops the executor."""
        self.plan.cancel()
        self.executor.cancel()

    def _advance(self) -> None:
        self.plan.capacity = max(1, self.executor.capacity)
        for action in self.plan.advance(time.monotonic()):
            self._perform(action)

    def _wait(self) -> None:
        timeout = None
        first_retry = self.plan.next_retry()
        if first_retry is not None:
            timeout = max(0.0, first_retry - time.monotonic())
        if not self._futures:
            if timeout is None:
                raise KubelineError(
                    "The engine has nothing running and nothing ready: the pipeline's "
                    "dependencies cannot be met. This is a bug; please report it with the "
                    "pipeline file."
                )
            time.sleep(timeout)
            return
        for future in self.executor.wait(list(self._futures), timeout):
            node = self._futures.pop(future)
            self._job_done(node, future)
        self._emit_notes()

    def _emit_notes(self) -> None:
        while not self._notes.empty():
            event, at = self._notes.get()
            self.recorder.event(event, at)
            self._send(event)

    def _drain(self) -> None:
        while True:
            try:
                for future in list(self._futures):
                    with contextlib.suppress(Exception):  # the run is being torn down
                        future.result()
                break
            except KeyboardInterrupt:  # a second Ctrl-C: no grace period, kill the tasks
                self.executor.cancel(force=True)
        in_flight = list(self._futures.values())
        self._futures.clear()
        for action in self.plan.drain(in_flight):
            self._perform(action)

    # ------------------------------------------------------------------ actions
    def _perform(self, action: Action) -> None:
        if isinstance(action, Begin):
            self.recorder.begin(action.node, action.parent)
            self._emit(action.node, "started")
        elif isinstance(action, Finish):
            self._leaves.pop(action.node, None)  # its job and executor input are done with
            self.recorder.finish(action.node)
            self._emit(action.node, "cached" if action.node.cache_hit else "finished")
        elif isinstance(action, Prepare):
            self._prepare(action.node, action.component)
        elif isinstance(action, Submit):
            self._submit(action.node)
        elif isinstance(action, Retry):
            self.recorder.retrying(action.node)
            self._emit(action.node, "retrying")

    def _prepare(self, node: Node, component: ComponentView) -> None:
        try:
            self._start_leaf(node, component)
        except KubelineError as exc:
            self._perform(self.plan.finish(node, FAILED, str(exc)))
        except Exception as exc:  # noqa: BLE001 - one task's odd spec fails it, not the engine
            why = f"kubeline could not start this task: {type(exc).__name__}: {exc}"
            self._perform(self.plan.finish(node, FAILED, why))

    def _context(self, node: Node) -> TaskContext:
        root = self.run_context.root
        tasks = root / "tasks"
        return TaskContext(
            run_id=self.run_context.run_id,
            pipeline_name=self.view.name,
            task_name=node.name,
            task_root=ensure_inside(tasks / node.fs_path, tasks),
            pipeline_root=tasks,
            workspace=root / "workspace",
        )

    def _start_leaf(self, node: Node, component: ComponentView) -> None:
        executor = self.view.executor_of(component)
        ctx = self._context(node)
        if executor.kind == "importer":
            node.kind = "importer"
            self._perform(self.plan.begin(node))
            ref = import_artifact(dict(executor.raw), dict(component.raw), node.params_in, ctx)
            node.arts_out = {"artifact": [self.recorder.artifact(node, "artifact", ref)]}
            self._perform(self.plan.finish(node, SUCCEEDED))
            return
        if executor.kind != "container":
            raise KubelineError(
                f"Task '{node.name}' uses executor '{component.executor_label or None}', which "
                "is neither a container nor an importer; kubeline cannot run it locally."
            )
        node.kind = "executor"
        logs = self.run_context.root / "logs"
        log_path = ensure_inside(logs / f"{node.fs_path}.log", logs)
        from_platform = local_environment(self.view, component.executor_label, node.name)
        in_image = self.options.runner != "local"
        job, executor_input = prepare_job(
            component,
            executor,
            node.params_in,
            node.arts_in,
            ctx,
            node.path,
            log_path,
            in_container=in_image,
        )
        job.env.update(from_platform)
        self._leaves[node] = _Leaf(job, executor_input, component)
        self.recorder.facts(node).log_path = job.log_path
        if self._cached(node, component, executor):
            return
        missing = None if in_image else host_program_missing(job)
        if missing:
            self._perform(self.plan.begin(node))
            raise KubelineError(f"Task '{node.name}': {missing}")
        if not in_image:  # an image brings its own packages
            self._check_requirements(node, job, executor)
        begin = self.plan.begin(node)
        submit = self.plan.attempt(node)  # first, so that the task's row says attempt 1
        self._perform(begin)
        self._perform(submit)

    def _check_requirements(self, node: Node, job: LeafJob, executor: ExecutorView) -> None:
        from kubeline.engine.requirements import pip_installs, unsatisfied

        if job.kind != "python" or not job.requirements:
            return
        missing = unsatisfied(job.requirements)
        if not missing:
            return
        if self.options.allow_installs and self.install_venv is not None:
            installs = pip_installs([*executor.command, *executor.args])
            job.python = self.install_venv(installs, Path(job.log_path))
            return
        listed = "; ".join(f"{m.requirement} ({m.reason})" for m in missing)
        raise KubelineError(
            f"Task '{node.name}' needs packages this environment lacks: {listed}. Install "
            "them, or allow kubeline to install them in a cached virtual environment "
            "(--allow-installs)."
        )

    def _cached(self, node: Node, component: ComponentView, executor: ExecutorView) -> bool:
        """Answer ``node`` from the cache when it may be and a usable entry exists."""
        if not self.plan.wants_cache(node) or node.task is None:
            return False
        key = cache_key(
            dict(component.raw),
            dict(executor.raw),
            node.params_in,
            node.arts_in,
            node.task.caching.key,
            runner=self._runner_of(executor),
        )
        self.recorder.facts(node).cache_key = key
        hit = self.recorder.cached(key)
        if hit is None:
            return False
        refs = {
            name: [ArtifactRef.from_dict(a) for a in arts] for name, arts in hit.artifacts.items()
        }
        if any(content_gone(ref) for arts in refs.values() for ref in arts):
            return False  # the cached files were removed: run it again
        self._perform(self.plan.begin(node))
        node.cache_hit = True
        node.params_out = dict(hit.outputs)
        node.arts_out = self.recorder.artifacts(node, refs)
        error = self.recorder.register_models(node)
        if error is not None:
            self._perform(self.plan.finish(node, FAILED, error))
        else:
            self._perform(self.plan.finish(node, SUCCEEDED))
        return True

    def _runner_of(self, executor: ExecutorView) -> str | None:
        """Where a task of ``executor`` runs, for its cache key: None on this machine, else
        the runtime and the image's id."""
        if self.options.runner == "local":
            return None
        image_id = (self.options.image_ids or {}).get(executor.image, executor.image)
        return f"{self.options.runner}:{image_id}"

    def _submit(self, node: Node) -> None:
        job = self._leaves[node].job
        if node.attempts > 1:
            with open(job.log_path, "a", encoding="utf-8") as log:
                log.write(f"\n--- kubeline: attempt {node.attempts} ---\n")
        self.recorder.attempt(node)
        self._futures[self.executor.submit(job)] = node

    # ------------------------------------------------------------------ outcomes
    def _job_done(self, node: Node, future: Future[Outcome]) -> None:
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - an executor's crash fails the task, not the run
            outcome = Outcome(exit_code=-1, error=TaskError("", f"{type(exc).__name__}: {exc}"))
        leaf = self._leaves[node]
        facts = self.recorder.facts(node)
        facts.exit_code = outcome.exit_code
        facts.error = outcome.error if outcome.exit_code != 0 else None
        if outcome.started_at is not None:  # when it really started, not when it queued
            self.recorder.started_at(node, outcome.started_at)
        succeeded = outcome.exit_code == 0
        error = ""
        if not (succeeded or self.plan.canceled):
            error = (
                str(outcome.error)
                if outcome.error
                else last_error(leaf.job.log_path, outcome.exit_code)
            )
        actions = self.plan.outcome(node, succeeded, error, time.monotonic())
        for action in actions:
            self._perform(action)
        if actions or not succeeded:
            return
        try:
            params, arts = read_outputs(leaf.executor_input, dict(leaf.component.raw))
        except Exception as exc:  # noqa: BLE001 - bad outputs fail this task only
            self._perform(self.plan.finish(node, FAILED, f"cannot read the task's outputs: {exc}"))
            return
        node.params_out = params
        node.arts_out = self.recorder.artifacts(node, arts)
        failure = self.recorder.register_models(node)
        if failure is not None:
            self._perform(self.plan.finish(node, FAILED, failure))
            return
        self.recorder.put_cache(node)
        self._perform(self.plan.finish(node, SUCCEEDED))

    # -------------------------------------------------------------------- events
    def _emit(self, node: Node, kind: str) -> None:
        if self.on_event is None:
            return
        facts = self.recorder.facts(node)
        seconds = None
        if facts.started is not None and kind != "started":
            end = facts.finished or datetime.now(timezone.utc)
            seconds = (end - facts.started).total_seconds()
        event = TaskEvent(
            kind=kind,
            task=node.path,
            state=node.state,
            node_kind=node.kind or "executor",
            seconds=seconds,
            error=node.error,
        )
        self._send(event)

    def _send(self, event: TaskEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception as exc:  # noqa: BLE001 - a watcher's bug must not break the run
            self.on_event = None  # stop calling it; the run goes on and is recorded
            warnings.warn(
                f"kubeline stopped calling on_event after it raised {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def last_error(log_path: str | None, exit_code: int) -> str:
    """The Python exception line a failed task printed last, else how it exited: what a
    task that wrote no structured error (a container component) failed with."""
    lines: list[str] = []
    if log_path and Path(log_path).is_file():
        with open(log_path, encoding="utf-8", errors="replace") as log:
            lines = [ln.rstrip() for ln in log.readlines()[-200:] if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b.*:", line.strip()):
            return line.strip()
    if exit_code < 0:
        return f"killed by signal {-exit_code}"
    return f"exited with code {exit_code}"
