"""Executors: what runs a prepared task (see :mod:`kubeline.engine.executors.base`).

:func:`local_executor` gives the executor of a local run: forked Python components
(:mod:`.forked`), one interpreter per task where there is no fork (:mod:`.spawned`),
commands on the host (:mod:`.host`), admitted by the process-wide controller
(:mod:`.admission`).
"""

from kubeline.engine.executors.admission import AdmissionController, AdmissionNote
from kubeline.engine.executors.base import Executor, Outcome, TaskError
from kubeline.engine.executors.local import RoutingExecutor, local_executor

__all__ = [
    "AdmissionController",
    "AdmissionNote",
    "Executor",
    "Outcome",
    "RoutingExecutor",
    "TaskError",
    "local_executor",
]
