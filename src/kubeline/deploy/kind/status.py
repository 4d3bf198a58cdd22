"""The state of a kind cluster with KFP: whether it exists, which KFP deployments are
Available, whether the UI is forwarded (``kubeline cluster status``, and ``up``'s wait).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubeline.deploy.kind.commands import CommandFailedError, Runner, run_command
from kubeline.deploy.kind.facts import DEFAULT_PORT, KFP_NAMESPACE, KIND_CLUSTERS
from kubeline.deploy.kind.plan import context_of, validate_cluster_name
from kubeline.deploy.kind.prerequisites import is_listening

__all__ = [
    "ClusterStatus",
    "DeploymentsStatus",
    "cluster_status",
    "deployments_status",
    "list_clusters",
]


@dataclass(frozen=True)
class DeploymentsStatus:
    """The KFP deployments: which are Available."""

    ready: tuple[str, ...] = ()
    unready: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(self.ready) + len(self.unready)

    @property
    def all_ready(self) -> bool:
        return self.total > 0 and not self.unready

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": len(self.ready),
            "total": self.total,
            "unready": list(self.unready),
            "all_ready": self.all_ready,
        }


def _available(deployment: dict[str, Any]) -> bool:
    conditions = (deployment.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions)


def deployments_status(name: str, runner: Runner = run_command) -> DeploymentsStatus:
    """Which KFP deployments of cluster ``name`` are Available, as ``kubectl wait
    --for=condition=available`` would judge them."""
    argv = (
        "kubectl",
        "--context",
        context_of(name),
        "get",
        "deployments",
        "-n",
        KFP_NAMESPACE,
        "-o",
        "json",
    )
    result = runner(argv, timeout=60)
    try:
        items = json.loads(result.stdout or "{}").get("items") or []
    except (ValueError, AttributeError) as exc:
        raise CommandFailedError(argv, result.returncode, ["not JSON:", *result.tail(4)]) from exc
    ready: list[str] = []
    unready: list[str] = []
    for item in items:
        name_ = (item.get("metadata") or {}).get("name", "?")
        (ready if _available(item) else unready).append(name_)
    return DeploymentsStatus(tuple(sorted(ready)), tuple(sorted(unready)))


def list_clusters(runner: Runner = run_command) -> list[str]:
    """The kind clusters on this machine (kind says "No kind clusters found." on stderr)."""
    return [
        ln.strip() for ln in runner(KIND_CLUSTERS, timeout=60).stdout.splitlines() if ln.strip()
    ]


@dataclass(frozen=True)
class ClusterStatus:
    """What ``kubeline cluster status`` reports."""

    name: str
    exists: bool
    port: int
    deployments: DeploymentsStatus | None = None
    error: str | None = None
    ui_forwarding: bool = False
    other_clusters: tuple[str, ...] = ()

    @property
    def context(self) -> str:
        return context_of(self.name)

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.name,
            "exists": self.exists,
            "context": self.context,
            "kfp": self.deployments.to_dict() if self.deployments else None,
            "error": self.error,
            "ui_url": self.ui_url,
            "ui_forwarding": self.ui_forwarding,
            "other_clusters": list(self.other_clusters),
        }


def cluster_status(
    name: str, port: int = DEFAULT_PORT, runner: Runner = run_command
) -> ClusterStatus:
    """Does the cluster exist, are KFP's deployments Available, is the UI forwarded."""
    name = validate_cluster_name(name)
    clusters = list_clusters(runner)
    others = tuple(c for c in clusters if c != name)
    if name not in clusters:
        return ClusterStatus(name, False, port, other_clusters=others)
    try:
        deployments = deployments_status(name, runner)
    except CommandFailedError as exc:  # the node is stopped, the API server is not up yet
        tail = exc.tail[-1] if exc.tail else "no output"
        return ClusterStatus(name, True, port, error=tail, other_clusters=others)
    return ClusterStatus(
        name, True, port, deployments, ui_forwarding=is_listening(port), other_clusters=others
    )
