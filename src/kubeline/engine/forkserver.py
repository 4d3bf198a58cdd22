"""A warm parent that forks one child per Python task.

Started once per run as ``python -m kubeline.engine.forkserver MODULE...``: it imports kfp's
executor, says ``ready``, then for each job the engine sends it forks a child that runs the
job and exits; the given modules (numpy, pandas, scikit-learn...) are imported in between,
and a job's own before its fork. A task thus costs a ``fork`` instead of an interpreter
start-up and its imports.

Unlike :mod:`multiprocessing`'s fork server, it never re-imports the caller's ``__main__``,
so a user script that calls :func:`kubeline.run` needs no ``if __name__ == "__main__"``
guard. Where ``os.fork`` does not exist (Windows), the spawned executor runs each job in a
fresh interpreter instead.

Protocol on the server's stdin/stdout, one line each::

    job <id> <n> [<module,...>] [m:<hex mark>]\\n<n bytes: pickled LeafJob>
                                             -> pid <id> <pid>\\n, later done <id> <exit code>\\n
    kill <id> [<signal>]\\n                    -> signals that job's tree (SIGTERM by default)
    kill\\n                                     -> terminates every running tree
    preload <module,...>\\n                     -> imported when nothing else is asked

Each child is a task's leader (:mod:`kubeline.engine.tasktree`): the server is a
child subreaper on Linux, so what a task leaves running comes back to it and is ended
before the task is reported done; when the engine goes away (its pipe closes, even on
kill -9) the server stops every tree, waits the grace period, kills what is left, and exits.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from kubeline.engine.preload import DEFAULT_PRELOAD
from kubeline.engine.taskenv import task_environ
from kubeline.engine.tasktree import (
    MARK,
    TaskTree,
    become_subreaper,
    children,
    descendants,
)

if TYPE_CHECKING:
    from kubeline.engine.leaf import LeafJob

__all__ = ["ForkServerClient", "ForkedTask", "serve"]


def _child(job_bytes: bytes, report: str | None = None, mark: str = "") -> None:
    """In the forked child: run the job, then leave without running the server's code.

    With ``report``, the names of the installed modules the job imported that its parent
    had not are written there, so the parent can import them for the children to come.
    """
    code = 1
    known = frozenset(sys.modules) if report else frozenset()
    if mark:  # inherited by everything the task starts
        os.environ[MARK] = mark
    try:
        from kubeline.engine.executors.program import run_job  # imported by serve()

        code = run_job(pickle.loads(job_bytes))
    except BaseException:  # noqa: BLE001 - a job that cannot be read: exit 1
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        if report:
            with contextlib.suppress(Exception):
                _report_imports(report, known)
        os._exit(code)


def _installed_roots() -> tuple[str, ...]:
    """Where the interpreter's own and installed modules live (not the user's project)."""
    import site

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    with contextlib.suppress(Exception):
        roots.add(site.getuserbase())
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)


def _report_imports(report: str, known: frozenset[str]) -> None:
    """Write the names of the installed modules imported since ``known`` to ``report``.

    Only modules that live in the interpreter's prefixes count: a module of the user's
    own project may change between tasks, so it is never kept warm.
    """
    roots = _installed_roots()
    names = []
    for name in set(sys.modules) - known:
        module = sys.modules.get(name)
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if isinstance(origin, str) and os.path.realpath(origin).startswith(roots):
            names.append(name)
    with open(report, "w", encoding="utf-8") as f:
        f.write("\n".join(sorted(names)))


def _learn(report: str) -> bool:
    """Import the modules a finished child reported; True when any was new here."""
    try:
        with open(report, encoding="utf-8") as f:
            names = f.read().split()
        os.remove(report)
    except OSError:
        return False
    learned = False
    for name in names:  # sorted: a package comes before its modules
        if name in sys.modules:
            continue
        with contextlib.suppress(Exception, SystemExit):
            import_module(name)
            learned = True
    return learned


_REPORTS_ENV = "KUBELINE_FORKSERVER_REPORTS"
_GRACE_ENV = "KUBELINE_FORKSERVER_GRACE"
_MODULE = re.compile(r"[A-Za-z_][\w.]*")

_COMPONENT_HEADER = """
import kfp
from kfp import dsl
from kfp.dsl import *
from typing import *
import kfp.dsl.executor
import kfp.dsl.executor_main
"""


_NOT_MODULES: set[str] = set()  # names that failed to import here: not tried again


def _import(name: str) -> bool:
    """Import ``name`` here (for every child to come); True when it was new."""
    if name in sys.modules or name in _NOT_MODULES:
        return False
    # An import makes objects by the hundred thousand and no garbage to speak of: the
    # collector's passes over them cost ~15% of pandas' and scikit-learn's import time.
    # One collection follows each batch of imports (``_freeze``).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import_module(name)
    except (Exception, SystemExit):  # noqa: BLE001 - ``from x import y``: y may be no module
        _NOT_MODULES.add(name)
        return False
    finally:
        if was_enabled:
            gc.enable()
    return True


def serve(preload: list[str]) -> None:  # pragma: no cover - runs in its own process
    # What a task leaves running when its leader ends is adopted here, not by init, so it
    # can be found and ended (Linux; elsewhere the task's group and marked processes).
    become_subreaper()
    # kfp's executor, and what every lightweight component's module imports at run time:
    # done once here, so no child repeats it (about 20 ms a task otherwise).
    for name in DEFAULT_PRELOAD:
        _import(name)
    with contextlib.suppress(Exception):
        exec(_COMPONENT_HEADER, {})  # a fixed string of imports
    # Unpickling a job imports the job's class and its package: once here, not in every
    # child (30 ms a task otherwise).
    import_module("kubeline.engine.leaf")
    import_module("kubeline.engine.executors.program")
    # Children share the preloaded objects' memory until they write to it; the garbage
    # collector would touch (and so copy) every page, so park the preloaded objects where
    # it never looks, and let short-lived children skip it altogether.
    gc.collect()
    gc.freeze()
    reply = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints must not corrupt the protocol
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the engine decides what stops
    stdin = sys.stdin.buffer.fileno()
    # Children report what they had to import here; the server imports it before its next
    # fork, so a module pandas or scikit-learn loads lazily (its parquet engine, say) is
    # imported once per run instead of once per task.
    # The folder is the client's: it makes it and removes it, even if this process is killed.
    reports = os.environ.get(_REPORTS_ENV) or tempfile.mkdtemp(prefix="kubeline-forkserver-")
    _Server(reply, stdin, wake_r, wake_w, reports, preload).loop()


def _grace() -> float:
    try:
        return max(0.0, float(os.environ.get(_GRACE_ENV, "5")))
    except ValueError:
        return 5.0


class _Server:  # pragma: no cover - runs in its own process
    """The server's loop. It says ``ready`` once kfp's executor is imported; the rest of
    the preload is imported one module at a time while nothing else is asked of it (the
    children run on the other cores meanwhile), and a job's own imports just before its
    fork: the first task waits for its modules only, not for the whole pipeline's."""

    def __init__(
        self, reply: Any, stdin: int, wake_r: int, wake_w: int, reports: str, preload: list[str]
    ) -> None:
        self.reply, self.stdin, self.wake_r, self.wake_w = reply, stdin, wake_r, wake_w
        self.reports = reports
        self.pending = deque(preload)
        self.children: dict[int, str] = {}
        self.trees: dict[int, TaskTree] = {}
        self.buffer = b""
        self.unfrozen = False  # modules imported since the last gc.freeze()
        self.forks = 0
        self.spare: _Spare | None = None

    def loop(self) -> None:
        self._tell(b"ready\n")
        while True:
            idle_work = self.pending or (self.spare is None and self.forks > 0)
            readable, _, _ = select.select(
                [self.stdin, self.wake_r], [], [], 0 if idle_work else None
            )
            if not readable:
                if self.pending:
                    self.unfrozen |= _import(self.pending.popleft())
                    if not self.pending:
                        self._freeze()
                else:
                    self._fork_spare()
                continue
            if self.wake_r in readable:
                os.read(self.wake_r, 4096)
            self._reap()
            if self.stdin in readable and not self._read():
                return

    def _tell(self, line: bytes) -> None:
        """Reply to the engine; once it is gone (a broken pipe: it was killed) there is
        nobody to tell, and the shutdown that follows must still end every tree."""
        with contextlib.suppress(OSError, ValueError):
            self.reply.write(line)

    def _leaders(self) -> set[int]:
        return set(self.children)

    def _freeze(self) -> None:
        if self.unfrozen:
            gc.collect()
            gc.freeze()  # the new modules too are shared with children, not copied
            self.unfrozen = False

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            job_id = self.children.pop(pid, None)
            tree = self.trees.pop(pid, None)
            if job_id is None or tree is None:
                continue  # an orphan a task left, adopted here: reaped
            tree.end(self._reap_adopted)  # the task is its whole tree
            code = os.waitstatus_to_exitcode(status)
            self._tell(f"done {job_id} {code}\n".encode())
            if _learn(os.path.join(self.reports, str(pid))):
                self.unfrozen = True
                self._freeze()
                if self.spare is not None:  # forked without what was just learned
                    self.spare.discard()
                    self.spare = None

    def _reap_adopted(self) -> None:
        """Reap ended orphans, never a task's leader (its exit code is the task's)."""
        for pid in children(os.getpid()):
            if pid not in self.children:
                with contextlib.suppress(OSError):
                    os.waitpid(pid, os.WNOHANG)

    def _signal(self, job_id: str | None, signum: int) -> None:
        for pid, running in list(self.children.items()):
            if job_id is None or running == job_id:
                self.trees[pid].signal(signum)

    def shutdown(self) -> None:
        """The engine went away: stop every tree, give it the grace period, kill the rest."""
        if self.spare is not None:
            self.spare.discard()
            self.spare = None
        self._signal(None, signal.SIGTERM)
        deadline = time.monotonic() + _grace()
        while self.children and time.monotonic() < deadline:
            readable, _, _ = select.select([self.wake_r], [], [], 0.05)
            if readable:  # a child ended (SIGCHLD)
                os.read(self.wake_r, 4096)
            self._reap()
        self._signal(None, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.children and time.monotonic() < deadline:
            time.sleep(0.01)
            self._reap()
        for pid in descendants(os.getpid()):  # orphans without a mark
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self._reap_adopted()

    def _read(self) -> bool:
        """Handle what the engine sent; False once it went away."""
        data = os.read(self.stdin, 1 << 20)
        if not data:  # the engine went away: stop what runs and leave
            self.shutdown()
            return False
        self.buffer += data
        while b"\n" in self.buffer:
            line, rest = self.buffer.split(b"\n", 1)
            words = line.split()
            if words[:1] == [b"kill"]:
                signum = int(words[2]) if len(words) > 2 and words[2].isdigit() else 15
                target = words[1].decode() if len(words) > 1 else None
                self._signal(target, signum)
                self.buffer = rest
                continue
            if words[:1] == [b"preload"] and len(words) == 2:
                # More modules to import when idle, sent once the engine has read the
                # pipeline (the server started before that, to begin its own imports).
                names = words[1].decode("ascii", "replace").split(",")
                self.pending.extend(n for n in names if _MODULE.fullmatch(n))
                self.buffer = rest
                continue
            if words[:1] != [b"job"] or len(words) not in (3, 4, 5) or not words[2].isdigit():
                self.buffer = rest  # not a request this protocol knows: ignore the line
                continue
            size = int(words[2])
            if len(rest) < size:
                break  # wait for the rest of the job
            job_id, payload, self.buffer = words[1].decode(), rest[:size], rest[size:]
            imports, mark = [], ""
            for word in words[3:]:
                if word.startswith(b"m:"):
                    with contextlib.suppress(ValueError):
                        mark = bytes.fromhex(word[2:].decode()).decode("utf-8", "replace")
                else:
                    imports = word.decode().split(",")
            self._fork(job_id, payload, imports, mark)
        return True

    def _fork(self, job_id: str, payload: bytes, imports: list[str], mark: str) -> None:
        self.forks += 1
        spare, self.spare = self.spare, None
        if spare is not None and spare.has(imports):
            pid = spare.give(mark, payload)
        else:
            if spare is not None:
                spare.discard()
            for name in imports:  # what this job needs, before the rest of the preload
                self.unfrozen |= _import(name)
            self._freeze()
            pid = os.fork()
            if pid == 0:
                self._become_child()
                _child(payload, os.path.join(self.reports, str(os.getpid())), mark)
            with contextlib.suppress(OSError):
                os.setpgid(pid, pid)
        self.children[pid] = job_id
        self.trees[pid] = TaskTree(pid, mark or None, self._leaders)
        self._tell(f"pid {job_id} {pid}\n".encode())

    def _become_child(self) -> None:
        """In a newly forked child: leave the server's part of the process behind."""
        # A process group of its own (set on both sides of the fork, whichever runs
        # first), so stopping the task stops the processes it started too.
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        gc.disable()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for fd in (self.wake_r, self.wake_w, self.stdin, self.reply.fileno()):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _fork_spare(self) -> None:
        """Fork the next task's child now, while nothing is asked of the server: forking a
        parent that holds pandas and scikit-learn takes ~8 ms, then off the next task's way."""
        self._freeze()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(write)
            self._become_child()
            mark, payload = _Spare.wait(read)
            _child(payload, os.path.join(self.reports, str(os.getpid())), mark)
        os.close(read)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self.spare = _Spare(pid, write, frozenset(sys.modules))


class _Spare:  # pragma: no cover - runs in the server's process
    """A child forked ahead of its job: it waits on a pipe for the job, and leaves without
    running anything when the pipe closes empty (the server discarded it, or is gone)."""

    def __init__(self, pid: int, pipe: int, modules: frozenset[str]) -> None:
        self.pid, self.pipe, self.modules = pid, pipe, modules

    def has(self, imports: list[str]) -> bool:
        """Whether it was forked with every module the job needs (or that failed here)."""
        return all(n in self.modules or n in _NOT_MODULES for n in imports)

    def give(self, mark: str, payload: bytes) -> int:
        data = mark.encode("utf-8", "replace") + b"\n" + payload
        try:
            with open(self.pipe, "wb", closefd=True) as pipe:
                pipe.write(data)
        except OSError:
            pass  # it died meanwhile: its exit code (from the reap) says so
        return self.pid

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.pipe)  # it reads an empty job and leaves; reaped as an orphan

    @staticmethod
    def wait(read: int) -> tuple[str, bytes]:
        """In the spare: block until the job comes; leave at once if none does."""
        with open(read, "rb", closefd=True) as pipe:
            data = pipe.read()
        if not data:
            os._exit(0)
        mark, _, payload = data.partition(b"\n")
        return mark.decode("utf-8", "replace"), payload


