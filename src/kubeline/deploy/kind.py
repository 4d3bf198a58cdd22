"""A local kind cluster with standalone Kubeflow Pipelines: checks, the plan, and running it.

``kubeline cluster up`` is a fixed list of commands (:func:`plan_up`), so ``--dry-run`` can
show exactly what would run. Every program (``docker``, ``kind``, ``kubectl``) is started
through :func:`run_command`, so tests stand in for them with fake executables on PATH.
This module never prints: progress goes to an ``on_event`` callback, results are returned.

Facts this module relies on, with their sources:

* KFP 2.x standalone install: ``cluster-scoped-resources``, then wait for the
  ``applications.app.k8s.io`` CRD, then the ``env/platform-agnostic`` overlay, then
  port-forward ``svc/ml-pipeline-ui`` (kubeflow.org, Pipelines > Operator guides >
  Installation). ``env/dev`` is the GCP flavour: its ``proxy-agent`` crash-loops elsewhere
  (kubeflow/pipelines#9546, #9719); ``env/platform-agnostic-pns`` was removed with Argo's
  PNS executor (kubeflow/pipelines#12981).
* inotify limits for kind on Linux: kind's "Known Issues" page, "Pod errors due to too
  many open files".
* The node image: the release notes of kind v0.33.0, which lists the images built for it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from kubeline.errors import ConfigError, KubelineError, UserError

__all__ = [
    "DEFAULT_CLUSTER",
    "DEFAULT_KFP_VERSION",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "INOTIFY_MINIMUMS",
    "KFP_NAMESPACE",
    "KIND_NODE_IMAGE",
    "KIND_RELEASE",
    "ClusterExistsError",
    "ClusterStatus",
    "CommandFailedError",
    "CommandResult",
    "DeploymentsStatus",
    "DeploymentsTimeoutError",
    "DockerNotRunningError",
    "Finding",
    "MissingToolError",
    "PortInUseError",
    "Step",
    "UpEvent",
    "UpPlan",
    "UpResult",
    "check_inotify",
    "check_port",
    "check_resources",
    "check_tools",
    "cluster_down",
    "cluster_status",
    "cluster_up",
    "context_of",
    "deployments_status",
    "docker_info",
    "host_resources",
    "install_hint",
    "kind_config",
    "kind_version",
    "list_clusters",
    "plan_up",
    "port_forward",
    "run_command",
    "validate_cluster_name",
    "validate_kfp_version",
]

DEFAULT_CLUSTER = "kubeline"
DEFAULT_KFP_VERSION = "2.17.0"
DEFAULT_PORT = 8080
#: Seconds for each command, and for every KFP deployment to become Available.
DEFAULT_TIMEOUT = 900
KFP_NAMESPACE = "kubeflow"
KFP_MANIFESTS = "github.com/kubeflow/pipelines/manifests/kustomize"
UI_SERVICE = "svc/ml-pipeline-ui"

#: The kind release :data:`KIND_NODE_IMAGE` was built for. kind supports a node image only
#: with the release that built it, hence the digest (kind v0.33.0 release notes, which
#: list v1.37.0, v1.36.4, v1.35.8 and v1.34.11). 1.35 is one minor behind kind's default:
#: recent for KFP 2.17, not its newest. It needs cgroup v2; on a cgroup v1 host pass
#: ``--node-image`` with the v1.34.11 image of the same notes.
KIND_RELEASE = "0.33.0"
KIND_NODE_IMAGE = (
    "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
)

#: kind's known-issues page: below these, pods fail with "too many open files".
INOTIFY_MINIMUMS = {"max_user_watches": 524288, "max_user_instances": 512}
INOTIFY_DIR = Path("/proc/sys/fs/inotify")
SYSCTL_FILE = "/etc/sysctl.d/99-kubeline-inotify.conf"

#: What KFP standalone runs comfortably on (see docs/guide-kind.md for the sources).
RECOMMENDED_CPUS = 4
RECOMMENDED_MEMORY_GB = 8
#: kind's node image and KFP's images take several GB; pipelines add their artifacts.
RECOMMENDED_FREE_DISK_GB = 20

#: How often ``up`` and ``status`` look at the deployments, and how long ``up`` waits
#: before applying a manifest again (an apply can race CRDs that are not yet established).
POLL_SECONDS = 5.0
RETRY_PAUSE_SECONDS = 10.0
CRD_WAIT = "60s"

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.]+)?")
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?")
_TAIL_LINES = 12

# -- errors -------------------------------------------------------------------------------


class MissingToolError(UserError):
    """docker, kind or kubectl is not installed (or not on PATH)."""


class DockerNotRunningError(UserError):
    """The docker CLI is there but its daemon does not answer."""


class ClusterExistsError(UserError):
    """``up`` was asked for a cluster name that is already taken."""


class PortInUseError(UserError):
    """The port for the UI's port-forward is taken."""


