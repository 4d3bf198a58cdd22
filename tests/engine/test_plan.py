"""The plan alone: minimal specs driven by hand, no processes, no store, no threads."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from kubeline.engine.inputs import RunContext
from kubeline.engine.plan import (
    CANCELED,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Begin,
    Finish,
    Node,
    Plan,
    Prepare,
    Retry,
    Submit,
)
from kubeline.engine.spec import pipeline_view

RUN = RunContext("run-1", "job-1", datetime(2026, 1, 1, tzinfo=timezone.utc), Path("/runs/run-1"))
LEAF = {
    "executorLabel": "exec-leaf",
    "inputDefinitions": {
        "parameters": {
            "x": {"parameterType": "STRING", "isOptional": True},
            "status": {"parameterType": "TASK_FINAL_STATUS", "isOptional": True},
        }
    },
    "outputDefinitions": {"parameters": {"Output": {"parameterType": "STRING"}}},
}


def task(*after: str, **extra: Any) -> dict[str, Any]:
    return {"componentRef": {"name": "comp-leaf"}, "dependentTasks": list(after), **extra}


def output_of(producer: str) -> dict[str, Any]:
    return {"taskOutputParameter": {"producerTask": producer, "outputParameterKey": "Output"}}


def spec(tasks: dict[str, Any], **components: Any) -> dict[str, Any]:
    return {
        "pipelineInfo": {"name": "p"},
        "root": {
            "inputDefinitions": {"parameters": {"n": {"parameterType": "NUMBER_INTEGER"}}},
            "dag": {"tasks": tasks},
        },
        "components": {"comp-leaf": LEAF, **components},
        "deploymentSpec": {"executors": {"exec-leaf": {"container": {"image": "python"}}}},
    }


class Driver:
    """Does what the scheduler does with each action, without running anything: a
    prepared leaf is handed out, and the test says how each attempt ends."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.running: list[Node] = []
        self.log: list[tuple[str, str]] = []  # (action, node path)

    def advance(self, now: float = 0.0) -> list[str]:
        """The paths of the leaves handed out (prepared or retried) by this step."""
        started = []
        for action in self.plan.advance(now):
            self.log.append((type(action).__name__, action.node.path))
            if isinstance(action, Prepare):
                self.plan.begin(action.node)
                self.plan.attempt(action.node)
                self.running.append(action.node)
                started.append(action.node.path)
            elif isinstance(action, Submit):
                self.running.append(action.node)
                started.append(action.node.path)
        return started

    def end(self, path: str, output: Any = "out", error: str = "", now: float = 0.0) -> None:
        """The running leaf at ``path`` ends: with ``output``, or failing with ``error``."""
        node = next(n for n in self.running if n.path == path)
        self.running.remove(node)
        actions = self.plan.outcome(node, not error, error, now)
        self.log += [(type(a).__name__, a.node.path) for a in actions]
        if not error and not actions:
            node.params_out = {"Output": output}
            self.log.append(("Finish", self.plan.finish(node, SUCCEEDED).node.path))

    def node(self, path: str) -> Node:
        """Any node of the run by path, also inside groups that have ended."""
        scopes = [self.plan.root]
        while scopes:
            scope = scopes.pop()
            for node in scope.nodes.values():
                if node.path == path:
                    return node
                scopes += node.children
                for iteration in node.iterations:
                    if iteration.path == path:
                        return iteration
                    scopes += iteration.children
        raise KeyError(path)

    def finished(self) -> dict[str, tuple[str, str | None]]:
        return {
            path: (self.node(path).state, self.node(path).error)
            for kind, path in self.log
            if kind == "Finish"
        }


def plan_of(tasks: dict[str, Any], arguments: dict[str, Any] | None = None, **kw: Any) -> Plan:
    components = kw.pop("components", {})
    return Plan(pipeline_view(spec(tasks, **components)), arguments or {"n": 1}, RUN, **kw)


def test_a_task_starts_when_its_upstream_tasks_succeeded() -> None:
    driver = Driver(plan_of({"a": task(), "b": task("a"), "c": task()}))
    assert driver.advance() == ["a", "c"]
    assert driver.advance() == []  # b waits for a
    driver.end("a")
    assert driver.advance() == ["b"]
    driver.end("b")
    driver.end("c")
    assert driver.advance() == [] and driver.plan.done


