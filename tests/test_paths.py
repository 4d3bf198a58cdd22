"""The file rules the engine and the model registry share (``kubeline.paths`` and
``kubeline.digest``): one definition each, so a model registered from its file and from its
run's artifact is the same version, and a name maps to the same folder in both."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import kubeline.engine.artifacts as engine_artifacts
import kubeline.engine.safepath as engine_safepath
from kubeline.digest import content_digest, file_digest
from kubeline.paths import is_ordinary, local_path, safe_name


def test_the_engine_uses_the_shared_rules_not_copies() -> None:
    assert engine_artifacts.content_digest is content_digest
    assert engine_artifacts.local_path is local_path
    assert engine_safepath.safe_name is safe_name
    assert engine_safepath.is_ordinary is is_ordinary


def test_local_path_names_only_local_files(tmp_path: Path) -> None:
    assert local_path(str(tmp_path / "m.joblib")) == tmp_path / "m.joblib"
    assert local_path(f"file://{tmp_path}/m.joblib") == tmp_path / "m.joblib"
    assert local_path("gs://bucket/model") is None
    assert local_path("https://example.com/model") is None


def test_a_file_digests_as_the_artifact_digest(tmp_path: Path) -> None:
    model = tmp_path / "a.joblib"
    model.write_bytes(b"model")
    assert content_digest(str(model)) == file_digest(model)
    assert content_digest(f"file://{model}") == file_digest(model)
    assert file_digest(model) == hashlib.sha256(b"file\0model").hexdigest()


def test_a_folder_digests_its_names_and_bytes_wherever_it_is(tmp_path: Path) -> None:
    for where in ("one", "two"):
        (tmp_path / where / "sub").mkdir(parents=True)
        (tmp_path / where / "a.joblib").write_bytes(b"model")
        (tmp_path / where / "sub" / "card.md").write_text("# card")
    assert content_digest(str(tmp_path / "one")) == content_digest(str(tmp_path / "two"))
    (tmp_path / "two" / "sub" / "card.md").rename(tmp_path / "two" / "sub" / "other.md")
    assert content_digest(str(tmp_path / "one")) != content_digest(str(tmp_path / "two"))


def test_a_uri_with_nothing_local_digests_its_text(tmp_path: Path) -> None:
    assert (
        content_digest("gs://bucket/model") == hashlib.sha256(b"uri\0gs://bucket/model").hexdigest()
    )
    missing = str(tmp_path / "missing")
    assert content_digest(missing) == hashlib.sha256(b"uri\0" + missing.encode()).hexdigest()


@pytest.mark.parametrize("name", ["model", "iris.joblib", "_x", "run-1", "a" * 128])
def test_ordinary_names_stay(name: str) -> None:
    assert safe_name(name) == name


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "a.", "con", "COM1.txt", "a b", "-x", ".hidden", "é", "x" * 129]
)
def test_other_names_get_a_readable_form_and_a_hash(name: str) -> None:
    mapped = safe_name(name)
    assert mapped != name and "~" in mapped
    assert os.sep not in mapped and "/" not in mapped and not mapped.startswith(".")
    assert mapped.endswith(hashlib.sha256(name.encode()).hexdigest()[:12])
    assert safe_name(name + "!") != mapped


def test_a_name_with_a_lone_surrogate_still_maps() -> None:
    assert "~" in safe_name("a\udc80")