class CommandFailedError(KubelineError):
    """A command exited non-zero or ran out of time; the message names it and its output."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        tail: Sequence[str],
        timeout: float | None = None,
    ):
        self.argv = tuple(argv)
        self.returncode = returncode
        self.tail = list(tail)
        how = (
            f"did not finish within {timeout:g} s"
            if returncode is None and timeout is not None
            else "timed out"
            if returncode is None
            else f"exited with {returncode}"
        )
        lines = "\n".join(f"  {line}" for line in self.tail) or "  (no output)"
        super().__init__(f"`{shlex.join(self.argv)}` {how}. Last lines of its output:\n{lines}")


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


# -- running commands ---------------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    """What a command printed (stdout and stderr merged when streamed) and its exit code."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str = ""

    def tail(self, lines: int = _TAIL_LINES) -> list[str]:
        text = "\n".join(part for part in (self.stdout, self.stderr) if part.strip())
        return [ln.rstrip() for ln in text.strip().splitlines()[-lines:]]


Runner = Callable[..., CommandResult]


def run_command(
    argv: Sequence[str],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    on_line: Callable[[str], None] | None = None,
    check: bool = True,
) -> CommandResult:
    """Run one program: captured, or streamed line by line to ``on_line``.

    Every command kubeline runs for a cluster goes through here, so that one place turns
    a missing program into :class:`MissingToolError` and a failure into
    :class:`CommandFailedError` with the last lines of its output.
    """
    argv = [str(a) for a in argv]
    try:
        if on_line is None:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
            result = CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)
        else:
            result = _run_streamed(argv, timeout, on_line)
    except FileNotFoundError as exc:
        raise MissingToolError(f"{argv[0]} is not on PATH: {install_hint(argv[0])}.") from exc
    except subprocess.TimeoutExpired as exc:
        text = f"{_text(exc.stdout)}\n{_text(exc.stderr)}".strip()
        tail = text.splitlines()[-_TAIL_LINES:]
        raise CommandFailedError(argv, None, tail, timeout) from exc
    if check and result.returncode != 0:
        raise CommandFailedError(argv, result.returncode, result.tail())
    return result


def _text(value: str | bytes | None) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value or ""


def _run_streamed(
    argv: list[str], timeout: float | None, on_line: Callable[[str], None]
) -> CommandResult:
    """Popen with a reader thread: lines reach ``on_line`` as they come, the whole output
    is kept for the result, and the timeout still holds."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            on_line(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        reader.join(timeout=5)
        raise subprocess.TimeoutExpired(argv, timeout or 0, output="\n".join(lines)) from None
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    reader.join(timeout=5)
    return CommandResult(tuple(argv), process.returncode, "\n".join(lines))


# -- prerequisites ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One prerequisite problem, in one line that names the fix."""

    level: Literal["error", "warning"]
    message: str


_HINTS: dict[str, dict[str, str]] = {
    "docker": {
        "linux": "install Docker Engine (https://docs.docker.com/engine/install/), then run "
        "'sudo usermod -aG docker $USER' and log in again",
        "darwin": "install Docker Desktop (https://docs.docker.com/desktop/, or "
        "'brew install --cask docker') and start it",
        "win32": "install Docker Desktop with the WSL 2 backend "
        "(https://docs.docker.com/desktop/) and start it",
    },
    "kind": {
        "linux": f"install it with 'go install sigs.k8s.io/kind@v{KIND_RELEASE}', or copy the "
        f"release binary https://kind.sigs.k8s.io/dl/v{KIND_RELEASE}/kind-linux-amd64 "
        "(kind-linux-arm64 on ARM) to a folder on PATH as 'kind'",
        "darwin": "install it with 'brew install kind'",
        "win32": "install it with 'choco install kind' or 'winget install Kubernetes.kind'",
    },
    "kubectl": {
        "linux": "install it as https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/ "
        "says, or with 'sudo snap install kubectl --classic'",
        "darwin": "install it with 'brew install kubectl'",
        "win32": "install it with 'choco install kubernetes-cli' or "
        "'winget install Kubernetes.kubectl'",
    },
}