def test_after_a_failure_downstream_tasks_skip_and_nothing_new_starts() -> None:
    driver = Driver(plan_of({"a": task(), "b": task("a"), "c": task("d"), "d": task()}))
    assert driver.advance() == ["a", "d"]
    driver.end("a", error="ValueError: no")
    driver.end("d")
    driver.advance()
    assert driver.finished() == {
        "a": (FAILED, "ValueError: no"),
        "d": (SUCCEEDED, None),
        "b": (SKIPPED, "not run: upstream task 'a' failed"),
        "c": (SKIPPED, "not run: another task of the run failed"),
    }
    assert driver.plan.done and driver.plan.failed


def test_an_exit_handler_runs_after_a_failure_and_reads_the_final_status() -> None:
    handler = task(
        "a",
        triggerPolicy={"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"},
        inputs={"parameters": {"status": {"taskFinalStatus": {"producerTask": "a"}}}},
    )
    driver = Driver(plan_of({"a": task(), "cleanup": handler}))
    driver.advance()
    driver.end("a", error="boom")
    assert driver.advance() == ["cleanup"]
    status = driver.node("cleanup").params_in["status"]
    assert status["state"] == FAILED and status["error"] == {"code": 2, "message": "boom"}
    assert status["pipelineTaskName"] == "a" and status["pipelineJobResourceName"] == "run-1"


@pytest.mark.parametrize(("n", "runs"), [(1, True), (7, False)], ids=["true", "false"])
def test_a_condition_decides_whether_a_task_runs(n: int, runs: bool) -> None:
    branch = task(
        inputs={"parameters": {"pipelinechannel--n": {"componentInputParameter": "n"}}},
        triggerPolicy={"condition": "int(inputs.parameter_values['pipelinechannel--n']) < 5"},
    )
    driver = Driver(plan_of({"branch": branch}, {"n": n}))
    assert driver.advance() == (["branch"] if runs else [])
    if not runs:
        assert driver.finished() == {"branch": (SKIPPED, "condition was false")}


LOOP_BODY = {
    "inputDefinitions": {"parameters": {"item": {"parameterType": "NUMBER_INTEGER"}}},
    "dag": {
        "tasks": {"work": task(inputs={"parameters": {"x": {"componentInputParameter": "item"}}})},
        "outputs": {
            "parameters": {
                "Output": {
                    "valueFromParameter": {
                        "producerSubtask": "work",
                        "outputParameterKey": "Output",
                    }
                }
            }
        },
    },
}


def test_a_parallel_for_keeps_to_its_limit_and_collects_outputs() -> None:
    loop = {
        "componentRef": {"name": "comp-loop"},
        "parameterIterator": {"itemInput": "item", "items": {"raw": "[1, 2, 3, 4, 5]"}},
        "iteratorPolicy": {"parallelismLimit": 2},
    }
    driver = Driver(plan_of({"loop": loop}, components={"comp-loop": LOOP_BODY}))
    started = driver.advance()
    assert started == ["loop/iteration-0/work", "loop/iteration-1/work"]
    # The item reaches a STRING input as KFP's text of it.
    assert driver.node("loop/iteration-0/work").params_in == {"x": "1"}
    done = 0
    while driver.running:
        for node in list(driver.running):
            driver.end(node.path, output=node.params_in["x"])
            done += 1
        assert len(driver.advance()) <= 2
    loop_node = driver.node("loop")
    assert done == 5 and loop_node.state == SUCCEEDED
    assert loop_node.params_out == {"Output": ["1", "2", "3", "4", "5"]}
    begun = [path for kind, path in driver.log if kind == "Begin"]
    assert begun[0] == "loop" and len(begun) == 6  # the loop, then one per iteration


def test_a_nested_dag_passes_its_output_to_the_next_task() -> None:
    inner = {
        "dag": {
            "tasks": {"make": task()},
            "outputs": {
                "parameters": {
                    "Output": {
                        "valueFromParameter": {
                            "producerSubtask": "make",
                            "outputParameterKey": "Output",
                        }
                    }
                }
            },
        }
    }
    use = task("group", inputs={"parameters": {"x": output_of("group")}})
    driver = Driver(
        plan_of(
            {"group": {"componentRef": {"name": "comp-inner"}}, "use": use},
            components={"comp-inner": inner},
        )
    )
    assert driver.advance() == ["group/make"]
    driver.end("group/make", output="made")
    assert driver.advance() == ["use"]
    assert driver.node("group").params_out == {"Output": "made"}
    assert driver.node("use").params_in == {"x": "made"}
    assert driver.plan.outputs() == ({}, {})


