"""The chaos test's pipelines, compiled with the real kfp SDK: small tasks that sleep a
little, write outputs whose content the test can recompute, and leave grandchildren behind
(a ``subprocess.Popen`` child, one in a new session, a host command's background job), so a
kill of the engine finds every kind of task process running.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

IMAGE = "python:3.11"
#: How many times a payload line repeats: outputs of a few tens of kB, so a torn write shows.
REPEAT = 2000
#: How long a grandchild sleeps: past the test's end, so one the engine leaves is seen.
LINGER_SECONDS = 90


def payload(tag: str, label: str) -> str:
    """What a task writes, recomputed by the test from the task's recorded inputs.

    The components spell the same formula out: a component's body runs on its own."""
    return f"{tag}:{label}\n" * REPEAT


@dsl.component(base_image=IMAGE)
def scribe(tag: str, label: str, seconds: float, data: Output[Dataset]) -> str:
    """Sleeps, then writes its payload (a part at a time, so a kill can land mid-write)."""
    import time

    line = f"{tag}:{label}\n"
    time.sleep(seconds / 2)
    with open(data.path, "w") as f:
        for _ in range(4):
            f.write(line * 500)
            f.flush()
            time.sleep(seconds / 8)
    return label


@dsl.component(base_image=IMAGE)
def spawner(
    tag: str, label: str, seconds: float, new_session: bool, linger: int, data: Output[Dataset]
) -> int:
    """Starts a grandchild that outlives this task (in a new session if asked; that one
    also ignores SIGTERM and SIGINT, so only SIGKILL ends it), writes its payload and
    succeeds without waiting for the grandchild."""
    import subprocess
    import sys
    import time

    deaf = "import signal; [signal.signal(s, signal.SIG_IGN) for s in (2, 15)]; "
    code = (deaf if new_session else "") + f"import time; time.sleep({linger})"
    child = subprocess.Popen(
        [sys.executable, "-c", code, data.path],
        start_new_session=new_session,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(seconds)
    with open(data.path, "w") as f:
        f.write(f"{tag}:{label}\n" * 2000)
    return child.pid


@dsl.component(base_image=IMAGE)
def reader(
    tag: str, label: str, seconds: float, source: Input[Dataset], data: Output[Dataset]
) -> int:
    """Reads an upstream artifact (it must be whole), sleeps, writes its own payload."""
    import time

    with open(source.path) as f:
        text = f.read()
    lines = set(text.splitlines())
    if len(lines) != 1 or len(text) % len(text.splitlines()[0] + "\n"):
        raise ValueError(f"a torn upstream artifact: {len(text)} bytes, {len(lines)} lines")
    time.sleep(seconds)
    with open(data.path, "w") as f:
        f.write(f"{tag}:{label}\n" * 2000)
    return len(text)


@dsl.container_component
def host_job(tag: str, label: str, seconds: float, linger: int, data: Output[Dataset]):
    """A host command (sh) that leaves a background sleep behind and writes its payload."""
    return dsl.ContainerSpec(
        image="alpine",
        command=[
            "sh",
            "-c",
            'sleep "$4" </dev/null >/dev/null 2>&1 & sleep "$2"; '
            'i=0; while [ $i -lt 2000 ]; do printf "%s:%s\\n" "$0" "$1"; i=$((i+1)); done > "$3"',
        ],
        args=[tag, label, seconds, data.path, linger],
    )


@dsl.pipeline(name="chaos")
def chaos(tag: str, seconds: float = 1.0, linger: int = LINGER_SECONDS):
    """Two branches of three tasks each, about ``3 * seconds`` long."""
    first = scribe(tag=tag, label="first", seconds=seconds)
    spawn = spawner(tag=tag, label="spawn", seconds=seconds, new_session=False, linger=linger)
    loner = spawner(tag=tag, label="loner", seconds=seconds, new_session=True, linger=linger)
    loner.after(first)
    reader(tag=tag, label="reader", seconds=seconds, source=first.outputs["data"]).after(spawn)
    host_job(tag=tag, label="host", seconds=seconds, linger=linger).after(spawn)
