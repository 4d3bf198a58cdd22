"""The admission controller's decisions, fed measured CPU samples and a clock of the
test's own (no processes, no timing)."""

from __future__ import annotations

import threading

import pytest

from kubeline.engine.executors.admission import (
    AdmissionController,
    AdmissionNote,
    RunAdmission,
    Slot,
    decide,
    default_cap,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Probe:
    """Busy seconds per pid, set by the test."""

    def __init__(self) -> None:
        self.busy: dict[int, float] = {}

    def busy_seconds(self, pid: int) -> float | None:
        return self.busy.get(pid)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def probe() -> Probe:
    return Probe()


def controller(clock: Clock, probe: Probe | None, cores: int = 2) -> AdmissionController:
    return AdmissionController(cores=cores, probe=probe, interval=0, clock=clock)


def run_for(
    control: AdmissionController, clock: Clock, probe: Probe, use: dict[int, float], s: float
) -> None:
    """Let ``s`` seconds pass, pid ``p`` using ``use[p]`` cores, sampled every 0.05 s."""
    for _ in range(round(s / 0.05)):
        clock.now += 0.05
        for pid, cores in use.items():
            probe.busy[pid] = probe.busy.get(pid, 0.0) + 0.05 * cores
        control.sample()


def start(control: AdmissionController, pid: int, kind: str = "k") -> Slot | None:
    slot = control.try_enter(kind)
    if slot is not None:
        slot.attach(pid)
    return slot


def test_decide_admits_up_to_the_cores_then_only_while_a_core_is_idle() -> None:
    assert decide([1.0], cores=2, cap=8)
    assert not decide([1.0, 1.0], cores=2, cap=8)
    assert not decide([0.6, 0.6], cores=2, cap=8)
    assert decide([0.1, 0.1, 0.2], cores=2, cap=8)
    assert not decide([0.0] * 8, cores=2, cap=8)  # the cap holds, idle or not


def test_the_cap_is_four_tasks_a_core_at_most_32() -> None:
    assert default_cap(2) == 8
    assert default_cap(16) == 32
    assert default_cap(64) == 64  # never below the core count


def test_waiting_tasks_overlap_once_measured(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    assert start(control, 1) and start(control, 2)
    assert start(control, 3) is None  # new tasks count as whole cores
    run_for(control, clock, probe, {1: 0.02, 2: 0.02}, 0.3)
    # Measured idle: more start, and as the kind is known to wait, up to the cap at once.
    started = [start(control, pid) for pid in range(3, 10)]
    assert all(started[:6]) and started[6] is None
    assert control.in_use()[0] == 8


def test_cpu_bound_tasks_do_not_oversubscribe(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    assert start(control, 1) and start(control, 2)
    run_for(control, clock, probe, {1: 1.0, 2: 1.0}, 1.0)
    assert start(control, 3) is None
    # Half-busy tasks leave one core idle: one more starts, not a fourth.
    run_for(control, clock, probe, {1: 0.45, 2: 0.45}, 1.0)
    assert start(control, 3, kind="new") is not None
    assert start(control, 4, kind="new") is None


def test_a_new_task_counts_as_its_kind_did(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    assert start(control, 1, kind="compute") and start(control, 2, kind="wait")
    run_for(control, clock, probe, {1: 0.95, 2: 0.0}, 0.5)
    assert start(control, 3, kind="wait")  # one core idle, and it will stay idle
    assert start(control, 4, kind="compute")  # still one core idle: this one takes it
    assert start(control, 5, kind="wait") is None  # 0.95 + 0 + 0 + 0.95: none idle


def test_a_task_of_an_unknown_kind_counts_as_a_whole_core(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    assert start(control, 1, kind="wait") and start(control, 2, kind="wait")
    run_for(control, clock, probe, {1: 0.0, 2: 0.0}, 0.5)
    assert start(control, 3, kind="new")
    assert start(control, 4, kind="new")  # 0 + 0 + 1: a core still idle
    assert start(control, 5, kind="wait") is None  # 0 + 0 + 1 + 1


def test_the_first_moments_of_a_task_are_not_measured(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    assert start(control, 1) and start(control, 2)
    run_for(control, clock, probe, {1: 0.0, 2: 0.0}, 0.1)  # still starting: unknown
    assert start(control, 3) is None


def test_without_a_probe_admission_stays_at_the_cores(clock: Clock) -> None:
    control = controller(clock, None)
    assert control.cap == 2
    assert control.try_enter() and control.try_enter()
    assert control.try_enter() is None


def test_a_released_slot_lets_the_next_task_in(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    first = start(control, 1)
    assert first and start(control, 2)
    assert start(control, 3) is None
    first.release()
    first.release()  # twice is harmless
    assert start(control, 3)


def test_a_pinned_run_runs_exactly_its_workers_and_counts_for_the_others(
    clock: Clock, probe: Probe
) -> None:
    control = controller(clock, probe)
    pinned = RunAdmission(control, workers=3)
    assert pinned.capacity == 3
    stop = threading.Event()
    slots = [pinned.enter(f"t{n}", stop) for n in range(3)]
    assert all(slots)
    assert control.in_use()[0] == 3
    assert control.try_enter() is None  # other runs see the pinned run's tasks
    stop.set()
    assert pinned.enter("t3", stop) is None  # its fourth waits, until stopped
    slot = slots[0]
    assert slot is not None
    slot.release()
    assert pinned.enter("t4", threading.Event()) is not None


def test_a_stopped_run_stops_waiting(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    assert start(control, 1) and start(control, 2)
    run = RunAdmission(control)
    stop = threading.Event()
    found: list[Slot | None] = []
    waiter = threading.Thread(target=lambda: found.append(run.enter("late", stop)))
    waiter.start()
    stop.set()
    run.wake()
    waiter.join(timeout=10)
    assert found == [None]


def test_decisions_beyond_the_cores_are_noted_for_the_run(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    notes: list[AdmissionNote] = []
    run = RunAdmission(control, on_note=notes.append)
    stop = threading.Event()
    for pid, path in ((1, "a"), (2, "b")):
        slot = run.enter(path, stop, kind="k")
        assert slot is not None
        slot.attach(pid)
    assert notes == []  # within the cores: nothing to say
    run_for(control, clock, probe, {1: 0.0, 2: 0.0}, 0.3)
    assert run.enter("c", stop, kind="k") is not None
    (note,) = notes
    assert (note.task_path, note.admitted, note.running, note.cores) == ("c", True, 2, 2)
    assert note.cpu_in_use == pytest.approx(0.0)
    assert "started as task 3" in note.message


def test_a_task_waiting_for_the_cpu_is_noted_once(clock: Clock, probe: Probe) -> None:
    control = controller(clock, probe)
    notes: list[AdmissionNote] = []
    run = RunAdmission(control, on_note=notes.append)
    for pid in (1, 2):
        assert start(control, pid)
    stop = threading.Event()
    found: list[Slot | None] = []
    waiter = threading.Thread(target=lambda: found.append(run.enter("held", stop)))
    waiter.start()
    for _ in range(200):
        if notes:
            break
        threading.Event().wait(0.01)
    stop.set()
    run.wake()
    waiter.join(timeout=10)
    assert found == [None]
    assert [(n.task_path, n.admitted, n.running) for n in notes] == [("held", False, 2)]
    assert "waits for the CPU" in notes[0].message