def test_a_failing_task_is_retried_after_its_backoff() -> None:
    flaky = task(retryPolicy={"maxRetryCount": 2, "backoffDuration": "10s", "backoffFactor": 2})
    driver = Driver(plan_of({"flaky": flaky, "next": task("flaky")}))
    driver.advance(0.0)
    driver.end("flaky", error="first", now=0.0)
    assert ("Retry", "flaky") in driver.log and driver.plan.next_retry() == 10.0
    assert driver.advance(5.0) == []
    assert driver.advance(10.0) == ["flaky"]
    driver.end("flaky", error="second", now=10.0)
    assert driver.plan.next_retry() == 30.0  # 10 s * 2
    assert driver.advance(30.0) == ["flaky"]
    driver.end("flaky", now=30.0)
    assert driver.advance(30.0) == ["next"]
    assert driver.node("flaky").attempts == 3 and not driver.plan.failed


def test_retries_stop_when_they_run_out() -> None:
    driver = Driver(plan_of({"flaky": task(retryPolicy={"maxRetryCount": 1})}))
    driver.advance()
    driver.end("flaky", error="once")
    assert driver.advance() == ["flaky"]  # no backoff: at once
    driver.end("flaky", error="twice")
    assert driver.finished() == {"flaky": (FAILED, "twice")}


def test_cancel_ends_running_tasks_and_starts_nothing_new() -> None:
    driver = Driver(plan_of({"a": task(), "b": task("a")}))
    driver.advance()
    driver.plan.cancel()
    driver.end("a", error="killed by signal 15")
    driver.advance()
    assert driver.finished() == {
        "a": (CANCELED, "canceled"),
        "b": (CANCELED, "canceled before it ran"),
    }


def test_drain_cancels_everything_at_once() -> None:
    driver = Driver(plan_of({"a": task(), "b": task("a")}))
    driver.advance()
    actions = driver.plan.drain(list(driver.running))
    assert [(a.node.path, a.node.state, a.node.error) for a in actions] == [
        ("a", CANCELED, "canceled"),
        ("b", CANCELED, "canceled before it ran"),
    ]
    assert all(isinstance(a, Finish) for a in actions) and driver.plan.done


def test_no_more_leaves_are_prepared_than_twice_the_capacity() -> None:
    driver = Driver(plan_of({f"t{i}": task() for i in range(5)}, capacity=1))
    assert driver.advance() == ["t0", "t1"]
    driver.end("t0")
    assert driver.advance() == ["t2"]


def test_a_task_answered_without_running_needs_no_executor() -> None:
    plan = plan_of({"a": task(), "b": task("a", inputs={"parameters": {"x": output_of("a")}})})
    kinds = []
    for action in plan.advance(0.0):
        kinds.append(type(action).__name__)
        if isinstance(action, Prepare):  # e.g. a cache hit: begun and finished at once
            assert plan.wants_cache(action.node) is False  # the task did not enable caching
            plan.begin(action.node)
            assert action.node.state == RUNNING
            action.node.cache_hit = True
            action.node.params_out = {"Output": f"from {action.node.name}"}
            plan.finish(action.node, SUCCEEDED)
    assert kinds == ["Prepare", "Prepare"] and plan.done
    assert plan.root.nodes["b"].params_in == {"x": "from a"}
    assert plan.in_flight == 0


def test_an_unanswered_prepare_fails_the_task_not_the_plan() -> None:
    plan = plan_of({"a": task()})
    actions = list(plan.advance(0.0))
    assert [type(a) for a in actions] == [Prepare, Finish]
    assert plan.root.nodes["a"].state == FAILED
    assert "left task 'a' unanswered" in (plan.root.nodes["a"].error or "")


def test_begin_and_retry_actions_name_their_nodes() -> None:
    node = plan_of({"a": task()}).root.nodes["a"]
    assert Begin(node).parent is None and Retry(node).node is node and Submit(node).node is node


