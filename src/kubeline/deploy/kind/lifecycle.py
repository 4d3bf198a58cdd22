"""Running the plan: ``up`` (checks, create, install KFP, wait until it is Available), the
UI's port-forward, and ``down``. Nothing here prints: progress goes to an ``on_event``
callback as :class:`UpEvent` objects, results are returned.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kubeline.deploy.kind.commands import CommandFailedError, CommandResult, Runner, run_command
from kubeline.deploy.kind.facts import (
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    KFP_NAMESPACE,
    KIND_NODE_IMAGE,
    KIND_RELEASE,
    UI_SERVICE,
)
from kubeline.deploy.kind.plan import Step, UpPlan, context_of, validate_cluster_name
from kubeline.deploy.kind.prerequisites import (
    PortInUseError,
    check_port,
    check_resources,
    docker_info,
    free_disk,
    kind_version,
)
from kubeline.deploy.kind.status import DeploymentsStatus, deployments_status, list_clusters
from kubeline.errors import KubelineError, UserError

__all__ = [
    "POLL_SECONDS",
    "RETRY_PAUSE_SECONDS",
    "ClusterExistsError",
    "DeploymentsTimeoutError",
    "UpEvent",
    "UpResult",
    "cluster_down",
    "cluster_up",
    "port_forward",
]

#: How often ``up`` and ``status`` look at the deployments, and how long ``up`` waits
#: before applying a manifest again (an apply can race CRDs that are not yet established).
POLL_SECONDS = 5.0
RETRY_PAUSE_SECONDS = 10.0


class ClusterExistsError(UserError):
    """``up`` was asked for a cluster name that is already taken."""


class DeploymentsTimeoutError(KubelineError):
    """Some KFP deployments were not Available when the time was up."""

    def __init__(self, status: DeploymentsStatus, timeout: float, context: str):
        self.status = status
        waiting = ", ".join(status.unready) or "none created yet"
        super().__init__(
            f"{len(status.unready)} of {status.total} KFP deployments were not Available after "
            f"{timeout:g} s: {waiting}. See why with 'kubectl --context {context} get pods -n "
            f"{KFP_NAMESPACE}' (Pending: not enough CPU or memory; ImagePullBackOff: an image "
            "cannot be pulled); then run 'kubeline cluster status', or 'up' again after 'down'."
        )


@dataclass(frozen=True)
class UpEvent:
    """Progress of ``up``: a step starts, a line of its output, the deployments polled, or
    a warning found on the way."""

    kind: Literal["step", "output", "deployments", "warning"]
    step: Step | None = None
    index: int = 0
    total: int = 0
    line: str = ""
    deployments: DeploymentsStatus | None = None


@dataclass(frozen=True)
class UpResult:
    """A cluster with KFP whose deployments are all Available."""

    plan: UpPlan
    deployments: DeploymentsStatus
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.plan.name,
            "context": self.plan.context,
            "kfp_version": self.plan.kfp_version,
            "ui_url": self.plan.ui_url,
            "kfp": self.deployments.to_dict(),
            "warnings": self.warnings,
        }


def cluster_up(
    plan: UpPlan,
    runner: Runner = run_command,
    on_event: Callable[[UpEvent], None] | None = None,
    *,
    platform: str = sys.platform,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> UpResult:
    """Run the plan up to the point where KFP is ready, and return.

    The port-forward, the plan's last step when asked for, is left to :func:`port_forward`
    so the caller can say where the UI is before the forward takes the terminal.
    """
    emit = on_event or (lambda event: None)
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        emit(UpEvent("warning", line=message))

    steps = [s for s in plan.steps if s.key != "port-forward"]
    deployments = DeploymentsStatus()
    for index, step in enumerate(steps, start=1):
        emit(UpEvent("step", step, index, len(steps)))
        if step.key == "docker-info":
            info = docker_info(runner, platform)
            root = info.get("DockerRootDir")
            for finding in check_resources(
                info.get("NCPU") or None, info.get("MemTotal") or None, free_disk(root), "Docker"
            ):
                warn(finding.message)
        elif step.key == "kind-version":
            found = kind_version(runner)
            if plan.node_image == KIND_NODE_IMAGE and found and found != KIND_RELEASE:
                warn(
                    f"kind v{found} is installed; the pinned node image was built for kind "
                    f"v{KIND_RELEASE}. If the cluster does not start, install kind "
                    f"v{KIND_RELEASE} or pass --node-image with an image listed in the "
                    f"release notes of kind v{found}."
                )
        elif step.key == "kind-clusters":
            if plan.name in list_clusters(runner):
                raise ClusterExistsError(
                    f"A kind cluster named '{plan.name}' already exists: see it with "
                    f"'kubeline cluster status --name {plan.name}', remove it with "
                    f"'kubeline cluster down --name {plan.name}', or pick another --name."
                )
        elif step.key == "create-cluster":
            plan.config_path.parent.mkdir(parents=True, exist_ok=True)
            plan.config_path.write_text(plan.kind_config, encoding="utf-8")
            _run_step(step, runner, emit, sleep)
        elif step.key == "wait-deployments":
            deployments = _wait_for_deployments(plan, runner, emit, sleep, clock)
        else:
            _run_step(step, runner, emit, sleep)
    return UpResult(plan, deployments, warnings)


def _run_step(
    step: Step, runner: Runner, emit: Callable[[UpEvent], None], sleep: Callable[[float], None]
) -> CommandResult:
    def on_line(line: str) -> None:
        emit(UpEvent("output", step, line=line))

    for attempt in range(step.retries + 1):
        try:
            return runner(step.argv, timeout=step.timeout, on_line=on_line)
        except CommandFailedError:
            if attempt == step.retries:
                raise
            emit(
                UpEvent("output", step, line=f"(failed; trying again in {RETRY_PAUSE_SECONDS:g} s)")
            )
            sleep(RETRY_PAUSE_SECONDS)
    raise AssertionError("unreachable")  # pragma: no cover


def _wait_for_deployments(
    plan: UpPlan,
    runner: Runner,
    emit: Callable[[UpEvent], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> DeploymentsStatus:
    deadline = clock() + plan.timeout
    while True:
        status = deployments_status(plan.name, runner)
        emit(UpEvent("deployments", deployments=status))
        if status.all_ready:
            return status
        if clock() >= deadline:
            raise DeploymentsTimeoutError(status, plan.timeout, plan.context)
        sleep(min(POLL_SECONDS, max(0.0, deadline - clock())))


def port_forward(
    name: str,
    port: int = DEFAULT_PORT,
    runner: Runner = run_command,
    on_line: Callable[[str], None] | None = None,
) -> None:
    """Forward the KFP UI (and its API) to ``http://127.0.0.1:PORT`` until Ctrl-C."""
    finding = check_port(port)
    if finding:
        raise PortInUseError(finding.message)
    argv = (
        "kubectl",
        "--context",
        context_of(name),
        "port-forward",
        "-n",
        KFP_NAMESPACE,
        UI_SERVICE,
        f"{port}:80",
    )
    try:
        runner(argv, timeout=None, on_line=on_line or (lambda line: None))
    except KeyboardInterrupt:
        return  # Ctrl-C is how a port-forward is meant to end


def cluster_down(name: str, runner: Runner = run_command) -> bool:
    """Delete the kind cluster ``name`` and nothing else; False when there was none."""
    name = validate_cluster_name(name)
    if name not in list_clusters(runner):
        return False
    runner(("kind", "delete", "cluster", "--name", name), timeout=DEFAULT_TIMEOUT)
    return True
