"""The warm worker parent started before its pipeline is read: it is told later what the
components import, and imports that while it has nothing else to do."""

# No `from __future__ import annotations`: KFP reads the components' real annotations.

import os
import sys
from pathlib import Path

import pytest
import yaml
from kfp import dsl

from kubeline.engine import (
    mentions_python_components,
    run_pipeline,
    start_warm_parent,
    warm_imports,
)
from kubeline.engine.startmethod import START_METHOD_ENV
from kubeline.pipelines.compile import compile_function

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the warm parent needs os.fork")

# A standard-library module nothing here imports: seen in a task only if its parent had it.
_PROBE = "wave"


@dsl.component
def nap(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "rested"


@dsl.component
def parent_had(module: str, after: str) -> bool:
    import sys

    return module in sys.modules


@dsl.component
def uses_the_probe() -> str:
    import wave

    return wave.__name__


@dsl.pipeline(name="warm-parent-check")
def warm_check(skip: bool = True) -> bool:
    # The parent has a second of nothing to do while `nap` runs: the preload happens then.
    rested = nap(seconds=1.0)
    with dsl.If(skip == False):  # noqa: E712 - KFP's condition syntax
        uses_the_probe()  # never runs: its import is known only from the pipeline's text
    return parent_had(module=_PROBE, after=rested.output).output


def _answer(result: object) -> object:
    """What ``parent_had`` returned."""
    task = next(t for t in result.tasks if t.name == "parent-had")  # type: ignore[attr-defined]
    return task.outputs["parameters"]["Output"]


@pytest.fixture(autouse=True)
def _forked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(START_METHOD_ENV, "fork")
    monkeypatch.setenv("KUBELINE_HOME", str(tmp_path / "home"))
    assert _PROBE not in sys.modules, "the probe module must be new to the test process"


def test_the_components_imports_are_read_from_the_spec() -> None:
    spec = compile_function(warm_check)
    assert _PROBE in warm_imports(spec)
    assert mentions_python_components(yaml.safe_dump(spec))
    assert not mentions_python_components("root: {dag: {tasks: {}}}")


@pytest.mark.parametrize("told", [True, False])
def test_a_parent_started_early_imports_what_it_is_told_later(told: bool) -> None:
    spec = compile_function(warm_check)
    server = start_warm_parent()
    assert server is not None
    if told:
        server.preload(["not a module!", *warm_imports(spec)])  # a bad name is dropped
    result = run_pipeline(spec, {}, fork_server=server, enable_caching=False)
    assert result.state == "SUCCEEDED", result.error
    assert _answer(result) is told


def test_the_clis_early_start_tells_the_parent_the_pipelines_imports(tmp_path: Path) -> None:
    from kubeline.cli import prestart
    from kubeline.cli.runline import read_run_line

    path = tmp_path / "warm.yaml"
    path.write_text(yaml.safe_dump(compile_function(warm_check)), encoding="utf-8")
    prestart.start_early(read_run_line(["run", str(path), "--no-cache"]))
    server = prestart.take()
    assert server is not None
    result = run_pipeline(compile_function(warm_check), {}, fork_server=server)
    assert result.state == "SUCCEEDED", result.error
    assert _answer(result) is True


def test_a_file_that_looks_like_a_pipeline_but_does_not_parse_leaves_no_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kubeline.cli import prestart
    from kubeline.cli.app import main

    path = tmp_path / "broken.yaml"
    path.write_text('root: [unclosed "ephemeral_component.py"', encoding="utf-8")
    started: list[object] = []
    real = prestart.start_early

    def spy(line: object) -> None:
        real(line)  # type: ignore[arg-type]
        started.extend(prestart._started)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(prestart, "start_early", spy)
        assert main(["run", str(path)]) == 2
    assert "broken.yaml" in capsys.readouterr().err
    assert len(started) == 1  # started on the text's look, before the parse failed
    assert started[0]._process.poll() is not None  # type: ignore[attr-defined] # stopped
    assert prestart.take() is None
