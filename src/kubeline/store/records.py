"""Plain records the store reads and writes: picklable, with no database session attached,
so the engine, the CLI and the server pass them around freely."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ArtifactRecord",
    "CacheRecord",
    "ExperimentRecord",
    "ModelAliasRecord",
    "ModelRecord",
    "ModelVersionRecord",
    "PipelineRecord",
    "PipelineVersionRecord",
    "RecurringRunRecord",
    "RunRecord",
    "TaskRecord",
]


def _timing(created: datetime | None, started: datetime | None, finished: datetime | None) -> str:
    """How long it took when it ended, else since when it is (a one-line repr's time)."""
    if started is not None and finished is not None:
        return f"in {(finished - started).total_seconds():.1f} s"
    if started is not None:
        return f"started {started:%Y-%m-%d %H:%M:%S %Z}".rstrip()
    if created is not None:
        return f"created {created:%Y-%m-%d %H:%M:%S %Z}".rstrip()
    return "not started"


@dataclass
class RunRecord:
    """One pipeline run."""

    run_id: str
    pipeline_name: str
    state: str  # PENDING, RUNNING, SUCCEEDED, FAILED, CANCELING, CANCELED, SKIPPED
    created_at: datetime
    display_name: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    spec: dict[str, Any] = field(default_factory=dict)  # the compiled PipelineSpec
    arguments: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    root: str = ""  # folder with the run's artifacts and logs
    cache_enabled: bool = True
    experiment_id: str | None = None
    pipeline_id: str | None = None
    pipeline_version_id: str | None = None
    recurring_run_id: str | None = None
    storage_state: str = "AVAILABLE"  # or ARCHIVED
    host: str = ""  # hostname of the process that runs it
    pid: int | None = None  # and its process id, to find runs orphaned by a crash
    # What the engine decided while it ran, oldest first: each a small dict with "at" (ISO
    # time), "kind" ("admission"), "task" (its path), "admitted" and "message". Bounded:
    # the engine keeps the last few hundred (kubeline.engine.recorder.EVENTS_KEPT).
    events: list[dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        # One line: the default dataclass repr is kilobytes (the spec, the events...).
        timing = _timing(self.created_at, self.started_at, self.finished_at)
        return f"<RunRecord {self.run_id} {self.state} {timing}>"


@dataclass
class TaskRecord:
    """One task instance of a run: an executor task, an importer, a sub-DAG, a loop or one
    loop iteration. ``path`` names it uniquely inside the run, e.g.
    ``for-loop-2/iteration-3/run-trial``."""

    task_id: str
    run_id: str
    name: str  # the task's name in its DAG (taskInfo.name)
    path: str
    kind: str  # executor, importer, dag, loop, iteration
    state: str  # PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED, CANCELED, CACHED
    parent_task_id: str | None = None
    component: str = ""
    display_name: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    cache_hit: bool = False
    cache_key: str | None = None
    exit_code: int | None = None
    error: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # parameter values by name
    outputs: dict[str, Any] = field(default_factory=dict)  # parameter values by name
    log_path: str | None = None
    # The error as data: its type (e.g. "kubeline.errors.DataError", "ValueError") and
    # whether the user can fix it (bad data or parameters) rather than the code.
    error_type: str | None = None
    user_error: bool = False

    def __repr__(self) -> str:
        timing = _timing(self.created_at, self.started_at, self.finished_at)
        cached = " (cached)" if self.cache_hit else ""
        return f"<TaskRecord {self.path} {self.state}{cached} {timing} run={self.run_id}>"


@dataclass
class ArtifactRecord:
    """An artifact a task produced (or an importer brought in)."""

    artifact_id: str
    run_id: str
    producer_task_id: str
    output_name: str
    uri: str
    schema_title: str  # e.g. system.Dataset
    metadata: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None  # sha256 of the content (file, or folder tree)
    size: int | None = None  # bytes
    created_at: datetime | None = None
    # the artifact's name inside KFP's executor input
    name: str = ""

    def __repr__(self) -> str:
        made = f"{self.created_at:%Y-%m-%d %H:%M:%S %Z}".rstrip() if self.created_at else "-"
        return (
            f"<ArtifactRecord {self.output_name or self.name} {self.schema_title} "
            f"{self.artifact_id} {made} {self.uri}>"
        )


@dataclass
class CacheRecord:
    """A cached task result, keyed by content (never by run id)."""

    key: str
    component: str
    outputs: dict[str, Any]  # parameter values by name
    # output name -> [{uri, schema_title, metadata, digest, name}]
    artifacts: dict[str, list[dict[str, Any]]]
    created_at: datetime
    run_id: str = ""
    task_id: str = ""


@dataclass
class PipelineRecord:
    """An uploaded pipeline (KFP's Pipeline): a name with versions."""

    pipeline_id: str
    name: str
    created_at: datetime
    display_name: str = ""
    description: str = ""
    namespace: str = ""


@dataclass
class PipelineVersionRecord:
    """One version of a pipeline: its compiled PipelineSpec."""

    pipeline_version_id: str
    pipeline_id: str
    name: str
    created_at: datetime
    spec: dict[str, Any] = field(default_factory=dict)
    display_name: str = ""
    description: str = ""
    package_url: str = ""


@dataclass
class ExperimentRecord:
    """A group of runs (KFP's Experiment); ``Default`` always exists."""

    experiment_id: str
    name: str
    created_at: datetime
    display_name: str = ""
    description: str = ""
    namespace: str = ""
    storage_state: str = "AVAILABLE"  # or ARCHIVED
    last_run_created_at: datetime | None = None


@dataclass
class RecurringRunRecord:
    """A schedule that starts runs (KFP's RecurringRun): cron or every N seconds."""

    recurring_run_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    experiment_id: str = ""
    pipeline_id: str | None = None
    pipeline_version_id: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)  # an inline PipelineSpec, if given
    arguments: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    cron: str | None = None  # KFP's cron: seconds minutes hours day month weekday
    interval_seconds: int | None = None  # or a periodic schedule
    start_time: datetime | None = None
    end_time: datetime | None = None
    max_concurrency: int = 1
    catchup: bool = False
    enabled: bool = True
    last_fired_at: datetime | None = None
    next_fire_at: datetime | None = None
    cache_enabled: bool = True


@dataclass
class ModelRecord:
    """A registered model: a name that versions accumulate under."""

    name: str
    created_at: datetime
    description: str = ""


@dataclass
class ModelVersionRecord:
    """One version of a registered model, numbered 1, 2, ... per name, with its lineage.

    ``signature`` holds ``features`` (names, in order), ``types`` (their dtypes), and for a
    classifier ``classes``; ``digest`` is the sha256 of the model's content, so registering
    the same model twice gives the same version.
    """

    name: str
    version: int
    created_at: datetime
    uri: str
    digest: str | None = None
    framework: str = ""
    libraries: dict[str, Any] = field(default_factory=dict)
    signature: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    data_digest: str = ""
    run_id: str | None = None
    task_id: str | None = None
    artifact_id: str | None = None
    card_uri: str = ""
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelAliasRecord:
    """A movable name for one version of a model (``production``, ``staging``...)."""

    name: str
    alias: str
    version: int
    updated_at: datetime
