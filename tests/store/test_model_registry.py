"""The registry's tables in a real SQLite store: numbering, dedup by content, aliases."""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kubeline.errors import NotFoundError
from kubeline.registry import version_from_metadata
from kubeline.store import ModelVersionRecord, RunStore, schema
from tests.requirements import exempt


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore.for_home(tmp_path) as store:
        yield store


def version(name: str = "m", digest: str | None = "d1", **fields: object) -> ModelVersionRecord:
    return ModelVersionRecord(
        name=name,
        version=0,
        created_at=datetime.now(timezone.utc),
        uri=f"/models/{digest}",
        digest=digest,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("table", "record"),
    [
        (schema.models, "ModelRecord"),
        (schema.model_versions, "ModelVersionRecord"),
        (schema.model_aliases, "ModelAliasRecord"),
    ],
)
def test_columns_match_record_fields(table: object, record: str) -> None:
    import kubeline.store

    fields = dataclasses.fields(getattr(kubeline.store, record))
    assert [c.name for c in table.columns] == [f.name for f in fields]  # type: ignore[attr-defined]


def test_versions_are_numbered_per_name_and_the_model_is_made(store: RunStore) -> None:
    first, new = store.models.register_version(version(digest="a"))
    second, _ = store.models.register_version(version(digest="b"))
    other, _ = store.models.register_version(version(name="n", digest="a"))
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert new
    assert [m.name for m in store.models.list()] == ["m", "n"]
    assert [v.version for v in store.models.list_versions("m")] == [2, 1]  # newest first


def test_the_same_content_is_the_same_version(store: RunStore) -> None:
    first, _ = store.models.register_version(version(digest="same"))
    again, new = store.models.register_version(version(digest="same", run_id="later"))
    assert not new and again.version == first.version and again.run_id is None
    assert len(store.models.list_versions("m")) == 1


def test_concurrent_registrations_get_distinct_numbers(store: RunStore) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def register(i: int) -> None:
        record, _ = store.models.register_version(version(digest=f"d{i}"))
        with lock:
            numbers.append(record.version)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == list(range(1, 9))


def test_aliases_move_and_must_name_a_version(store: RunStore) -> None:
    store.models.register_version(version(digest="a"))
    store.models.register_version(version(digest="b"))
    store.models.set_alias("m", "production", 1)
    store.models.set_alias("m", "production", 2)
    store.models.set_alias("m", "staging", 1)
    assert {(a.alias, a.version) for a in store.models.aliases("m")} == {
        ("production", 2),
        ("staging", 1),
    }
    with pytest.raises(NotFoundError, match="no version 7"):
        store.models.set_alias("m", "production", 7)
    assert store.models.delete_alias("m", "staging")
    assert not store.models.delete_alias("m", "staging")


def test_deleting_a_model_removes_its_versions_and_aliases(store: RunStore) -> None:
    store.models.register_version(version(digest="a"))
    store.models.set_alias("m", "production", 1)
    assert store.models.delete("m")
    assert store.models.list_versions("m") == [] and store.models.aliases("m") == []


def test_metadata_fills_the_version() -> None:
    record = version_from_metadata(
        {
            "framework": "sklearn",
            "features": ["a", "b"],
            "feature_types": ["float64", "int64"],
            "classes": ["no", "yes"],
            "target": "y",
            "metrics": {"accuracy": 0.9},
            "params": '{"C": 1.0}',
            "family": "svm",
            "libraries": {"scikit-learn": "1.9"},
            "data_digest": "dd",
            "card_uri": "/card",
        },
        name=" m ",
        uri="/model",
        digest="x",
        run_id="r",
    )
    assert record.name == "m"
    assert record.signature == {
        "features": ["a", "b"],
        "types": ["float64", "int64"],
        "classes": ["no", "yes"],
        "target": "y",
    }
    assert record.parameters == {"family": "svm", "C": 1.0}
    assert record.metrics == {"accuracy": 0.9} and record.card_uri == "/card"


def _symlink_or_skip(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target)
    except OSError as exc:  # Windows without the right to make symlinks
        if sys.platform != "win32":
            raise
        exempt("symlinks on Windows", f"cannot make one here: {exc}")


def test_the_registry_copies_only_files_from_the_runs_and_itself(tmp_path: Path) -> None:
    from kubeline.engine.registration import keep_copy
    from kubeline.errors import ConfigError

    models, run = tmp_path / "home" / "models", tmp_path / "home" / "runs" / "r1"
    folder = run / "tasks" / "fit" / "model"
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(b"model")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    secret = elsewhere / "secret.md"
    secret.write_text("top secret")
    climbing = str(run / ".." / ".." / ".." / "elsewhere" / "secret.md")
    version = version_from_metadata(
        {"card_uri": climbing}, name="m", uri=str(folder), digest="a" * 64
    )
    kept = keep_copy(version, models)
    assert (Path(kept.uri) / "model.joblib").read_bytes() == b"model"
    assert kept.card_uri == "" and "was ignored" in kept.metadata["registry_notes"][0]
    assert not list(models.rglob("card.md"))
    (run / "card.md").write_text("# the run's own card")
    version = version_from_metadata(
        {"card_uri": str(run / "card.md")}, name="m", uri=str(folder), digest="b" * 64
    )
    assert Path(keep_copy(version, models).card_uri).read_text() == "# the run's own card"
    with pytest.raises(ConfigError, match="outside the folders a registration copies from"):
        keep_copy(version_from_metadata({}, name="o", uri=str(secret), digest="c" * 64), models)
    _symlink_or_skip(folder / "extra.md", secret)
    linked = version_from_metadata({}, name="l", uri=str(folder), digest="d" * 64)
    with pytest.raises(ConfigError, match="a link to a file outside"):
        keep_copy(linked, models)
    assert not (models / "l").exists() and not (models / "o").exists()
