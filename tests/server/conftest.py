"""A real kubeline server on a free loopback port, started by the test (uvicorn in a
thread), and clients for it: kfp.Client and httpx."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from kubeline.server import ServerSettings, create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    home: Path
    settings: ServerSettings
    server: uvicorn.Server
    thread: threading.Thread

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


def start_server(home: Path, **options: object) -> LiveServer:
    port = free_port()
    settings = ServerSettings(home=home, port=port, schedule_interval_seconds=0.2, **options)  # type: ignore[arg-type]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # bounded wait for start-up
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the kubeline server did not start")
        time.sleep(0.05)
    return LiveServer(f"http://127.0.0.1:{port}", home, settings, server, thread)


@pytest.fixture
def live_server(kubeline_home: Path) -> Iterator[LiveServer]:
    server = start_server(kubeline_home)
    yield server
    server.stop()


@pytest.fixture
def client(live_server: LiveServer):  # -> kfp.Client
    import kfp

    return kfp.Client(host=live_server.url)
