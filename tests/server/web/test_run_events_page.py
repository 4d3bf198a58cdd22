"""The run page shows the admission decisions kept with a run (newest first, escaped), and
no such section for a run without any (every run made before schema version 4)."""

from __future__ import annotations

import httpx

from kubeline.store import RunStore
from tests.server.conftest import LiveServer
from tests.store.conftest import make_run

EVENTS = [
    {
        "at": "2026-12-07T05:00:00.100000+00:00",
        "kind": "admission",
        "task": "for-loop-2/iteration-2/nap",
        "state": "PENDING",
        "message": "waits for the CPU: 2 tasks running, running tasks use 2.0 of 2 cores",
    },
    {
        "at": "2026-12-07T05:00:00.300000+00:00",
        "kind": "admission",
        "task": "for-loop-2/iteration-2/<b>nap</b>",
        "state": "RUNNING",
        "message": "started as task 3 of this process: running tasks use 0.1 of 2 cores",
    },
    {"at": "not a time", "kind": "admission", "task": "odd"},  # a hand-edited row still shows
]


def test_the_run_page_lists_the_runs_admission_decisions(
    live_server: LiveServer, http: httpx.Client
) -> None:
    with RunStore.for_home(live_server.home) as store:
        store.runs.add(make_run("with-events", experiment_id=None, events=EVENTS))
        store.runs.add(make_run("without-events", experiment_id=None, events=[]))
    page = http.get("/runs/with-events")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="admission-title">Admission</h2>' in html and "3 decisions" in html
    started = html.index("started as task 3 of this process")
    waits = html.index("waits for the CPU: 2 tasks running")
    assert started < waits  # newest first
    assert '<time datetime="2026-12-07T05:00:00.300000+00:00">2026-12-07 05:00:00</time>' in html
    assert "for-loop-2/iteration-2/&lt;b&gt;nap&lt;/b&gt;" in html and "<b>nap</b>" not in html
    assert "?task=for-loop-2/iteration-2/nap#task-panel" in html
    assert ">odd</a>" in html
    plain = http.get("/runs/without-events")
    assert plain.status_code == 200 and 'id="admission"' not in plain.text
