"""The early start of `kubeline run FILE`'s warm parent: which command lines get one, and
that a command ending before its run leaves no parent behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeline.cli import prestart
from kubeline.cli.app import main
from kubeline.cli.runline import read_run_line

_SPEC = """\
components:
  comp-hello:
    executorLabel: exec-hello
deploymentSpec:
  executors:
    exec-hello:
      container:
        args: [--executor_input, '{{$}}', --function_to_execute, hello]
        command:
        - sh
        - -ec
        - |
          program_path=$(mktemp -d)
          printf "%s" "$0" > "$program_path/ephemeral_component.py"
          _KFP_RUNTIME=true python3 -m kfp.dsl.executor_main \
            --component_module_path "$program_path/ephemeral_component.py" "$@"
        - |
          from kfp import dsl
          def hello():
              print("hello")
        image: python:3.11
pipelineInfo:
  name: prestart-check
root:
  dag:
    tasks:
      hello:
        componentRef: {name: comp-hello}
        taskInfo: {name: hello}
schemaVersion: 2.1.0
sdkVersion: kfp-2.17.3
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(_SPEC, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "words",
    [
        ["run", "{p}"],
        ["-v", "run", "--no-cache", "{p}", "-p", "x=1", "--workers", "2"],
        ["run", "--param=x=1", "{p}", "--output", "json", "--allow-installs"],
    ],
)
def test_a_run_of_a_compiled_file_is_read_without_typer(pipeline: Path, words: list[str]) -> None:
    argv = [w.format(p=pipeline) for w in words]
    assert prestart.run_file(read_run_line(argv)) == pipeline


@pytest.mark.parametrize(
    "words",
    [
        ["run"],  # the lifecycle pipeline, compiled by the command
        ["run", "pipeline.py:flow"],
        ["run", "{p}", "--help"],
        ["run", "{p}", "--unknown"],
        ["run", "{p}", "second"],
        ["runs", "list"],
        ["compile", "{p}"],
        ["run", "{missing}"],
    ],
)
def test_other_lines_get_no_early_start(pipeline: Path, words: list[str]) -> None:
    missing = pipeline.with_name("missing.yaml")
    argv = [w.format(p=pipeline, missing=missing) for w in words]
    assert prestart.run_file(read_run_line(argv)) is None


def test_a_file_that_does_not_read_as_a_spec_starts_nothing(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("root: [unclosed", encoding="utf-8")
    prestart.start_early(read_run_line(["run", str(path)]))
    assert prestart.take() is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the warm parent needs os.fork")
def test_a_command_that_fails_before_its_run_stops_the_early_parent(
    pipeline: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started: list[object] = []
    real = prestart.start_early

    def spy(line: object) -> None:
        real(line)  # type: ignore[arg-type]
        started.extend(prestart._started)

    monkeypatch.setattr(prestart, "start_early", spy)
    monkeypatch.setenv("KUBELINE_HOME", str(tmp_path / "home"))
    assert main(["run", str(pipeline), "-p", "nope=1"]) == 2
    assert "nope" in capsys.readouterr().err  # refused for its parameter, after the start
    assert len(started) == 1
    assert started[0]._process.poll() is not None  # type: ignore[attr-defined] # stopped
    assert prestart.take() is None


def test_the_program_starts_the_parent_before_the_command_lines_imports(
    pipeline: Path, tmp_path: Path
) -> None:
    """``python -m kubeline run FILE`` (as the ``kubeline`` program): the warm parent's
    client is imported, so started, before typer, which the rest of the CLI needs."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kubeline", "run", str(pipeline)],
        env={**os.environ, "KUBELINE_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "kubeline.engine.forkserver" in imported and "typer" in imported
    assert imported.index("kubeline.engine.forkserver") < imported.index("typer")
