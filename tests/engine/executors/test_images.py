"""engine/executors/images.py: the images of a container run, checked before it starts.

Without Docker: image references, the runtime's errors, a runtime that hangs (a stand-in
script). With a real Docker daemon (marker ``docker``; skipped here without one, failing in
CI: tests/requirements.py): images present, absent under ``--pull never``, pulls from a
closed port and from a registry that never answers (bounded by the time limit), and pulls
from a real registry on loopback (Debian's ``docker-registry``), ``missing`` and ``always``.
Every image is a tiny one made here with ``docker import`` (no Docker Hub).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeline.engine.executors import images
from kubeline.engine.executors.images import ImageError, ensure_images, runtime_command
from kubeline.errors import ConfigError, codes_of
from tests.requirements import exempt_reason, need

HOW_DOCKER = "as root on Linux: python3 tasks.py docker start (installs docker.io, starts dockerd)"
HOW_REGISTRY = "Debian: apt-get install docker-registry"
POSIX_ONLY = pytest.mark.skipif(
    os.name != "posix", reason=exempt_reason("Windows", "the stand-in runtime is a sh script")
)
REPO = "kubeline-test-images"


# -- references and options, no runtime needed --------------------------------------------

VALID = [
    "python:3.11-slim-bookworm",
    "kubeline:0.1.0",
    "ubuntu",
    "localhost:5000/team/model:v2",
    "127.0.0.1:5000/x:1",
    "[::1]:5000/x",
    "us-docker.pkg.dev/project/repo/image:tag_1.2-rc",
    "gcr.io/p/img@sha256:" + "a" * 64,
    "gcr.io/p/img:tag@sha256:" + "0" * 64,
    "a__b/c-d.e/f---g",
]
INVALID = [
    "",
    "-v",
    "--help",
    "x;rm -rf /",
    "$(touch /tmp/pwned)",
    "x y",
    "x\n",
    "Python:3",
    "a:b:c",
    "a/",
    "/a",
    "a..b",
    "x:-tag",
    "x:" + "t" * 129,
    "a" * 256,
    "x@sha256:abc",
    "x" * 100_000,
]


@pytest.mark.parametrize("text", VALID)
def test_valid_references_are_accepted(text: str) -> None:
    assert images.is_image_reference(text)


@pytest.mark.parametrize("text", INVALID, ids=lambda text: repr(text)[:40])
def test_invalid_references_are_refused(text: str) -> None:
    assert not images.is_image_reference(text)


def test_a_long_tricky_reference_is_judged_at_once() -> None:
    started = time.monotonic()
    for text in ("a-" * 250 + "!", "a." * 250 + "A/", "a" * 200 + "-" * 200 + "!"):
        assert not images.is_image_reference(text)
    assert time.monotonic() - started < 0.5


def test_invalid_references_are_refused_before_any_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_command(argv: list[str], timeout: float) -> images._Result:
        raise AssertionError(f"ran {argv} for an invalid reference")

    monkeypatch.setattr(images, "_run", no_command)
    with pytest.raises(ImageError) as caught:
        ensure_images(["python:3.11", "x;rm -rf /", "--help"], pull="missing")
    message = str(caught.value)
    assert "not a valid image reference" in message
    assert "'x;rm -rf /'" in message and "'--help'" in message
    assert set(caught.value.failures) == {"x;rm -rf /", "--help"}


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"pull": "sometimes"}, "pull policy"),
        ({"timeout": 0}, "time limit"),
        ({"timeout": float("nan")}, "time limit"),
        ({"runtime": "lxc"}, "runtime"),
    ],
)
def test_bad_options_are_refused(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, object], word: str
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ImageError, match=word):
        ensure_images(["python:3.11"], **options)  # type: ignore[arg-type]  # wrong on purpose


def test_no_images_need_no_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert ensure_images([]) == {}


def test_an_image_error_is_a_user_error_exit_2() -> None:
    error = ImageError("x", {"a:1": "absent"})
    assert isinstance(error, ConfigError)
    assert codes_of(error).exit_code == 2
    assert error.failures == {"a:1": "absent"}


@pytest.mark.parametrize("runtime", ["docker", "podman"])
def test_a_missing_runtime_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runtime: str
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ImageError) as caught:
        runtime_command(runtime)
    message = str(caught.value)
    assert f"no {runtime} command on PATH" in message
    assert "install" in message and "--runner local" in message


def test_a_docker_without_a_daemon_says_how_to_start_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if shutil.which("docker") is None:
        need("the docker command", "not on PATH", HOW_DOCKER)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    started = time.monotonic()
    with pytest.raises(ImageError) as caught:
        ensure_images(["python:3.11"])
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "no Docker daemon answers" in message and "--runner local" in message
    assert "start" in message


def _stand_in_runtime(folder: Path, name: str, body: str) -> Path:
    """A fake runtime command: a sh script answering as ``body`` says."""
    script = folder / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


@POSIX_ONLY
def test_a_runtime_that_hangs_is_stopped_with_what_it_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The script's child sleep holds the output pipe: only killing the whole group frees it.
    _stand_in_runtime(tmp_path, "docker", "sleep 60")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(images, "_DAEMON_TIMEOUT", 1.0)
    started = time.monotonic()
    with pytest.raises(ImageError, match="no answer in 1 s"):
        runtime_command("docker")
    assert time.monotonic() - started < 4


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (gone, or a zombie waiting for its reaper)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rpartition(")")[2].split()[0] == "Z"
    return False


@POSIX_ONLY
def test_ctrl_c_during_a_pull_ends_the_pull_and_what_it_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    _stand_in_runtime(
        tmp_path,
        "docker",
        f'case "$1" in version) echo 20.10;; image) exit 1;; '
        f"pull) sleep 60 & echo $$ $! > {pids}; wait;; esac",
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(KeyboardInterrupt):
            ensure_images(["x/y:1"], pull="missing", timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    script, sleeper = (int(pid) for pid in pids.read_text().split())
    deadline = time.monotonic() + 5
    while not (_gone(script) and _gone(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(script) and _gone(sleeper)


@POSIX_ONLY
def test_podman_goes_the_same_way_and_its_bare_ids_get_their_algorithm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hexid = "ab" * 32
    _stand_in_runtime(
        tmp_path,
        "podman",
        f'case "$1" in version) echo 4.3.1;; image) echo {hexid};; *) exit 3;; esac',
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert ensure_images(["quay.io/x/y:1"], runtime="podman", pull="never") == {
        "quay.io/x/y:1": f"sha256:{hexid}"
    }


# -- a real Docker daemon ------------------------------------------------------------------


@pytest.fixture(scope="module")
def docker() -> str:
    try:
        return runtime_command("docker")
    except ImageError as exc:
        need("a Docker daemon", str(exc), HOW_DOCKER)


@pytest.fixture
def made(docker: str) -> Iterator[list[str]]:
    """Tags and ids of the images a test made; removed afterwards."""
    tags: list[str] = []
    yield tags
    if tags:
        subprocess.run([docker, "rmi", "-f", *tags], capture_output=True, timeout=60, check=False)


def _tiny_image(docker: str, tag: str, made: list[str]) -> str:
    """A one-file image made with ``docker import`` (no registry involved): its id."""
    data = f"kubeline test image {uuid.uuid4()}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    done = subprocess.run(
        [docker, "import", "-", tag], input=buffer.getvalue(), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    image_id = done.stdout.decode().strip()
    assert image_id.startswith("sha256:")
    made += [tag, image_id]  # by id too: a re-pulled image keeps its name without a tag
    return image_id


def _docker(docker: str, *args: str) -> None:
    done = subprocess.run([docker, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unique(name: str) -> str:
    return f"{REPO}/{name}:{uuid.uuid4().hex[:12]}"


@pytest.mark.docker
def test_a_present_image_is_found_with_its_id(docker: str, made: list[str]) -> None:
    tag = _unique("present")
    image_id = _tiny_image(docker, tag, made)
    notes: list[str] = []
    for pull in ("missing", "never"):
        assert ensure_images([tag, tag], pull=pull, on_note=notes.append) == {tag: image_id}
    assert notes == [f"{tag}: present ({image_id})"] * 2


@pytest.mark.docker
def test_absent_images_under_pull_never_are_all_named(docker: str, made: list[str]) -> None:
    present = _unique("present")
    _tiny_image(docker, present, made)
    absent = [_unique("absent"), "kubeline:0.0.0-absent"]
    notes: list[str] = []
    with pytest.raises(ImageError) as caught:
        ensure_images([absent[0], present, absent[1]], pull="never", on_note=notes.append)
    message = str(caught.value)
    assert list(caught.value.failures) == absent
    for image in absent:
        assert image in message
    assert present not in caught.value.failures
    assert "--pull never" in message and "--pull missing" in message
    assert "python3 tasks.py image" in message and "--runner local" in message
    assert not any(note.startswith("pulling") for note in notes)


@pytest.mark.docker
def test_a_pull_from_a_closed_port_fails_at_once(docker: str) -> None:
    image = f"127.0.0.1:{_free_port()}/x:1"
    started = time.monotonic()
    with pytest.raises(ImageError) as caught:
        ensure_images([image], pull="missing", timeout=60)
    assert time.monotonic() - started < 10
    assert image in str(caught.value) and "connection refused" in str(caught.value)


@pytest.mark.docker
def test_a_registry_that_never_answers_is_given_up_after_the_time_limit(docker: str) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the backlog; nothing is ever read
        port = silent.getsockname()[1]
        first, second = f"127.0.0.1:{port}/x:1", f"127.0.0.1:{port}/y:1"
        started = time.monotonic()
        with pytest.raises(ImageError) as caught:
            ensure_images([first, second], pull="missing", timeout=3)
        took = time.monotonic() - started
    assert 2.5 < took < 6, took
    failures = caught.value.failures
    assert "stopped after 3 s" in failures[first]
    assert "not tried" in failures[second]  # the same registry is not waited for twice
    assert first in str(caught.value) and second in str(caught.value)


@pytest.fixture(scope="module")
def registry(docker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real registry on loopback (Debian's docker-registry): its host:port."""
    program = shutil.which("docker-registry")
    if program is None:
        need("docker-registry", "not on PATH", HOW_REGISTRY)
    folder = tmp_path_factory.mktemp("registry")
    port = _free_port()
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: '{folder / 'data'}'}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen([program, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            url = f"http://127.0.0.1:{port}/v2/"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"docker-registry did not start: {(folder / 'registry.log').read_text()}"
                )
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def _pushed(docker: str, registry: str, name: str, made: list[str]) -> tuple[str, str]:
    """A tiny image pushed to ``registry``, its local tag removed: (reference, id)."""
    image = f"{registry}/{_unique(name)}"
    image_id = _tiny_image(docker, image, made)
    _docker(docker, "push", "--quiet", image)
    _docker(docker, "rmi", image)
    return image, image_id


@pytest.mark.docker
def test_an_absent_image_is_pulled_from_a_registry_once(
    docker: str, registry: str, made: list[str]
) -> None:
    image, image_id = _pushed(docker, registry, "pulled", made)
    notes: list[str] = []
    assert ensure_images([image], pull="missing", on_note=notes.append) == {image: image_id}
    assert notes == [f"pulling {image}", f"{image}: pulled ({image_id})"]
    notes.clear()
    assert ensure_images([image], pull="missing", on_note=notes.append) == {image: image_id}
    assert notes == [f"{image}: present ({image_id})"]


@pytest.mark.docker
def test_pull_always_follows_a_moved_tag(docker: str, registry: str, made: list[str]) -> None:
    image, old_id = _pushed(docker, registry, "moved", made)
    assert ensure_images([image], pull="missing") == {image: old_id}
    # The registry's tag moves on to a new image; the local tag stays on the old one.
    new_id = _tiny_image(docker, image, made)
    _docker(docker, "push", "--quiet", image)
    _docker(docker, "tag", old_id, image)
    assert ensure_images([image], pull="missing") == {image: old_id}
    notes: list[str] = []
    assert ensure_images([image], pull="always", on_note=notes.append) == {image: new_id}
    assert notes[0] == f"pulling {image}"


@pytest.mark.docker
def test_pull_always_fails_when_the_registry_lacks_the_image_and_says_a_copy_is_here(
    docker: str, registry: str, made: list[str]
) -> None:
    local = f"{registry}/{_unique('local-only')}"
    _tiny_image(docker, local, made)
    with pytest.raises(ImageError) as caught:
        ensure_images([local], pull="always")
    assert "a local copy exists: --pull missing would use it" in caught.value.failures[local]
