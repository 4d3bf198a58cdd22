"""Fixtures for the end-to-end browser tests: Debian's Chromium driven by Playwright, a real
kubeline server per test, and a page that fails its test on any browser error.

Playwright is imported only inside the fixtures, so the other tests of this folder (charts,
graph, previews) run where it is not installed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.requirements import need
from tests.server.conftest import LiveServer, start_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "docs" / "images" / "ui"
CHROMIUM = Path(os.environ.get("KUBELINE_CHROMIUM", "/usr/bin/chromium"))
VIEWPORT = {"width": 1280, "height": 800}
INSTALL_HINT = (
    "install Playwright for Python (`.venv/bin/pip install playwright`, no browser download "
    "needed) and Debian's Chromium (`apt-get install chromium`), or point KUBELINE_CHROMIUM "
    "at a Chromium binary"
)
FINAL = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")


def _playwright_missing() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return ""


def _chromium_missing() -> str:
    return "" if CHROMIUM.is_file() else f"no Chromium at {CHROMIUM}"


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    reason = _playwright_missing() or _chromium_missing()
    return f"{reason}: {INSTALL_HINT}" if reason else ""


def need_playwright() -> None:
    """At a browser test module's top level (it imports Playwright): skip the module where
    Playwright is not installed, or fail in CI. Chromium is the ``browser`` fixture's to
    check, test by test."""
    reason = _playwright_missing()
    if reason:
        need("Playwright", reason, INSTALL_HINT, module=True)


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is started, and later tests' asyncio.run() would find it there.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole session (start-up is the slow part); tests get fresh
    contexts."""
    reason = _playwright_missing() or _chromium_missing()
    if reason:
        need("Chromium", reason, INSTALL_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def web_server(kubeline_home: Path) -> Iterator[LiveServer]:
    """A real server on loopback over this test's own KUBELINE_HOME."""
    server = start_server(kubeline_home)
    yield server
    server.stop()


@dataclass
class BrowserProblems:
    """Everything that went wrong in the browser during one test.

    A response of 4xx or 5xx makes Chromium log "Failed to load resource" as a console error;
    a test that provokes one on purpose (a 404 page, a refused upload) says so with
    :meth:`allow`, so that only the errors it expects are forgiven.
    """

    origin: str
    problems: list[str] = field(default_factory=list)
    allowed: list[tuple[int, str]] = field(default_factory=list)

    def allow(self, status: int, path: str) -> None:
        """Expect responses with ``status`` for URLs whose path starts with ``path``."""
        self.allowed.append((status, path))

    def _expected(self, text: str, url: str) -> bool:
        path = urlsplit(url).path
        return any(
            f"status of {status} " in text and path.startswith(prefix)
            for status, prefix in self.allowed
        )

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if not self._expected(message.text, url):
            self.problems.append(f"console error: {message.text} (at {url})")

    def on_page_error(self, error: Exception) -> None:
        self.problems.append(f"uncaught page error: {error}")

    def on_response(self, response: Response) -> None:
        if response.url.startswith(self.origin) and response.status >= 500:
            method = response.request.method
            self.problems.append(f"HTTP {response.status} from {method} {response.url}")

    def on_request(self, request: Request) -> None:
        # The UI ships every asset itself: nothing may leave the server's origin.
        scheme = urlsplit(request.url).scheme
        if scheme in ("http", "https", "ws", "wss") and not request.url.startswith(self.origin):
            self.problems.append(f"request outside the server: {request.url}")


@pytest.fixture
def browser_problems(web_server: LiveServer) -> BrowserProblems:
    return BrowserProblems(origin=web_server.url)


@pytest.fixture
def page(
    browser: Browser, web_server: LiveServer, browser_problems: BrowserProblems
) -> Iterator[Page]:
    """A fresh context and page on the test's server; at teardown, the test fails if the
    browser logged an error, a script threw, the server answered 5xx, or a request left
    the server."""
    context = browser.new_context(viewport=VIEWPORT, base_url=web_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("console", browser_problems.on_console)
    tab.on("pageerror", browser_problems.on_page_error)
    tab.on("response", browser_problems.on_response)
    tab.on("request", browser_problems.on_request)
    yield tab
    context.close()
    assert not browser_problems.problems, "\n".join(browser_problems.problems)


@pytest.fixture
def screenshot() -> Callable[..., None]:
    """``screenshot(page, name)`` saves ``docs/images/ui/<name>.png`` when
    ``KUBELINE_SCREENSHOTS=1``, and does nothing otherwise, so test runs leave the repo
    clean."""

    def save(page: Page, name: str, *, full_page: bool = False) -> None:
        if os.environ.get("KUBELINE_SCREENSHOTS") != "1":
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_load_state("load")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return save


class Api:
    """Test setup through the server's REST API (what kfp.Client sends)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = server.http()

    def upload(self, yaml_text: str, name: str) -> tuple[str, str]:
        """Upload a pipeline; its id and its version's id."""
        response = self.http.post(
            "/apis/v2beta1/pipelines/upload",
            params={"name": name},
            files={"uploadfile": (f"{name}.yaml", yaml_text)},
        )
        response.raise_for_status()
        pipeline_id = response.json()["pipeline_id"]
        return pipeline_id, self.version_of(pipeline_id)

    def version_of(self, pipeline_id: str) -> str:
        found = self.http.get(f"/apis/v2beta1/pipelines/{pipeline_id}/versions").json()
        return found["pipeline_versions"][0]["pipeline_version_id"]

    def pipelines(self) -> list[dict[str, Any]]:
        return self.http.get("/apis/v2beta1/pipelines").json().get("pipelines", [])

    def start(
        self, pipeline_id: str, version_id: str, name: str, parameters: dict[str, Any] | None = None
    ) -> str:
        response = self.http.post(
            "/apis/v2beta1/runs",
            json={
                "display_name": name,
                "pipeline_version_reference": {
                    "pipeline_id": pipeline_id,
                    "pipeline_version_id": version_id,
                },
                "runtime_config": {"parameters": parameters or {}},
            },
        )
        response.raise_for_status()
        return response.json()["run_id"]

    def runs(self) -> list[dict[str, Any]]:
        return self.http.get("/apis/v2beta1/runs").json().get("runs", [])

    def run(self, run_id: str) -> dict[str, Any]:
        return self.http.get(f"/apis/v2beta1/runs/{run_id}").json()

    def wait(self, run_id: str, timeout: float = 120) -> str:
        """The run's final state; a bounded wait."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.run(run_id)["state"]
            if state in FINAL:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {state} after {timeout} s")
            time.sleep(0.2)

    def wait_for_task_state(self, run_id: str, task: str, state: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            details = self.run(run_id).get("run_details", {}).get("task_details", [])
            if any(t.get("display_name") == task and t.get("state") == state for t in details):
                return
            time.sleep(0.2)
        raise TimeoutError(f"task {task} of run {run_id} never reached {state}")


@pytest.fixture
def api(web_server: LiveServer) -> Iterator[Api]:
    client = Api(web_server)
    yield client
    client.http.close()
