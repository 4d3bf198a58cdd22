"""The tutorial notebooks in examples/ run top to bottom in a real Jupyter kernel (nbclient
and ipykernel), each in a folder of its own with a fresh ``KUBELINE_HOME``, as a reader
would run them; and they are kept without outputs, so that what a reader sees is what
their own run prints."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import need

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))

#: What each notebook's run must print: the steps that show it did what it teaches.
EXPECTED = {
    "01-lifecycle.ipynb": [
        "SUCCEEDED in",
        "test accuracy:",
        "tasks from the cache",
        "iris-classifier version",
        "{'predictions': [",
        "predict_proba [2, 3]",
        "model server stopped",
    ],
    "02-your-own-pipeline.ipynb": [
        "A busy day",
        "from the cache: 7 of 7 tasks",
        "A quiet day",
        "list-regions",
    ],
    "03-to-kubeflow-and-vertex.ipynb": [
        "pipeline: orders-report",
        "SUCCEEDED - A quiet day",
        "a KFP API at http://127.0.0.1:",
        "SUCCEEDED http://127.0.0.1:",
        "server stopped",
        "Dry run: nothing was submitted",
        "POST https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/",
    ],
}

#: The kernel spec the tests write: this interpreter, whatever else is installed.
KERNEL = "kubeline-tests"

#: Seconds a cell may take (a lifecycle run takes ~5 s; a loaded CI machine more).
CELL_TIMEOUT = 240


def test_every_notebook_is_tested() -> None:
    assert [n.name for n in NOTEBOOKS] == sorted(EXPECTED)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_kept_without_outputs(notebook: Path) -> None:
    import json

    document = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in document["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{notebook.name}: a cell kept its outputs"
            assert cell["execution_count"] is None, f"{notebook.name}: an execution count"


def test_the_readme_links_every_notebook() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    for notebook in NOTEBOOKS:
        assert f"examples/{notebook.name}" in readme, notebook.name


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(
    notebook: Path, tmp_path: Path, kubeline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbclient, nbformat = _jupyter()
    _kernel_of_this_python(tmp_path / "jupyter", monkeypatch)
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy(notebook, folder / notebook.name)
    document = nbformat.read(folder / notebook.name, as_version=4)
    client = nbclient.NotebookClient(
        document,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute()  # KUBELINE_HOME (the fixture's) goes to the kernel with os.environ
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{notebook.name} failed in a cell:\n{exc}")
    finally:
        _end_servers_of(kubeline_home)
    printed = _printed(document)
    for text in EXPECTED[notebook.name]:
        assert text in printed, f"{notebook.name} did not print {text!r}:\n{printed[-4000:]}"


def _jupyter() -> tuple[Any, Any]:
    """nbclient and nbformat, with ipykernel to run the cells in, or why not."""
    try:
        import ipykernel  # noqa: F401  # the kernel the notebooks run in
        import nbclient
        import nbclient.exceptions
        import nbformat
    except ImportError as exc:
        need("nbclient and ipykernel", str(exc), "pip install -e '.[dev]'")
    return nbclient, nbformat


def _kernel_of_this_python(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel spec that runs this interpreter, found first (``JUPYTER_PATH``): a
    ``python3`` kernel spec the user installed may run another Python, without kubeline."""
    import json
    import sys

    spec = folder / "kernels" / KERNEL / "kernel.json"
    spec.parent.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(folder))


def _end_servers_of(home: Path) -> None:
    """End what a failed notebook left running (a cell between a server's start and its
    stop raised; the kernel's shutdown does not reach its children): the processes whose
    KUBELINE_HOME is this test's own, and nobody else's."""
    import psutil

    me = psutil.Process()
    spared = {me.pid, *(parent.pid for parent in me.parents())}
    mine = []
    for process in psutil.process_iter():
        if process.pid in spared:  # this test has that KUBELINE_HOME too
            continue
        try:
            if process.environ().get("KUBELINE_HOME") == str(home):
                mine.append(process)
        except (psutil.Error, OSError):
            continue  # gone, or another user's
    for process in mine:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(mine, timeout=10)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _printed(document: Any) -> str:
    """Everything the notebook's cells printed or displayed as text."""
    parts: list[str] = []
    for cell in document.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(str(output["data"].get("text/plain", "")))
    return "\n".join(parts)
