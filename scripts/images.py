"""kubeline's container image, built by ``python3 tasks.py image``, and the Docker engine the
tests need, started by ``python3 tasks.py docker start``.

Standard library only: tasks.py imports this before anything is installed.

The Dockerfile builds ``FROM python:3.11-slim-bookworm`` and stays that way for users. Where
that base cannot be pulled (no route to Docker Hub, as on the project's CI machines), a
*stand-in* is built from Debian's own packages: ``debootstrap`` makes a bookworm root with
Debian's Python 3.11 in a virtual environment on PATH, ``docker import`` turns it into an
image, and that image is tagged ``python:3.11-slim-bookworm`` in the local engine only, so
the unchanged Dockerfile builds on it. It is a test device: it carries the label
``org.kubeline.stand-in``, kubeline's image built on it says ``org.kubeline.base=stand-in``,
and an official base found locally is never replaced.

Both builds are incremental: each image carries a digest of its inputs in a label, and is
built again only when that digest changes (``--force`` rebuilds all the same).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "python:3.11-slim-bookworm"
STAND_IN = "kubeline-stand-in/python:3.11-slim-bookworm"
STAND_IN_LABEL = "org.kubeline.stand-in"
INPUTS_LABEL = "org.kubeline.inputs"
BASE_LABEL = "org.kubeline.base"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")

#: What debootstrap puts in the stand-in: what python:3.11-slim-bookworm has (Python 3.11
#: with pip and venv, CA certificates, netbase, tzdata). Changing it rebuilds the stand-in.
STAND_IN_PACKAGES = ("python3", "python3-venv", "ca-certificates", "netbase", "tzdata")
#: The stand-in's Python: a virtual environment of Debian's python3.11, first on PATH, so
#: ``python``, ``python3`` and ``pip`` are there, as in the official image, and pip installs
#: without touching Debian's own packages (PEP 668).
STAND_IN_PYTHON = "/opt/python"
STAND_IN_CHANGES = (
    f"ENV PATH={STAND_IN_PYTHON}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
#: Bumped when the recipe below changes in a way the constants above do not show.
STAND_IN_RECIPE = "3"
DEBIAN_MIRROR = os.environ.get("KUBELINE_DEBIAN_MIRROR", "http://deb.debian.org/debian")

#: What the Dockerfile's build context holds (.dockerignore keeps the rest out): the image's
#: inputs. ``src`` is walked, its caches left out.
IMAGE_INPUTS = (
    "Dockerfile",
    "requirements.txt",
    "requirements-full.txt",
    "pyproject.toml",
    "README.md",
    "src",
)
#: The ``-full`` variant's lock (the Dockerfile's REQUIREMENTS argument): the default image's
#: plus pyarrow (``kubeline[parquet]``), docs/images.md.
FULL_REQUIREMENTS = "requirements-full.txt"
_SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}

DOCKERD_LOG = Path(os.environ.get("KUBELINE_DOCKERD_LOG", "/var/log/kubeline-dockerd.log"))
DOCKERD_PID = Path(os.environ.get("KUBELINE_DOCKERD_PID", "/run/kubeline-dockerd.pid"))
DAEMON_WAIT = 60.0
PULL_WAIT = 60.0

Say = Callable[[str], None]


class UserError(Exception):
    """Something the user must do (start Docker, run as root): exit 2 with the message."""


# -- the docker command -------------------------------------------------------------------


def docker_cli() -> str:
    found = shutil.which("docker")
    if found is None:
        raise UserError(
            "no docker command on PATH: install Docker (Debian: apt-get install docker.io; "
            "as root, `python3 tasks.py docker start` does it and starts the daemon)"
        )
    return found


def _docker(
    *args: str, timeout: float = 60, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [docker_cli(), *args],
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 124, "", f"no answer in {timeout:.0f} s")


def daemon_answers(timeout: float = 10) -> tuple[bool, str]:
    """Whether a Docker daemon answers ``docker info``, and its error when not."""
    done = _docker("info", "--format", "{{.ServerVersion}}", timeout=timeout)
    return done.returncode == 0, (done.stderr or done.stdout).strip()


def require_daemon() -> None:
    ok, error = daemon_answers()
    if not ok:
        first = error.splitlines()[0] if error else "no answer"
        raise UserError(
            f"no Docker daemon answers ({first}). Start one: `sudo systemctl start docker` "
            "(or Docker Desktop); on Linux as root, `python3 tasks.py docker start` installs "
            f"docker.io if needed and starts dockerd in the background (its log: {DOCKERD_LOG})"
        )


def labels(image: str) -> dict[str, str] | None:
    """The image's labels, or None when the local engine has no such image."""
    done = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", image)
    if done.returncode != 0:
        return None
    found = json.loads(done.stdout.strip() or "null")
    return found or {}


