"""The images a container run needs, checked before anything of the run starts.

A run that would fail at its fifth task because the fifth task's image cannot be pulled
wastes the first four; one that hangs on a registry that never answers wastes the user's
afternoon. So before a ``--runner docker|podman`` run starts, :func:`ensure_images` makes
sure every image is here (present, or pulled per ``--pull``, each pull bounded in time) and
returns each image's id for the cache key: a tag can move, an id cannot.

Docker and Podman are driven through their command line (Podman's is Docker's), never a
shell: an image name is one argument after ``--``, and a name that is not a valid image
reference is refused before any command runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kubeline.errors import ConfigError

__all__ = [
    "PULL_POLICIES",
    "RUNTIMES",
    "ImageError",
    "ensure_images",
    "is_image_reference",
    "runtime_command",
]

#: ``--pull``: ``missing`` pulls an image only when it is absent, ``always`` pulls every
#: image every time (a moved tag is followed), ``never`` uses only what is present.
PULL_POLICIES = ("missing", "always", "never")
#: The container runtimes whose command line this module speaks.
RUNTIMES = ("docker", "podman")

#: How long the daemon has to answer ``version`` or ``image inspect``: a local call, so a
#: daemon that takes longer is stuck, not busy.
_DAEMON_TIMEOUT = 10.0
_INSPECT_TIMEOUT = 30.0
#: Docker's own bound on a repository name (distribution's NameTotalLengthMax); the whole
#: reference adds a tag and a digest. Longer text is refused before the regex sees it.
_MAX_NAME = 255
_MAX_REFERENCE = 512
_MAX_DETAIL = 300
#: What Docker ("No such image") and Podman ("image not known") say of an absent image.
_ABSENT = ("no such image", "image not known")

# Docker's reference grammar (distribution/reference), written out piece by piece:
# name [":" tag] ["@" digest], name = [domain "/"] path-component ["/" path-component]*.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?")

Note = Callable[[str], None]


class ImageError(ConfigError):
    """An image a run needs is neither present nor pullable, or the runtime is missing;
    the message names the image and what to do. A user error: the CLI exits 2.

    ``failures`` maps each image that failed to why (empty when the runtime itself failed).
    """

    def __init__(self, message: str, failures: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.failures: dict[str, str] = dict(failures or {})


def is_image_reference(text: str) -> bool:
    """Whether ``text`` is a valid image reference by Docker's grammar
    (``[registry[:port]/]path[:tag][@algo:hex]``), within Docker's length bounds."""
    if not isinstance(text, str) or not 0 < len(text) <= _MAX_REFERENCE:
        return False
    match = _REFERENCE.fullmatch(text)
    return match is not None and len(match.group("name")) <= _MAX_NAME


def runtime_command(runtime: str = "docker") -> str:
    """The runtime's command (``docker`` or ``podman``) found on PATH, once its daemon has
    answered: a run must not start only to find that no container can."""
    if runtime not in RUNTIMES:
        raise ImageError(
            f"unknown container runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}"
        )
    found = shutil.which(runtime)
    if found is None:
        raise ImageError(f"no {runtime} command on PATH: {_install_hint(runtime)}")
    # Podman has no daemon on Linux (its Server part is empty there): its own version answers.
    field = "{{.Server.Version}}" if runtime == "docker" else "{{.Client.Version}}"
    result = _run([found, "version", "--format", field], _DAEMON_TIMEOUT)
    if result.timed_out or result.code != 0 or not result.stdout.strip():
        why = (
            f"no answer in {_DAEMON_TIMEOUT:.0f} s"
            if result.timed_out
            else _detail(result.stderr or result.stdout) or "no version"
        )
        raise ImageError(f"{runtime} is at {found}, but {_daemon_hint(runtime, why)}")
    return found


