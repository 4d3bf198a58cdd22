"""A full disk is a clear failure: the run ends FAILED with a message that says so, the CLI
exits 1 without a traceback, and reading the store still works.

The end-to-end tests need a small real disk: a 30 MB tmpfs mounted here (root and a
kernel that lets this container mount). Where mounting is refused they go through
``need`` (a skip locally, a failure in CI).
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import compiler, dsl

from kubeline.engine.diskspace import (
    RESERVE_FILE,
    DiskFullError,
    DiskGuard,
    is_disk_full,
    mentions_disk_full,
)
from kubeline.engine.recorder import Recorder
from tests.conftest import run_cli
from tests.requirements import need


@dsl.component(base_image="python:3.11")
def shout(mb: int):
    """Writes ``mb`` MB to its log."""
    import sys

    line = "x" * (1024 * 1024 - 1) + "\n"
    for _ in range(mb):
        sys.stdout.write(line)
    sys.stdout.flush()


@dsl.pipeline(name="shouting")
def shouting(mb: int = 60):
    shout(mb=mb)


def _mount_tmpfs(where: Path, size_mb: int) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        need("a small tmpfs", "mounting one needs root and mount(8)", "run the tests as root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        need(
            "a small tmpfs",
            f"mount refused: {done.stderr.strip()}",
            "run the tests where mount is allowed (root, CAP_SYS_ADMIN)",
        )


@pytest.fixture
def small_home() -> Iterator[Path]:
    """A 30 MB KUBELINE_HOME on its own tmpfs."""
    where = Path(tempfile.mkdtemp(prefix="kubeline-small-home-"))
    _mount_tmpfs(where, 30)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)
        with contextlib.suppress(OSError):
            where.rmdir()


def _fill(home: Path) -> None:
    """Fill the rest of the disk (big writes, then small ones for the last pages)."""
    (home / RESERVE_FILE).unlink(missing_ok=True)  # nothing left to free
    for name, size in (("filler", 1024 * 1024), ("filler-end", 4096)):
        with contextlib.suppress(OSError), open(home / name, "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * size)


def test_a_task_filling_the_home_disk_fails_the_run_clearly(
    small_home: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "shouting.yaml"
    compiler.Compiler().compile(shouting, str(spec))
    done = run_cli("run", str(spec), home=small_home)
    assert done.returncode == 1, done.stderr
    assert "disk holding KUBELINE_HOME" in done.stderr
    assert "is full" in done.stderr
    assert "Traceback" not in done.stderr and "Unexpected error" not in done.stderr
    shown = run_cli("runs", "show", "last", home=small_home)
    assert shown.returncode == 0, shown.stderr
    assert "FAILED" in shown.stdout
    assert "Traceback" not in shown.stderr


def test_a_run_on_a_full_disk_says_so_and_reads_still_work(
    small_home: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "shouting.yaml"
    compiler.Compiler().compile(shouting, str(spec))
    assert run_cli("run", str(spec), "-p", "mb=1", home=small_home).returncode == 0
    _fill(small_home)
    assert shutil.disk_usage(small_home).free < 64 * 1024
    done = run_cli("run", str(spec), "-p", "mb=1", home=small_home)
    assert done.returncode == 1, done.stderr
    assert "disk holding KUBELINE_HOME" in done.stderr
    assert "Traceback" not in done.stderr and "Unexpected error" not in done.stderr
    listed = run_cli("runs", "list", home=small_home)
    assert listed.returncode == 0, listed.stderr
    assert "SUCCEEDED" in listed.stdout
    shown = run_cli("runs", "show", "last", home=small_home)
    assert shown.returncode == 0, shown.stderr
    assert "SUCCEEDED" in shown.stdout


# ------------------------------------------------------------------ no small disk needed
class _FullOnce:
    """A store section whose first write fails as SQLite's does on a full disk."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            import sqlite3

            import sqlalchemy as sa

            raise sa.exc.OperationalError(
                "UPDATE", {}, sqlite3.OperationalError("database or disk is full")
            )


class _Store:
    def __init__(self, failures: int) -> None:
        self.runs = _FullOnce(failures)


def test_a_store_write_on_a_full_disk_frees_the_reserve_and_is_tried_again(
    tmp_path: Path,
) -> None:
    disk = DiskGuard(tmp_path)
    disk.keep_reserve()
    assert (tmp_path / RESERVE_FILE).is_file()
    store = _Store(failures=1)
    Recorder(store, "r", disk=disk).run_started()  # type: ignore[arg-type]
    assert store.runs.calls == 2
    assert not (tmp_path / RESERVE_FILE).exists()
    assert disk.was_full


def test_a_store_write_that_fails_even_so_is_a_disk_full_error(tmp_path: Path) -> None:
    disk = DiskGuard(tmp_path)
    store = _Store(failures=5)
    with pytest.raises(DiskFullError, match=r"disk holding KUBELINE_HOME .* is full"):
        Recorder(store, "r", disk=disk).run_started()  # type: ignore[arg-type]


def test_full_disks_are_recognised() -> None:
    import errno

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert mentions_disk_full("OSError: [Errno 28] No space left on device")
    assert not is_disk_full(ValueError("nope"))
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = OSError(errno.ENOSPC, "full")
    assert is_disk_full(wrapped)


def test_the_server_starts_on_a_full_disk_and_serves_reads(
    small_home: Path, tmp_path: Path
) -> None:
    import socket
    import sys
    import time
    import urllib.error
    import urllib.request

    spec = tmp_path / "shouting.yaml"
    compiler.Compiler().compile(shouting, str(spec))
    assert run_cli("run", str(spec), "-p", "mb=1", home=small_home).returncode == 0
    _fill(small_home)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KUBELINE_HOME": str(small_home), "NO_COLOR": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "kubeline", "server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        body = ""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/apis/v2beta1/runs"
                with urllib.request.urlopen(url, timeout=5) as answer:
                    body = answer.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert '"state":"SUCCEEDED"' in body.replace(" ", "")
        import json

        spec_data = yaml.safe_load(spec.read_text())
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/apis/v2beta1/runs",
            data=json.dumps({"display_name": "full", "pipeline_spec": spec_data}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        said = refused.value.read().decode()
        assert refused.value.code == 500
        assert "disk holding KUBELINE_HOME" in said and "is full" in said, said
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert "disk" in err and "full" in err, err
    assert "Traceback" not in err


def test_a_run_whose_writes_all_fail_says_the_next_start_fails_it(
    tmp_path: Path, kubeline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubeline.engine.runner import execute_run, record_run
    from kubeline.engine.spec import load_spec
    from kubeline.store import RunStore

    spec_file = tmp_path / "shouting.yaml"
    compiler.Compiler().compile(shouting, str(spec_file))
    with RunStore.for_home(kubeline_home) as store:
        record = record_run(load_spec(spec_file), {"mb": 0}, home=kubeline_home, store=store)
        monkeypatch.setattr(store.runs, "update", _FullOnce(failures=99).update)
        with pytest.raises(DiskFullError, match=r"next kubeline start .* marks it FAILED"):
            execute_run(record, home=kubeline_home, store=store)