def image_id(image: str) -> str | None:
    done = _docker("image", "inspect", "--format", "{{.Id}}", image)
    return done.stdout.strip() if done.returncode == 0 else None


# -- the daemon ---------------------------------------------------------------------------


def start_dockerd(say: Say) -> int | None:
    """Start ``dockerd`` in the background when no daemon answers; the pid of the one started
    (also written to DOCKERD_PID), or None when one already answered.

    Linux as root only; elsewhere the error says how to start Docker there.
    """
    if daemon_answers()[0]:
        return None
    dockerd = shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None
    )
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise UserError(
            "no Docker daemon answers, and only root on Linux may start dockerd here: "
            "`sudo systemctl start docker`, or start Docker Desktop"
        )
    if dockerd is None:
        raise UserError(
            "no dockerd here: apt-get install docker.io (`python3 tasks.py docker start` does)"
        )
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    say(f"starting dockerd in the background (its log: {DOCKERD_LOG})")
    with DOCKERD_LOG.open("ab") as log:
        process = subprocess.Popen(
            [dockerd],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal does not reach it
        )
    DOCKERD_PID.parent.mkdir(parents=True, exist_ok=True)
    DOCKERD_PID.write_text(str(process.pid))
    deadline = time.monotonic() + DAEMON_WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            DOCKERD_PID.unlink(missing_ok=True)
            raise UserError(
                f"dockerd stopped at once (exit {process.returncode}); see {DOCKERD_LOG}"
            )
        if daemon_answers(timeout=5)[0]:
            say(f"dockerd answers (pid {process.pid})")
            return process.pid
        time.sleep(0.5)
    _stop_pid(process.pid)
    DOCKERD_PID.unlink(missing_ok=True)
    raise UserError(f"dockerd did not answer within {DAEMON_WAIT:.0f} s; see {DOCKERD_LOG}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_dockerd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"
    except OSError:
        return False


def _stop_pid(pid: int, grace: float = 20.0) -> None:
    """SIGTERM (dockerd stops its containers and unmounts), then SIGKILL after ``grace``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        if not _alive(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop_dockerd(say: Say) -> bool:
    """Stop the dockerd that ``start_dockerd`` started (by its pid file), and nothing else."""
    try:
        pid = int(DOCKERD_PID.read_text().strip())
    except (OSError, ValueError):
        return False
    DOCKERD_PID.unlink(missing_ok=True)
    if not _alive(pid) or not _is_dockerd(pid):
        return False
    say(f"stopping the dockerd started here (pid {pid})")
    _stop_pid(pid)
    return True


@contextlib.contextmanager
def docker_daemon(say: Say) -> Iterator[bool]:
    """A Docker daemon for the block: the one that answers, or dockerd started for it (and
    stopped after it). Yields False, having said why, when none can be had."""
    try:
        started = start_dockerd(say)
    except UserError as exc:
        say(str(exc))
        yield False
        return
    try:
        yield True
    finally:
        if started is not None:
            stop_dockerd(say)


# -- the stand-in base --------------------------------------------------------------------


def stand_in_digest() -> str:
    """What the stand-in is made of: the recipe, its packages and the CA bundle copied in."""
    h = hashlib.sha256()
    for part in (
        STAND_IN_RECIPE,
        DEBIAN_MIRROR,
        *STAND_IN_PACKAGES,
        STAND_IN_PYTHON,
        *STAND_IN_CHANGES,
    ):
        h.update(part.encode() + b"\0")
    h.update(HOST_CA.read_bytes() if HOST_CA.exists() else b"no CA bundle")
    return "sha256:" + h.hexdigest()


def is_stand_in(image: str) -> bool:
    found = labels(image)
    return found is not None and STAND_IN_LABEL in found


def ensure_stand_in(say: Say, *, force: bool = False) -> None:
    """Build the stand-in when its inputs changed, and tag it as the Dockerfile's base."""
    wanted = stand_in_digest()
    have = labels(STAND_IN) or {}
    if not force and have.get(STAND_IN_LABEL) == wanted:
        say(f"the stand-in base {STAND_IN} is up to date")
    else:
        _build_stand_in(say, wanted)
    base = labels(BASE)
    if base is not None and STAND_IN_LABEL not in base:
        say(f"the official {BASE} is here: it is kept, and the image builds on it")
        return
    if image_id(BASE) != image_id(STAND_IN):
        _check(_docker("tag", STAND_IN, BASE), f"docker tag {STAND_IN} {BASE}")
    say(
        f"{BASE} is, in this Docker engine only, the stand-in built from Debian packages "
        f"(a test device, not the official image; `docker rmi {BASE}` removes the tag)"
    )


def _build_stand_in(say: Say, digest: str) -> None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise UserError("the stand-in base is built with debootstrap, as root on Linux")
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        raise UserError(
            "no debootstrap to build the stand-in base: apt-get install debootstrap "
            "(`python3 tasks.py docker start` installs it)"
        )
    started = time.monotonic()
    say(
        f"building the stand-in base {STAND_IN} with debootstrap "
        f"(bookworm from {DEBIAN_MIRROR}; about a minute)"
    )
    with tempfile.TemporaryDirectory(prefix="kubeline-stand-in-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        try:
            _debootstrap(debootstrap, rootfs, digest)
        finally:
            _unmount_under(rootfs)  # never delete through a /proc or /sys left mounted
    say(f"built the stand-in base in {time.monotonic() - started:.0f} s")


def _unmount_under(rootfs: Path) -> None:
    """Unmount what debootstrap may have left mounted inside the root (it does so when it
    fails or is interrupted), deepest first."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    inside = [m.split()[1] for m in mounts if m.split()[1].startswith(f"{rootfs}/")]
    for point in sorted(inside, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _debootstrap(debootstrap: str, rootfs: Path, digest: str) -> None:
    """The root, finished, then imported as the stand-in image."""
    done = subprocess.run(
        [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(STAND_IN_PACKAGES)}",
            "bookworm",
            str(rootfs),
            DEBIAN_MIRROR,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        log = rootfs / "debootstrap" / "debootstrap.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else done.stderr[-2000:]
        raise RuntimeError(f"debootstrap failed (exit {done.returncode}):\n{tail}")
    _finish_rootfs(rootfs)
    changes = [*STAND_IN_CHANGES, f"LABEL {STAND_IN_LABEL}={digest}"]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    argv = [docker_cli(), "import"]
    for change in changes:
        argv += ["--change", change]
    imported = subprocess.run(
        [*argv, "-", STAND_IN], stdin=tar.stdout, capture_output=True, text=True, check=False
    )
    assert tar.stdout is not None
    tar.stdout.close()
    tar.wait()
    _check(imported, "docker import of the stand-in's root")


def _finish_rootfs(rootfs: Path) -> None:
    """The virtual environment, this machine's CA bundle (pip inside builds reaches the
    package index through it), and no apt caches."""
    done = subprocess.run(
        ["chroot", str(rootfs), "/usr/bin/python3", "-m", "venv", STAND_IN_PYTHON],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python3 -m venv in the stand-in failed:\n{done.stderr[-2000:]}")
    if HOST_CA.exists():
        shutil.copyfile(HOST_CA, rootfs / "etc/ssl/certs/ca-certificates.crt")
    (rootfs / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file():
                entry.unlink()


# -- kubeline's image ---------------------------------------------------------------------


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'(?m)^version\s*=\s*"([^"]+)"', text)
    if found is None:
        raise UserError("pyproject.toml has no version")
    return found.group(1)


def _input_files() -> Iterator[Path]:
    for name in IMAGE_INPUTS:
        path = ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            for found in sorted(path.rglob("*")):
                parts = set(found.relative_to(ROOT).parts)
                if (
                    found.is_file()
                    and not parts & _SKIPPED_PARTS
                    and not any(p.endswith(".egg-info") for p in parts)
                    and found.suffix not in (".pyc", ".pyo")
                ):
                    yield found


def image_digest(base_id: str, build_args: dict[str, str]) -> str:
    """The image's inputs: the build context's files (names and contents), the base image's
    id and the build arguments that shape it."""
    h = hashlib.sha256()
    h.update(base_id.encode() + b"\0")
    for key in sorted(build_args):
        h.update(f"{key}={build_args[key]}\0".encode())
    for path in _input_files():
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + h.hexdigest()


def _pull_base(say: Say) -> bool:
    say(f"pulling {BASE} (at most {PULL_WAIT:.0f} s)")
    done = _docker("pull", "--quiet", BASE, timeout=PULL_WAIT)
    if done.returncode == 0:
        return True
    reason = (done.stderr or done.stdout).strip().splitlines()
    say(f"could not pull {BASE}: {reason[-1] if reason else 'no reason given'}")
    return False


def build_image(
    say: Say,
    *,
    stand_in: bool = False,
    force: bool = False,
    tag: str | None = None,
    quiet: bool = False,
    full: bool = False,
) -> str:
    """Build ``kubeline:<version>`` (with ``full``, ``kubeline:<version>-full``, which adds
    pyarrow) when its inputs changed; returns the tag. ``quiet`` keeps docker build's output
    to its last lines, shown only when it fails (the test command's log)."""
    require_daemon()
    tag = tag or f"kubeline:{version()}{'-full' if full else ''}"
    if stand_in:
        ensure_stand_in(say, force=force)
    elif labels(BASE) is None and not _pull_base(say):
        say(
            "building a stand-in base from Debian packages instead (a test device; "
            "--stand-in-base chooses it without trying the pull)"
        )
        ensure_stand_in(say, force=force)
    base_labels = labels(BASE) or {}
    base_kind = "stand-in" if STAND_IN_LABEL in base_labels else "official"
    base_id = image_id(BASE) or ""
    build_args = {"VERSION": version()}
    if full:
        build_args["REQUIREMENTS"] = FULL_REQUIREMENTS
    digest = image_digest(base_id, build_args)
    have = labels(tag) or {}
    if not force and have.get(INPUTS_LABEL) == digest:
        say(f"{tag} is up to date (inputs {digest[:19]}…, {base_kind} base): nothing to build")
        return tag
    say(f"building {tag} on the {base_kind} {BASE} (docker build --network host)")
    started = time.monotonic()
    argv = [
        docker_cli(),
        "build",
        "--network",
        "host",
        "--tag",
        tag,
        "--label",
        f"{INPUTS_LABEL}={digest}",
        "--label",
        f"{BASE_LABEL}={base_kind}",
    ]
    # The commit as a label on the command line, not the Dockerfile's REVISION argument:
    # labels given here come last, so a new commit does not invalidate the cached layers.
    argv += ["--label", f"org.opencontainers.image.revision={_revision()}"]
    for key, value in build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    before = image_id(tag)
    done = subprocess.run(
        [*argv, str(ROOT)],
        cwd=ROOT,
        check=False,
        text=True,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
    )
    if done.returncode != 0:
        where = f"its output ends:\n{done.stdout[-4000:]}" if quiet else "its output is above"
        raise RuntimeError(f"docker build failed (exit {done.returncode}); {where}")
    say(f"built {tag} in {time.monotonic() - started:.0f} s")
    if before is not None and before != image_id(tag):
        # The previous build of this tag, now untagged: removed unless something still uses
        # it (a container, another tag), so rebuilds do not pile up gigabytes.
        _docker("image", "rm", before)
    return tag


def _revision() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return "unknown"


def _check(done: subprocess.CompletedProcess[str], what: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {done.returncode}): {(done.stderr or '').strip()[-2000:]}"
        )
