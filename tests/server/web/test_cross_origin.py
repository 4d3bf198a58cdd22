"""A hostile web page in the user's own browser (#11): real Chromium, a page served on
another local port, and a DNS-rebinding name, against a kubeline server with no token.

The page tries what the probe did: an auto-submitted form that starts a run through the
UI's own run form, a no-cors ``fetch`` that uploads a pipeline, another that creates an
experiment. Nothing may change; the server's own pages keep working in the same browser.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from kubeline.pipelines.compile import compile_function, compile_pipeline
from tests.engine import pipelines as p
from tests.live import serve_in_thread
from tests.server.conftest import LiveServer
from tests.server.web.conftest import CHROMIUM

if TYPE_CHECKING:
    from playwright.sync_api import Browser

API = "/apis/v2beta1"


def _hostile_page(target: str, pipeline_id: str, version_id: str, pipeline_yaml: str) -> str:
    fields = {"pipeline_id": pipeline_id, "version_id": version_id, "display_name": "pwned-form"}
    inputs = "".join(
        f'<input name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return f"""<!doctype html><title>cute cats</title>
<form id="f" method="post" action="{target}/runs/new">{inputs}</form>
<script>
(async () => {{
  const data = new FormData();
  data.append("uploadfile", new Blob([{json.dumps(pipeline_yaml)}]), "evil.yaml");
  try {{
    await fetch("{target}{API}/pipelines/upload?name=pwned-upload",
                {{method: "POST", mode: "no-cors", body: data}});
  }} catch (e) {{}}
  try {{
    await fetch("{target}{API}/experiments", {{method: "POST", mode: "no-cors",
      headers: {{"Content-Type": "text/plain"}}, body: '{{"display_name": "pwned-exp"}}'}});
  }} catch (e) {{}}
  document.title = "tried";
  document.getElementById("f").submit();
}})();
</script>"""


def _state(http: httpx.Client) -> tuple[list[str], list[str], list[str]]:
    pipelines = [x["display_name"] for x in http.get(f"{API}/pipelines").json()["pipelines"]]
    experiments = [x["display_name"] for x in http.get(f"{API}/experiments").json()["experiments"]]
    runs = [x["display_name"] for x in http.get(f"{API}/runs").json().get("runs", [])]
    return pipelines, experiments, runs


def test_a_page_on_another_local_port_cannot_write_but_the_ui_can(
    browser: Browser, web_server: LiveServer, tmp_path: Path
) -> None:
    spec_file = compile_pipeline(compile_function(p.two_step), tmp_path / "two.yaml")
    http = web_server.http()
    with spec_file.open("rb") as f:
        uploaded = http.post(
            f"{API}/pipelines/upload",
            files={"uploadfile": ("two.yaml", f)},
            params={"name": "mine"},
        ).json()
    pipeline_id = uploaded["pipeline_id"]
    version_id = http.get(f"{API}/pipelines/{pipeline_id}/versions").json()["pipeline_versions"][0][
        "pipeline_version_id"
    ]
    page_html = _hostile_page(web_server.url, pipeline_id, version_id, spec_file.read_text())
    evil = Starlette(routes=[Route("/", lambda _: HTMLResponse(page_html))])
    evil_url, evil_server, evil_thread = serve_in_thread(evil)
    before = _state(http)
    context = browser.new_context()
    try:
        tab = context.new_page()
        refused: list[int] = []
        tab.on(
            "response",
            lambda r: refused.append(r.status) if r.url.startswith(web_server.url) else None,
        )
        with tab.expect_navigation(url=re.compile(r"/runs/new$"), timeout=30_000) as landed:
            tab.goto(evil_url)
        assert landed.value is not None and landed.value.status == 403
        assert "Cross" in tab.content()  # the refusal says why
        assert refused and all(status == 403 for status in refused), refused
        assert _state(http) == before  # no pipeline, experiment or run was made

        # The server's own run form, in the same browser, still starts a run.
        own = context.new_page()
        own.goto(f"{web_server.url}/runs/new?pipeline_id={pipeline_id}")
        own.get_by_role("button", name="Start").click()
        own.wait_for_url(re.compile(r"/runs/two-step-"), timeout=30_000)
        assert len(_state(http)[2]) == 1
    finally:
        context.close()
        evil_server.should_exit = True
        evil_thread.join(timeout=30)


def test_a_rebinding_name_that_resolves_to_loopback_is_refused(
    browser: Browser, web_server: LiveServer
) -> None:
    """DNS rebinding: a hostile name later resolving to 127.0.0.1 makes the browser treat
    the server as that name's own origin. Chromium's resolver rules stand in for the DNS
    answer; the server must refuse the name."""
    port = web_server.url.rsplit(":", 1)[1]
    rebinding = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=["--no-sandbox", "--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1"],
    )
    try:
        tab = rebinding.new_page()
        response = tab.goto(f"http://rebind.attacker.test:{port}/runs")
        assert response is not None and response.status == 403
        assert "rebind.attacker.test" in tab.content()
        # The rebound page is "same-origin" with the server now: its own fetch is
        # refused by the Host check alone.
        status = tab.evaluate(
            """async (url) => (await fetch(url, {method: "POST",
                 headers: {"Content-Type": "application/json"},
                 body: JSON.stringify({display_name: "rebound"})})).status""",
            f"http://rebind.attacker.test:{port}{API}/experiments",
        )
        assert status == 403
        assert tab.goto(f"{web_server.url}/runs").status == 200  # by its own name it works
    finally:
        rebinding.close()
    names = [
        x["display_name"] for x in web_server.http().get(f"{API}/experiments").json()["experiments"]
    ]
    assert names == ["Default"]
