"""Kubernetes-only settings in a pipeline: what the local engine reports and ignores.

KFP puts resources (CPU, memory, accelerators) in the container spec, and secrets,
volumes, node selectors, tolerations and the like in the Kubernetes platform spec (the
second YAML document of a compiled pipeline). None of them change what a task computes
on one machine, so they are reported once per run and ignored, as ``kfp.local`` does.
"""

from __future__ import annotations

from typing import Any

__all__ = ["platform_notes"]

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


def platform_notes(spec: dict[str, Any]) -> list[str]:
    notes = []
    for label, executor in spec.get("deploymentSpec", {}).get("executors", {}).items():
        resources = executor.get("container", {}).get("resources", {})
        asked = sorted({_RESOURCE_WORDS.get(k, k) for k in resources})
        if asked:
            notes.append(f"{label}: asks for {', '.join(asked)}; ignored on this machine")
    platform = spec.get("platformSpec", {}).get("platforms", {}).get("kubernetes", {})
    for label, settings in platform.get("deploymentSpec", {}).get("executors", {}).items():
        if settings:
            notes.append(
                f"{label}: Kubernetes settings {', '.join(sorted(settings))} are "
                "ignored on this machine"
            )
    return notes
