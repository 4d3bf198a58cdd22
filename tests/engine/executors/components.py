"""Components the executor contract tests run, one set per kind of job, each with the
same behaviours: a lightweight Python component (run by kfp's executor) and a container
component (a command run on the host).

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl

IMAGE = "python:3.11"


# ----------------------------------------------------------------- Python components
@dsl.component(base_image=IMAGE)
def add(a: int, b: int) -> int:
    print("adding on stdout")
    import sys

    print("and a word on stderr", file=sys.stderr)
    return a + b


@dsl.component(base_image=IMAGE)
def fail() -> int:
    raise ValueError("the input is odd")


@dsl.component(base_image=IMAGE)
def fail_user() -> int:
    from kubeline.errors import DataError

    raise DataError("column 'age' is missing")


@dsl.component(base_image=IMAGE)
def die() -> int:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return 0


@dsl.component(base_image=IMAGE)
def wait(seconds: float) -> int:
    import time

    print("waiting", flush=True)
    time.sleep(seconds)
    return 0


@dsl.component(base_image=IMAGE)
def environment(names: str) -> str:
    """The values of the ``,``-separated variables, or ``-`` for one that is not set."""
    import os

    return ",".join(os.environ.get(name, "-") for name in names.split(","))


# --------------------------------------------------------------- container components
@dsl.container_component
def add_command(a: int, b: int, total: dsl.OutputPath(int)):
    return dsl.ContainerSpec(
        image="alpine",
        command=[
            "sh",
            "-c",
            'echo adding on stdout; echo and a word on stderr >&2; echo $(($0 + $1)) > "$2"',
        ],
        args=[a, b, total],
    )


@dsl.container_component
def fail_command():
    return dsl.ContainerSpec(
        image="alpine", command=["sh", "-c", "echo the input is odd >&2; exit 3"]
    )


@dsl.container_component
def die_command():
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", "kill -9 $$"])


@dsl.container_component
def wait_command(seconds: float):
    return dsl.ContainerSpec(
        image="alpine", command=["sh", "-c", 'echo waiting; sleep "$0"'], args=[seconds]
    )


@dsl.container_component
def environment_command(names: str, values: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine",
        command=[
            "sh",
            "-c",
            'out=""; for n in $(echo "$0" | tr , " "); do eval "v=\\${$n:--}"; '
            'out="$out${out:+,}$v"; done; printf %s "$out" > "$1"',
        ],
        args=[names, values],
    )


@dsl.component(base_image=IMAGE)
def warm_import() -> bool:
    """Whether the module this source imports was already imported when the task began."""
    import sys

    warm = "xml.dom.pulldom" in sys.modules
    import xml.dom.pulldom  # noqa: F401

    return warm


@dsl.component(base_image=IMAGE)
def spawn_and_wait(seconds: float) -> int:
    """Starts a process of its own, says its pid, and waits."""
    import subprocess
    import time

    child = subprocess.Popen(["sleep", str(seconds)])
    print(f"child {child.pid}", flush=True)
    time.sleep(seconds)
    return 0


@dsl.container_component
def spawn_and_wait_command(seconds: float):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'sleep "$0" & echo "child $!"; wait'],
        args=[seconds],
    )


# ---------------------------------------------------- what a task leaves running (#14)
@dsl.component(base_image=IMAGE)
def leave_running(stubborn: bool, then_wait: float) -> int:
    """Starts one process in its own group and one in a session of its own (``setsid``,
    as a daemon does), says their pids, then waits ``then_wait`` seconds and ends. With
    ``stubborn``, it and its processes ignore SIGTERM and SIGINT."""
    import signal
    import subprocess
    import sys
    import time

    ignore = "import signal,time; [signal.signal(s, signal.SIG_IGN) for s in (15, 2)]; "
    sleeper = [sys.executable, "-c", ignore + "time.sleep(600)"]
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    in_group = subprocess.Popen(sleeper)
    own_session = subprocess.Popen(sleeper, start_new_session=True)
    print(f"left {in_group.pid} {own_session.pid}", flush=True)
    time.sleep(then_wait)
    return 0


@dsl.container_component
def leave_running_command(stubborn: bool, then_wait: float):
    return dsl.ContainerSpec(
        image="alpine",
        command=[
            "sh",
            "-c",
            'if [ "$0" = true ]; then trap "" TERM INT; fi; '
            "sleep 600 & a=$!; setsid sleep 600 & b=$!; "
            'echo "left $a $b"; sleep "$1"',
        ],
        args=[stubborn, then_wait],
    )
