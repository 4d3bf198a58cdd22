"""After ``kubeline run``, the run's page: its real address when a kubeline server of the
run's home answers (a real ``kubeline server`` on a free loopback port), today's hint when
none does; ``--output json`` stays one document either way."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeline.discovery import find_server, record_server
from tests.conftest import run_cli
from tests.live import free_port

TINY = """
from kfp import dsl

@dsl.component(base_image="python:3.11")
def double(x: int) -> int:
    return 2 * x

@dsl.pipeline(name="tiny")
def tiny(x: int = 2) -> int:
    return double(x=x).output
"""


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    return path


@pytest.fixture
def kubeline_server(kubeline_home: Path) -> Iterator[str]:
    """``kubeline server`` of this home on a free port, until the test ends; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "kubeline", "server", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while find_server([url], home=kubeline_home) != url:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the server did not answer in 60 s"
            time.sleep(0.1)
        yield url
    finally:
        if sys.platform == "win32":
            process.terminate()
        else:
            process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _browser_line(stdout: str) -> tuple[str, str]:
    """The run id and the text after ``In a browser:``."""
    run_id = re.search(r"kubeline runs show (\S+)", stdout)
    line = re.search(r"^In a browser:\s+(.+)$", stdout, re.MULTILINE)
    assert run_id and line, stdout
    return run_id.group(1), line.group(1).strip()


def test_a_running_server_of_the_home_gives_the_run_page_address(
    tiny_file: Path, kubeline_home: Path, kubeline_server: str
) -> None:
    proc = run_cli("run", f"{tiny_file}:tiny", home=kubeline_home)
    assert proc.returncode == 0, proc.stderr
    run_id, line = _browser_line(proc.stdout)
    assert line == f"{kubeline_server}/runs/{run_id}"
    with urllib.request.urlopen(line, timeout=30) as page:  # the page is there
        assert page.status == 200
        assert run_id in page.read().decode()

    # Programs get the same one JSON document on stdout as before, and no address.
    proc = run_cli("run", f"{tiny_file}:tiny", "--output", "json", home=kubeline_home)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["state"] == "SUCCEEDED"
    assert kubeline_server not in proc.stdout + proc.stderr


def test_without_a_server_the_hint_says_how_to_start_one(
    tiny_file: Path, kubeline_home: Path
) -> None:
    # A record left by a server that was killed: its port is dead now, so it is not believed.
    record_server(f"http://127.0.0.1:{free_port()}", "0123456789abcdef", home=kubeline_home)
    # kubeline.discovery also asks the default address: a kubeline server a user of this
    # machine runs there would be named, as it is in every command that looks for one.
    default = find_server(home=kubeline_home)

    proc = run_cli("run", f"{tiny_file}:tiny", home=kubeline_home)
    assert proc.returncode == 0, proc.stderr
    run_id, line = _browser_line(proc.stdout)
    if default is None:
        assert line == f"kubeline ui, then open /runs/{run_id}"
    else:
        assert line == f"{default}/runs/{run_id}"
