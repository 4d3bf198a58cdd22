"""Kubernetes-only settings in a pipeline: what the local engine reports and ignores.

KFP puts resources (CPU, memory, accelerators) in the container spec, and secrets,
volumes, node selectors, tolerations and the like in the Kubernetes platform spec (the
second YAML document of a compiled pipeline). None of them change what a task computes
on one machine, so they are reported once per run and ignored, as ``kfp.local`` does;
except the ones a task reads (secrets and config maps as variables or files, volumes),
which :func:`local_environment` takes from this machine's environment or refuses, and
:func:`platform_notes` says which is which.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kubeline.engine.spec import PipelineView, pipeline_view
from kubeline.engine.taskenv import SECRET_NAMES

__all__ = ["local_environment", "platform_notes"]

_RESOURCE_WORDS = {
    "cpuLimit": "a CPU limit",
    "cpuRequest": "a CPU request",
    "resourceCpuLimit": "a CPU limit",
    "resourceCpuRequest": "a CPU request",
    "memoryLimit": "a memory limit",
    "memoryRequest": "a memory request",
    "resourceMemoryLimit": "a memory limit",
    "resourceMemoryRequest": "a memory request",
    "accelerator": "an accelerator",
}


_MOUNTS = {
    "secretAsVolume": "a Kubernetes secret",
    "configMapAsVolume": "a Kubernetes config map",
    "pvcMount": "a Kubernetes volume (PVC)",
}
_ENV_SOURCES = {"secretAsEnv": "secret", "configMapAsEnv": "config map"}


def _view(spec: PipelineView | Mapping[str, Any]) -> PipelineView:
    """The pipeline's view (a spec dict is read into one: the callers that hold no view)."""
    return spec if isinstance(spec, PipelineView) else pipeline_view(spec)


def _entries(settings: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The list a Kubernetes setting holds (secrets read, volumes mounted), as mappings;
    leniently empty, as the views read a part a spec leaves out."""
    found = settings.get(key) or []
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, (list, tuple)) else []


#: What a container runner applies (``--cpus``, ``--memory``); the rest it ignores too.
_APPLIED_IN_CONTAINERS = frozenset(
    {"cpuLimit", "resourceCpuLimit", "memoryLimit", "resourceMemoryLimit"}
)


def platform_notes(spec: PipelineView | Mapping[str, Any], in_container: bool = False) -> list[str]:
    """What kubeline does with each executor's Kubernetes-only settings, one line per kind:
    what it ignores, what it reads from this machine's environment, what it refuses.
    ``in_container``: a run with ``--runner docker|podman``, which applies CPU and memory
    limits to each task's container."""
    view = _view(spec)
    notes = []
    for label, executor in view.executors.items():
        applied = _APPLIED_IN_CONTAINERS if in_container else frozenset()
        kept = sorted({_RESOURCE_WORDS.get(k, k) for k in executor.resources if k in applied})
        asked = sorted({_RESOURCE_WORDS.get(k, k) for k in executor.resources if k not in applied})
        if kept:
            notes.append(f"{label}: {', '.join(kept)}, applied to its container")
        if asked:
            where = "in a container here" if in_container else "on this machine"
            notes.append(f"{label}: asks for {', '.join(asked)}; ignored {where}")
    for label, settings in view.kubernetes.items():
        notes.extend(f"{label}: {note}" for note in _settings_notes(settings))
    return notes


def _settings_notes(settings: Mapping[str, Any]) -> list[str]:
    notes = []
    for key, what in _ENV_SOURCES.items():
        names = [
            f"${mapping.get('envVar', '?')}"
            for source in _entries(settings, key)
            for mapping in _entries(source, "keyToEnv")
        ]
        if names:
            notes.append(
                f"the Kubernetes {what} keys it reads as {', '.join(names)} are taken from "
                "the same variables in this machine's environment"
            )
    for key, what in _MOUNTS.items():
        for mount in _entries(settings, key):
            where = mount.get("mountPath", "?")
            if mount.get("optional", False):
                notes.append(f"mounts {what} at {where} (optional): not mounted on this machine")
            else:
                notes.append(
                    f"mounts {what} at {where}, which only a cluster provides: the task is refused"
                )
    ignored = sorted(set(settings) - set(_ENV_SOURCES) - set(_MOUNTS))
    if ignored:
        notes.append(f"Kubernetes settings {', '.join(ignored)} are ignored on this machine")
    return notes


def local_environment(
    spec: PipelineView | Mapping[str, Any], executor_label: str, task: str
) -> dict[str, str]:
    """Environment variables a task reads from Kubernetes secrets or config maps, taken
    from this process's environment; a task that needs what only a cluster has (a
    mounted secret, config map or volume, or a variable that is not set here) is
    refused with a message that says how to run it.

    Raises:
        KubelineError: naming the task, the setting and the fix.
    """
    from kubeline.errors import KubelineError

    settings = _view(spec).kubernetes.get(executor_label) or {}
    env: dict[str, str] = {}
    for key, what in _ENV_SOURCES.items():
        for source in _entries(settings, key):
            for mapping in _entries(source, "keyToEnv"):
                name = mapping.get("envVar", "")
                if name in SECRET_NAMES:
                    raise KubelineError(
                        f"Task '{task}' asks for ${name}, kubeline's own secret, which tasks "
                        "never get: read your secret into another variable name."
                    )
                if name in os.environ:
                    env[name] = os.environ[name]
                elif not source.get("optional", False):
                    raise KubelineError(
                        f"Task '{task}' reads a Kubernetes {what} key "
                        f"'{mapping.get('secretKey') or mapping.get('configMapKey')}' into "
                        f"${name}. kubeline has no Kubernetes {what}s: set {name} in your "
                        "environment to give it a value on this machine, or run the pipeline "
                        "on a cluster."
                    )
    for key, what in _MOUNTS.items():
        for mount in _entries(settings, key):
            if not mount.get("optional", False):
                raise KubelineError(
                    f"Task '{task}' mounts {what} at {mount.get('mountPath', '?')}, which only "
                    "a Kubernetes cluster can provide. Run this pipeline on a cluster "
                    "(see 'kubeline compile') or make the mount optional."
                )
    return env
