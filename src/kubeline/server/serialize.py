"""Records -> KFP v2beta1 JSON (snake_case fields, RFC 3339 times, int64 as strings), as
KFP's own API server writes them, so ``kfp.Client`` and the KFP UI read them unchanged."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kubeline.store import (
    ExperimentRecord,
    PipelineRecord,
    PipelineVersionRecord,
    RecurringRunRecord,
    RunRecord,
    TaskRecord,
)

__all__ = [
    "experiment_json",
    "pipeline_json",
    "recurring_run_json",
    "run_json",
    "timestamp",
    "version_json",
]


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def pipeline_json(p: PipelineRecord) -> dict[str, Any]:
    return _drop_none(
        {
            "pipeline_id": p.pipeline_id,
            "name": p.name,
            "display_name": p.display_name or p.name,
            "description": p.description,
            "created_at": timestamp(p.created_at),
            "namespace": p.namespace or None,
        }
    )


def version_json(v: PipelineVersionRecord, with_spec: bool = True) -> dict[str, Any]:
    return _drop_none(
        {
            "pipeline_id": v.pipeline_id,
            "pipeline_version_id": v.pipeline_version_id,
            "name": v.name,
            "display_name": v.display_name or v.name,
            "description": v.description,
            "created_at": timestamp(v.created_at),
            "package_url": {"pipeline_url": v.package_url} if v.package_url else None,
            "pipeline_spec": v.spec if with_spec else None,
        }
    )


def experiment_json(e: ExperimentRecord) -> dict[str, Any]:
    return _drop_none(
        {
            "experiment_id": e.experiment_id,
            "display_name": e.display_name or e.name,
            "description": e.description,
            "created_at": timestamp(e.created_at),
            "namespace": e.namespace or None,
            "storage_state": e.storage_state,
            "last_run_created_at": timestamp(e.last_run_created_at),
        }
    )


def _status(error: str | None) -> dict[str, Any] | None:
    return {"code": 2, "message": error, "details": []} if error else None


def _artifact_ids(io: dict[str, Any]) -> dict[str, Any]:
    """KFP task details list artifacts by id per input or output name."""
    ids = io.get("artifact_ids") or {}
    return {name: {"artifact_ids": [str(i) for i in values]} for name, values in ids.items()}


def task_json(t: TaskRecord, children: list[str]) -> dict[str, Any]:
    return _drop_none(
        {
            "run_id": t.run_id,
            "task_id": t.task_id,
            "display_name": t.path,
            "create_time": timestamp(t.created_at),
            "start_time": timestamp(t.started_at),
            "end_time": timestamp(t.finished_at),
            "state": t.state,
            "execution_id": None,
            "error": _status(t.error) if t.state == "FAILED" else None,
            "parent_task_id": t.parent_task_id,
            "child_tasks": [{"task_id": c} for c in children] or None,
            "inputs": _artifact_ids(t.inputs) or None,
            "outputs": _artifact_ids(t.outputs) or None,
            "state_history": [
                {"update_time": timestamp(t.finished_at or t.started_at), "state": t.state}
            ],
        }
    )


def run_json(
    r: RunRecord, tasks: list[TaskRecord] | None = None, with_spec: bool = True
) -> dict[str, Any]:
    reference = None
    if r.pipeline_version_id:
        reference = {"pipeline_id": r.pipeline_id, "pipeline_version_id": r.pipeline_version_id}
    data: dict[str, Any] = {
        "run_id": r.run_id,
        "experiment_id": r.experiment_id,
        "display_name": r.display_name,
        "storage_state": r.storage_state,
        "pipeline_version_reference": reference,
        "pipeline_spec": r.spec if (with_spec and reference is None) else None,
        "runtime_config": {"parameters": r.arguments},
        "created_at": timestamp(r.created_at),
        "scheduled_at": timestamp(r.started_at),
        "finished_at": timestamp(r.finished_at),
        "state": r.state,
        "error": _status(r.error) if r.state in ("FAILED", "CANCELED") else None,
        "recurring_run_id": r.recurring_run_id,
        "state_history": [
            {
                "update_time": timestamp(r.finished_at or r.started_at or r.created_at),
                "state": r.state,
            }
        ],
    }
    if tasks is not None:
        children: dict[str, list[str]] = {}
        for t in tasks:
            if t.parent_task_id:
                children.setdefault(t.parent_task_id, []).append(t.task_id)
        data["run_details"] = {
            "task_details": [task_json(t, children.get(t.task_id, [])) for t in tasks]
        }
    return _drop_none(data)


def recurring_run_json(rr: RecurringRunRecord) -> dict[str, Any]:
    schedule = _drop_none(
        {"start_time": timestamp(rr.start_time), "end_time": timestamp(rr.end_time)}
    )
    if rr.cron:
        trigger = {"cron_schedule": {**schedule, "cron": rr.cron}}
    else:
        trigger = {
            "periodic_schedule": {**schedule, "interval_second": str(rr.interval_seconds or 0)}
        }
    reference = None
    if rr.pipeline_version_id:
        reference = {"pipeline_id": rr.pipeline_id, "pipeline_version_id": rr.pipeline_version_id}
    return _drop_none(
        {
            "recurring_run_id": rr.recurring_run_id,
            "display_name": rr.name,
            "description": rr.description,
            "pipeline_version_reference": reference,
            "pipeline_spec": rr.spec if reference is None else None,
            "runtime_config": {"parameters": rr.arguments},
            "max_concurrency": str(rr.max_concurrency),
            "trigger": trigger,
            "mode": "ENABLE" if rr.enabled else "DISABLE",
            "created_at": timestamp(rr.created_at),
            "updated_at": timestamp(rr.updated_at),
            "status": "ENABLED" if rr.enabled else "DISABLED",
            "no_catchup": not rr.catchup,
            "experiment_id": rr.experiment_id or None,
        }
    )
