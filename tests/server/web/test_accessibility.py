"""axe-core on every page the UI links to (#12), in real Chromium: no serious or critical
violation, with axe's default rules and none disabled, in the light and the dark colour
scheme, on a store holding a lifecycle run, a failed run, an experiment, a recurring run
and a registered model.

The pages are found the way a user finds them: by following the UI's own links from the
runs list (one page per kind of URL), plus the pages only a form or a sign-in reaches.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from kubeline.pipelines.compile import compile_function
from tests.server.conftest import LiveServer, start_server
from tests.server.web.a11y_pipelines import failing
from tests.server.web.conftest import VIEWPORT, Api, browser_missing
from tests.server.web.pipelines import typed

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

_SERIOUS = ("serious", "critical")
_MAX_PAGES = 60
_SKIP = re.compile(
    r"^/(apis|kubeline/static|kubeline/api/(?!docs))|/content|download|/log\b|\.(ya?ml|json)$"
)


def _kind(path: str) -> str:
    """One page per kind of URL: ids and names folded."""
    return re.sub(r"/[^/]*[0-9a-f]{6,}[^/]*|/\d+(?=/|$)", "/<id>", path)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One server for the whole module, with something on every page."""
    if browser_missing():
        pytest.fail(browser_missing())
    from kubeline.pipelines.lifecycle import lifecycle_pipeline

    home = tmp_path_factory.mktemp("a11y-home")
    server = start_server(home)
    api = Api(server)
    lifecycle_id, lifecycle_version = api.upload(
        yaml.safe_dump(compile_function(lifecycle_pipeline)), "lifecycle"
    )
    good = api.start(
        lifecycle_id,
        lifecycle_version,
        "lifecycle, two families",
        {"families": ["logistic_regression", "random_forest"], "trials_per_family": 1},
    )
    typed_id, typed_version = api.upload(yaml.safe_dump(compile_function(typed)), "typed")
    other = api.start(typed_id, typed_version, "typed run")
    failing_id, failing_version = api.upload(yaml.safe_dump(compile_function(failing)), "failing")
    failed = api.start(failing_id, failing_version, "failing run")
    for run_id in (good, other, failed):
        api.wait(run_id, timeout=600)
    experiment = api.http.post(
        "/apis/v2beta1/experiments", json={"display_name": "a11y experiment"}
    ).json()
    recurring = api.http.post(
        "/apis/v2beta1/recurringruns",
        json={
            "display_name": "nightly",
            "pipeline_version_reference": {
                "pipeline_id": typed_id,
                "pipeline_version_id": typed_version,
            },
            "trigger": {"periodic_schedule": {"interval_second": 86400}},
            "mode": "DISABLE",
            "experiment_id": experiment["experiment_id"],
        },
    ).json()
    yield {
        "server": server,
        "runs": {"good": good, "other": other, "failed": failed},
        "extra": [
            f"/runs/new?pipeline_id={typed_id}",
            f"/runs/compare?runs={good}&runs={other}",
            f"/runs/{failed}",
            "/no-such-page",
        ],
        "experiment": experiment,
        "recurring": recurring,
    }
    api.http.close()
    server.stop()


def _crawl(browser: Browser, server: LiveServer, extra: list[str]) -> list[str]:
    """The UI's pages, by following its links from /runs (one per kind of URL)."""
    context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    seen: dict[str, str] = {}
    visited: set[str] = set()
    queue = ["/runs", "/pipelines", "/experiments", "/recurring", "/models", *extra]
    try:
        while queue and len(seen) < _MAX_PAGES:
            path = queue.pop(0)
            kind = _kind(urlsplit(path).path) + ("?" if "?" in path else "")
            if path in visited or (kind in seen and path not in extra):
                continue
            visited.add(path)
            seen.setdefault(kind, path)
            print(f"crawl {path}", file=sys.stderr, flush=True)
            tab.goto(path)
            links = "els => els.filter(e => !e.hasAttribute('download')).map(e => e.href)"
            for href in tab.eval_on_selector_all("a[href]", links):
                url = urljoin(server.url + path, href)
                if not url.startswith(server.url):
                    continue
                found = url[len(server.url) :].split("#")[0]
                if found and not _SKIP.search(found) and found not in queue:
                    queue.append(found)
    finally:
        context.close()
    return list(dict.fromkeys([*seen.values(), *extra]))


def _violations(browser: Browser, url: str, scheme: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)  # type: ignore[arg-type]
    try:
        context.set_default_timeout(30_000)
        tab = context.new_page()
        started = time.monotonic()
        tab.goto(url)
        results = Axe().run(tab)
        print(f"axe {url} {scheme} {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
        found = []
        for violation in results.response["violations"]:
            if violation.get("impact") in _SERIOUS:
                targets = [", ".join(n.get("target", [])) for n in violation.get("nodes", [])][:3]
                found.append(
                    f"{violation['impact']} {violation['id']}: {violation['help']} at {targets}"
                )
        return found
    finally:
        context.close()


def test_no_serious_or_critical_axe_violation_on_any_page(
    browser: Browser, seeded: dict[str, Any]
) -> None:
    server: LiveServer = seeded["server"]
    pages = _crawl(browser, server, seeded["extra"])
    paths = {urlsplit(p).path for p in pages}
    # The crawl reached every family of pages the UI lists.
    families = (
        "/runs", "/runs/<id>", "/runs/new", "/runs/compare", "/pipelines", "/pipelines/<id>",
        "/experiments", "/experiments/<id>", "/recurring", "/recurring/<id>", "/models",
        "/models/<id>", "/artifacts", "/artifacts/<id>", "/executions", "/executions/<id>",
    )  # fmt: skip
    for family in families:
        pattern = re.escape(family).replace("<id>", "[^/]+")
        assert any(re.fullmatch(pattern, p) for p in paths), (family, sorted(paths))
    problems: list[str] = []
    for path in pages:
        for scheme in ("light", "dark"):
            for line in _violations(browser, server.url + path, scheme):
                problems.append(f"{path} ({scheme}): {line}")
    assert not problems, f"{len(pages)} pages checked:\n" + "\n".join(problems)


def test_the_sign_in_page_has_no_serious_violation(browser: Browser, tmp_path: Path) -> None:
    server = start_server(tmp_path / "home", token="a11y-token")
    try:
        for scheme in ("light", "dark"):
            assert _violations(browser, f"{server.url}/login?next=/runs", scheme) == []
    finally:
        server.stop()
