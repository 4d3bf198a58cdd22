"""Recurring runs: create with a cron or periodic trigger, list, get, enable, disable,
delete. The server's schedule loop starts their runs."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from kubeline.engine.arguments import resolve_arguments
from kubeline.errors import ConfigError
from kubeline.server.api.common import ApiBody, now, pipeline_spec_of, require
from kubeline.server.api.runs import Reference, RuntimeConfig, experiment_for
from kubeline.server.deps import get_store
from kubeline.server.listing import ListQuery, list_query
from kubeline.server.schedules import check_cron, next_fire
from kubeline.server.serialize import recurring_run_json
from kubeline.store import RecurringRunRecord, RunStore

router = APIRouter(tags=["recurring runs"])

_FIELDS = {
    "display_name": "name",
    "name": "name",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "recurring_run_id": "recurring_run_id",
    "experiment_id": "experiment_id",
    "enabled": "enabled",
}
_LIST = list_query(_FIELDS)
_MAX_INTERVAL = 100 * 366 * 24 * 3600
_MAX_CONCURRENCY = 1000


class CronSchedule(BaseModel):
    cron: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None


class PeriodicSchedule(BaseModel):
    interval_second: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None


class Trigger(BaseModel):
    cron_schedule: CronSchedule | None = None
    periodic_schedule: PeriodicSchedule | None = None


class RecurringBody(ApiBody):
    display_name: str = ""
    description: str = ""
    pipeline_spec: dict[str, Any] | None = None
    pipeline_version_reference: Reference | None = None
    runtime_config: RuntimeConfig = RuntimeConfig()
    max_concurrency: int = 1
    trigger: Trigger
    mode: str = "ENABLE"
    no_catchup: bool = False
    experiment_id: str | None = None


def _utc(moment: datetime | None, where: str) -> datetime | None:
    """A trigger's time in UTC; 400 for a time with no zone or out of range."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ConfigError(
            f"{where} has no time zone: write it in RFC 3339 with Z or an offset, "
            "e.g. 2030-01-31T12:00:00Z.",
        )
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError as exc:
        raise ConfigError(f"{where} {moment.isoformat()} is out of range.") from exc


def _next_fire(record: RecurringRunRecord, after: datetime) -> datetime | None:
    """When the schedule fires next; 400 for one that can never fire."""
    try:
        return next_fire(record, after)
    except (ValueError, OverflowError) as exc:  # croniter's errors are ValueErrors
        schedule = f"cron '{record.cron}'" if record.cron else "periodic schedule"
        raise ConfigError(
            f"The {schedule} never fires (after {after:%Y-%m-%d %H:%M:%S} UTC and before the "
            f"year 9999): {exc}. Check its fields and start_time.",
        ) from exc


@router.post("/recurringruns")
def create_recurring_run(body: RecurringBody, store: RunStore = Depends(get_store)) -> dict:
    if not body.display_name.strip():
        raise ConfigError("A recurring run needs a display_name.")
    spec, pipeline_id, version_id = pipeline_spec_of(
        store,
        body.pipeline_spec,
        body.pipeline_version_reference.model_dump() if body.pipeline_version_reference else None,
    )
    arguments = resolve_arguments(spec, body.runtime_config.parameters)
    cron = body.trigger.cron_schedule
    periodic = body.trigger.periodic_schedule
    if cron and cron.cron:
        check_cron(cron.cron)
        start, end = cron.start_time, cron.end_time
        where = "trigger.cron_schedule"
    elif periodic and periodic.interval_second > 0:
        if periodic.interval_second > _MAX_INTERVAL:
            raise ConfigError(
                f"interval_second must be at most {_MAX_INTERVAL:,} (100 years). "
                f"Got {periodic.interval_second}.",
            )
        start, end = periodic.start_time, periodic.end_time
        where = "trigger.periodic_schedule"
    else:
        raise ConfigError(
            "A recurring run needs a trigger: a cron_schedule with a cron, or "
            "a periodic_schedule with interval_second > 0.",
        )
    if not 1 <= body.max_concurrency <= _MAX_CONCURRENCY:
        raise ConfigError(
            f"max_concurrency must be between 1 and {_MAX_CONCURRENCY}. "
            f"Got {body.max_concurrency}.",
        )
    start, end = _utc(start, f"{where}.start_time"), _utc(end, f"{where}.end_time")
    created = now()
    record = RecurringRunRecord(
        recurring_run_id=str(uuid.uuid4()),
        name=body.display_name,
        description=body.description,
        created_at=created,
        updated_at=created,
        experiment_id=experiment_for(store, body.experiment_id),
        pipeline_id=pipeline_id,
        pipeline_version_id=version_id,
        spec=spec if version_id is None else {},
        arguments=arguments,
        cron=cron.cron if cron and cron.cron else None,
        interval_seconds=periodic.interval_second
        if periodic and not (cron and cron.cron)
        else None,
        start_time=start,
        end_time=end,
        max_concurrency=body.max_concurrency,
        catchup=not body.no_catchup,
        enabled=body.mode.upper() != "DISABLE",
    )
    record.next_fire_at = _next_fire(record, created)
    store.recurring_runs.add(record)
    return recurring_run_json(record)


@router.get("/recurringruns")
def list_recurring_runs(
    experiment_id: str | None = None,
    namespace: str | None = None,
    query: ListQuery = Depends(_LIST),
    store: RunStore = Depends(get_store),
) -> dict:
    total = store.recurring_runs.count(experiment_id=experiment_id, filters=query.filters)
    found = store.recurring_runs.list(experiment_id=experiment_id, **query.window())
    return query.body("recurringRuns", [recurring_run_json(x) for x in found], total)


@router.get("/recurringruns/{recurring_run_id}")
def get_recurring_run(recurring_run_id: str, store: RunStore = Depends(get_store)) -> dict:
    return recurring_run_json(
        require(store.recurring_runs.get(recurring_run_id), "Recurring run", recurring_run_id)
    )


def _enable(store: RunStore, recurring_run_id: str, enabled: bool) -> dict:
    record = require(store.recurring_runs.get(recurring_run_id), "Recurring run", recurring_run_id)
    moment = now()
    record.enabled = enabled
    store.recurring_runs.update(
        recurring_run_id,
        enabled=enabled,
        updated_at=moment,
        next_fire_at=_next_fire(record, moment) if enabled else None,
    )
    return {}


@router.post("/recurringruns/{recurring_run_id}:enable")
def enable_recurring_run(recurring_run_id: str, store: RunStore = Depends(get_store)) -> dict:
    return _enable(store, recurring_run_id, True)


@router.post("/recurringruns/{recurring_run_id}:disable")
def disable_recurring_run(recurring_run_id: str, store: RunStore = Depends(get_store)) -> dict:
    return _enable(store, recurring_run_id, False)


@router.delete("/recurringruns/{recurring_run_id}")
def delete_recurring_run(recurring_run_id: str, store: RunStore = Depends(get_store)) -> dict:
    require(store.recurring_runs.get(recurring_run_id), "Recurring run", recurring_run_id)
    store.recurring_runs.delete(recurring_run_id)
    return {}
