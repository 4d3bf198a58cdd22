"""Running ``docker``, ``kind`` and ``kubectl``: the one door every cluster command goes
through, so a missing program becomes :class:`MissingToolError` (with how to install it on
this OS) and a failure :class:`CommandFailedError` (with the last lines of its output), and
tests stand in for the programs with fake executables on PATH.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubeline.deploy.kind.facts import DEFAULT_TIMEOUT, KIND_RELEASE
from kubeline.errors import KubelineError, UserError

__all__ = [
    "CommandFailedError",
    "CommandResult",
    "MissingToolError",
    "Runner",
    "install_hint",
    "os_family",
    "run_command",
]

_TAIL_LINES = 12


class MissingToolError(UserError):
    """docker, kind or kubectl is not installed (or not on PATH)."""


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


def os_family(platform: str) -> str:
    if platform.startswith("win"):
        return "win32"
    return "darwin" if platform == "darwin" else "linux"


def install_hint(tool: str, platform: str = sys.platform) -> str:
    """How to install docker, kind or kubectl on this OS (Linux, macOS or Windows)."""
    hints = _HINTS.get(tool)
    return hints[os_family(platform)] if hints else f"install {tool} and put it on PATH"
