"""engine/tasktree.py with real processes: how a task's processes are found (from
Linux's /proc, and through psutil as on macOS, both tried here), and the leader script that
runs a host task."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeline.engine import tasktree as tree
from tests.requirements import exempt_reason

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(),
    reason=exempt_reason("macOS and Windows", "compares with Linux /proc"),
)

_STUBBORN = (
    "import signal,time; [signal.signal(s, signal.SIG_IGN) for s in (15, 2)]; time.sleep(600)"
)


@pytest.fixture(params=["proc", "psutil"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Linux's /proc, or psutil as macOS uses it (the same questions, another source)."""
    monkeypatch.setattr(tree, "_LINUX", request.param == "proc")
    return str(request.param)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            process.kill()
        with contextlib.suppress(Exception):
            process.wait(5)


def _eventually(check: object, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]  # a callable, kept loose for the lambdas
            return True
        time.sleep(0.02)
    return bool(check())  # type: ignore[operator]  # as above


def test_descendants_include_a_process_in_a_session_of_its_own(
    backend: str, started: list[subprocess.Popen[bytes]]
) -> None:
    shell = subprocess.Popen(
        ["sh", "-c", "sleep 60 & setsid sleep 60 & echo started; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    started.append(shell)
    assert shell.stdout is not None and shell.stdout.readline() == b"started\n"

    def sessions() -> set[int]:
        found = set()
        for pid in tree.descendants(shell.pid):
            with contextlib.suppress(OSError):  # a command that just ended
                found.add(os.getsid(pid))
        return found

    # One sleep in the shell's session, one in its own (once setsid ran).
    assert _eventually(lambda: len(sessions()) == 2), sessions()
    below = tree.descendants(shell.pid)
    assert set(tree.children(shell.pid)) <= set(below)
    for pid in below:
        os.kill(pid, signal.SIGKILL)


def test_the_mark_is_read_from_the_environment(
    backend: str, started: list[subprocess.Popen[bytes]]
) -> None:
    marked = subprocess.Popen(["sleep", "60"], env={**os.environ, tree.MARK: "/runs/a/task"})
    plain = subprocess.Popen(["sleep", "60"], env={"PATH": os.environ["PATH"]})
    started.extend([marked, plain])
    assert _eventually(lambda: tree.mark_of(marked.pid) == "/runs/a/task")
    assert tree.mark_of(plain.pid) is None


def test_a_zombie_is_not_alive(backend: str, started: list[subprocess.Popen[bytes]]) -> None:
    ended = subprocess.Popen(["true"])
    started.append(ended)
    assert _eventually(lambda: not tree.alive(ended.pid))  # a zombie until waited for
    assert os.waitpid(ended.pid, os.WNOHANG)[0] == ended.pid
    running = subprocess.Popen(["sleep", "60"])
    started.append(running)
    assert tree.alive(running.pid)


def test_end_marked_kills_only_the_dead_runs_processes(
    backend: str, started: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    dead = str(tmp_path / "runs" / "dead") + os.sep
    live = str(tmp_path / "runs" / "dead-not") + os.sep  # shares the prefix, not the folder
    orphan = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, tree.MARK: dead + "task"}, start_new_session=True
    )
    other = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, tree.MARK: live + "task"}, start_new_session=True
    )
    started.extend([orphan, other])
    assert _eventually(lambda: tree.mark_of(orphan.pid) is not None)
    found = tree.end_marked([dead])
    assert orphan.pid in found and other.pid not in found
    assert orphan.wait(10) == -signal.SIGKILL
    assert other.poll() is None


# ------------------------------------------------------------------- the leader script
def _leader(command: list[str], grace: float = 1.0) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        tree.leader_command(command, grace),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.parametrize(("script", "code"), [("exit 3", 3), ("kill -9 $$", -9), ("true", 0)])
def test_the_leader_exits_as_its_command_did(script: str, code: int) -> None:
    leader = _leader(["sh", "-c", script])
    assert leader.wait(timeout=30) == code  # its stdin kept open, as the engine keeps it


def test_a_missing_program_is_named() -> None:
    leader = _leader(["no-such-program-here"])
    assert leader.wait(timeout=30) == 127
    assert leader.stdout is not None
    assert b"cannot start 'no-such-program-here'" in leader.stdout.read()


def test_the_leader_ends_the_tree_when_the_engines_pipe_closes(
    started: list[subprocess.Popen[bytes]],
) -> None:
    leader = _leader(
        ["sh", "-c", f'trap "" TERM; {sys.executable} -c "{_STUBBORN}" & echo "left $!"; wait'],
        grace=0.5,
    )
    started.append(leader)
    assert leader.stdout is not None
    left = int(leader.stdout.readline().split()[1])
    assert tree.alive(left)
    assert leader.stdin is not None
    leader.stdin.close()  # as when the engine is killed
    leader.wait(timeout=15)
    assert _eventually(lambda: not tree.alive(left), 5)


def test_without_a_subreaper_an_orphan_is_found_by_its_mark(
    monkeypatch: pytest.MonkeyPatch, started: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """macOS's way (psutil, no subreaper): the task's leader is gone, its daemon was
    adopted by init, and the mark still finds it."""
    monkeypatch.setattr(tree, "_LINUX", False)
    mark = str(tmp_path / "task")
    shell = subprocess.Popen(
        ["sh", "-c", "setsid sleep 60 & echo $!"],
        env={**os.environ, tree.MARK: mark},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    started.append(shell)
    assert shell.stdout is not None
    orphan = int(shell.stdout.readline())
    shell.wait(10)
    try:
        assert _eventually(lambda: orphan in tree.TaskTree(shell.pid, mark, set).members())
        assert orphan not in tree.TaskTree(shell.pid, mark + "-other", set).members()
    finally:
        with contextlib.suppress(OSError):
            os.kill(orphan, signal.SIGKILL)