def _os(platform: str) -> str:
    if platform.startswith("win"):
        return "win32"
    return "darwin" if platform == "darwin" else "linux"


def install_hint(tool: str, platform: str = sys.platform) -> str:
    """How to install docker, kind or kubectl on this OS (Linux, macOS or Windows)."""
    hints = _HINTS.get(tool)
    return hints[_os(platform)] if hints else f"install {tool} and put it on PATH"


def check_tools(
    which: Callable[[str], str | None] = shutil.which, platform: str = sys.platform
) -> list[Finding]:
    """An error for each of docker, kind and kubectl that is not on PATH."""
    return [
        Finding("error", f"{tool} is not on PATH: {install_hint(tool, platform)}.")
        for tool in ("docker", "kind", "kubectl")
        if which(tool) is None
    ]


def check_inotify(proc_dir: Path | None = None, platform: str = sys.platform) -> list[Finding]:
    """On Linux, a warning when the inotify limits are below what kind recommends.

    Elsewhere kind's node runs in Docker Desktop's VM, whose limits cannot be read from
    here, so nothing is checked.
    """
    if _os(platform) != "linux":
        return []
    proc_dir = INOTIFY_DIR if proc_dir is None else proc_dir
    current: dict[str, int] = {}
    for name in INOTIFY_MINIMUMS:
        try:
            current[name] = int((proc_dir / name).read_text().strip())
        except (OSError, ValueError):
            continue  # not readable (a sandbox, an unusual kernel): nothing to say
    low = {n: v for n, v in current.items() if v < INOTIFY_MINIMUMS[n]}
    if not low:
        return []
    said = ", ".join(
        f"fs.inotify.{n} is {v} (kind needs {INOTIFY_MINIMUMS[n]})" for n, v in low.items()
    )
    raise_now = " ".join(f"fs.inotify.{n}={INOTIFY_MINIMUMS[n]}" for n in low)
    keep = "\\n".join(
        f"fs.inotify.{n} = {max(current.get(n, 0), minimum)}"
        for n, minimum in INOTIFY_MINIMUMS.items()
    )
    return [
        Finding(
            "warning",
            f"{said}, so pods may fail with 'too many open files'. Raise the limits now with "
            f"'sudo sysctl -w {raise_now}', and keep them after a reboot with "
            f"\"printf '{keep}\\n' | sudo tee {SYSCTL_FILE} && sudo sysctl --system\".",
        )
    ]


def host_resources() -> tuple[int | None, int | None]:
    """This machine's CPUs and memory in bytes (None where the OS does not say)."""
    memory = None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        memory = None
    return os.cpu_count(), memory


def check_resources(
    cpus: int | None, memory_bytes: int | None, free_disk_bytes: int | None, where: str
) -> list[Finding]:
    """Warnings when ``where`` (Docker, or this machine) is short of CPU, memory or disk."""
    findings = []
    advice = (
        "raise it in Docker Desktop (Settings > Resources)"
        if "Docker" in where
        else "close other programs or use a bigger machine"
    )
    if cpus is not None and cpus < RECOMMENDED_CPUS:
        findings.append(
            Finding(
                "warning",
                f"{where} has {cpus} CPUs; KFP is comfortable with {RECOMMENDED_CPUS} or more "
                f"(pods may stay Pending): {advice}.",
            )
        )
    # 0.9: a machine sold as 8 GB reports a little less.
    if memory_bytes is not None and memory_bytes < 0.9 * RECOMMENDED_MEMORY_GB * 1024**3:
        findings.append(
            Finding(
                "warning",
                f"{where} has {memory_bytes / 1024**3:.1f} GB of memory; KFP is comfortable "
                f"with {RECOMMENDED_MEMORY_GB} GB or more (pods may stay Pending or be "
                f"evicted): {advice}.",
            )
        )
    if free_disk_bytes is not None and free_disk_bytes < RECOMMENDED_FREE_DISK_GB * 1024**3:
        findings.append(
            Finding(
                "warning",
                f"only {free_disk_bytes / 1024**3:.1f} GB of disk is free for Docker; kind's "
                f"node image, KFP's images and pipeline artifacts want about "
                f"{RECOMMENDED_FREE_DISK_GB} GB: free some with 'docker system prune'.",
            )
        )
    return findings


