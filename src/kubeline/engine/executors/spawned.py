"""One fresh interpreter per Python task: the fallback where ``os.fork`` does not exist
(Windows), and usable anywhere. Slower than a fork (a start-up and the imports per task);
the same results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kubeline.engine.executors import program
from kubeline.engine.executors.processes import StartFailed, TaskProcess, start_logged
from kubeline.engine.executors.threaded import ThreadedExecutor
from kubeline.engine.leaf import LeafJob
from kubeline.engine.taskenv import task_environ, without_secrets
from kubeline.engine.tasktree import MARK

__all__ = ["SpawnedExecutor", "python_command"]


def python_command(job: LeafJob, python: str) -> list[str]:
    """The command that runs a ``python`` job in a fresh ``python``: the job's data in a
    file next to its outputs, read by :mod:`.program` (run as a plain script, so the
    interpreter needs kfp, not kubeline)."""
    job_file = Path(job.task_root) / ".program" / "job.json"
    job_file.parent.mkdir(parents=True, exist_ok=True)
    fields = program.job_fields(job)
    fields["env"] = without_secrets(job.env)
    job_file.write_text(json.dumps(fields), encoding="utf-8")
    return [python, str(Path(program.__file__).resolve()), str(job_file)]


class SpawnedExecutor(ThreadedExecutor):
    """Runs ``python`` jobs, each in a new process of ``job.python`` (default: this
    interpreter)."""

    def _start(self, job: LeafJob) -> TaskProcess:
        if job.kind != "python":
            raise StartFailed(f"a '{job.kind}' job is not a Python component")
        argv = python_command(job, job.python or sys.executable)
        env = task_environ({**job.env, MARK: job.task_root})
        return start_logged(argv, env, job.log_path, self.grace)
