"""Pipelines the container runner tests run (``--runner docker``), in kubeline's own image,
the only one these machines can have without a registry.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from tests.containers import IMAGE


@dsl.component(base_image=IMAGE)
def inside(greeting: str, data: Output[Dataset]) -> str:
    """Where it runs, as JSON: in a container or not, who, HOME, the variables it was given,
    its CPU and memory limits (cgroup v1 or v2); and a Dataset for the next task."""
    import json
    import os

    def read(path: str) -> str:
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return ""

    cpus = None
    v2 = read("/sys/fs/cgroup/cpu.max").split()
    if len(v2) == 2 and v2[0] != "max":
        cpus = int(v2[0]) / int(v2[1])
    quota = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    if quota and int(quota) > 0:
        cpus = int(quota) / int(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
    memory = read("/sys/fs/cgroup/memory.max") or read(
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    )
    with open(data.path, "w") as f:
        f.write(greeting * 3)
    return json.dumps(
        {
            "container": os.path.isdir("/kubeline/runs"),  # the runner's mount
            "uid": os.getuid(),
            "home": os.environ.get("HOME"),
            "color": os.environ.get("COLOR"),
            "token": os.environ.get("KUBELINE_TOKEN"),
            "cpus": cpus,
            "memory": int(memory) if memory.isdigit() else None,
            "data_path": data.path,
        }
    )


@dsl.container_component
def count_bytes(data: Input[Dataset], size: dsl.OutputPath(str)):
    """A container component: its command in the image, reading the upstream Dataset."""
    count = 'wc -c < "$0" | tr -d " \\n" > "$1"'
    return dsl.ContainerSpec(image=IMAGE, command=["sh", "-c", count], args=[data.path, size])


@dsl.pipeline(name="in-containers")
def in_containers(greeting: str = "hi") -> str:
    first = inside(greeting=greeting)
    first.set_env_variable("COLOR", "teal").set_cpu_limit("500m").set_memory_limit("256Mi")
    return count_bytes(data=first.outputs["data"]).output


@dsl.container_component
def sleep_in_container(seconds: int):
    return dsl.ContainerSpec(
        image=IMAGE, command=["sh", "-c", 'trap "" TERM; echo sleeping; sleep "$0"'], args=[seconds]
    )


@dsl.pipeline(name="sleeper-in-container")
def sleeper_in_container(seconds: int = 600):
    sleep_in_container(seconds=seconds).set_caching_options(False)


@dsl.container_component
def absent_image():
    return dsl.ContainerSpec(image="kubeline-absent/nowhere:0", command=["true"])


@dsl.pipeline(name="absent-image")
def absent_image_pipeline():
    absent_image()
