"""Runs started through the API execute here, several at once, on the server's threads.

Each run gets its own worker pool (and fork server) from the engine; the store is shared
with the CLI, so runs started either way show up in both.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from kubeline.engine.containers import check_images
from kubeline.engine.diskspace import DiskFullError
from kubeline.engine.options import RunOptions
from kubeline.engine.runner import RunControl, execute_run, record_run
from kubeline.server.settings import ServerSettings
from kubeline.store import RunRecord, RunStore

__all__ = ["TERMINATED", "RunManager", "is_terminated", "terminated_message"]

#: How the error of a terminated run starts. Its state is FAILED, not CANCELED:
#: kfp.Client.wait_for_run_completion only stops on SUCCEEDED, FAILED, SKIPPED or ERROR.
TERMINATED = "Terminated on request"


def terminated_message(by: str = "", at: datetime | None = None) -> str:
    """The error a terminated run ends with: who asked and when, for the run's page (the
    store has no other place for them, and the API's state must stay FAILED)."""
    who = f" by {by}" if by else ""
    when = f" at {at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC" if at else ""
    return f"{TERMINATED} (terminate_run){who}{when}: running tasks were stopped."


def is_terminated(state: str | None, error: str | None) -> bool:
    """Whether a run ended because someone terminated it (FAILED with that error)."""
    return state == "FAILED" and (error or "").startswith(TERMINATED)


class RunManager:
    def __init__(self, store: RunStore, settings: ServerSettings) -> None:
        self.store = store
        self.settings = settings
        self._pool = ThreadPoolExecutor(
            max_workers=settings.max_concurrent_runs, thread_name_prefix="kubeline-run"
        )
        self._controls: dict[str, RunControl] = {}
        self._lock = threading.Lock()

    def start(
        self,
        spec: dict[str, Any],
        arguments: dict[str, Any],
        *,
        display_name: str = "",
        cache_enabled: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> RunRecord:
        """Record a PENDING run (arguments checked first, and with a container runner its
        images: a missing one is a 400 and nothing is recorded) and queue it."""
        images = check_images(spec, self._run_options()).image_ids  # None for a local run
        record = record_run(
            spec,
            arguments,
            home=self.settings.home,
            store=self.store,
            options=RunOptions(enable_caching=cache_enabled, display_name=display_name),
            extra=extra,
        )
        self._submit(record, images)
        return record

    def _run_options(self, image_ids: Mapping[str, str] | None = None) -> RunOptions:
        """How this server's runs run; ``image_ids``: the images already checked (a retry
        checks them again, so an image removed since is said, not met mid-run)."""
        return RunOptions(
            workers=self.settings.workers_per_run,
            grace_period=self.settings.grace_period,
            runner=self.settings.runner,
            pull=self.settings.pull,
            image_ids=image_ids,
        )

    def _submit(self, record: RunRecord, image_ids: Mapping[str, str] | None = None) -> None:
        control = RunControl(canceled_state="FAILED")
        with self._lock:
            self._controls[record.run_id] = control
        self._pool.submit(self._execute, record, control, image_ids)

    def _execute(
        self, record: RunRecord, control: RunControl, image_ids: Mapping[str, str] | None
    ) -> None:
        try:
            if control.cancel_requested:
                self.store.runs.update(
                    record.run_id,
                    state="FAILED",
                    error=control.reason or terminated_message(),
                    finished_at=datetime.now(timezone.utc),
                )
                return
            result = execute_run(
                record,
                home=self.settings.home,
                store=self.store,
                options=self._run_options(image_ids),
                control=control,
            )
            if control.cancel_requested and result.state == "CANCELED":
                self.store.runs.update(
                    record.run_id, state="FAILED", error=control.reason or terminated_message()
                )
        except Exception as exc:  # noqa: BLE001 - a broken run must not kill the server
            error = (
                str(exc)
                if isinstance(exc, DiskFullError)
                else f"The engine failed: {type(exc).__name__}: {exc}"
            )
            try:
                self.store.runs.update(
                    record.run_id,
                    state="FAILED",
                    error=error,
                    finished_at=datetime.now(timezone.utc),
                )
            except Exception as again:  # noqa: BLE001 - said in the server's log instead
                print(
                    f"kubeline server: run {record.run_id} failed and could not be recorded "
                    f"as FAILED ({type(again).__name__}: {again}): {error}",
                    file=sys.stderr,
                )
        finally:
            with self._lock:
                self._controls.pop(record.run_id, None)

    def terminate(self, run_id: str, by: str = "") -> bool:
        """Stop a PENDING or RUNNING run; False when it is not running here. ``by`` says who
        asked (the web UI, an API client), for the run's page."""
        with self._lock:
            control = self._controls.get(run_id)
        if control is None:
            return False
        self.store.runs.update(run_id, state="CANCELING")
        control.cancel(terminated_message(by, datetime.now(timezone.utc)))
        return True

    def retry(self, record: RunRecord) -> None:
        """Run a finished run again under the same id: tasks that succeeded come from the
        cache, the failed ones run again."""
        self.store.tasks.delete_of_run(record.run_id)
        self.store.runs.update(
            record.run_id, state="PENDING", error=None, finished_at=None, outputs={}
        )
        fresh = self.store.runs.get(record.run_id)
        assert fresh is not None
        self._submit(fresh)

    def running(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._controls

    def shutdown(self) -> None:
        """Stop every run (their tasks get the grace period) and wait for them to end; a
        second Ctrl-C (or SIGTERM) meanwhile kills their tasks at once."""
        with self._lock:
            controls = list(self._controls.values())
        for control in controls:
            control.cancel("The server stopped.")

        def force(_signum: int, _frame: object) -> None:
            for control in controls:
                control.force()

        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, force)
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
