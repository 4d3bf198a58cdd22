"""A run's view links to its page in ``kubeline ui`` only when a kubeline server answers
(found by its /healthz, never by a port alone)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kubeline.discovery import kubeline_at, record_server
from kubeline.notebook import Result, links
from tests.server.conftest import start_server


@pytest.fixture(autouse=True)
def forget_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "_found", {})


def test_no_server_no_link(result: Result, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "find_server", lambda **kwargs: None)
    assert "open in kubeline ui" not in result._repr_html_()


def test_a_running_server_is_linked(result: Result, kubeline_home: Path) -> None:
    server = start_server(kubeline_home)
    try:
        identity = kubeline_at(server.url)
        assert identity is not None, "the test server does not say it is kubeline"
        record_server(server.url, str(identity["instance"]), home=kubeline_home)
        html = result._repr_html_()
        link = f"{server.url}/runs/{result.run_id}"
        assert f'href="{link}"' in html and "open in kubeline ui" in html
        page = httpx.get(link, timeout=30, follow_redirects=True)
        assert page.status_code == 200 and result.run_id in page.text
    finally:
        server.stop()
