"""The run's plan: a pure state machine over a pipeline's DAGs, driven by events, that
answers with actions. No processes, no store, no threads: the scheduler performs the
actions (it prepares and runs tasks, the recorder writes them) and tells the plan how
each went; tests drive it directly.

Each DAG instance is a :class:`Scope` (the root, a sub-pipeline, a condition group, one
loop iteration) holding :class:`Node` objects, one per task. A node moves

    PENDING -> (skipped, canceled, failed before start)  SKIPPED / CANCELED / FAILED
    PENDING -> PREPARING -> RUNNING -> SUCCEEDED / FAILED / CANCELED   (leaf: via the driver)
    RUNNING (failed, retries left) -> PENDING, until its backoff ends -> RUNNING
    PENDING -> RUNNING -> (its scopes finish) -> SUCCEEDED / FAILED / CANCELED (dag, loop)

After the first failure no new task starts (as KFP on Argo does), except tasks that run
whatever their upstream did: exit handlers and ``ignore_upstream_failure``.

Events in: :meth:`Plan.advance` (time passing: everything that can move does),
:meth:`Plan.begin` / :meth:`Plan.attempt` / :meth:`Plan.finish` (how a prepared leaf
went), :meth:`Plan.outcome` (how an attempt ended), :meth:`Plan.cancel`. Actions out:
:class:`Begin`, :class:`Prepare`, :class:`Submit`, :class:`Retry`, :class:`Finish`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubeline.engine.artifacts import ArtifactRef
from kubeline.engine.conditions import evaluate_condition
from kubeline.engine.inputs import (
    RunContext,
    as_declared,
    dag_outputs,
    loop_items,
    resolve_inputs,
)
from kubeline.engine.safepath import safe_name
from kubeline.engine.spec import ComponentView, PipelineView, TaskView
from kubeline.errors import KubelineError

__all__ = [
    "CANCELED",
    "FAILED",
    "PENDING",
    "PREPARING",
    "RUNNING",
    "SKIPPED",
    "SUCCEEDED",
    "Action",
    "Begin",
    "Finish",
    "Node",
    "Plan",
    "Prepare",
    "Retry",
    "Scope",
    "Submit",
]

PENDING, PREPARING, RUNNING = "PENDING", "PREPARING", "RUNNING"
SUCCEEDED, FAILED, SKIPPED, CANCELED = "SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"
_FINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELED})


@dataclass(eq=False)
class Node:
    """One task instance in one scope (or one loop iteration)."""

    name: str
    path: str  # logical: the spec's names, what the store records
    task: TaskView | None  # None for a loop iteration
    scope: Scope | None
    fs_path: str = ""  # the same, one safe file-name segment per name (engine.safepath)
    kind: str = ""  # executor, importer, dag, loop, iteration
    state: str = PENDING
    task_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    params_in: dict[str, Any] = field(default_factory=dict)
    arts_in: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    params_out: dict[str, Any] = field(default_factory=dict)
    arts_out: dict[str, list[ArtifactRef]] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 0
    ready_at: float = 0.0  # when a retry may start (monotonic seconds)
    cache_hit: bool = False
    # dag / loop
    children: list[Scope] = field(default_factory=list)
    iterations: list[Node] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    parallelism: int = 0

    @property
    def final(self) -> bool:
        return self.state in _FINAL

    @property
    def parent(self) -> Node | None:
        """The group this node belongs to (None at the root)."""
        return self.scope.owner if self.scope is not None else None


@dataclass(eq=False)
class Scope:
    """One DAG instance: its component, its inputs and its task nodes."""

    component: ComponentView
    params: dict[str, Any]
    arts: dict[str, list[ArtifactRef]]
    owner: Node | None
    nodes: dict[str, Node] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return all(n.final for n in self.nodes.values())


@dataclass(frozen=True)
class Begin:
    """``node`` started (a group, an iteration, or a leaf about to run or be answered
    from the cache): record it. ``parent`` is its group when it has no scope (an
    iteration)."""

    node: Node
    parent: Node | None = None


@dataclass(frozen=True)
class Prepare:
    """Leaf ``node`` (an executor or importer task) is ready, its inputs resolved: build
    it, look it up in the cache, run it. Answer with :meth:`Plan.begin`,
    :meth:`Plan.attempt` and :meth:`Plan.finish` before asking for the next action."""

    node: Node
    component: ComponentView


@dataclass(frozen=True)
class Submit:
    """Run another attempt of leaf ``node`` (its backoff ended); the plan counted it."""

    node: Node


@dataclass(frozen=True)
class Retry:
    """Leaf ``node`` failed and will be tried again after its backoff."""

    node: Node


@dataclass(frozen=True)
class Finish:
    """``node`` reached its final state (``node.state``, ``node.error``): record it."""

    node: Node


Action = Begin | Prepare | Submit | Retry | Finish


class Plan:
    """The state of one run: which tasks wait, run and ended, and what to do next.

    Args:
        view: the pipeline.
        arguments: the run's checked arguments (the root's defaults fill the rest).
        run: what run-level placeholders name.
        capacity: how many leaves may be in flight before more are prepared.
        caching: the run's caching switch (each task's own option counts too).
    """

    def __init__(
        self,
        view: PipelineView,
        arguments: dict[str, Any],
        run: RunContext,
        *,
        capacity: int = 1,
        caching: bool = True,
    ) -> None:
        self.view = view
        self.run = run
        self.capacity = max(1, capacity)
        self.caching = caching
        self.failed = False
        self.canceled = False
        self.in_flight = 0
        self._waiting_retry: list[Node] = []
        self._scopes: list[Scope] = []
        self.root = self._new_scope(view.root, dict(arguments), {}, None, "", "")

    # ------------------------------------------------------------------ queries
    @property
    def done(self) -> bool:
        return self.root.done

    def outputs(self) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
        """The pipeline's own outputs (its root DAG's), as far as the run got."""
        return self._outputs_of(self.root)

    def next_retry(self) -> float | None:
        """When the first waiting retry may start (monotonic seconds), if any waits."""
        return min((n.ready_at for n in self._waiting_retry), default=None)

    def wants_cache(self, node: Node) -> bool:
        """Whether ``node``'s result may come from (and go to) the cache."""
        return self.caching and node.task is not None and node.task.caching.enabled

    # ------------------------------------------------------------------- events
    def advance(self, now: float) -> Iterator[Action]:
        """Move every node that can move, until none can; the actions in order.

        A :class:`Prepare` must be answered before the next action is asked for.
        """
        changed = True
        while changed:
            changed = False
            for node in [n for n in self._waiting_retry if n.ready_at <= now]:
                self._waiting_retry.remove(node)
                self._count_attempt(node)
                yield Submit(node)
                changed = True
            for scope in list(self._scopes):
                for node in scope.nodes.values():
                    if node.state == PENDING and node not in self._waiting_retry:
                        for action in self._try_start(scope, node):
                            changed = True
                            yield action
                    elif node.state == RUNNING and node.kind in ("dag", "loop"):
                        for action in self._try_complete_group(node):
                            changed = True
                            yield action

    def begin(self, node: Node) -> Begin:
        """A prepared leaf starts (to run, or to be answered from the cache)."""
        node.state = RUNNING
        return Begin(node)

    def attempt(self, node: Node) -> Submit:
        """A begun leaf is handed to the executor: its first attempt."""
        self._count_attempt(node)
        return Submit(node)

    def outcome(self, node: Node, succeeded: bool, error: str, now: float) -> list[Action]:
        """An attempt of ``node`` ended. On success nothing is decided yet: the driver reads
        the outputs and calls :meth:`finish`. A failure retries after the backoff while
        retries are left and the run has not failed, else fails the node."""
        self.in_flight -= 1
        if self.canceled:
            return [self.finish(node, CANCELED, "canceled")]
        if succeeded:
            return []
        assert node.task is not None
        retry = node.task.retry
        if node.attempts <= retry.max_retries and not self.failed:
            node.ready_at = now + retry.delay(node.attempts)
            node.state = PENDING
            node.error = error
            self._waiting_retry.append(node)
            return [Retry(node)]
        return [self.finish(node, FAILED, error)]

    def finish(
        self, node: Node, state: str, error: str | None = None, *, count_failure: bool = True
    ) -> Finish:
        """``node`` ends in ``state``; a failure stops new tasks (``count_failure``)."""
        node.state = state
        node.error = error if state != SUCCEEDED else None
        if state == FAILED and count_failure:
            self.failed = True
        return Finish(node)

    def cancel(self) -> None:
        """Start nothing new; what runs ends CANCELED (Ctrl-C, terminate)."""
        self.canceled = True

    def drain(self, in_flight: list[Node]) -> list[Finish]:
        """End everything at once (an interrupt): ``in_flight`` leaves and every node not
        yet final are CANCELED."""
        self.canceled = True
        actions = [self.finish(node, CANCELED, "canceled") for node in in_flight]
        self.in_flight = 0
        for scope in list(self._scopes):
            for node in scope.nodes.values():
                if not node.final:
                    actions.append(self.finish(node, CANCELED, "canceled before it ran"))
        return actions

    # ---------------------------------------------------------------- internals
    def _count_attempt(self, node: Node) -> None:
        node.attempts += 1
        node.state = RUNNING
        self.in_flight += 1

    def _new_scope(
        self,
        component: ComponentView,
        params: dict[str, Any],
        arts: dict[str, list[ArtifactRef]],
        owner: Node | None,
        prefix: str,
        fs_prefix: str,
    ) -> Scope:
        # A DAG's own input defaults apply where its caller passed nothing.
        scope = Scope(component, {**component.inputs.defaults, **params}, arts, owner)
        tasks = component.dag.tasks if component.dag is not None else {}
        for name, task in tasks.items():
            scope.nodes[name] = Node(
                name=name,
                path=f"{prefix}{name}",
                task=task,
                scope=scope,
                fs_path=f"{fs_prefix}{safe_name(name)}",
            )
        self._scopes.append(scope)
        return scope

    def _try_start(self, scope: Scope, node: Node) -> Iterator[Action]:
        task = node.task
        assert task is not None
        deps = [scope.nodes[d] for d in task.dependencies if d in scope.nodes]
        if not all(d.final for d in deps):
            return
        node.kind = node.kind or self.view.kind_of(task)
        if node.kind == "executor" and self.in_flight >= 2 * self.capacity:
            return  # enough queued: collect finished tasks before preparing more
        if self.canceled:
            yield self.finish(node, CANCELED, "canceled before it ran")
            return
        if not task.runs_always:
            bad = [d for d in deps if d.state in (FAILED, CANCELED)]
            if bad:
                why = f"not run: upstream task '{bad[0].name}' {bad[0].state.lower()}"
                yield self.finish(node, SKIPPED, why)
                return
            if self.failed:
                yield self.finish(node, SKIPPED, "not run: another task of the run failed")
                return
        try:
            component = self.view.component_of(task)
            node.params_in, node.arts_in = resolve_inputs(
                task, component, scope.params, scope.arts, scope.nodes, self.run, node.task_id
            )
            if task.condition and not evaluate_condition(task.condition, node.params_in):
                yield self.finish(node, SKIPPED, "condition was false")
                return
            if task.component not in self.view.components:
                raise KeyError(task.component)
            if task.iterator is not None:
                yield from self._start_loop(node, component)
            elif component.dag is not None:
                yield from self._start_dag(node, component)
            else:
                node.state = PREPARING
                yield Prepare(node, component)
                if node.state == PREPARING:
                    raise RuntimeError(f"the driver left task '{node.path}' unanswered")
        except KubelineError as exc:
            yield self.finish(node, FAILED, str(exc))
        except Exception as exc:  # noqa: BLE001 - one task's odd spec fails it, not the engine
            why = f"kubeline could not start this task: {type(exc).__name__}: {exc}"
            yield self.finish(node, FAILED, why)

    # -------------------------------------------------------------- dag & loops
    def _start_dag(self, node: Node, component: ComponentView) -> Iterator[Action]:
        node.kind = "dag"
        node.state = RUNNING
        yield Begin(node)
        node.children = [
            self._new_scope(
                component, node.params_in, node.arts_in, node, f"{node.path}/", f"{node.fs_path}/"
            )
        ]

    def _start_loop(self, node: Node, component: ComponentView) -> Iterator[Action]:
        node.kind = "loop"
        assert node.task is not None and node.task.iterator is not None
        node.items = loop_items(node.task, node.params_in, node.arts_in)
        node.parallelism = node.task.iterator.parallelism
        node.state = RUNNING
        yield Begin(node)
        yield from self._feed_loop(node, component)

    def _feed_loop(self, node: Node, component: ComponentView) -> Iterator[Action]:
        assert node.task is not None and node.task.iterator is not None
        iterator = node.task.iterator
        running = sum(1 for it in node.iterations if not it.final)
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
                task=None,
                scope=None,
                kind="iteration",
                fs_path=f"{node.fs_path}/iteration-{index}",
            )
            params, arts = dict(node.params_in), dict(node.arts_in)
            if iterator.kind == "artifact":
                arts[iterator.item_input] = [node.items[index]]
            else:
                params[iterator.item_input] = node.items[index]
                params = as_declared(component, params)
            it.params_in, it.arts_in = params, arts
            it.state = RUNNING
            yield Begin(it, parent=node)
            it.children = [
                self._new_scope(component, params, arts, it, f"{it.path}/", f"{it.fs_path}/")
            ]
            node.iterations.append(it)
            running += 1

    def _try_complete_group(self, node: Node) -> Iterator[Action]:
        if node.kind != "loop":
            if all(s.done for s in node.children):
                yield self._complete_scope_owner(node)
            return
        for it in node.iterations:
            if not it.final and all(s.done for s in it.children):
                yield self._complete_scope_owner(it)
        if len(node.iterations) < len(node.items) and not (self.failed or self.canceled):
            assert node.task is not None  # a loop is a task of its DAG
            yield from self._feed_loop(node, self.view.component_of(node.task))
        if all(it.final for it in node.iterations) and (
            len(node.iterations) == len(node.items) or self.failed or self.canceled
        ):
            yield self._complete_loop(node)

    def _complete_scope_owner(self, node: Node) -> Finish:
        scope = node.children[0]
        self._scopes.remove(scope)
        states = {n.state for n in scope.nodes.values()}
        node.params_out, node.arts_out = self._outputs_of(scope)
        if CANCELED in states and self.canceled:
            return self.finish(node, CANCELED, "canceled")
        if FAILED in states or CANCELED in states:
            failed = next(n for n in scope.nodes.values() if n.state in (FAILED, CANCELED))
            why = f"task '{failed.name}' failed: {failed.error}"
            return self.finish(node, FAILED, why, count_failure=False)
        return self.finish(node, SUCCEEDED)

    def _complete_loop(self, node: Node) -> Finish:
        assert node.task is not None
        dag = self.view.component_of(node.task).dag
        outputs = dag.outputs if dag is not None else None
        for name in outputs.parameters if outputs is not None else ():
            node.params_out[name] = [
                it.params_out.get(name) for it in node.iterations if name in it.params_out
            ]
        for name in outputs.artifacts if outputs is not None else ():
            node.arts_out[name] = [a for it in node.iterations for a in it.arts_out.get(name, [])]
        failed = [it for it in node.iterations if it.state in (FAILED, CANCELED)]
        if self.canceled:
            return self.finish(node, CANCELED, "canceled")
        if failed or len(node.iterations) < len(node.items):
            reason = failed[0].error if failed else "the run failed before every item ran"
            return self.finish(node, FAILED, reason, count_failure=False)
        return self.finish(node, SUCCEEDED)

    def _outputs_of(self, scope: Scope) -> tuple[dict[str, Any], dict[str, list[ArtifactRef]]]:
        dag = scope.component.dag
        if dag is None:
            return {}, {}
        return dag_outputs(dag.outputs, scope.nodes)