def _free_disk(path: str | None) -> int | None:
    for candidate in (path, str(Path.home())):
        if candidate and Path(candidate).exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                continue
    return None


def docker_info(runner: Runner = run_command, platform: str = sys.platform) -> dict[str, Any]:
    """``docker info`` as a dict; :class:`DockerNotRunningError` when the daemon is away."""
    argv = DOCKER_INFO
    try:
        result = runner(argv, timeout=60, check=False)
    except CommandFailedError as exc:  # timed out: a daemon that hangs is not running either
        raise DockerNotRunningError(
            f"'docker info' got no answer from the Docker daemon: {_start_docker(platform)}."
        ) from exc
    said = next((ln for ln in reversed(result.tail()) if ln.strip()), "")
    if result.returncode != 0:
        if "permission denied" in said.lower():
            raise DockerNotRunningError(
                f"Docker refused this user ({said.strip()}): run 'sudo usermod -aG docker "
                "$USER', log out and in again, then retry."
            )
        raise DockerNotRunningError(
            f"The Docker daemon is not reachable ({said.strip() or 'no answer'}): "
            f"{_start_docker(platform)}, then retry."
        )
    try:
        info = json.loads(result.stdout)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _start_docker(platform: str) -> str:
    if _os(platform) == "linux":
        return "start it with 'sudo systemctl start docker' (or start Docker Desktop)"
    return "start Docker Desktop and wait until it says it is running"


def kind_version(runner: Runner = run_command) -> str | None:
    """The installed kind's version, e.g. ``0.33.0`` (None if it does not say)."""
    found = re.search(r"v(\d+\.\d+\.\d+)", runner(KIND_VERSION, timeout=60).stdout)
    return found.group(1) if found else None


def check_port(port: int, host: str = "127.0.0.1") -> Finding | None:
    """An error when ``port`` cannot be listened on, as the port-forward would need."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if sys.platform != "win32":  # as kubectl does; on Windows this would allow stealing
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return Finding(
                "error",
                f"Port {port} on {host} is in use ({exc.strerror or exc}): stop what uses it "
                "or pass another --port, e.g. --port 8081.",
            )
    return None


def _listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


# -- the plan -----------------------------------------------------------------------------

DOCKER_INFO = ("docker", "info", "--format", "{{json .}}")
KIND_VERSION = ("kind", "version")
KIND_CLUSTERS = ("kind", "get", "clusters")

StepKey = Literal[
    "docker-info",
    "kind-version",
    "kind-clusters",
    "create-cluster",
    "apply-cluster-scoped",
    "wait-crd",
    "apply-kfp",
    "wait-deployments",
    "port-forward",
]


@dataclass(frozen=True)
class Step:
    """One command of the plan, and why it runs."""

    key: StepKey
    argv: tuple[str, ...]
    purpose: str
    timeout: float | None
    retries: int = 0

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class UpPlan:
    """Everything ``kubeline cluster up`` will do, decided before anything runs."""

    name: str
    kfp_version: str
    port: int
    timeout: float
    node_image: str
    config_path: Path
    kind_config: str
    steps: tuple[Step, ...]

    @property
    def context(self) -> str:
        return context_of(self.name)

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def commands(self) -> list[str]:
        return [step.command for step in self.steps]

    def script(self) -> str:
        """The plan as shell lines, with the kind config written where ``up`` writes it."""
        lines = []
        for step in self.steps:
            if step.key == "create-cluster":
                lines.append(f"cat > {shlex.quote(str(self.config_path))} <<'EOF'")
                lines.extend(self.kind_config.rstrip("\n").splitlines())
                lines.append("EOF")
            lines.append(step.command)
        return "\n".join(lines) + "\n"

    def to_dict(self, warnings: Sequence[str] = ()) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "kind_config": self.kind_config,
            "warnings": list(warnings),
        }


def context_of(name: str) -> str:
    """The kubectl context kind creates for a cluster; every kubectl call names it, so no
    other cluster is ever touched, whatever the current context is."""
    return f"kind-{name}"


def validate_kfp_version(version: str) -> str:
    """A KFP 2.x release such as ``2.17.0``; :class:`ConfigError` otherwise."""
    version = version.strip().removeprefix("v")
    found = _VERSION.fullmatch(version)
    if not found:
        raise ConfigError(
            f"--kfp-version '{version}' is not a KFP release: give one like {DEFAULT_KFP_VERSION} "
            "(the list: https://github.com/kubeflow/pipelines/releases)."
        )
    if found.group(1) != "2":
        raise ConfigError(
            f"--kfp-version {version}: kubeline installs Kubeflow Pipelines 2.x, whose "
            f"manifests it knows; give one like {DEFAULT_KFP_VERSION}."
        )
    return version


def validate_cluster_name(name: str) -> str:
    """A kind cluster name: lowercase letters, digits and '-', at most 50 characters."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"--name '{name}' cannot name a kind cluster: use lowercase letters, digits and "
            "'-', starting and ending with a letter or digit, at most 50 characters "
            f"(e.g. {DEFAULT_CLUSTER})."
        )
    return name


