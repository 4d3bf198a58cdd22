"""A run's result with its artifacts as Python objects: ``result.outputs["model"]`` and
``result.task("evaluate").outputs["metrics"]`` are :class:`~kubeline.notebook.Artifact`
objects, and ``result.task(...)`` finds a task by name.

:class:`Result` is a :class:`~kubeline.engine.RunResult` (what ``kubeline.run`` has always
returned) with the run's artifact records read once from the store; ``to_dict`` stays the
JSON document ``kubeline run --output json`` prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeline.engine import RunResult
from kubeline.notebook.artifacts import Artifact
from kubeline.store import ArtifactRecord, RunStore, TaskRecord, database_url, open_store

__all__ = ["Result", "Task", "get_run", "home_of"]

logger = logging.getLogger(__name__)


def home_of(root: str) -> Path:
    """The kubeline home a run's folder (``<home>/runs/<run id>``) belongs to."""
    return Path(root).parent.parent


def _outputs(
    values: dict[str, Any], by_id: dict[str, ArtifactRecord], run_id: str, runs: Path | None
) -> dict[str, Any]:
    """Outputs with each artifact (a dict, or a list of them) as an Artifact object."""

    def one(name: str, value: Any) -> Any:
        if isinstance(value, dict) and "uri" in value and "type" in value:
            record = by_id.get(str(value.get("artifact_id") or ""))
            if record is not None:
                return Artifact(record, runs_root=runs)
            return Artifact.from_output(name, value, run_id, runs)
        return value

    found: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            found[name] = [one(name, v) for v in value]
        else:
            found[name] = one(name, value)
    return found


class Task:
    """One task of a run: its record's facts (``name``, ``path``, ``state``...) and its
    outputs, parameters and artifacts alike, by output name."""

    def __init__(self, record: TaskRecord, artifacts: list[ArtifactRecord], runs: Path | None):
        self.record = record
        self.artifacts = [a for a in artifacts if a.producer_task_id == record.task_id]
        self._runs = runs

    def __getattr__(self, name: str) -> Any:
        # The record's fields (state, kind, started_at, error...) read through.
        if name.startswith("_") or name == "record":
            raise AttributeError(name)
        return getattr(self.record, name)

    @property
    def seconds(self) -> float | None:
        r = self.record
        return (
            (r.finished_at - r.started_at).total_seconds()
            if r.finished_at and r.started_at
            else None
        )

    @property
    def outputs(self) -> dict[str, Any]:
        """Output parameters by name, and artifacts as :class:`Artifact` objects (a list
        of them for a list output)."""
        raw = self.record.outputs or {}
        found: dict[str, Any] = dict(raw.get("parameters") or {})
        grouped: dict[str, list[Artifact]] = {}
        for record in self.artifacts:
            grouped.setdefault(record.output_name, []).append(
                Artifact(record, runs_root=self._runs)
            )
        for name, items in grouped.items():
            found[name] = items[0] if len(items) == 1 else items
        return found

    def log(self) -> str:
        """What the task printed (its log file), or "" when it has none."""
        path = self.record.log_path
        if not path or not Path(path).is_file():
            return ""
        return Path(path).read_text(encoding="utf-8", errors="replace")

    def __repr__(self) -> str:
        return repr(self.record).replace("<TaskRecord", "<Task", 1)

    def _repr_html_(self) -> str:
        from kubeline.notebook.views import task_html

        return str(task_html(self.record, self.artifacts, runs_root=self._runs))


@dataclass(repr=False, eq=False)
class Result(RunResult):
    """A run's result whose outputs are :class:`Artifact` objects."""

    artifacts: list[ArtifactRecord] = field(default_factory=list)

    @classmethod
    def of(cls, result: RunResult, store: RunStore | None = None) -> Result:
        """``result`` with its artifact records, read from ``store`` (default: the store
        of the home the run's folder is in)."""
        if isinstance(result, Result):
            return result
        artifacts = _artifacts(result.run_id, result.run.root, store)
        return cls(run=result.run, tasks=result.tasks, notes=result.notes, artifacts=artifacts)

    @property
    def _runs(self) -> Path | None:
        return Path(self.run.root).parent if self.run.root else None

    @property
    def outputs(self) -> dict[str, Any]:
        """The pipeline's outputs: parameters as values, artifacts as :class:`Artifact`."""
        by_id = {a.artifact_id: a for a in self.artifacts}
        return _outputs(self.run.outputs or {}, by_id, self.run_id, self._runs)

    def to_dict(self) -> dict[str, Any]:
        found = super().to_dict()
        found["outputs"] = self.run.outputs  # the JSON document, unchanged
        return found

    def task(self, name: str) -> Task:
        """The task called ``name``: its path in the run (``for-loop-2/iteration-0/train``),
        its name, or its display name.

        Raises:
            KeyError: no task has that name, or several do (loop iterations: name one by
                its path); the message lists them.
        """
        for field_name in ("path", "name", "display_name"):
            found = [t for t in self.tasks if getattr(t, field_name) == name]
            if len(found) == 1:
                return Task(found[0], self.artifacts, self._runs)
            if len(found) > 1:
                paths = ", ".join(t.path for t in found[:10])
                raise KeyError(
                    f"{len(found)} tasks are called '{name}'; name one by its path: {paths}"
                )
        known = ", ".join(t.path for t in self.tasks if t.kind in ("executor", "importer"))
        raise KeyError(f"Run {self.run_id} has no task '{name}'. Its tasks: {known}")

    def _repr_html_(self) -> str:
        from kubeline.notebook.views import run_html

        return str(run_html(self.run, self.tasks, self.artifacts))


def _artifacts(run_id: str, root: str, store: RunStore | None) -> list[ArtifactRecord]:
    """The run's artifact records; none when the store cannot be read (the run is over and
    recorded: its outputs still come from its record)."""
    if store is not None:
        return store.artifacts.list(run_ids=[run_id])
    if not root:
        return []
    try:
        with open_store(database_url(home_of(root))) as own:
            return own.artifacts.list(run_ids=[run_id])
    except Exception:  # a finished run's result must still be returned (logged)
        logger.warning("kubeline could not read the artifacts of run %s", run_id, exc_info=True)
        return []


def get_run(run_id: str, home: Path | None = None) -> Result:
    """The result of a run kept in kubeline's store, by its id (or a unique start of it).

    Raises:
        KeyError: no run has that id, or several start with it.
    """
    from kubeline.engine import kubeline_home

    with open_store(database_url(home or kubeline_home())) as store:
        run = store.runs.get(run_id)
        if run is None:
            found = store.runs.find(run_id)
            if len(found) != 1:
                what = "no run" if not found else f"{len(found)} runs"
                raise KeyError(f"There is {what} with an id starting '{run_id}'.")
            run = found[0]
        tasks = store.tasks.list(run.run_id)
        return Result(run=run, tasks=tasks, artifacts=store.artifacts.list(run_ids=[run.run_id]))
