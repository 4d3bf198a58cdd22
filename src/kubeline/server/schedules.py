"""Recurring runs: a thread that starts the runs whose time has come.

KFP's cron has six fields, seconds first (``0 0 * * * *`` is hourly); a periodic schedule
is every N seconds. Without catch-up, missed times (the server was down) are skipped.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta, timezone

from croniter import croniter

from kubeline.errors import ConfigError
from kubeline.server.manager import RunManager
from kubeline.store import RecurringRunRecord, RunStore

__all__ = ["ScheduleLoop", "check_cron", "next_fire"]

_ACTIVE = ("PENDING", "RUNNING", "CANCELING")


def check_cron(cron: str) -> None:
    if not croniter.is_valid(cron, second_at_beginning=True):
        raise ConfigError(
            f"Invalid cron schedule '{cron}': KFP's cron has six fields, seconds first, "
            "e.g. '0 */5 * * * *' for every 5 minutes."
        )


def next_fire(rr: RecurringRunRecord, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (and not before start_time), or None
    when the schedule has ended."""
    start = rr.start_time or rr.created_at
    base = max(after, start - timedelta(microseconds=1))
    if rr.cron:
        when = croniter(rr.cron, base, second_at_beginning=True).get_next(datetime)
    else:
        interval = max(1, int(rr.interval_seconds or 0))
        elapsed = (base - start).total_seconds()
        steps = int(elapsed // interval) + 1
        when = start + timedelta(seconds=steps * interval)
    if rr.end_time is not None and when > rr.end_time:
        return None
    return when


class ScheduleLoop:
    """Checks the store every ``interval`` seconds and fires what is due."""

    def __init__(self, store: RunStore, manager: RunManager, interval: float) -> None:
        self.store = store
        self.manager = manager
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kubeline-schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # one bad schedule must not stop the rest
                self.tick(datetime.now(timezone.utc))

    def tick(self, now: datetime) -> list[str]:
        """Fire every due schedule once; returns the run ids started."""
        started = []
        for rr in self.store.recurring_runs.due(now):
            fire_at = rr.next_fire_at or now
            later = fire_at if rr.catchup else now
            # Claimed first: of two servers sharing a database, only one fires it.
            if rr.next_fire_at is not None and not self.store.recurring_runs.claim(
                rr.recurring_run_id,
                rr.next_fire_at,
                last_fired_at=fire_at,
                next_fire_at=next_fire(rr, later),
                updated_at=now,
            ):
                continue
            active = self.store.runs.count(
                filters=[
                    ("recurring_run_id", "EQUALS", rr.recurring_run_id),
                    ("state", "IN", list(_ACTIVE)),
                ]
            )
            if active < max(1, rr.max_concurrency):
                started.append(self._fire(rr, fire_at))
        return started

    def _fire(self, rr: RecurringRunRecord, fire_at: datetime) -> str:
        spec = rr.spec
        if rr.pipeline_version_id:
            version = self.store.pipeline_versions.get(rr.pipeline_version_id)
            spec = version.spec if version else {}
        record = self.manager.start(
            spec,
            rr.arguments,
            display_name=f"{rr.name} {fire_at:%Y-%m-%d %H:%M:%S}",
            cache_enabled=rr.cache_enabled,
            extra={
                "experiment_id": rr.experiment_id or None,
                "recurring_run_id": rr.recurring_run_id,
                "pipeline_id": rr.pipeline_id,
                "pipeline_version_id": rr.pipeline_version_id,
            },
        )
        return record.run_id
