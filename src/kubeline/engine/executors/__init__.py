"""Executors: what runs a prepared task (see :mod:`kubeline.engine.executors.base`).

:func:`local_executor` gives the executor of a local run: forked Python components
(:mod:`.forked`), one interpreter per task where there is no fork (:mod:`.spawned`),
commands on the host (:mod:`.host`), admitted by the process-wide controller
(:mod:`.admission`).

A new executor (a container one: ``docker run`` per task) subclasses
:class:`~.threaded.ThreadedExecutor` and only says how a job's process starts: its
``_start`` returns a :class:`~.processes.TaskProcess` (wait, terminate, kill: the grace
period and the cancel come with the base class), and it may measure the task with
``Slot.attach_meter``. It joins a run as a route of :class:`~.local.RoutingExecutor` and
the contract tests as a ``Flavor`` (``tests/engine/executors/test_contract.py``).
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