class ForkedTask:
    """One job sent to the fork server: its child's pid once forked, its exit code once done."""

    def __init__(self, client: ForkServerClient, job_id: str) -> None:
        self._client = client
        self.job_id = job_id
        self.pid: int | None = None
        self.code: int | None = None
        self._started = threading.Event()
        self._done = threading.Event()

    def _set_pid(self, pid: int) -> None:
        self.pid = pid
        self._started.set()

    def _set_code(self, code: int) -> None:
        self.code = code
        self._started.set()
        self._done.set()

    def wait_started(self, timeout: float | None = None) -> int | None:
        """The child's pid, once forked (None if it ended first or never started)."""
        self._started.wait(timeout)
        return self.pid

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (< 0: killed by that signal; -9 when the server is gone)."""
        self._done.wait(timeout)
        return self.code

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to this job's child (no-op once it ended)."""
        if not self._done.is_set():
            self._client._send(f"kill {self.job_id} {int(signum)}\n".encode())


class ForkServerClient:
    """The engine's side: start the server, send jobs, get exit codes.

    Starting it does not wait: the server imports its modules while the engine goes on
    with its own start-up; the first job waits for ``ready`` if it comes sooner.
    """

    def __init__(self, preload: list[str], grace: float = 5.0) -> None:
        self._grace = grace
        self._reports = tempfile.mkdtemp(prefix="kubeline-forkserver-")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "kubeline.engine.forkserver", *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # As in KFP's own containers: kfp then skips importing its API client (and the
            # Kubernetes client), which the executor does not need: 0.4 s less start-up.
            env=task_environ(
                {"_KFP_RUNTIME": "true", _REPORTS_ENV: self._reports, _GRACE_ENV: f"{grace:g}"}
            ),
            # Its own session: a Ctrl-C in the terminal reaches the engine, which stops
            # the tasks itself and records that it did.
            start_new_session=True,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin = self._process.stdin
        self._stdout = self._process.stdout
        self._ready = threading.Event()
        self._alive = True
        self._killed = False
        self._lock = threading.Lock()
        self._tasks: dict[str, ForkedTask] = {}
        self._next = 0
        self._reader = threading.Thread(target=self._read, name="kubeline-forkserver", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stdout:
            words = line.split()
            if words[:1] == [b"ready"]:
                self._ready.set()
            elif words[:1] in ([b"pid"], [b"done"]) and len(words) == 3:
                with self._lock:
                    job_id = words[1].decode()
                    task = self._tasks.get(job_id)
                    if words[0] == b"done":
                        self._tasks.pop(job_id, None)
                if task is None:
                    continue
                if words[0] == b"pid":
                    task._set_pid(int(words[2]))
                else:
                    task._set_code(int(words[2]))
        with self._lock:  # the server died: nothing more will finish
            self._alive = False
            tasks = list(self._tasks.values())
            self._tasks.clear()
        for task in tasks:
            task._set_code(-9)
        self._ready.set()

    def _send(self, data: bytes) -> bool:
        with self._lock:
            return self._write(data)

    def _write(self, data: bytes) -> bool:
        try:
            self._stdin.write(data)
            self._stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def preload(self, names: Sequence[str]) -> None:
        """Have the server import ``names`` when it has nothing else to do (a job's own
        imports still come first)."""
        valid = ",".join(n for n in names if _MODULE.fullmatch(n))
        if valid:
            self._send(f"preload {valid}\n".encode())

    def start(self, job: LeafJob) -> ForkedTask:
        """Send ``job`` to be forked; waits for the server to be ready, not for the job."""
        self._ready.wait()
        payload = pickle.dumps(job)
        with self._lock:
            self._next += 1
            task = ForkedTask(self, str(self._next))
            if not self._alive:
                task._set_code(-9)
            elif self._killed:  # canceled while this job waited for the server
                task._set_code(-15)
            else:
                self._tasks[task.job_id] = task
                imports = ",".join(i for i in getattr(job, "imports", []) if _MODULE.fullmatch(i))
                mark = "m:" + str(getattr(job, "task_root", "")).encode().hex()
                words = f"job {task.job_id} {len(payload)} {imports} {mark}".split()
                if not self._write(" ".join(words).encode() + b"\n" + payload):
                    self._tasks.pop(task.job_id, None)
                    task._set_code(-9)
        return task

    def run(self, job: LeafJob) -> int:
        """Run one job in a forked child; its exit code (-9: the server is gone)."""
        code = self.start(job).wait()
        return -9 if code is None else code

    def kill(self) -> None:
        """Terminate every running child, and refuse the jobs sent after."""
        with self._lock:
            self._killed = True
            self._write(b"kill\n")

    def close(self) -> None:
        """Stop the server: at once if it never ran a job (a run answered from the cache
        must not wait for imports nobody needs), else once its children are done."""
        with contextlib.suppress(OSError, ValueError):
            self._stdin.close()
        if self._next == 0:
            self._process.kill()
        try:  # the server may be stopping trees: their grace period, then a kill
            self._process.wait(timeout=self._grace + 10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        shutil.rmtree(self._reports, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    serve(sys.argv[1:])
    # The engine closed our stdin: leave without the interpreter's teardown of what the
    # preload imported (pandas, scikit-learn...), which the engine's close() waits for.
    # Nothing is left to flush: replies go out unbuffered, children wrote their own logs.
    os._exit(0)