def ensure_images(
    images: Iterable[str],
    *,
    runtime: str = "docker",
    pull: str = "missing",
    timeout: float = 300.0,
    on_note: Note | None = None,
) -> dict[str, str]:
    """Make sure every image is here before anything runs, and return image -> image id
    (``sha256:...``), in the order given, each image once.

    ``pull`` is one of :data:`PULL_POLICIES`; each pull is killed after ``timeout`` seconds
    (a registry that never answers must not hang the run), and an image from a registry
    that timed out once is not tried again. Raises :class:`ImageError` naming every image
    that failed and what to do; ``on_note`` hears progress lines ("pulling X", "X: present").
    """
    if pull not in PULL_POLICIES:
        raise ImageError(
            f"unknown pull policy {pull!r}: expected one of {', '.join(PULL_POLICIES)}"
        )
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not (math.isfinite(timeout) and timeout > 0)
    ):
        raise ImageError(
            f"the pull time limit must be a positive number of seconds, not {timeout!r}"
        )
    wanted = list(dict.fromkeys(images))
    bad = [image for image in wanted if not is_image_reference(image)]
    if bad:
        names = ", ".join(repr(image)[:80] for image in bad)
        raise ImageError(
            f"not a valid image reference: {names}; expected [registry[:port]/]name[:tag]"
            "[@sha256:digest] with a lowercase name (e.g. python:3.11-slim-bookworm)",
            {image: "not a valid image reference" for image in bad},
        )
    if not wanted:
        return {}
    checker = _Checker(runtime_command(runtime), runtime, pull, float(timeout), on_note)
    for image in wanted:
        checker.check(image)
    if checker.failures:
        raise ImageError(_failure_message(checker.failures, runtime, pull), checker.failures)
    return checker.ids


@dataclass
class _Result:
    code: int
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass
class _Checker:
    """One ensure_images call's state: ids found, failures, registries that timed out."""

    cli: str
    runtime: str
    pull: str
    timeout: float
    on_note: Note | None
    ids: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    #: Registries whose pull timed out: their other images are not tried (each would hang).
    stuck: set[str] = field(default_factory=set)

    def note(self, line: str) -> None:
        if self.on_note is not None:
            self.on_note(line)

    def check(self, image: str) -> None:
        if self.pull != "always":
            present, why_absent = self.inspect(image)
            if present is not None:
                self.ids[image] = present
                self.note(f"{image}: present ({present})")
                return
            if self.pull == "never":
                self.fail(
                    image, f"not present locally, and --pull never forbids pulling it{why_absent}"
                )
                return
        self.fetch(image)

    def fetch(self, image: str) -> None:
        """Pull ``image`` within the time limit, then read its id."""
        registry = _registry(image)
        if registry in self.stuck:
            self.fail(image, f"not tried: its registry {registry} did not answer a pull before")
            return
        self.note(f"pulling {image}")
        result = _run([self.cli, "pull", "--quiet", "--", image], self.timeout)
        if result.timed_out:
            self.stuck.add(registry)
            why = (
                f"the pull was stopped after {self.timeout:g} s: {registry} did not answer in time"
            )
        elif result.code != 0:
            why = f"the pull failed: {_detail(result.stderr or result.stdout) or 'no message'}"
        else:
            found, why_not = self.inspect(image)
            if found is not None:
                self.ids[image] = found
                self.note(f"{image}: pulled ({found})")
                return
            why = f"pulled, but its id cannot be read{why_not}"
        if self.pull == "always" and self.inspect(image)[0] is not None:
            why += " (a local copy exists: --pull missing would use it)"
        self.fail(image, why)

    def fail(self, image: str, why: str) -> None:
        self.failures[image] = why
        self.note(f"{image}: {why}")

    def inspect(self, image: str) -> tuple[str | None, str]:
        """The local image's id, or None and why not (empty when simply absent, else
        " (the runtime's message)")."""
        result = _run(
            [self.cli, "image", "inspect", "--format", "{{.Id}}", "--", image], _INSPECT_TIMEOUT
        )
        if result.timed_out:
            return None, f" ({self.runtime} did not answer in {_INSPECT_TIMEOUT:.0f} s)"
        lines = result.stdout.split()
        if result.code != 0 or not lines:
            detail = _detail(result.stderr)
            absent = not detail or any(word in detail.lower() for word in _ABSENT)
            return None, "" if absent else f" ({detail})"
        image_id = lines[0]
        # Podman prints the bare hex; Docker prefixes the algorithm. The id is the same.
        return (image_id if ":" in image_id else f"sha256:{image_id}"), ""


