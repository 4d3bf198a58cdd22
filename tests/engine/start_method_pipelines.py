"""A pipeline whose task says how its process was started.

No ``from __future__ import annotations``: KFP reads the real annotation objects.
"""

from kfp import dsl


@dsl.component(base_image="python:3.11")
def whoami() -> str:
    """This process's parent and grandparent, and whether kubeline is imported here (a
    fork of the warm parent has it; a fresh interpreter runs the task program as a plain
    script, on POSIX under the task's leader, whose parent is the engine)."""
    import os
    import sys

    import psutil

    grandparent = psutil.Process(os.getppid()).ppid()
    return f"{os.getppid()}:{grandparent}:{'kubeline' in sys.modules}"


@dsl.pipeline(name="whoami")
def one_task() -> str:
    return whoami().output
