"""A warm parent that forks one child per Python task.

Started once per run as ``python -m kubeline.engine.forkserver MODULE...``: it imports the
given modules (kfp's executor, numpy, pandas, scikit-learn...), says ``ready``, then for each
job the engine sends it forks a child that runs the job and exits. A task thus costs a
``fork`` instead of an interpreter start-up and its imports.

Unlike :mod:`multiprocessing`'s fork server, it never re-imports the caller's ``__main__``,
so a user script that calls :func:`kubeline.run` needs no ``if __name__ == "__main__"``
guard. Where ``os.fork`` does not exist (Windows), :func:`run_once` runs one job in a fresh
interpreter instead.

Protocol on the server's stdin/stdout, one line each::

    job <id> <n>\\n<n bytes: pickled LeafJob>     -> (later) done <id> <exit code>\\n
    kill\\n                                        -> terminates every running child
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import traceback
from importlib import import_module

__all__ = ["run_once", "serve"]


def _child(job_bytes: bytes) -> None:
    """In the forked child: run the job, then leave without running the server's code."""
    code = 1
    try:
        from kubeline.engine.workers import run_python_job

        run_python_job(pickle.loads(job_bytes))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported in the task's log, then exit 1
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(preload: list[str]) -> None:  # pragma: no cover - runs in its own process
    for name in preload:
        with contextlib.suppress(Exception):
            import_module(name)
    from kubeline.engine import workers  # noqa: F401 - warm the child's imports

    reply = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray prints must not corrupt the protocol
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the engine decides what stops
    stdin = sys.stdin.buffer.fileno()
    children: dict[int, str] = {}
    buffer = b""
    reply.write(b"ready\n")
    while True:
        readable, _, _ = select.select([stdin, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            job_id = children.pop(pid, None)
            if job_id is not None:
                reply.write(f"done {job_id} {os.waitstatus_to_exitcode(status)}\n".encode())
        if stdin not in readable:
            continue
        data = os.read(stdin, 1 << 20)
        if not data:  # the engine went away: stop what runs and leave
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            return
        buffer += data
        while b"\n" in buffer:
            line, rest = buffer.split(b"\n", 1)
            words = line.split()
            if words[:1] == [b"kill"]:
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                buffer = rest
                continue
            size = int(words[2])
            if len(rest) < size:
                break  # wait for the rest of the job
            job_id, payload, buffer = words[1].decode(), rest[:size], rest[size:]
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                for fd in (wake_r, wake_w, stdin, reply.fileno()):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _child(payload)
            children[pid] = job_id


def run_once(job_path: str) -> None:  # pragma: no cover - runs in its own process
    """Run the pickled job at ``job_path`` in this (fresh) interpreter."""
    with open(job_path, "rb") as f:
        job_bytes = f.read()
    _child(job_bytes)


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] == ["--once"]:
        run_once(sys.argv[2])
    else:
        serve(sys.argv[1:])