def kind_config(name: str, node_image: str = KIND_NODE_IMAGE) -> str:
    """The kind cluster config ``up`` writes: one node, the pinned image."""
    document = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": name,
        "nodes": [{"role": "control-plane", "image": node_image}],
    }
    header = "# Written by 'kubeline cluster up': one kind node for Kubeflow Pipelines.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


def plan_up(
    name: str = DEFAULT_CLUSTER,
    kfp_version: str = DEFAULT_KFP_VERSION,
    *,
    config_path: Path,
    port: int = DEFAULT_PORT,
    timeout: float = DEFAULT_TIMEOUT,
    node_image: str = KIND_NODE_IMAGE,
    port_forward: bool = True,
) -> UpPlan:
    """The commands of ``kubeline cluster up``, in order (validates name and version)."""
    name = validate_cluster_name(name)
    kfp_version = validate_kfp_version(kfp_version)
    kubectl = ("kubectl", "--context", context_of(name))
    steps = [
        Step("docker-info", DOCKER_INFO, "Check that the Docker daemon answers", 60),
        Step("kind-version", KIND_VERSION, "Check the kind release", 60),
        Step("kind-clusters", KIND_CLUSTERS, f"Check that no cluster is named {name}", 60),
        Step(
            "create-cluster",
            ("kind", "create", "cluster", "--name", name, "--config", str(config_path)),
            f"Create the kind cluster {name}",
            timeout,
        ),
        Step(
            "apply-cluster-scoped",
            (
                *kubectl,
                "apply",
                "-k",
                f"{KFP_MANIFESTS}/cluster-scoped-resources?ref={kfp_version}",
            ),
            f"Install KFP {kfp_version}'s cluster-wide resources (CRDs)",
            timeout,
            retries=2,
        ),
        Step(
            "wait-crd",
            (
                *kubectl,
                "wait",
                "--for",
                "condition=established",
                f"--timeout={CRD_WAIT}",
                "crd/applications.app.k8s.io",
            ),
            "Wait for the Application CRD",
            90,
        ),
        Step(
            "apply-kfp",
            (*kubectl, "apply", "-k", f"{KFP_MANIFESTS}/env/platform-agnostic?ref={kfp_version}"),
            f"Install KFP {kfp_version} (the platform-agnostic overlay)",
            timeout,
            retries=2,
        ),
        Step(
            "wait-deployments",
            (*kubectl, "get", "deployments", "-n", KFP_NAMESPACE, "-o", "json"),
            f"Wait until every deployment in {KFP_NAMESPACE} is Available",
            timeout,
        ),
    ]
    if port_forward:
        steps.append(
            Step(
                "port-forward",
                (*kubectl, "port-forward", "-n", KFP_NAMESPACE, UI_SERVICE, f"{port}:80"),
                f"Forward the KFP UI and API to http://127.0.0.1:{port}",
                None,
            )
        )
    return UpPlan(
        name=name,
        kfp_version=kfp_version,
        port=port,
        timeout=timeout,
        node_image=node_image,
        config_path=config_path,
        kind_config=kind_config(name, node_image),
        steps=tuple(steps),
    )


# -- cluster state ------------------------------------------------------------------------


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
    ready, unready = [], []
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
        name, True, port, deployments, ui_forwarding=_listening(port), other_clusters=others
    )


# -- up, ui, down ---------------------------------------------------------------------------


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
                info.get("NCPU") or None, info.get("MemTotal") or None, _free_disk(root), "Docker"
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
