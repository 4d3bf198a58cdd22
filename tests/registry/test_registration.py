"""Registering model files and run artifacts: real models, a real store, real copies."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from kubeline.errors import ConfigError, DataError
from kubeline.registry import (
    NOTES_KEY,
    check_card,
    keep_copy,
    register,
    register_artifact,
    register_file,
    version_dict,
    version_from_metadata,
    version_of_output,
    wants_registration,
)
from kubeline.store import ArtifactRecord, RunRecord, RunStore, TaskRecord
from tests.registry.conftest import save_model


def test_a_file_is_registered_once_per_content_and_copied(store: RunStore, tmp_path: Path) -> None:
    models = tmp_path / "home" / "models"
    path = save_model(tmp_path / "mine")
    first, new = register_file(store, path, "iris", models_root=models)
    assert new and first.version == 1
    assert Path(first.uri).is_relative_to(models) and Path(first.uri).read_bytes() == (
        path.read_bytes()
    )
    assert first.signature["features"][0] == "sepal length (cm)"
    assert first.signature["classes"] == [0, 1, 2] and first.framework == "sklearn"
    again, new = register_file(store, path, "iris", models_root=models)
    assert not new and again.version == 1
    other, new = register_file(store, save_model(tmp_path / "b", c=0.01), "iris")
    assert new and other.version == 2 and other.uri.startswith(str(tmp_path / "b"))


def test_a_name_that_cannot_name_a_model_is_refused(store: RunStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot name a model"):
        register_file(store, save_model(tmp_path), "../up")


def test_register_tells_an_artifact_id_from_a_path(store: RunStore, tmp_path: Path) -> None:
    path = save_model(tmp_path / "m")
    version, _ = register(store, str(path), "iris", models_root=tmp_path / "models")
    assert version.name == "iris"
    with pytest.raises(ConfigError, match="a name is needed"):
        register(store, str(path), None, models_root=tmp_path / "models")
    with pytest.raises(ConfigError, match="No artifact with id 'nope'"):
        register(store, "nope", "iris", models_root=tmp_path / "models")


def _artifact(store: RunStore, run_root: Path, uri: str, **meta: object) -> ArtifactRecord:
    now = datetime.now(timezone.utc)
    store.runs.add(
        RunRecord(
            run_id="r1",
            pipeline_name="p",
            state="SUCCEEDED",
            created_at=now,
            root=str(run_root),
        )
    )
    store.tasks.add(
        TaskRecord(
            task_id="t1", run_id="r1", name="fit", path="fit", kind="executor", state="SUCCEEDED"
        )
    )
    artifact = ArtifactRecord(
        artifact_id="a1",
        run_id="r1",
        producer_task_id="t1",
        output_name="model",
        uri=uri,
        schema_title="system.Model",
        metadata=dict(meta),
        created_at=now,
    )
    store.artifacts.add(artifact)
    return artifact


def test_an_artifact_registers_with_its_lineage(store: RunStore, tmp_path: Path) -> None:
    run = tmp_path / "home" / "runs" / "r1"
    path = save_model(run / "tasks" / "fit", name="model")  # KFP's name: no suffix
    _artifact(store, run, str(path), register_as="iris", metrics={"accuracy": 0.9})
    version, new = register_artifact(store, "a1", models_root=tmp_path / "home" / "models")
    assert new and (version.name, version.run_id, version.artifact_id) == ("iris", "r1", "a1")
    assert version.metrics == {"accuracy": 0.9}
    shown = version_dict(version, ["production"])
    assert shown["aliases"] == ["production"] and shown["notes"] == []


def test_an_artifact_outside_its_run_is_never_opened(store: RunStore, tmp_path: Path) -> None:
    run = tmp_path / "home" / "runs" / "r1"
    run.mkdir(parents=True)
    elsewhere = save_model(tmp_path / "elsewhere")
    _artifact(store, run, str(elsewhere), register_as="iris")
    with pytest.raises(ConfigError, match="outside its run's folder and the model registry"):
        register_artifact(store, "a1")


def test_a_missing_model_file_is_a_data_error(store: RunStore, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No model at"):
        register_file(store, tmp_path / "gone.joblib", "iris")


def test_a_run_output_asks_for_registration_with_register_as() -> None:
    assert wants_registration("system.Model", {"register_as": "iris"})
    assert not wants_registration("system.Model", {"register_as": " "})
    assert not wants_registration("system.Dataset", {"register_as": "iris"})
    version = version_of_output(
        {"register_as": " iris ", "params": '{"C": 1}', "family": "linear"},
        uri="/m",
        digest="d",
        artifact_id="a",
        run_id="r",
        task_id="t",
    )
    assert version.name == "iris" and version.parameters == {"family": "linear", "C": 1}
    with pytest.raises(ConfigError, match="cannot name a model"):
        version_of_output(
            {"register_as": "a/b"},
            uri="/m",
            digest="d",
            artifact_id=None,
            run_id=None,
            task_id=None,
        )


def test_a_card_outside_the_roots_is_dropped_with_a_note(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("top secret")
    version = version_from_metadata({"card_uri": str(secret)}, name="m", uri="/m", digest="d")
    checked = check_card(version, [tmp_path / "runs"])
    assert checked.card_uri == "" and "was ignored" in checked.metadata[NOTES_KEY][0]
    assert version_dict(checked, [])["notes"] == checked.metadata[NOTES_KEY]
    assert check_card(version, [tmp_path]).card_uri == str(secret)


def test_a_copy_never_leaves_the_registry_folder(tmp_path: Path) -> None:
    runs = tmp_path / "home" / "runs"
    model = save_model(runs / "r1")
    version = version_from_metadata({}, name="con", uri=str(model), digest="e" * 64)
    kept = keep_copy(version, tmp_path / "home" / "models")
    folder = Path(kept.uri).parent
    assert folder.parent.name.startswith("con~")  # a Windows device name is never a folder
    assert folder.is_relative_to(tmp_path / "home" / "models")
