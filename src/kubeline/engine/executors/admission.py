"""How many tasks run at once: one controller per process, shared by every run.

The core count is right for tasks that compute and wrong for tasks that wait (I/O, remote
jobs, sleeps). The controller admits tasks up to the core count, then more while the
running ones leave the CPU idle, measured on their processes (:mod:`.cpu`: the time they
run or wait for a CPU), up to a cap.
A task counts as a whole core until it has been measured (or as much as the last measured
task of the same component), so a burst of new tasks does not oversubscribe the CPU.
``--workers`` pins a run instead: exactly that many of its tasks at once, still counted
here so the other runs of the process see their load.

Decisions that differ from the plain core count are reported to the run as
:class:`AdmissionNote` (the scheduler records them as run events).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kubeline.engine.executors.cpu import CpuProbe, default_probe

__all__ = [
    "HEADROOM",
    "AdmissionController",
    "AdmissionNote",
    "RunAdmission",
    "Slot",
    "decide",
    "default_cap",
    "process_admission",
    "usable_cores",
]

#: Tasks beyond the core count are admitted while the running ones leave at least this
#: many cores idle: a whole one, as measurements are noisy and lag.
HEADROOM = 1.0
#: How far back a task's CPU use is measured (its rate over this window).
WINDOW = 0.5
#: How often running tasks are measured.
INTERVAL = 0.05
#: A task's first moments (starting, often waiting on the disk) say little of what it
#: does next: it is measured from this age on, and counts as its kind did before.
MIN_AGE = 0.1
#: The shortest time a measurement spans (one interval alone is noisy).
MIN_SPAN = 0.05
#: How many kinds of task (components) the controller remembers.
_KINDS = 512


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells)."""
    sched_getaffinity: Callable[[int], Any] | None = getattr(os, "sched_getaffinity", None)
    if sched_getaffinity is not None:
        try:
            return max(1, len(sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def default_cap(cores: int) -> int:
    """At most four tasks a core, and never more than 32 at once."""
    return max(cores, min(4 * cores, 32))


def decide(demands: Sequence[float], cores: int, cap: int) -> bool:
    """May one more task start, given what each running one uses (in cores)?

    Up to ``cores`` tasks always; beyond that, below ``cap`` and only while the running
    tasks leave at least :data:`HEADROOM` cores idle. A new task counts as a whole core
    until measured (or as its kind did), so few start before the next measurement.
    """
    running = len(demands)
    if running < cores:
        return True
    if running >= cap:
        return False
    return sum(demands) <= cores - HEADROOM


@dataclass(frozen=True)
class AdmissionNote:
    """One admission decision, for the run's events."""

    task_path: str
    admitted: bool  # True: started beyond the core count; False: waits for the CPU
    running: int  # tasks running in this process when it was decided
    cores: int
    cpu_in_use: float  # how many cores' worth the running tasks use (measured or assumed)

    @property
    def message(self) -> str:
        use = f"running tasks use {self.cpu_in_use:.1f} of {self.cores} cores"
        if self.admitted:
            return f"started as task {self.running + 1} of this process: {use}"
        return f"waits for the CPU: {self.running} tasks running, {use}"


class Slot:
    """One admitted task: counted until released, measured once attached to a process.

    ``kind`` names what it runs (its component): a task too young to be measured counts
    as much as the last measured task of its kind used at its peak, else a whole core.
    """

    def __init__(self, controller: AdmissionController, started: float, kind: str = "") -> None:
        self._controller = controller
        self.started = started
        self.kind = kind
        self.pid: int | None = None
        self.meter: Callable[[], float | None] | None = None  # busy seconds so far
        self.samples: deque[tuple[float, float]] = deque()
        self.peak = 0.0  # the most it used over a window: what its kind is taken to need
        self.released = False

    def attach(self, pid: int) -> None:
        """Measure process ``pid`` (and its descendants) as this task."""
        self.pid = pid

    def attach_meter(self, meter: Callable[[], float | None]) -> None:
        """Measure this task with ``meter`` (busy seconds so far), e.g. a container's."""
        self.meter = meter

    def release(self) -> None:
        self._controller._release(self)

    def measured(self, now: float) -> float | None:
        """The cores this task used over the last :data:`WINDOW` of its life after
        :data:`MIN_AGE` (samples start then), None until they span :data:`MIN_SPAN`."""
        if len(self.samples) < 2:
            return None
        first_t, first_cpu = self.samples[0]
        last_t, last_cpu = self.samples[-1]
        if last_t - first_t < MIN_SPAN:
            return None
        return max(0.0, (last_cpu - first_cpu) / (last_t - first_t))

    def demand(self, now: float) -> float:
        """The cores to count for this task: measured, else learned for its kind, else 1."""
        found = self.measured(now)
        if found is not None:
            return found
        return self._controller.learned.get(self.kind, 1.0)


class AdmissionController:
    """Admits tasks for every run of the process (see the module's docstring).

    ``interval=0`` takes no samples on its own: tests call :meth:`sample` with a clock.
    """

    def __init__(
        self,
        cores: int | None = None,
        cap: int | None = None,
        probe: CpuProbe | None = None,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        min_age: float = MIN_AGE,
    ) -> None:
        self.cores = cores or usable_cores()
        self.probe = probe
        # Without a way to measure, never beyond the core count.
        self.cap = (cap or default_cap(self.cores)) if probe is not None else self.cores
        self.interval = interval
        self.min_age = min_age
        #: The peak use (cores) of the last measured task of each kind, newest last.
        self.learned: dict[str, float] = {}
        self._clock = clock
        self._cond = threading.Condition()
        self._slots: list[Slot] = []
        self._queue: deque[object] = deque()
        self._sampler: threading.Thread | None = None

    # ------------------------------------------------------------ decisions
    def in_use(self, now: float | None = None) -> tuple[int, float]:
        """(running tasks, cores' worth they use)."""
        now = self._clock() if now is None else now
        with self._cond:
            return len(self._slots), sum(s.demand(now) for s in self._slots)

    def try_enter(self, kind: str = "") -> Slot | None:
        """A slot if a task may start now (and none waits before it), else None."""
        with self._cond:
            if self._queue:
                return None
            return self._admit(kind)

    def _admit(self, kind: str) -> Slot | None:
        now = self._clock()
        if not decide([s.demand(now) for s in self._slots], self.cores, self.cap):
            return None
        return self._add(now, kind)

    def _add(self, now: float, kind: str) -> Slot:
        slot = Slot(self, now, kind)
        self._slots.append(slot)
        self._start_sampler()
        return slot

    def enter(
        self,
        stop: threading.Event,
        on_wait: Callable[[int, float], None] | None = None,
        kind: str = "",
    ) -> Slot | None:
        """Wait for a slot, first come first served; None once ``stop`` is set.

        ``on_wait(running, cpu_in_use)`` is called once if the task has to wait while
        fewer than ``cap`` tasks run (it waits for the CPU, not for the cap).
        """
        token = object()
        told = False
        with self._cond:
            self._queue.append(token)
            try:
                while not stop.is_set():
                    if self._queue[0] is token:
                        slot = self._admit(kind)
                        if slot is not None:
                            return slot
                        if on_wait is not None and not told and len(self._slots) < self.cap:
                            told = True
                            now = self._clock()
                            running = len(self._slots)
                            cpu = sum(s.demand(now) for s in self._slots)
                            self._cond.release()  # never call out while holding the lock
                            try:
                                on_wait(running, cpu)
                            finally:
                                self._cond.acquire()
                            continue
                    self._cond.wait(self.interval or 0.05)
                return None
            finally:
                self._queue.remove(token)
                self._cond.notify_all()

    def track(self, kind: str = "") -> Slot:
        """A slot outside admission (a pinned run's task), counted and measured."""
        with self._cond:
            return self._add(self._clock(), kind)

    def wake(self) -> None:
        """Let waiters look at their stop events now."""
        with self._cond:
            self._cond.notify_all()

    def _release(self, slot: Slot) -> None:
        with self._cond:
            if not slot.released:
                slot.released = True
                self._slots.remove(slot)
                self._cond.notify_all()

    # ------------------------------------------------------------ measuring
    def sample(self, now: float | None = None) -> None:
        """Measure every running task once (the sampler thread calls this)."""
        if self.probe is None:
            return
        now = self._clock() if now is None else now
        with self._cond:
            slots = list(self._slots)
        readings: list[tuple[Slot, float]] = []
        for slot in slots:  # outside the lock: reading /proc takes a little while
            cpu: float | None = None
            if slot.meter is not None:
                cpu = slot.meter()
            elif slot.pid is not None:
                cpu = self.probe.busy_seconds(slot.pid)
            if cpu is not None:
                readings.append((slot, cpu))
        with self._cond:
            for slot, cpu in readings:
                if now - slot.started < self.min_age:
                    continue  # still starting
                slot.samples.append((now, cpu))
                while len(slot.samples) > 2 and now - slot.samples[1][0] >= WINDOW:
                    slot.samples.popleft()
                found = slot.measured(now)
                if found is not None:
                    slot.peak = max(slot.peak, found)
                    self.learned.pop(slot.kind, None)
                    self.learned[slot.kind] = slot.peak
                    if len(self.learned) > _KINDS:
                        del self.learned[next(iter(self.learned))]
            self._cond.notify_all()

    def _start_sampler(self) -> None:
        if self.probe is None or self.interval <= 0 or self._sampler is not None:
            return
        self._sampler = threading.Thread(
            target=self._sample_loop, name="kubeline-admission", daemon=True
        )
        self._sampler.start()

    def _sample_loop(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._cond:
                if not self._slots and not self._queue:
                    self._sampler = None
                    return
            self.sample()


class RunAdmission:
    """One run's way in: the process's controller, or ``workers`` slots of its own (the
    ``--workers`` pin). ``on_note`` hears the decisions worth an event."""

    def __init__(
        self,
        controller: AdmissionController,
        workers: int | None = None,
        on_note: Callable[[AdmissionNote], None] | None = None,
    ) -> None:
        self.controller = controller
        self.workers = workers
        self.on_note = on_note
        self._pinned = threading.Semaphore(workers) if workers else None
        self._lock = threading.Lock()
        self._waiting_told = False  # the last note said "waits": say it again only after
        # a task started beyond the cores

    @property
    def capacity(self) -> int:
        """Tasks of this run that may run at once."""
        return self.workers or self.controller.cap

    def enter(self, task_path: str, stop: threading.Event, kind: str = "") -> Slot | None:
        """Wait for this task's turn; None once ``stop`` is set. ``kind`` names what the
        task runs (see :class:`Slot`)."""
        if self._pinned is not None:
            while not self._pinned.acquire(timeout=0.1):
                if stop.is_set():
                    return None
            if stop.is_set():
                self._pinned.release()
                return None
            return _PinnedSlot(self.controller.track(kind), self._pinned)

        def waits(running: int, cpu: float) -> None:
            self._note(AdmissionNote(task_path, False, running, self.controller.cores, cpu))

        slot = self.controller.enter(stop, waits, kind)
        if slot is not None:
            running, cpu = self.controller.in_use()
            if running > self.controller.cores:  # this one is beyond the core count
                cpu -= slot.demand(slot.started)  # what the others use
                note = AdmissionNote(task_path, True, running - 1, self.controller.cores, cpu)
                self._note(note)
        return slot

    def _note(self, note: AdmissionNote) -> None:
        with self._lock:
            if not note.admitted and self._waiting_told:
                return
            self._waiting_told = not note.admitted
        if self.on_note is not None:
            with contextlib.suppress(Exception):  # a broken listener must not stop tasks
                self.on_note(note)

    def wake(self) -> None:
        self.controller.wake()


class _PinnedSlot(Slot):
    """A pinned run's slot: gives its place back to the run as well."""

    def __init__(self, tracked: Slot, pinned: threading.Semaphore) -> None:
        super().__init__(tracked._controller, tracked.started, tracked.kind)
        self._tracked = tracked
        self._pinned = pinned

    def attach(self, pid: int) -> None:
        self._tracked.attach(pid)

    def attach_meter(self, meter: Callable[[], float | None]) -> None:
        self._tracked.attach_meter(meter)

    def release(self) -> None:
        if not self._tracked.released:
            self._tracked.release()
            self._pinned.release()


_process_admission: AdmissionController | None = None
_process_lock = threading.Lock()


def process_admission() -> AdmissionController:
    """The controller of this process, made on first use."""
    global _process_admission
    with _process_lock:
        if _process_admission is None:
            _process_admission = AdmissionController(probe=default_probe())
        return _process_admission
