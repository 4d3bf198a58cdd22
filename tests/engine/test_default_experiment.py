"""Every run is in an experiment, as in Kubeflow Pipelines: one started by ``kubeline.run``
or ``kubeline run`` without naming one goes to Default."""

from __future__ import annotations

from pathlib import Path

from kubeline.engine.runner import record_run
from kubeline.pipelines.compile import compile_function
from kubeline.store import ExperimentRecord, RunStore, database_url, open_store
from tests.conftest import run_cli
from tests.engine import pipelines as p
from tests.store.conftest import T0


def test_python_api_run_lands_in_default(kubeline_home: Path) -> None:
    import kubeline

    result = kubeline.run(p.two_step, {"text": "api"})
    with open_store(database_url(kubeline_home)) as store:
        default = store.experiments.get_by_name("Default")
        assert default is not None
        run = store.runs.get(result.run_id)
        assert run is not None and run.experiment_id == default.experiment_id
        assert default.last_run_created_at == run.created_at


def test_cli_run_lands_in_default(kubeline_home: Path, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "two-step.yaml"
    path.write_text(yaml.safe_dump(compile_function(p.two_step)), encoding="utf-8")
    done = run_cli("run", str(path), "-p", "text=cli", home=kubeline_home)
    assert done.returncode == 0, done.stderr
    with open_store(database_url(kubeline_home)) as store:
        default = store.experiments.get_by_name("Default")
        assert default is not None
        assert [r.experiment_id for r in store.runs.list()] == [default.experiment_id]


def test_a_named_experiment_is_kept(tmp_path: Path) -> None:
    with RunStore.for_home(tmp_path) as store:
        store.experiments.add(
            ExperimentRecord(
                experiment_id="exp-1", name="tuning", created_at=T0, display_name="tuning"
            )
        )
        record = record_run(
            compile_function(p.two_step),
            home=tmp_path,
            store=store,
            extra={"experiment_id": "exp-1"},
        )
        assert record.experiment_id == "exp-1"
        assert store.experiments.get_by_name("Default") is None
        tuning = store.experiments.get("exp-1")
        assert tuning is not None and tuning.last_run_created_at == record.created_at
