"""Names from a pipeline spec never become raw paths: the mapping itself, and real runs of
hostile pipelines that must write nothing outside KUBELINE_HOME."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeline.engine import run_pipeline
from kubeline.engine.runner import new_run_id, record_run
from kubeline.engine.safepath import (
    UnsafePathError,
    check_spec_names,
    ensure_inside,
    is_ordinary,
    run_id_prefix,
    safe_name,
)
from kubeline.errors import ConfigError, PipelineLoadError, UserError
from kubeline.pipelines.compile import compile_function
from kubeline.store import RunStore
from tests.conftest import run_cli
from tests.engine import pipelines as p
from tests.engine.hostile import HOSTILE_NAMES, outputs_pipeline, rename_output, rename_task

ORDINARY = [
    "evaluate",
    "run-trial",
    "for-loop-1",
    "iteration-9",
    "comp-train",
    "report",
    "Output",
    "model_v2.joblib",
    "_private",
    "kubeline-lifecycle",
    "a" * 128,
]
_SAFE_FORM = re.compile(r"^[A-Za-z0-9_-]+~[0-9a-f]{12}$")
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul"} | {
    f"{port}{n}" for port in ("com", "lpt") for n in range(10)
}


# ------------------------------------------------------------------ the mapping
@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_map_to_themselves(name: str) -> None:
    assert is_ordinary(name)
    assert safe_name(name) == name


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_map_to_one_plain_segment(name: str, tmp_path: Path) -> None:
    safe = safe_name(name)
    assert safe != name
    assert _SAFE_FORM.match(safe), safe
    assert len(safe) <= 64
    assert safe.split(".")[0].lower() not in _WINDOWS_DEVICES
    assert (tmp_path / safe).resolve().parent == tmp_path.resolve()
    assert (tmp_path / f"{safe}.log").resolve().parent == tmp_path.resolve()
    assert safe_name(name) == safe  # the same name finds the same folder on every run


def test_the_hash_is_of_the_original_name() -> None:
    digest = hashlib.sha256(b"../../../../x").hexdigest()[:12]
    assert safe_name("../../../../x") == f"x~{digest}"


def test_different_names_never_share_a_file() -> None:
    names = [
        *ORDINARY,
        *HOSTILE_NAMES,
        "a_b",
        "a\\b",
        "a:b",
        "a b",
        "A/b",
        "../x",
        "../../x",
        "x/..",
        "x~" + hashlib.sha256(b"../x").hexdigest()[:12],  # an ordinary-looking twin
        "y" * 301,
        "\ud800",  # a lone surrogate, as JSON can hold
    ]
    mapped = [safe_name(n).casefold() for n in names]
    assert len(set(mapped)) == len(names)
    assert safe_name("a/b") != safe_name("a_b") == "a_b"


def test_windows_device_names_are_mapped_whatever_their_case_or_extension() -> None:
    for name in ["CON", "con", "Nul", "aux.log", "COM1", "lpt9.tar.gz", "prn", "com0"]:
        assert not is_ordinary(name)
        safe = safe_name(name)
        assert "." not in safe and "~" in safe  # so its stem is never a device name
        assert safe.split("~")[0].lower().startswith(name.split(".")[0].lower())  # readable
    assert is_ordinary("console") and is_ordinary("com10") and is_ordinary("nullable")


def test_run_ids_stay_as_today_for_kfp_names_and_are_plain_for_any_other() -> None:
    kfp_name = re.compile(r"^[a-z0-9][a-z0-9-]*$")
    assert run_id_prefix("fan-out") == "fan-out"
    assert re.match(r"^fan-out-\d{8}-\d{6}-[0-9a-f]{6}$", new_run_id("fan-out"))
    for hostile in [*HOSTILE_NAMES, "My Pipeline!", "---"]:
        run_id = new_run_id(hostile)
        assert kfp_name.match(run_id), run_id
        assert is_ordinary(run_id) and len(run_id) <= 128
    assert run_id_prefix("../../x") == "x"
    assert run_id_prefix("..") == "pipeline"


def test_ensure_inside_refuses_paths_that_lead_out(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    (folder / "run").mkdir(parents=True)
    assert ensure_inside(folder / "run" / "new.log", folder) == folder / "run" / "new.log"
    assert ensure_inside(folder, folder) == folder
    with pytest.raises(UnsafePathError, match="outside"):
        ensure_inside(folder / ".." / "x", folder)
    with pytest.raises(UnsafePathError):
        ensure_inside(tmp_path / "runs-other", folder)  # a shared prefix is not inside
    (folder / "run" / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="symlink"):
        ensure_inside(folder / "run" / "link" / "x.log", folder)
    assert issubclass(UnsafePathError, UserError)


def test_spec_names_that_would_share_a_file_are_refused() -> None:
    spec = compile_function(p.two_step)
    check_spec_names(spec)  # kfp's own names pass
    check_spec_names(rename_task(spec, "stamp", "../../x"))  # mapped, not refused
    with pytest.raises(PipelineLoadError, match="letter case") as refused:
        check_spec_names(rename_task(spec, "stamp", "Read-Text"))
    assert "'Read-Text'" in str(refused.value) and "'read-text'" in str(refused.value)
    outputs = compile_function(outputs_pipeline)
    same_file = rename_output(outputs, "comp-write-outputs", "note", "DATA")
    with pytest.raises(PipelineLoadError, match="outputs 'DATA' and 'data'"):
        check_spec_names(same_file)
    kfp_file = rename_output(outputs, "comp-write-outputs", "note", "executor_output.json")
    with pytest.raises(PipelineLoadError, match=r"'executor_output\.json'.*Rename the output"):
        check_spec_names(kfp_file)


# ------------------------------------------------------------------- real runs
@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """(top, home): a hostile name climbing up to 5 levels from a run's folders lands
    inside ``top``, where the test can see it."""
    home = tmp_path / "outer" / "home"
    home.mkdir(parents=True)
    return tmp_path, home


def _outside(top: Path, home: Path) -> set[str]:
    return {
        p.relative_to(top).as_posix()
        for p in top.rglob("*")
        if not p.is_relative_to(home) and not home.is_relative_to(p)  # nor home's parents
    }


def _assert_contained(result: Any, home: Path) -> None:
    """Every recorded path of the run lies in its own folder, under home/runs."""
    root = Path(result.run.root).resolve()
    assert root.parent == (home / "runs").resolve()
    for task in result.tasks:
        if task.log_path:
            assert Path(task.log_path).resolve().is_relative_to(root / "logs"), task.log_path
        for uris in task.outputs.get("artifacts", {}).values():
            for uri in uris:
                assert Path(uri).resolve().is_relative_to(root), uri


def test_hostile_task_names_run_contained_and_keep_their_names(
    sandbox: tuple[Path, Path],
) -> None:
    top, home = sandbox
    spec = compile_function(p.two_step)
    spec = rename_task(spec, "write-text", "../../../../x")
    spec = rename_task(spec, "read-text", "..")
    spec = rename_task(spec, "stamp", str(top / "absolute"))
    before = _outside(top, home)
    result = run_pipeline(spec, {"text": "contained"}, home=home, workers=2)
    assert _outside(top, home) == before
    assert result.state == "SUCCEEDED", [t.error for t in result.tasks]
    assert result.outputs["Output"] == "CONTAINED"  # the artifact passed between them
    # The store keeps the spec's own names; only the files are mapped.
    assert {t.name for t in result.tasks} == {"../../../../x", "..", str(top / "absolute")}
    _assert_contained(result, home)
    logs = Path(result.run.root) / "logs"
    assert (logs / f"{safe_name('../../../../x')}.log").is_file()
    assert (logs / f"{safe_name('..')}.log").is_file()


@pytest.mark.parametrize(
    "name",
    ["nul\x00byte", "a\\..\\..\\b", "C:x", "CON", "", ".", "tab\tand\x1bescape", "y" * 300],
)
def test_each_kind_of_hostile_task_name_runs_contained(
    name: str, sandbox: tuple[Path, Path]
) -> None:
    top, home = sandbox
    spec = rename_task(compile_function(p.two_step), "write-text", name)
    before = _outside(top, home)
    result = run_pipeline(spec, {"text": "ok"}, home=home, workers=2)
    assert _outside(top, home) == before
    assert result.state == "SUCCEEDED", [t.error for t in result.tasks]
    assert name in {t.name for t in result.tasks}
    _assert_contained(result, home)


def test_nested_loop_and_hostile_names_map_level_by_level(sandbox: tuple[Path, Path]) -> None:
    top, home = sandbox
    spec = compile_function(p.loop_limit)
    spec = rename_task(spec, "for-loop-2", "../../../..")
    spec = rename_task(spec, "stamp", "../../loop-escape")
    before = _outside(top, home)
    result = run_pipeline(spec, {"seconds": 0.0}, home=home, workers=4)
    assert _outside(top, home) == before
    assert result.state == "SUCCEEDED", [t.error for t in result.tasks]
    _assert_contained(result, home)
    loop, leaf = safe_name("../../../.."), safe_name("../../loop-escape")
    logs = Path(result.run.root) / "logs"
    assert sorted(p.relative_to(logs).as_posix() for p in logs.rglob("*.log")) == sorted(
        f"{loop}/iteration-{i}/{leaf}.log" for i in range(6)
    )
    # The logical paths are the spec's names, as `kubeline runs logs` takes them.
    assert "../../../../iteration-0/../../loop-escape" in {t.path for t in result.tasks}


def test_a_task_name_mimicking_a_nested_task_is_refused(sandbox: tuple[Path, Path]) -> None:
    # Root task 'a/iteration-0/b' and task 'b' of loop 'a' would have the same path in the
    # run (and, joined as a path, the same log: logs/a/iteration-0/b.log).
    top, home = sandbox
    spec = compile_function(p.loop_limit)
    spec = rename_task(spec, "for-loop-2", "a")
    spec = rename_task(spec, "stamp", "b")
    mimic = copy.deepcopy(spec["components"]["comp-for-loop-2"]["dag"]["tasks"]["b"])
    mimic["inputs"]["parameters"] = {
        "label": {"runtimeValue": {"constant": "mimic"}},
        "seconds": {"runtimeValue": {"constant": 0.0}},
    }
    spec["root"]["dag"]["tasks"]["a/iteration-0/b"] = mimic
    with pytest.raises(PipelineLoadError, match="'a/iteration-0/b' in 'root' starts with 'a/'"):
        run_pipeline(spec, {"seconds": 0.0}, home=home)
    assert _outside(top, home) == set() and not (home / "runs").exists()
    # Alone, the same name runs, in a folder of its own.
    del spec["root"]["dag"]["tasks"]["a"]
    result = run_pipeline(spec, {"seconds": 0.0}, home=home)
    assert result.state == "SUCCEEDED", [t.error for t in result.tasks]
    assert [t.path for t in result.tasks] == ["a/iteration-0/b"]
    logs = Path(result.run.root) / "logs"
    assert [p.name for p in logs.rglob("*.log")] == [f"{safe_name('a/iteration-0/b')}.log"]
    assert _outside(top, home) == set()


def test_hostile_output_names_write_inside_the_task_folder(sandbox: tuple[Path, Path]) -> None:
    top, home = sandbox
    spec = compile_function(outputs_pipeline)
    spec = rename_output(spec, "comp-write-outputs", "data", str(top / "abs-artifact"))
    spec = rename_output(spec, "comp-write-outputs", "note", "CON")
    before = _outside(top, home)
    result = run_pipeline(spec, home=home)
    assert _outside(top, home) == before
    assert result.state == "SUCCEEDED", [t.error for t in result.tasks]
    task = result.tasks[0]
    assert task.outputs["parameters"] == {"CON": "note"}
    (uri,) = task.outputs["artifacts"][str(top / "abs-artifact")]
    task_root = Path(result.run.root) / "tasks" / "write-outputs"
    assert Path(uri) == task_root / safe_name(str(top / "abs-artifact"))
    assert Path(uri).read_text() == "data\n"
    _assert_contained(result, home)


def test_an_output_climbing_out_stays_in_the_task_folder(sandbox: tuple[Path, Path]) -> None:
    # The output folders are made before the task starts, from the output's name; the
    # Python function then finds no output called 'out' and fails: contained either way.
    top, home = sandbox
    spec = compile_function(p.two_step)
    spec = rename_output(spec, "comp-write-text", "out", "../../../../../escape/data")
    before = _outside(top, home)
    result = run_pipeline(spec, home=home, workers=2)
    assert _outside(top, home) == before
    assert result.state == "FAILED"
    assert result.failed_task is not None and result.failed_task.name == "write-text"
    task_root = Path(result.run.root) / "tasks" / "write-text"
    assert (task_root / safe_name("../../../../../escape/data")).parent == task_root
    _assert_contained(result, home)


def test_an_importer_with_a_hostile_name_copies_into_the_workspace(
    sandbox: tuple[Path, Path],
) -> None:
    top, home = sandbox
    source = top / "outer" / "data.txt"
    source.write_text("imported")
    spec = compile_function(p.import_remote)
    for executor in spec["deploymentSpec"]["executors"].values():
        if "importer" in executor:
            executor["importer"]["downloadToWorkspace"] = True
    importer = next(t for t in spec["root"]["dag"]["tasks"] if t.startswith("importer"))
    spec = rename_task(spec, importer, "../../../../../imported")
    before = _outside(top, home)
    result = run_pipeline(spec, {"uri": str(source)}, home=home)
    assert _outside(top, home) == before
    assert result.state == "SUCCEEDED", [t.error for t in result.tasks]
    assert result.outputs["Output"] == "IMPORTED"
    copied = Path(result.run.root) / "workspace" / ".artifacts"
    assert (copied / safe_name("../../../../../imported") / "data.txt").read_text() == "imported"


def test_a_remote_folder_with_a_climbing_name_is_not_downloaded(
    sandbox: tuple[Path, Path],
) -> None:
    import fsspec

    top, home = sandbox
    fs = fsspec.filesystem("memory")
    fs.pipe("/kubeline-climb/dir/fine.txt", b"fine")
    fs.pipe("/kubeline-climb/dir/" + "../" * 7 + "escape.txt", b"escaped")
    try:
        before = _outside(top, home)
        result = run_pipeline(
            compile_function(p.import_remote), {"uri": "memory://kubeline-climb/dir"}, home=home
        )
    finally:
        fs.rm("/kubeline-climb", recursive=True)
    assert _outside(top, home) == before
    assert result.state == "FAILED"
    importer = next(t for t in result.tasks if t.kind == "importer")
    # kubeline's own check, whatever the installed fsspec does about it.
    assert "escape.txt" in (importer.error or "")
    assert "kubeline does not write or serve it" in (importer.error or "")


def test_a_hostile_model_name_is_refused_and_nothing_is_copied(
    sandbox: tuple[Path, Path],
) -> None:
    """A name no NAME:VERSION reference could reach is refused when the task registers it:
    the task fails saying why, and nothing lands outside the home or in the registry."""
    top, home = sandbox
    before = _outside(top, home)
    result = run_pipeline(
        compile_function(p.fit_iris_pipeline), {"register_as": "../../../evil"}, home=home
    )
    assert _outside(top, home) == before
    assert result.state == "FAILED"
    failed = result.failed_task
    assert failed is not None and "cannot name a model" in (failed.error or "")
    assert not (home / "models").exists() or list((home / "models").iterdir()) == []


def test_a_hostile_pipeline_name_gives_a_plain_run_id(sandbox: tuple[Path, Path]) -> None:
    top, home = sandbox
    spec = compile_function(p.two_step)
    spec["pipelineInfo"]["name"] = "../../../../../pipe/line\x00"
    before = _outside(top, home)
    result = run_pipeline(spec, home=home, workers=2)
    assert _outside(top, home) == before
    assert result.state == "SUCCEEDED"
    assert re.match(r"^pipe-line-\d{8}-\d{6}-[0-9a-f]{6}$", result.run_id)
    assert Path(result.run.root) == home / "runs" / result.run_id
    assert result.run.pipeline_name == "../../../../../pipe/line\x00"


def test_a_run_id_that_is_not_a_plain_name_is_refused(sandbox: tuple[Path, Path]) -> None:
    top, home = sandbox
    store = RunStore.for_home(home)
    spec = compile_function(p.two_step)
    before = _outside(top, home)
    for bad in ["../../escape", "/tmp/x", "..", "a/b"]:
        with pytest.raises(ConfigError, match="cannot name a run folder"):
            record_run(spec, home=home, store=store, run_id=bad)
    assert _outside(top, home) == before
    assert not (home / "runs").exists()
    assert record_run(spec, home=home, store=store, run_id="mine-1").root == str(
        home / "runs" / "mine-1"
    )


def test_a_symlinked_run_folder_is_not_written_through(sandbox: tuple[Path, Path]) -> None:
    top, home = sandbox
    (home / "runs").mkdir()
    (home / "runs" / "planted").symlink_to(top / "outer", target_is_directory=True)
    before = _outside(top, home)
    with pytest.raises(UnsafePathError):
        record_run(
            compile_function(p.two_step),
            home=home,
            store=RunStore.for_home(home),
            run_id="planted",
        )
    assert _outside(top, home) == before


def test_names_sharing_a_file_refuse_the_run_before_anything_is_written(
    sandbox: tuple[Path, Path],
) -> None:
    top, home = sandbox
    spec = rename_task(compile_function(p.two_step), "stamp", "Write-Text")
    with pytest.raises(PipelineLoadError, match="letter case"):
        run_pipeline(spec, home=home)
    assert not (home / "runs").exists()
    assert _outside(top, home) == set()


# ----------------------------------------------------------------------- the CLI
def _spec_file(spec: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_cli_runs_a_hostile_pipeline_contained_and_shows_its_logs(
    sandbox: tuple[Path, Path],
) -> None:
    top, home = sandbox
    spec = rename_task(compile_function(p.two_step), "write-text", "../../../../cli-x")
    spec = rename_task(spec, "read-text", "nul\x00byte")
    file = _spec_file(spec, top / "hostile.yaml")
    before = _outside(top, home)
    done = run_cli("run", str(file), "--output", "json", home=home, cwd=top)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "SUCCEEDED"
    logs = run_cli("runs", "logs", "last", "../../../../cli-x", home=home, cwd=top)
    assert logs.returncode == 0, logs.stderr
    assert _outside(top, home) == before


def test_cli_refuses_names_sharing_a_file_with_exit_2_and_one_line(
    sandbox: tuple[Path, Path],
) -> None:
    top, home = sandbox
    spec = rename_task(compile_function(p.two_step), "stamp", "READ-TEXT")
    file = _spec_file(spec, top / "twins.yaml")
    before = _outside(top, home)
    done = run_cli("run", str(file), home=home, cwd=top)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "'READ-TEXT'" in lines[-1] and "'read-text'" in lines[-1]
    assert "letter case" in lines[-1]
    assert "Traceback" not in done.stderr
    assert _outside(top, home) == before
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


def test_the_lifecycle_folders_keep_the_paths_the_docs_show() -> None:
    # Every name kfp compiles is ordinary, so nothing in the lifecycle pipeline is mapped.
    from kubeline.pipelines.compile import compile_to_spec

    spec = compile_to_spec("lifecycle")
    names: list[str] = [spec["pipelineInfo"]["name"]]
    for component in [spec["root"], *spec["components"].values()]:
        names += list(component.get("dag", {}).get("tasks", {}))
        for kind in ("parameters", "artifacts"):
            names += list(component.get("outputDefinitions", {}).get(kind, {}))
    assert {"evaluate", "run-trial", "report"} <= set(names)
    assert [n for n in names if safe_name(n) != n] == []
    check_spec_names(spec)
    assert os.sep not in "".join(safe_name(n) for n in names)
