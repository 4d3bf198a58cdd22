"""Finding a running kubeline server by asking it: a real server is found, anything else
listening on a port is not taken for one, and a dead port costs nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from kubeline import discovery
from kubeline.discovery import find_server, forget_server, kubeline_at, record_server
from kubeline.server import ServerSettings, create_app
from kubeline.version import __version__
from tests.live import free_port, serve_in_thread


@pytest.fixture(autouse=True)
def _no_default_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default address points at a dead port: a kubeline server that a user of this
    machine runs on 8740 must not make these tests pass or fail."""
    monkeypatch.setattr(discovery, "DEFAULT_URL", f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def kubeline_server(kubeline_home: Path) -> Iterator[tuple[str, ServerSettings]]:
    settings = ServerSettings(home=kubeline_home, port=free_port())
    url, server, thread = serve_in_thread(create_app(settings), settings.port)
    yield url, settings
    server.should_exit = True
    thread.join(timeout=60)


class _Other(BaseHTTPRequestHandler):
    """An HTTP server that is not kubeline: Jupyter's, or anyone's, on a port."""

    body = b'{"status": "ok", "multi_user": false}'
    delay = 0.0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        for byte in self.body:  # a byte at a time when ``delay`` says so
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(self.delay)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[tuple[str, type[_Other]]]:
    handler = type("Handler", (_Other,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_health_says_kubeline_and_keeps_kfp_fields(
    kubeline_server: tuple[str, ServerSettings],
) -> None:
    url, settings = kubeline_server
    for path in ("/healthz", "/apis/v2beta1/healthz"):
        reply = httpx.get(url + path, timeout=30)
        assert reply.status_code == 200
        assert reply.json() == {
            "multi_user": False,
            "pipeline_store": "database",
            "kubeline": {"version": __version__, "instance": settings.instance},
        }


def test_a_real_server_is_found(
    kubeline_server: tuple[str, ServerSettings], tmp_path: Path
) -> None:
    url, settings = kubeline_server
    assert find_server([url + "/"], home=tmp_path) == url
    assert kubeline_at(url) == {"version": __version__, "instance": settings.instance}


def test_a_recorded_server_is_found_and_a_stale_record_is_not(
    kubeline_server: tuple[str, ServerSettings], tmp_path: Path
) -> None:
    url, settings = kubeline_server
    record = record_server(url, settings.instance, home=tmp_path)
    assert record is not None
    assert json.loads(record.read_text())["url"] == url
    assert find_server(home=tmp_path) == url
    # A record whose server was killed, and another kubeline server now on its port.
    stale = record_server(url, "0123456789abcdef", home=tmp_path)
    assert stale is not None
    assert find_server(home=tmp_path) is None
    assert find_server([url], home=tmp_path) == url  # asked for by name: any kubeline
    forget_server(stale, settings.instance)  # not this instance's record: kept
    assert stale.exists()
    forget_server(stale, "0123456789abcdef")
    assert not stale.exists()


def test_broken_records_are_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "servers"
    folder.mkdir()
    (folder / "1.json").write_text("not json")
    (folder / "2.json").write_text('["a list"]')
    (folder / "3.json").write_text('{"url": "file:///etc/passwd", "instance": "x"}')
    (folder / "4.json").write_text('{"url": "http://127.0.0.1:99999", "instance": "x"}')
    assert find_server(home=tmp_path) is None


def test_a_non_kubeline_server_is_not_taken_for_kubeline(
    other_server: tuple[str, type[_Other]], tmp_path: Path
) -> None:
    url, handler = other_server
    assert find_server([url], home=tmp_path) is None
    # Something that claims to be kubeline but answers too much is not believed either.
    handler.body = json.dumps({"kubeline": {"version": "x"}, "pad": "x" * 20000}).encode()
    assert kubeline_at(url) is None
    handler.body = json.dumps({"kubeline": {"version": "1"}}).encode()
    assert kubeline_at(url) == {"version": "1"}


def test_a_slow_server_costs_no_more_than_the_timeout(
    other_server: tuple[str, type[_Other]],
) -> None:
    url, handler = other_server
    handler.body = json.dumps({"kubeline": {"version": "1"}}).encode()
    handler.delay = 0.05  # each byte well within a socket timeout, the whole reply not
    started = time.monotonic()
    assert kubeline_at(url, timeout=0.3) is None
    assert time.monotonic() - started < 1.5


def test_a_dead_port_returns_nothing_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    assert find_server([f"http://127.0.0.1:{free_port()}"], home=tmp_path) is None
    assert time.monotonic() - started < 1.0
    assert kubeline_at("not a url") is None
    assert kubeline_at("ftp://127.0.0.1:21") is None


@pytest.mark.skipif(sys.platform == "win32", reason="stops the server with SIGINT")
def test_kubeline_server_records_itself_and_removes_the_record_on_exit(
    kubeline_home: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "kubeline", "server", "--port", str(port)]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    try:
        deadline = time.monotonic() + 60
        while find_server(home=kubeline_home) != url:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the server did not answer in 60 s"
            time.sleep(0.1)
        assert (kubeline_home / "servers" / f"{port}.json").is_file()
        # A second server on the same port says who holds it.
        taken = subprocess.run(
            command, capture_output=True, text=True, timeout=60, env=os.environ.copy()
        )
        assert taken.returncode == 2
        assert f"A kubeline server already answers at {url}" in " ".join(taken.stderr.split())
        # `kubeline submit` without --host names the server that answers.
        hostless = subprocess.run(
            [sys.executable, "-m", "kubeline", "submit", "lifecycle"],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ.copy(),
        )
        assert hostless.returncode == 2
        assert f"a kubeline server answers at {url}" in " ".join(hostless.stderr.split())
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert not (kubeline_home / "servers" / f"{port}.json").exists()


def test_a_link_into_a_home_asks_only_that_homes_servers(
    kubeline_server: tuple[str, ServerSettings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server at the default address may keep another home's runs: a run's link (the CLI's
    'In a browser:' line, a notebook's) never points there."""
    url, _ = kubeline_server
    monkeypatch.setattr(discovery, "DEFAULT_URL", url)
    assert find_server(home=tmp_path) == url  # anyone looking for a server finds it
    assert find_server(home=tmp_path, default=False) is None


def test_a_home_that_cannot_take_the_record_does_not_stop_the_server(tmp_path: Path) -> None:
    blocked = tmp_path / "home"
    blocked.write_text("a file where the home's folder would be", encoding="utf-8")
    assert record_server("http://127.0.0.1:1", "0123456789abcdef", home=blocked) is None
    forget_server(None, "0123456789abcdef")  # nothing to forget, no error