def _run(argv: list[str], timeout: float) -> _Result:
    """Run ``argv`` (never through a shell) and kill it, with anything it started, after
    ``timeout`` seconds."""
    posix = os.name == "posix"
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=posix,
        )
    except OSError as exc:
        return _Result(127, "", f"cannot start {argv[0]}: {exc}")
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process, posix)
        try:
            stdout, stderr = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            stdout, stderr = "", ""
        return _Result(-9, stdout or "", stderr or "", timed_out=True)
    except BaseException:
        # Ctrl-C reaches only kubeline (the command has its own session): end the pull too.
        _kill(process, posix)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        raise
    return _Result(process.returncode, stdout, stderr)


def _kill(process: subprocess.Popen[str], posix: bool) -> None:
    """Kill the command and its process group (the CLI may have started helpers)."""
    if posix:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()


def _registry(image: str) -> str:
    """The registry an image is pulled from: its first component when that is a host
    (a dot, a port or ``localhost``, as Docker decides), else Docker Hub."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first
    return "docker.io"


def _is_kubeline(image: str) -> bool:
    """Whether ``image`` is kubeline's own (``kubeline:<version>``), built, never pulled."""
    match = _REFERENCE.fullmatch(image)
    path = match.group("name") if match else image
    for prefix in ("docker.io/", "library/"):
        path = path.removeprefix(prefix)
    return path == "kubeline"


def _failure_message(failures: Mapping[str, str], runtime: str, pull: str) -> str:
    """One message for every image that failed, then what to do, most specific first."""
    count = len(failures)
    head = "an image" if count == 1 else f"{count} images"
    listed = "; ".join(f"{image}: {why}" for image, why in failures.items())
    todo = []
    if any(_is_kubeline(image) for image in failures):
        todo.append("build kubeline's image with `python3 tasks.py image`")
    if pull == "never":
        them = "it" if count == 1 else "them"
        todo.append(f"pull {them} (`{runtime} pull IMAGE`) or run with --pull missing")
    else:
        registries = sorted({_registry(image) for image in failures if not _is_kubeline(image)})
        if registries:
            logins = ", ".join(f"`{runtime} login {name}`" for name in registries)
            todo.append(
                f"check the names and that {', '.join(registries)} can be reached and let you "
                f"in ({logins}), or build or load the images locally"
                + (" and run with --pull missing" if pull == "always" else "")
            )
    todo.append("or run on the host with --runner local")
    return (
        f"{head} this run needs cannot be used with {runtime}, so nothing was started. "
        f"{listed}. To fix: {'; '.join(todo)}."
    )


def _detail(text: str) -> str:
    """The useful line of a runtime's error output, bounded."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    for prefix in ("Error response from daemon: ", "Error: "):
        line = line.removeprefix(prefix)
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."


def _install_hint(runtime: str) -> str:
    if runtime == "podman":
        return (
            "install Podman (https://podman.io/docs/installation; on macOS and Windows then "
            "`podman machine init` and `podman machine start`), or run on the host with "
            "--runner local"
        )
    if sys.platform.startswith("linux"):
        return (
            "install Docker (Debian and Ubuntu: apt-get install docker.io; as root, "
            "`python3 tasks.py docker start` installs it and starts dockerd), or run on the "
            "host with --runner local"
        )
    return (
        "install Docker Desktop (https://docs.docker.com/desktop/) and start it, or run on "
        "the host with --runner local"
    )


def _daemon_hint(runtime: str, why: str) -> str:
    if runtime == "podman":
        return (
            f"it does not answer ({why}): on macOS and Windows start its machine "
            "(`podman machine start`); on Linux check `podman info`; or run on the host with "
            "--runner local"
        )
    if "permission denied" in why.lower():
        return (
            f"its daemon refuses this user ({why}): add the user to the docker group "
            "(`sudo usermod -aG docker $USER`, then log in again) or use rootless Docker; or "
            "run on the host with --runner local"
        )
    if sys.platform.startswith("linux"):
        start = (
            "start dockerd (`sudo systemctl start docker`; as root, `python3 tasks.py docker "
            "start` starts one in the background)"
        )
    else:
        start = "start Docker Desktop"
    return f"no Docker daemon answers ({why}): {start}, or run on the host with --runner local"
