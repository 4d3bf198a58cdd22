"""The run state machine: walks a PipelineSpec's DAGs and starts every ready task at once.

Each DAG instance is a :class:`Scope` (the root, a sub-pipeline, a condition group, one loop
iteration) holding :class:`Node` objects, one per task. A node moves

    PENDING -> (skipped | failed before start) SKIPPED / FAILED
    PENDING -> RUNNING -> SUCCEEDED / FAILED / CANCELED        (executor: via a worker)
    PENDING -> RUNNING -> (its scopes finish) -> SUCCEEDED / FAILED   (dag, loop)

Only this thread changes state; workers send back plain results. After the first failure
no new task starts (as KFP on Argo does), except tasks that run whatever their upstream
did: exit handlers and ``ignore_upstream_failure``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubeline.engine.artifacts import ArtifactRef, content_gone, local_path
from kubeline.engine.cache import cache_key
from kubeline.engine.conditions import evaluate_condition
from kubeline.engine.leaf import (
    LeafJob,
    TaskContext,
    host_program_missing,
    import_artifact,
    prepare_job,
    read_outputs,
)
from kubeline.engine.platform import local_environment
from kubeline.engine.registration import keep_copy, model_version_from, wants_registration
from kubeline.engine.requirements import PipInstall
from kubeline.engine.results import TaskEvent
from kubeline.engine.safepath import ensure_inside, safe_name
from kubeline.engine.values import kfp_text
from kubeline.engine.workers import JobResult, WorkerPool
from kubeline.errors import KubelineError
from kubeline.store import ArtifactRecord, CacheRecord, RunStore, TaskRecord

__all__ = ["Scheduler"]

PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED, CANCELED = (
    "PENDING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "SKIPPED",
    "CANCELED",
)
_FINAL = {SUCCEEDED, FAILED, SKIPPED, CANCELED}
_ALWAYS = "ALL_UPSTREAM_TASKS_COMPLETED"
_FINAL_STATUS_STATES = {"SUCCEEDED": "COMPLETE"}
_SELECTOR = re.compile(r'parseJson\(string_value\)\["([^"]+)"\]')


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _seconds(duration: str | float | None, default: float = 0.0) -> float:
    if duration is None:
        return default
    if isinstance(duration, (int, float)):
        return float(duration)
    return float(str(duration).rstrip("s") or 0)


@dataclass(eq=False)
class Node:
    """One task instance in one scope."""

    name: str
    path: str  # logical: the spec's names, what the store records
    spec: dict[str, Any]
    scope: Scope | None
    fs_path: str = ""  # the same, one safe file-name segment per name (engine.safepath)
    kind: str = ""
    state: str = PENDING
    task_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    params_in: dict[str, Any] = field(default_factory=dict)
    arts_in: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    params_out: dict[str, Any] = field(default_factory=dict)
    arts_out: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 0
    started: datetime | None = None
    finished: datetime | None = None
    ready_at: float = 0.0  # for a retry after backoff
    cache_key: str | None = None
    cache_hit: bool = False
    exit_code: int | None = None
    recorded: bool = False
    # dag / loop
    children: list[Scope] = field(default_factory=list)
    iterations: list[Node] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    parallelism: int = 0
    job: LeafJob | None = None
    executor_input: Any = None

    @property
    def final(self) -> bool:
        return self.state in _FINAL


@dataclass(eq=False)
class Scope:
    """One DAG instance: its component, its inputs and its task nodes."""

    component: dict[str, Any]
    params: dict[str, Any]
    arts: dict[str, list[ArtifactRef]]
    owner: Node | None
    prefix: str
    fs_prefix: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return all(n.final for n in self.nodes.values())


class Scheduler:
    """Runs one pipeline run to its end. Not reusable."""

    def __init__(
        self,
        *,
        run_id: str,
        spec: dict[str, Any],
        arguments: dict[str, Any],
        store: RunStore,
        pool: WorkerPool,
        run_root: Path,
        enable_caching: bool = True,
        on_event: Callable[[TaskEvent], None] | None = None,
        allow_installs: bool = False,
        install_venv: Callable[[list[PipInstall], Path], str] | None = None,
        models_root: Path | None = None,
    ) -> None:
        self.run_id = run_id
        self.models_root = models_root
        self.spec = spec
        self.store = store
        self.pool = pool
        self.root_dir = run_root
        self.enable_caching = enable_caching
        self.on_event = on_event
        self.allow_installs = allow_installs
        self.install_venv = install_venv
        self.components: dict[str, Any] = spec.get("components", {})
        self.executors: dict[str, Any] = spec.get("deploymentSpec", {}).get("executors", {})
        self.pipeline_name = spec["pipelineInfo"]["name"]
        self.failed = False
        self.canceled = False
        self.created_at = _now()
        self.run_uuid = str(uuid.uuid4())
        self._futures: dict[Future[JobResult], Node] = {}
        self._waiting_retry: list[Node] = []
        self._scopes: list[Scope] = []
        root_params = self._defaults(spec["root"])
        root_params.update(arguments)
        self.root = self._new_scope(spec["root"], root_params, {}, None, "")

    # ----------------------------------------------------------------- set-up
    @staticmethod
    def _defaults(component: dict[str, Any]) -> dict[str, Any]:
        params = component.get("inputDefinitions", {}).get("parameters", {})
        return {k: v["defaultValue"] for k, v in params.items() if "defaultValue" in v}

    def _new_scope(
        self,
        component: dict[str, Any],
        params: dict[str, Any],
        arts: dict[str, list[ArtifactRef]],
        owner: Node | None,
        prefix: str,
        fs_prefix: str = "",
    ) -> Scope:
        # A sub-pipeline's own input defaults apply where its caller passed nothing.
        scope = Scope(
            component, {**self._defaults(component), **params}, arts, owner, prefix, fs_prefix
        )
        for name, task in component.get("dag", {}).get("tasks", {}).items():
            scope.nodes[name] = Node(
                name=name,
                path=f"{prefix}{name}",
                spec=task,
                scope=scope,
                fs_path=f"{fs_prefix}{safe_name(name)}",
            )
        self._scopes.append(scope)
        return scope

    # ------------------------------------------------------------- main loop
    def run(self) -> str:
        """Run to the end; returns the run's final state."""
        try:
            while True:
                while self._advance():
                    pass
                if self.root.done:
                    break
                self._wait()
        except KeyboardInterrupt:
            self.cancel()
            self._drain()
            raise
        if self.canceled:
            return CANCELED
        return FAILED if self.failed else SUCCEEDED

    def outputs(self) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
        """The pipeline's own outputs (its root DAG's), as far as the run got."""
        return self._dag_outputs(self.root)

    def cancel(self) -> None:
        """Stop running tasks and start no new ones (Ctrl-C, or terminate)."""
        self.canceled = True
        self.pool.cancel()

    def _drain(self) -> None:
        for future, node in list(self._futures.items()):
            with contextlib.suppress(Exception):  # the run is being torn down
                future.result()
            self._finish(node, CANCELED, "canceled")
        self._futures.clear()
        for scope in list(self._scopes):
            for node in scope.nodes.values():
                if not node.final:
                    self._finish(node, CANCELED, "canceled before it ran")

    def _wait(self) -> None:
        timeout = None
        if self._waiting_retry:
            timeout = max(0.0, min(n.ready_at for n in self._waiting_retry) - time.monotonic())
        if not self._futures:
            if timeout is None:
                raise KubelineError(
                    "The engine has nothing running and nothing ready: the pipeline's "
                    "dependencies cannot be met. This is a bug; please report it with the "
                    "pipeline file."
                )
            time.sleep(timeout)
            return
        done, _ = wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            node = self._futures.pop(future)
            self._job_done(node, future)

    def _advance(self) -> bool:
        """Move every node that can move; True when anything changed."""
        changed = False
        now = time.monotonic()
        for node in [n for n in self._waiting_retry if n.ready_at <= now]:
            self._waiting_retry.remove(node)
            self._start_executor(node)
            changed = True
        for scope in list(self._scopes):
            for node in scope.nodes.values():
                if node.state == PENDING and node not in self._waiting_retry:
                    changed |= self._try_start(scope, node)
                elif node.state == RUNNING and node.kind in ("dag", "loop"):
                    changed |= self._try_complete_group(node)
        return changed

    # ------------------------------------------------------------ readiness
    def _try_start(self, scope: Scope, node: Node) -> bool:
        deps = [scope.nodes[d] for d in node.spec.get("dependentTasks", []) if d in scope.nodes]
        if not all(d.final for d in deps):
            return False
        node.kind = node.kind or self._kind_of(node)
        if node.kind == "executor" and len(self._futures) >= 2 * self.pool.workers:
            return False  # enough queued: collect finished tasks before preparing more
        always = node.spec.get("triggerPolicy", {}).get("strategy") == _ALWAYS
        if self.canceled:
            self._finish(node, CANCELED, "canceled before it ran")
            return True
        if not always:
            bad = [d for d in deps if d.state in (FAILED, CANCELED)]
            if bad:
                self._finish(
                    node, SKIPPED, f"not run: upstream task '{bad[0].name}' {bad[0].state.lower()}"
                )
                return True
            if self.failed:
                self._finish(node, SKIPPED, "not run: another task of the run failed")
                return True
        try:
            node.params_in, node.arts_in = self._resolve_inputs(scope, node)
            condition = node.spec.get("triggerPolicy", {}).get("condition")
            if condition and not evaluate_condition(condition, node.params_in):
                self._finish(node, SKIPPED, "condition was false")
                return True
            component = self.components[node.spec["componentRef"]["name"]]
            if "parameterIterator" in node.spec or "artifactIterator" in node.spec:
                self._start_loop(node, component)
            elif "dag" in component:
                self._start_dag(node, component)
            else:
                self._start_leaf(node, component)
        except KubelineError as exc:
            self._fail(node, str(exc))
        except Exception as exc:  # noqa: BLE001 - one task's odd spec fails it, not the engine
            self._fail(node, f"kubeline could not start this task: {type(exc).__name__}: {exc}")
        return True

    def _kind_of(self, node: Node) -> str:
        component = self.components.get(node.spec.get("componentRef", {}).get("name", ""), {})
        if "parameterIterator" in node.spec or "artifactIterator" in node.spec:
            return "loop"
        if "dag" in component:
            return "dag"
        executor = self.executors.get(component.get("executorLabel", ""), {})
        return "importer" if "importer" in executor else "executor"

    # --------------------------------------------------------------- inputs
    def _resolve_inputs(
        self, scope: Scope, node: Node
    ) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
        params: dict[str, Any] = {}
        arts: dict[str, list[ArtifactRef]] = {}
        inputs = node.spec.get("inputs", {})
        for name, source in inputs.get("parameters", {}).items():
            found, value = self._parameter(scope, source, node)
            if not found or (value is None and "runtimeValue" not in source):
                continue  # not given: the component's own default (or None) applies
            selector = source.get("parameterExpressionSelector")
            if selector:
                value = self._select(value, selector, node.name, name)
            params[name] = value
        for name, source in inputs.get("artifacts", {}).items():
            refs = self._artifact(scope, source)
            if refs is not None:
                arts[name] = refs
        component = self.components.get(node.spec.get("componentRef", {}).get("name", ""), {})
        return _as_declared(component, params), arts

    def _run_placeholders(self, text: str, node: Node) -> str:
        """KFP's run-level placeholders in a constant: job and task names, ids, times."""
        if "{{$." not in text:
            return text
        from kfp import dsl

        created = self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        values = {
            dsl.PIPELINE_JOB_NAME_PLACEHOLDER: self.run_id,
            dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER: self.run_id,
            dsl.PIPELINE_JOB_ID_PLACEHOLDER: self.run_uuid,
            dsl.PIPELINE_TASK_NAME_PLACEHOLDER: node.name,
            dsl.PIPELINE_TASK_ID_PLACEHOLDER: node.task_id,
            dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER: created,
            dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER: created,
            dsl.PIPELINE_ROOT_PLACEHOLDER: str(self.root_dir / "tasks"),
            dsl.WORKSPACE_PATH_PLACEHOLDER: str(self.root_dir / "workspace"),
        }
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def _parameter(self, scope: Scope, source: dict[str, Any], node: Node) -> tuple[bool, Any]:
        if "componentInputParameter" in source:
            key = source["componentInputParameter"]
            return (key in scope.params), scope.params.get(key)
        if "taskOutputParameter" in source:
            ref = source["taskOutputParameter"]
            producer = scope.nodes.get(ref["producerTask"])
            if producer is None or ref["outputParameterKey"] not in producer.params_out:
                return False, None
            return True, producer.params_out[ref["outputParameterKey"]]
        if "runtimeValue" in source:
            value = source["runtimeValue"].get("constant")
            return True, self._run_placeholders(value, node) if isinstance(value, str) else value
        if "taskFinalStatus" in source:
            producer = scope.nodes[source["taskFinalStatus"]["producerTask"]]
            return True, {
                # KFP reports a finished task's state as its ML Metadata execution state.
                "state": _FINAL_STATUS_STATES.get(producer.state, producer.state),
                "pipelineJobResourceName": self.run_id,
                "pipelineTaskName": producer.name,
                "error": {
                    "code": 0 if producer.state == SUCCEEDED else 2,
                    "message": producer.error or "",
                },
            }
        return False, None

    @staticmethod
    def _select(value: Any, selector: str, task: str, name: str) -> Any:
        keys = _SELECTOR.findall(selector)
        if not keys:
            raise KubelineError(f"Task '{task}' input '{name}': unsupported selector '{selector}'.")
        for key in keys:
            if isinstance(value, str):
                value = json.loads(value)
            value = value[key]
        return value

    def _artifact(self, scope: Scope, source: dict[str, Any]) -> list[ArtifactRef] | None:
        if "componentInputArtifact" in source:
            return scope.arts.get(source["componentInputArtifact"])
        if "taskOutputArtifact" in source:
            ref = source["taskOutputArtifact"]
            producer = scope.nodes.get(ref["producerTask"])
            if producer is None:
                return None
            return producer.arts_out.get(ref["outputArtifactKey"])
        return None

    # ---------------------------------------------------------- dag & loops
    def _start_dag(self, node: Node, component: dict[str, Any]) -> None:
        node.kind = "dag"
        self._begin(node)
        node.children = [
            self._new_scope(
                component, node.params_in, node.arts_in, node, f"{node.path}/", f"{node.fs_path}/"
            )
        ]

    def _start_loop(self, node: Node, component: dict[str, Any]) -> None:
        node.kind = "loop"
        if "parameterIterator" in node.spec:
            iterator = node.spec["parameterIterator"]
            items_spec = iterator["items"]
            if "raw" in items_spec:
                items = json.loads(items_spec["raw"])
            else:
                items = node.params_in.get(items_spec["inputParameter"])
                if isinstance(items, str):
                    items = json.loads(items)
        else:
            iterator = node.spec["artifactIterator"]
            items = node.arts_in.get(iterator["items"]["inputArtifact"], [])
        if not isinstance(items, list):
            raise KubelineError(
                f"ParallelFor '{node.name}' needs a list to loop over; "
                f"got {type(items).__name__}: {items!r}."
            )
        node.items = items
        node.parallelism = int(node.spec.get("iteratorPolicy", {}).get("parallelismLimit", 0))
        self._begin(node)
        self._feed_loop(node, component)

    def _feed_loop(self, node: Node, component: dict[str, Any] | None = None) -> None:
        component = component or self.components[node.spec["componentRef"]["name"]]
        running = sum(1 for it in node.iterations if not it.final)
        is_artifact = "artifactIterator" in node.spec
        item_input = node.spec["artifactIterator" if is_artifact else "parameterIterator"][
            "itemInput"
        ]
        while (
            len(node.iterations) < len(node.items)
            and (node.parallelism <= 0 or running < node.parallelism)
            and not self.canceled
            and not self.failed
        ):
            index = len(node.iterations)
            it = Node(
                name=f"iteration-{index}",
                path=f"{node.path}/iteration-{index}",
                spec={},
                scope=None,
                kind="iteration",
                fs_path=f"{node.fs_path}/iteration-{index}",
            )
            params, arts = dict(node.params_in), dict(node.arts_in)
            if is_artifact:
                arts[item_input] = [node.items[index]]
            else:
                params[item_input] = node.items[index]
                params = _as_declared(component, params)
            it.params_in, it.arts_in = params, arts
            self._begin(it, parent=node)
            it.children = [
                self._new_scope(component, params, arts, it, f"{it.path}/", f"{it.fs_path}/")
            ]
            node.iterations.append(it)
            running += 1

    def _try_complete_group(self, node: Node) -> bool:
        changed = False
        if node.kind == "loop":
            for it in node.iterations:
                if not it.final and all(s.done for s in it.children):
                    self._complete_scope_owner(it)
                    changed = True
            if len(node.iterations) < len(node.items) and not (self.failed or self.canceled):
                before = len(node.iterations)
                self._feed_loop(node)
                changed |= len(node.iterations) != before
            if all(it.final for it in node.iterations) and (
                len(node.iterations) == len(node.items) or self.failed or self.canceled
            ):
                self._complete_loop(node)
                changed = True
        elif all(s.done for s in node.children):
            self._complete_scope_owner(node)
            changed = True
        return changed

    def _complete_scope_owner(self, node: Node) -> None:
        scope = node.children[0]
        self._scopes.remove(scope)
        states = {n.state for n in scope.nodes.values()}
        node.params_out, node.arts_out = self._dag_outputs(scope)
        if CANCELED in states and self.canceled:
            self._finish(node, CANCELED, "canceled")
        elif FAILED in states or CANCELED in states:
            failed = next(n for n in scope.nodes.values() if n.state in (FAILED, CANCELED))
            self._finish(
                node, FAILED, f"task '{failed.name}' failed: {failed.error}", count_failure=False
            )
        else:
            self._finish(node, SUCCEEDED)

    def _complete_loop(self, node: Node) -> None:
        component = self.components[node.spec["componentRef"]["name"]]
        outputs = component.get("dag", {}).get("outputs", {})
        for name in outputs.get("parameters", {}):
            node.params_out[name] = [
                it.params_out.get(name) for it in node.iterations if name in it.params_out
            ]
        for name in outputs.get("artifacts", {}):
            node.arts_out[name] = [a for it in node.iterations for a in it.arts_out.get(name, [])]
        failed = [it for it in node.iterations if it.state in (FAILED, CANCELED)]
        if self.canceled:
            self._finish(node, CANCELED, "canceled")
        elif failed or len(node.iterations) < len(node.items):
            reason = failed[0].error if failed else "the run failed before every item ran"
            self._finish(node, FAILED, reason, count_failure=False)
        else:
            self._finish(node, SUCCEEDED)

    def _dag_outputs(self, scope: Scope) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
        outputs = scope.component.get("dag", {}).get("outputs", {})
        params: dict[str, Any] = {}
        arts: dict[str, list[ArtifactRef]] = {}
        for name, source in outputs.get("parameters", {}).items():
            selectors = (
                [source["valueFromParameter"]]
                if "valueFromParameter" in source
                else source.get("valueFromOneof", {}).get("parameterSelectors", [])
            )
            for sel in selectors:
                producer = scope.nodes.get(sel["producerSubtask"])
                if producer is not None and sel["outputParameterKey"] in producer.params_out:
                    params[name] = producer.params_out[sel["outputParameterKey"]]
                    break
        for name, source in outputs.get("artifacts", {}).items():
            for sel in source.get("artifactSelectors", []):
                producer = scope.nodes.get(sel["producerSubtask"])
                if producer is not None and sel["outputArtifactKey"] in producer.arts_out:
                    arts[name] = producer.arts_out[sel["outputArtifactKey"]]
                    break
        return params, arts

    # --------------------------------------------------------------- leaves
    def _context(self, node: Node) -> TaskContext:
        tasks = self.root_dir / "tasks"
        return TaskContext(
            run_id=self.run_id,
            pipeline_name=self.pipeline_name,
            task_name=node.name,
            task_root=ensure_inside(tasks / node.fs_path, tasks),
            pipeline_root=tasks,
            workspace=self.root_dir / "workspace",
        )

    def _start_leaf(self, node: Node, component: dict[str, Any]) -> None:
        executor = self.executors.get(component.get("executorLabel", ""), {})
        ctx = self._context(node)
        if "importer" in executor:
            node.kind = "importer"
            self._begin(node)
            ref = import_artifact(executor, component, node.params_in, ctx)
            node.arts_out = {"artifact": [self._record_artifact(node, "artifact", ref)]}
            self._finish(node, SUCCEEDED)
            return
        if "container" not in executor:
            raise KubelineError(
                f"Task '{node.name}' uses executor '{component.get('executorLabel')}', which "
                "is neither a container nor an importer; kubeline cannot run it locally."
            )
        node.kind = "executor"
        logs = self.root_dir / "logs"
        log_path = ensure_inside(logs / f"{node.fs_path}.log", logs)
        from_platform = local_environment(self.spec, component.get("executorLabel", ""), node.name)
        node.job, node.executor_input = prepare_job(
            component, executor, node.params_in, node.arts_in, ctx, node.path, log_path
        )
        node.job.env.update(from_platform)
        if self._cached(node, component, executor):
            return
        missing = host_program_missing(node.job)
        if missing:
            self._begin(node)
            raise KubelineError(f"Task '{node.name}': {missing}")
        self._check_requirements(node, executor)
        self._begin(node)
        self._start_executor(node)

    def _check_requirements(self, node: Node, executor: dict[str, Any]) -> None:
        from kubeline.engine.requirements import pip_installs, unsatisfied

        assert node.job is not None
        if node.job.kind != "python" or not node.job.requirements:
            return
        missing = unsatisfied(node.job.requirements)
        if not missing:
            return
        if self.allow_installs and self.install_venv is not None:
            container = executor["container"]
            installs = pip_installs([*container.get("command", []), *container.get("args", [])])
            node.job.python = self.install_venv(installs, Path(node.job.log_path))
            return
        listed = "; ".join(f"{m.requirement} ({m.reason})" for m in missing)
        raise KubelineError(
            f"Task '{node.name}' needs packages this environment lacks: {listed}. Install "
            "them, or allow kubeline to install them in a cached virtual environment "
            "(--allow-installs)."
        )

    def _cached(self, node: Node, component: dict[str, Any], executor: dict[str, Any]) -> bool:
        options = node.spec.get("cachingOptions", {})
        if not (self.enable_caching and options.get("enableCache")):
            return False
        node.cache_key = cache_key(
            component, executor, node.params_in, node.arts_in, options.get("cacheKey")
        )
        hit = self.store.get_cache(node.cache_key)
        if hit is None:
            return False
        refs = {
            name: [ArtifactRef.from_dict(a) for a in arts] for name, arts in hit.artifacts.items()
        }
        if any(content_gone(ref) for arts in refs.values() for ref in arts):
            return False  # the cached files were removed: run it again
        self._begin(node)
        node.cache_hit = True
        node.params_out = dict(hit.outputs)
        node.arts_out = {
            name: [self._record_artifact(node, name, r) for r in arts]
            for name, arts in refs.items()
        }
        if self._register_models(node):
            self._finish(node, SUCCEEDED)
        return True

    def _start_executor(self, node: Node) -> None:
        assert node.job is not None
        node.attempts += 1
        node.state = RUNNING
        if node.attempts > 1:
            with open(node.job.log_path, "a", encoding="utf-8") as log:
                log.write(f"\n--- kubeline: attempt {node.attempts} ---\n")
        self.store.update_task(node.task_id, attempts=node.attempts, state=RUNNING)
        self._futures[self.pool.submit(node.job)] = node

    def _job_done(self, node: Node, future: Future[JobResult]) -> None:
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - a worker crash fails the task, not the run
            result = JobResult(exit_code=-1, error=f"{type(exc).__name__}: {exc}")
        node.exit_code = result.exit_code
        if result.started_at is not None:  # when a worker took it, not when it queued
            node.started = result.started_at
            self.store.update_task(node.task_id, started_at=result.started_at)
        if self.canceled:
            self._finish(node, CANCELED, "canceled")
            return
        if result.exit_code == 0:
            try:
                component = self.components[node.spec["componentRef"]["name"]]
                params, arts = read_outputs(node.executor_input, component)
            except Exception as exc:  # noqa: BLE001 - bad outputs fail this task only
                self._fail(node, f"cannot read the task's outputs: {exc}")
                return
            node.params_out = params
            node.arts_out = {
                name: [self._record_artifact(node, name, r) for r in refs]
                for name, refs in arts.items()
            }
            if not self._register_models(node):
                return
            self._store_cache(node)
            self._finish(node, SUCCEEDED)
            return
        error = result.error or _last_error(
            node.job.log_path if node.job else None, result.exit_code
        )
        retry = node.spec.get("retryPolicy", {})
        if node.attempts <= int(retry.get("maxRetryCount", 0)) and not self.failed:
            base = _seconds(retry.get("backoffDuration"), 0.0)
            factor = float(retry.get("backoffFactor", 2.0) or 2.0)
            cap = _seconds(retry.get("backoffMaxDuration"), 3600.0)
            delay = min(base * factor ** (node.attempts - 1), cap)
            node.ready_at = time.monotonic() + delay
            node.state = PENDING
            node.error = error
            self._waiting_retry.append(node)
            self._emit(node, "retrying")
            return
        self._fail(node, error)

    def _store_cache(self, node: Node) -> None:
        if node.cache_key is None:
            return
        self.store.put_cache(
            CacheRecord(
                key=node.cache_key,
                component=node.spec["componentRef"]["name"],
                outputs=node.params_out,
                artifacts={k: [r.to_dict() for r in v] for k, v in node.arts_out.items()},
                created_at=_now(),
                run_id=self.run_id,
                task_id=node.task_id,
            )
        )

    # ------------------------------------------------------------ recording
    def _begin(self, node: Node, parent: Node | None = None) -> None:
        node.state = RUNNING
        node.started = _now()
        owner = parent or (node.scope.owner if node.scope else None)
        self._record(node, owner)
        self._emit(node, "started")

    def _record(self, node: Node, owner: Node | None = None) -> None:
        if node.recorded:
            return
        node.recorded = True
        if owner is None and node.scope is not None:
            owner = node.scope.owner
        self.store.add_task(
            TaskRecord(
                task_id=node.task_id,
                run_id=self.run_id,
                name=node.name,
                path=node.path,
                kind=node.kind or "executor",
                state=node.state,
                parent_task_id=owner.task_id if owner else None,
                component=node.spec.get("componentRef", {}).get("name", ""),
                display_name=node.spec.get("taskInfo", {}).get("name", node.name),
                created_at=_now(),
                started_at=node.started,
                cache_key=node.cache_key,
                inputs=self._io(node.params_in, node.arts_in),
                log_path=node.job.log_path if node.job else None,
            )
        )
        for name, refs in node.arts_in.items():
            for ref in refs:
                if ref.artifact_id:
                    self.store.add_consumer(ref.artifact_id, node.task_id, name)

    @staticmethod
    def _io(params: dict[str, Any], arts: dict[str, list[ArtifactRef]]) -> dict[str, Any]:
        return {
            "parameters": params,
            "artifacts": {k: [r.uri for r in v] for k, v in arts.items()},
            "artifact_ids": {
                k: [r.artifact_id for r in v if r.artifact_id] for k, v in arts.items()
            },
        }

    def _record_artifact(self, node: Node, output: str, ref: ArtifactRef) -> ArtifactRef:
        ref = replace(ref, artifact_id=uuid.uuid4().hex)
        size = None
        path = local_path(ref.uri)
        if path is not None and path.is_file():
            size = path.stat().st_size
        self.store.add_artifact(
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
            )
        )
        return ref

    def _register_models(self, node: Node) -> bool:
        """Record the Model outputs that ask to be registered; False (and the task failed)
        when one cannot be."""
        for refs in node.arts_out.values():
            for ref in refs:
                if not wants_registration(ref):
                    continue
                try:
                    version = model_version_from(ref, run_id=self.run_id, task_id=node.task_id)
                    if self.models_root is not None:
                        version = keep_copy(version, self.models_root)
                    self.store.register_model_version(version)
                except Exception as exc:  # noqa: BLE001 - the task fails, not the engine
                    self._fail(node, f"could not register the model: {exc}")
                    return False
        return True

    def _fail(self, node: Node, error: str) -> None:
        self._finish(node, FAILED, error)

    def _finish(
        self, node: Node, state: str, error: str | None = None, count_failure: bool = True
    ) -> None:
        node.state = state
        node.error = error if state != SUCCEEDED else None
        node.finished = _now()
        if state == FAILED and count_failure:
            self.failed = True
        if not node.recorded:
            self._record(node)
        self.store.update_task(
            node.task_id,
            state=state,
            finished_at=node.finished,
            error=node.error,
            cache_hit=node.cache_hit,
            exit_code=node.exit_code,
            attempts=node.attempts,
            kind=node.kind or "executor",
            outputs=self._io(node.params_out, node.arts_out),
        )
        self._emit(node, "cached" if node.cache_hit else "finished")

    def _emit(self, node: Node, kind: str) -> None:
        if self.on_event is None:
            return
        seconds = (
            ((node.finished or _now()) - node.started).total_seconds()
            if (node.started and kind != "started")
            else None
        )
        event = TaskEvent(
            kind=kind,
            task=node.path,
            state=node.state,
            node_kind=node.kind or "executor",
            seconds=seconds,
            error=node.error,
        )
        try:
            self.on_event(event)
        except Exception as exc:  # noqa: BLE001 - a watcher's bug must not break the run
            self.on_event = None  # stop calling it; the run goes on and is recorded
            warnings.warn(
                f"kubeline stopped calling on_event after it raised {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )


def _as_declared(component: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A number, bool, list or dict given to a ``STRING`` input becomes its text, as the
    KFP driver converts it for every task and loop iteration: ``"1"`` for 1, JSON for a
    list or dict (which ``parseJson(string_value)`` selectors then read back)."""
    declared = component.get("inputDefinitions", {}).get("parameters", {})
    for name, value in params.items():
        is_string = declared.get(name, {}).get("parameterType") == "STRING"
        if is_string and value is not None and not isinstance(value, str):
            params[name] = kfp_text(value)
    return params


def _last_error(log_path: str | None, exit_code: int) -> str:
    """The Python exception line a failed task printed last, else how it exited."""
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
