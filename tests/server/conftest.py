"""A real kubeline server on a free loopback port, started by the test (uvicorn in a
thread), and clients for it: kfp.Client and httpx.

A module whose servers should run on every database says
``pytestmark = pytest.mark.usefixtures("database")``: its tests run on SQLite and on a
PostgreSQL database of their own (marker ``postgres``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from kubeline.server import ServerSettings, create_app
from tests.live import free_port, serve_in_thread


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
    url, server, thread = serve_in_thread(create_app(settings), port)
    return LiveServer(url, home, settings, server, thread)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, kubeline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """The store of the test's servers and CLI runs: the SQLite file in the test's home
    (``None``), or a fresh PostgreSQL database as ``$KUBELINE_DATABASE_URL``, which the
    app factory resolves and ``kubeline`` subprocesses inherit, as a user would set it.
    Request it before ``live_server`` (``usefixtures`` or the first argument)."""
    if request.param == "sqlite":
        yield None
        return
    url = str(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv("KUBELINE_DATABASE_URL", url)
    yield url
    # A server started before this fixture (it must come first) fell back to SQLite.
    assert not (kubeline_home / "kubeline.db").exists(), "a store opened without the URL"


@pytest.fixture
def live_server(kubeline_home: Path) -> Iterator[LiveServer]:
    server = start_server(kubeline_home)
    yield server
    server.stop()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.http() as client:
        yield client


@pytest.fixture
def client(live_server: LiveServer):  # -> kfp.Client
    import kfp

    return kfp.Client(host=live_server.url)
