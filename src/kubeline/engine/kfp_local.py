"""Interim runner: executes a compiled pipeline through ``kfp.local``.

This is the one seam between kubeline and the executor of a run; kubeline's own engine
(parallel, cached by content, with a run store) replaces this module and keeps
:func:`run_spec`'s contract. ``kfp.local`` reports progress only as log lines on stdout,
so this module captures stdout, turns those lines into :class:`TaskEvent` objects and
keeps the whole log in the run folder.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import threading
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from kubeline.engine.results import RunResult, TaskEvent, TaskRecord

__all__ = ["run_spec"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STARTED = re.compile(r"Executing task '(?P<name>[^']+)'")
_FINISHED = re.compile(r"Task '(?P<name>[^']+)' finished with status (?P<status>\w+)")
_CACHED = re.compile(r"Task (?P<name>\S+) cache hit")
_ERROR_LINE = re.compile(r"^\s*(?P<cls>[\w.]+(?:Error|Exception)): (?P<msg>.+)$")
_STATES = {"SUCCESS": "SUCCEEDED", "FAILURE": "FAILED"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _LogTap:
    """A stdout stand-in: writes every line to the run log and parses kfp.local's task
    lines into events. kfp.local runs loop iterations on threads, hence the lock."""

    def __init__(self, log: Any, on_event: Callable[[TaskEvent], None] | None) -> None:
        self._log = log
        self._on_event = on_event
        self._lock = threading.Lock()
        self._partial = ""
        self.tasks: list[TaskRecord] = []

    def write(self, text: str) -> int:
        with self._lock:
            self._log.write(text)
            self._partial += text
            *lines, self._partial = self._partial.split("\n")
            events = [e for line in lines if (e := self._line(_ANSI.sub("", line)))]
        # Outside the lock: a callback may print, and printing comes back here.
        if self._on_event is not None:
            for event in events:
                self._on_event(event)
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def isatty(self) -> bool:
        return False

    @contextlib.contextmanager
    def capturing_logs(self) -> Any:
        """Also read kfp.local's log records that go to the root logger outside its own
        logging context (cache hits among them)."""
        tap = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                tap.write(self.format(record) + "\n")

        root = logging.getLogger()
        handler, level = _Handler(logging.INFO), root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield
        finally:
            root.removeHandler(handler)
            root.setLevel(level)

    def _running(self, name: str | None = None) -> TaskRecord | None:
        for task in reversed(self.tasks):
            if task.state == "RUNNING" and (name is None or task.name == name):
                return task
        return None

    def _line(self, line: str) -> TaskEvent | None:
        if m := _STARTED.search(line):
            task = TaskRecord(name=m["name"], state="RUNNING", started=_now())
            self.tasks.append(task)
            return TaskEvent("started", task.name, task.state)
        if m := _CACHED.search(line):
            now = _now()
            task = TaskRecord(
                name=m["name"], state="SUCCEEDED", started=now, ended=now, cached=True
            )
            self.tasks.append(task)
            return TaskEvent("cached", task.name, task.state)
        if m := _FINISHED.search(line):
            task = self._running(m["name"])
            if task is not None:
                task.state = _STATES.get(m["status"], m["status"])
                task.ended = _now()
                return TaskEvent("finished", task.name, task.state)
        elif (task := self._running()) is not None:
            task.log_lines.append(line.strip())
        return None


def _plain(value: Any) -> Any:
    """Task outputs as plain data: artifacts become {name, uri, type, metadata}."""
    from kfp import dsl

    if isinstance(value, dsl.Artifact):
        return {
            "name": value.name,
            "uri": value.uri,
            "type": value.schema_title,
            "metadata": dict(value.metadata),
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _failure(tasks: list[TaskRecord]) -> tuple[str, bool, str | None]:
    """(message, is_user_error, failed task) from the logs of the first failed task."""
    failed = next((t for t in tasks if t.state == "FAILED"), None)
    if failed is None:
        return "The pipeline failed before any task ran.", False, None
    for line in reversed(failed.log_lines):
        if m := _ERROR_LINE.match(line):
            user = m["cls"].startswith("kubeline.errors.")
            return m["msg"].strip(), user, failed.name
    tail = [ln for ln in failed.log_lines if ln][-1:] or ["no error message"]
    return tail[0], False, failed.name


def run_spec(
    spec: dict[str, Any],
    arguments: dict[str, Any],
    *,
    home: Path,
    enable_caching: bool = True,
    on_event: Callable[[TaskEvent], None] | None = None,
) -> RunResult:
    """Run a compiled PipelineSpec with checked ``arguments``; keep its files under
    ``home/runs/<run id>/`` (the spec, the log, every artifact)."""
    from kfp import components, local

    name = spec["pipelineInfo"]["name"]
    started = _now()
    run_id = f"{name}-{started:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    root = home / "runs" / run_id
    root.mkdir(parents=True)
    spec_path = root / "pipeline.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    log_path = root / "run.log"
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root / "artifacts"),
        raise_on_error=True,
        enable_caching=enable_caching,
        cache_root=str(home / "cache"),
    )
    pipeline = components.load_component_from_file(str(spec_path))
    outputs: dict[str, Any] = {}
    state, error, user_error, failed_task = "SUCCEEDED", None, False, None
    with log_path.open("w", encoding="utf-8") as log:
        tap = _LogTap(log, on_event)
        try:
            with contextlib.redirect_stdout(tap), tap.capturing_logs(), warnings.catch_warnings():
                # kfp.local warns that an image is not used by the subprocess runner.
                warnings.simplefilter("ignore")
                task = pipeline(**arguments)
            outputs = {k: _plain(v) for k, v in (task.outputs or {}).items()}
        except RuntimeError:
            state = "FAILED"
            error, user_error, failed_task = _failure(tap.tasks)
        except KeyboardInterrupt:
            state, error = "CANCELED", "Interrupted by the user (Ctrl-C)."
    for task in tap.tasks:
        if task.state == "RUNNING":
            task.state = "CANCELED" if state == "CANCELED" else "FAILED"
    return RunResult(
        run_id=run_id,
        pipeline_name=name,
        state=state,
        outputs=outputs,
        tasks=tap.tasks,
        root=root,
        log_path=log_path,
        started=started,
        ended=_now(),
        error=error,
        user_error=user_error,
        failed_task=failed_task,
    )
