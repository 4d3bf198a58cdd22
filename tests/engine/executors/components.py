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