def _dag_outputs(*candidates: tuple[str, str]) -> dict[str, Any]:
    selectors = [{"producerSubtask": t, "outputParameterKey": k} for t, k in candidates]
    return {"parameters": {"Output": {"valueFromOneof": {"parameterSelectors": selectors}}}}


def test_a_one_of_output_is_the_branch_that_ran() -> None:
    branches = {
        "cond": {
            "dag": {
                "tasks": {
                    "left": task(
                        inputs={"parameters": {"p": {"componentInputParameter": "n"}}},
                        triggerPolicy={"condition": "inputs.parameter_values['p'] == 1"},
                    ),
                    "right": task(
                        inputs={"parameters": {"p": {"componentInputParameter": "n"}}},
                        triggerPolicy={"condition": "inputs.parameter_values['p'] != 1"},
                    ),
                },
                "outputs": _dag_outputs(("left", "Output"), ("right", "Output")),
            },
            "inputDefinitions": {"parameters": {"n": {"parameterType": "NUMBER_INTEGER"}}},
        }
    }
    group = {
        "componentRef": {"name": "comp-cond"},
        "inputs": {"parameters": {"n": {"componentInputParameter": "n"}}},
    }
    driver = Driver(plan_of({"group": group}, {"n": 2}, components={"comp-cond": branches["cond"]}))
    assert driver.advance() == ["group/right"]
    driver.end("group/right", output="from right")
    driver.advance()
    assert driver.node("group").params_out == {"Output": "from right"}


def test_a_failure_inside_a_group_fails_the_group_with_its_reason() -> None:
    inner = {"dag": {"tasks": {"make": task()}}}
    driver = Driver(
        plan_of(
            {"group": {"componentRef": {"name": "comp-inner"}}, "after": task("group")},
            components={"comp-inner": inner},
        )
    )
    driver.advance()
    driver.end("group/make", error="ValueError: bad")
    driver.advance()
    assert driver.finished() == {
        "group/make": (FAILED, "ValueError: bad"),
        "group": (FAILED, "task 'make' failed: ValueError: bad"),
        "after": (SKIPPED, "not run: upstream task 'group' failed"),
    }


def test_a_loop_stops_feeding_items_after_a_failure() -> None:
    loop = {
        "componentRef": {"name": "comp-loop"},
        "parameterIterator": {"itemInput": "item", "items": {"raw": "[1, 2, 3]"}},
        "iteratorPolicy": {"parallelismLimit": 1},
    }
    driver = Driver(plan_of({"loop": loop}, components={"comp-loop": LOOP_BODY}))
    assert driver.advance() == ["loop/iteration-0/work"]
    driver.end("loop/iteration-0/work", error="boom")
    driver.advance()
    loop_node = driver.node("loop")
    assert len(loop_node.iterations) == 1
    assert (loop_node.state, loop_node.error) == (FAILED, "task 'work' failed: boom")
    assert driver.plan.done and driver.plan.failed


def test_a_loop_over_an_upstream_list_and_its_text() -> None:
    loop = {
        "componentRef": {"name": "comp-loop"},
        "dependentTasks": ["make"],
        "inputs": {"parameters": {"items": output_of("make")}},
        "parameterIterator": {"itemInput": "item", "items": {"inputParameter": "items"}},
    }
    driver = Driver(plan_of({"make": task(), "loop": loop}, components={"comp-loop": LOOP_BODY}))
    driver.advance()
    driver.end("make", output="[7, 8]")  # a list printed as JSON text
    assert driver.advance() == ["loop/iteration-0/work", "loop/iteration-1/work"]
    assert driver.node("loop/iteration-1/work").params_in == {"x": "8"}


def test_a_loop_over_something_else_fails_naming_it() -> None:
    loop = {
        "componentRef": {"name": "comp-loop"},
        "inputs": {"parameters": {"items": {"componentInputParameter": "n"}}},
        "parameterIterator": {"itemInput": "item", "items": {"inputParameter": "items"}},
    }
    driver = Driver(plan_of({"loop": loop}, {"n": 3}, components={"comp-loop": LOOP_BODY}))
    driver.advance()
    assert driver.finished() == {
        "loop": (FAILED, "ParallelFor 'loop' needs a list to loop over; got int: 3.")
    }
