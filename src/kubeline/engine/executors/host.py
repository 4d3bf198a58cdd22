"""Tasks run as a command on the host: container components whose program is installed
here, and Python components under another interpreter (a cached install venv)."""

from __future__ import annotations

import sys

from kubeline.engine.executors.processes import TaskProcess, start_logged
from kubeline.engine.executors.spawned import python_command
from kubeline.engine.executors.threaded import ThreadedExecutor
from kubeline.engine.leaf import LeafJob
from kubeline.engine.taskenv import task_environ
from kubeline.engine.tasktree import MARK

__all__ = ["HostCommandExecutor"]


class HostCommandExecutor(ThreadedExecutor):
    """Runs ``command`` jobs' resolved command lines, and ``python`` jobs under
    ``job.python`` (this interpreter when it is None)."""

    def command(self, job: LeafJob) -> list[str]:
        """The command line for ``job``, built here where it runs."""
        if job.kind == "python":
            return python_command(job, job.python or sys.executable)
        return list(job.argv)

    def _start(self, job: LeafJob) -> TaskProcess:
        env = task_environ({**job.env, MARK: job.task_root})
        return start_logged(self.command(job), env, job.log_path, self.grace)
