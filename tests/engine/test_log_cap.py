"""Each task's log has a cap: past it, the middle is cut, the head and the tail kept, and a
line says how much was cut."""

import os
import threading
import time
from pathlib import Path

import pytest
from kfp import compiler, dsl

from kubeline.engine import RunOptions, run_pipeline
from kubeline.engine.executors.logcap import LOG_CAP_ENV, LogCap, log_cap_bytes
from kubeline.engine.spec import load_spec

MB = 1024 * 1024


@dsl.component(base_image="python:3.11")
def numbered(lines: int):
    """Prints ``lines`` numbered lines of about 1 KB."""
    import sys

    pad = "." * 1000
    for i in range(lines):
        sys.stdout.write(f"line {i} {pad}\n")
    sys.stdout.flush()


@dsl.pipeline(name="chatty")
def chatty(lines: int = 6000):
    numbered(lines=lines)


def _lines(n: int) -> bytes:
    return b"".join(b"line %d %s\n" % (i, b"." * 1000) for i in range(n))


def test_a_task_log_over_its_cap_keeps_its_head_and_tail(tmp_path: Path) -> None:
    spec_file = tmp_path / "chatty.yaml"
    compiler.Compiler().compile(chatty, str(spec_file))
    result = run_pipeline(load_spec(spec_file), {"lines": 6000}, options=RunOptions(log_cap_mb=1))
    assert result.state == "SUCCEEDED", result.error
    (task,) = [t for t in result.tasks if t.name == "numbered"]
    assert task.log_path
    log = Path(task.log_path).read_bytes()
    assert len(log) <= 1 * MB + 4096
    assert b"line 0 " in log[: MB // 2]  # the head
    assert b"line 5999 " in log[-4096:]  # the tail
    assert b"MB cut from the middle of this log (cap 1 MB" in log
    assert b"line 3000 " not in log  # the middle


def test_the_cut_keeps_head_tail_and_says_how_much(tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.write_bytes(_lines(10_000))  # about 10 MB
    cap = LogCap(str(log), 2 * MB)
    cap.check()
    data = log.read_bytes()
    assert len(data) <= 2 * MB
    assert data.startswith(b"line 0 ")
    assert data.endswith(_lines(10_000)[-5000:])
    assert b"--- kubeline: " in data and b"MB cut from the middle of this log (cap 2 MB" in data
    # It keeps appending, and a later cut counts everything cut so far.
    with open(log, "ab") as f:
        f.write(_lines(5000))
    cap.check()
    again = log.read_bytes()
    assert len(again) <= 2 * MB
    assert again.count(b"--- kubeline: ") == 1
    assert again.startswith(data[: MB // 2])
    assert cap.cut > 10 * MB


def test_a_writer_keeps_appending_through_cuts(tmp_path: Path) -> None:
    """The task's fd is O_APPEND: after a cut its writes go to the new end."""
    log = tmp_path / "task.log"
    cap = LogCap(str(log), 1 * MB)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    done = threading.Event()

    def write() -> None:
        for i in range(4000):
            os.write(fd, b"w %d %s\n" % (i, b"." * 1000))
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        cap.check()
        time.sleep(0.005)
    writer.join()
    os.close(fd)
    cap.finish()
    data = log.read_bytes()
    assert len(data) <= 1 * MB
    assert data.startswith(b"w 0 ")
    assert data.endswith(b"w 3999 " + b"." * 1000 + b"\n")
    assert b"\0" not in data  # no hole left by a truncation under an appending writer


def test_no_cap_and_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    log.write_bytes(_lines(3000))
    LogCap(str(log), 0).finish()
    assert log.stat().st_size == len(_lines(3000))
    monkeypatch.delenv(LOG_CAP_ENV, raising=False)
    assert log_cap_bytes() == 50 * MB
    monkeypatch.setenv(LOG_CAP_ENV, "0.5")
    assert log_cap_bytes() == MB // 2
    assert log_cap_bytes(2) == 2 * MB
    monkeypatch.setenv(LOG_CAP_ENV, "lots")
    with pytest.raises(ValueError, match=LOG_CAP_ENV):
        log_cap_bytes()


def test_kubeline_run_takes_the_cap_as_a_keyword(tmp_path: Path) -> None:
    import kubeline

    result = kubeline.run(chatty, {"lines": 3000}, log_cap_mb=0.5)
    assert result.state == "SUCCEEDED", result.error
    (task,) = [t for t in result.tasks if t.name == "numbered"]
    log = Path(task.log_path).read_bytes()
    assert len(log) <= MB // 2 + 4096
    assert b"cut from the middle of this log (cap 0.5 MB" in log


def test_kubeline_run_takes_the_cap_as_an_option(tmp_path: Path, kubeline_home: Path) -> None:
    from tests.conftest import run_cli

    spec_file = tmp_path / "chatty.yaml"
    compiler.Compiler().compile(chatty, str(spec_file))
    done = run_cli(
        "run", str(spec_file), "-p", "lines=3000", "--log-cap-mb", "0.5", home=kubeline_home
    )
    assert done.returncode == 0, done.stderr
    (log_file,) = kubeline_home.glob("runs/*/logs/numbered.log")
    log = log_file.read_bytes()
    assert len(log) <= MB // 2 + 4096
    assert b"cut from the middle of this log (cap 0.5 MB" in log
