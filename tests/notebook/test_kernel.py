"""kubeline in a real Jupyter kernel (ipykernel driven by jupyter_client), as a notebook user
meets it: components defined in cells, ``kubeline.run`` showing its progress in one display
updated in place, and the result shown as HTML with a one-line text fallback."""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import need

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

DEFINE = """
from kfp import dsl
import kubeline

@dsl.component(base_image="python:3.11")
def pause(seconds: float, label: str) -> str:
    import time
    time.sleep(seconds)
    return label + "!"

@dsl.pipeline(name="notebook-slow")
def slow_steps(seconds: float = 0.8) -> str:
    first = pause(seconds=seconds, label="one")
    second = pause(seconds=seconds, label=first.output)
    third = pause(seconds=seconds, label=second.output)
    for task in (first, second, third):
        task.set_caching_options(False)
    return third.output
"""


class Cell:
    """What one executed cell sent on iopub."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m["content"] for m in self.messages if m["msg_type"] == kind]

    @property
    def errors(self) -> list[str]:
        return ["\n".join(e["traceback"]) for e in self.of("error")]


def write_kernel_spec(folder: Path) -> None:
    """A kernel spec named kubeline-test for this interpreter (found with JUPYTER_PATH set to
    ``folder``), so the kernel has this kubeline whatever specs the machine has installed."""
    spec = folder / "kernels" / "kubeline-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "kubeline test", "language": "python"})
    )


@pytest.fixture
def kernel(kubeline_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    try:
        from jupyter_client.manager import KernelManager
    except ImportError as exc:
        need("jupyter_client", str(exc), "pip install -e '.[dev]'")
    try:
        import ipykernel  # noqa: F401 - the kernel runs it
    except ImportError as exc:
        need("ipykernel", str(exc), "pip install -e '.[dev]'")
    write_kernel_spec(tmp_path)
    env = {
        **os.environ,
        "KUBELINE_HOME": str(kubeline_home),
        "JUPYTER_PATH": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))  # where the manager finds the spec
    manager = KernelManager(kernel_name="kubeline-test")
    manager.start_kernel(env=env, cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client: Any, code: str, timeout: float = 240) -> Cell:
    """Run ``code`` and collect its iopub messages until the kernel is idle again."""
    msg_id = client.execute(code)
    deadline = time.monotonic() + timeout
    messages = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"the cell did not finish in {timeout} s: {messages[-3:]}")
        try:
            message = client.get_iopub_msg(timeout=left)
        except queue.Empty:
            continue
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return Cell(messages)


def test_a_run_in_a_kernel_shows_live_progress_and_an_html_result(kernel: Any) -> None:
    defined = execute(kernel, DEFINE)
    assert not defined.errors, defined.errors
    cell = execute(kernel, 'result = kubeline.run(slow_steps, {"seconds": 0.8})\nresult')
    assert not cell.errors, cell.errors

    shown = cell.of("display_data")
    live = [d for d in shown if "display_id" in d.get("transient", {})]
    assert len(live) == 1, shown  # one display ...
    display_id = live[0]["transient"]["display_id"]
    updates = [
        u for u in cell.of("update_display_data") if u["transient"]["display_id"] == display_id
    ]
    assert len(updates) >= 2, f"{len(updates)} updates"  # ... updated in place while it ran
    during = [u for u in updates[:-1] if "RUNNING" in u["data"]["text/plain"]]
    assert len(during) >= 2, [u["data"]["text/plain"] for u in updates]
    last = updates[-1]["data"]
    assert last["text/plain"].startswith("notebook-slow: SUCCEEDED")
    assert "3 done, 0 running, 0 failed" in last["text/plain"]
    assert '<div class="kubeline-nb">' in last["text/html"]  # static HTML, kept on save

    (result,) = cell.of("execute_result")
    text, html = result["data"]["text/plain"], result["data"]["text/html"]
    assert "\n" not in text and text.startswith("<RunResult notebook-slow-")
    assert "SUCCEEDED" in html and "one!!!" in html  # the state and the pipeline's output
    assert "pause-3" in html  # the tasks table

    loaded = execute(kernel, 'print(result.task("pause-3").outputs["Output"], result.outputs)')
    assert not loaded.errors, loaded.errors
    assert "one!!!" in "".join(s["text"] for s in loaded.of("stream"))


def test_the_lifecycle_in_a_kernel_shows_metrics_and_the_confusion_matrix(kernel: Any) -> None:
    code = (
        "import kubeline\n"
        "from kubeline.pipelines.lifecycle import lifecycle_pipeline\n"
        "result = kubeline.run(lifecycle_pipeline, {'dataset': 'iris', "
        "'families': ['logistic_regression'], 'trials_per_family': 1, 'cv_folds': 3})\n"
        "result"
    )
    cell = execute(kernel, code, timeout=400)
    assert not cell.errors, cell.errors
    (result,) = cell.of("execute_result")
    html = result["data"]["text/html"]
    assert "SUCCEEDED" in html
    assert "accuracy" in html and "Metrics" in html  # the metrics table
    assert 'class="confusion"' in html and "chart-roc" in html  # evaluate's classification
    assert "\n" not in result["data"]["text/plain"]


def test_a_saved_notebook_keeps_the_final_display(
    kubeline_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Executed and saved as a Jupyter frontend does (nbclient applies each in-place update
    to the stored output), the notebook reopens with the run's final state, as HTML and as
    one line of text."""
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as exc:
        need("nbclient", str(exc), "pip install -e '.[dev]'")
    write_kernel_spec(tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(DEFINE),
        nbformat.v4.new_code_cell('result = kubeline.run(slow_steps, {"seconds": 0.3})\nresult'),
    ]
    NotebookClient(notebook, timeout=240, kernel_name="kubeline-test").execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)

    reopened = nbformat.read(saved, as_version=4)
    outputs = reopened.cells[1].outputs
    (live,) = [o for o in outputs if o.output_type == "display_data"]
    assert live.data["text/plain"].startswith("notebook-slow: SUCCEEDED")
    assert "3 done" in live.data["text/plain"] and "kubeline-nb" in live.data["text/html"]
    (result,) = [o for o in outputs if o.output_type == "execute_result"]
    assert result.data["text/plain"].startswith("<RunResult notebook-slow-")
    assert "SUCCEEDED" in result.data["text/html"]
