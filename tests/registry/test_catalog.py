"""Finding versions by reference, listing models, moving aliases: a real SQLite store."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from kubeline.errors import Codes, ConfigError, NotFoundError, codes_of
from kubeline.registry import (
    ModelNotFoundError,
    aliases_by_version,
    model_summaries,
    model_versions,
    remove_alias,
    resolve,
    set_alias,
)
from kubeline.store import RunStore
from tests.registry.conftest import add_version


@pytest.fixture
def iris(store: RunStore) -> RunStore:
    add_version(store, "iris", "a", metrics={"accuracy": 0.9})
    add_version(store, "iris", "b", metrics={"accuracy": 0.95})
    add_version(store, "wine", "c")
    return store


@pytest.mark.parametrize(
    ("reference", "version"),
    [("iris", 2), ("iris:1", 1), (" iris:2 ", 2)],
    ids=["newest", "by-number", "spaces"],
)
def test_a_reference_names_one_version(iris: RunStore, reference: str, version: int) -> None:
    found = resolve(iris, reference)
    assert (found.name, found.version) == ("iris", version)


def test_an_alias_names_the_version_it_points_at_and_moves(iris: RunStore) -> None:
    first = resolve(iris, "iris:1")
    assert set_alias(iris, first, "production") is None
    assert resolve(iris, "iris@production").version == 1
    assert set_alias(iris, resolve(iris, "iris:2"), "production") == 1  # moved from 1
    assert resolve(iris, "iris@production").version == 2
    set_alias(iris, first, "staging")
    assert aliases_by_version(iris, "iris") == {2: ["production"], 1: ["staging"]}
    remove_alias(iris, "iris", "staging")
    with pytest.raises(NotFoundError, match="Model 'iris' has no alias 'staging'"):
        remove_alias(iris, "iris", "staging")


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nothing", "No model named 'nothing'. Registered models: iris, wine."),
        ("iris:7", r"Model 'iris' has no version 7 \(versions: 1, 2\)."),
        ("iris@gold", r"Model 'iris' has no alias 'gold' \(aliases: none\)."),
    ],
    ids=["model", "version", "alias"],
)
def test_what_is_not_there_is_not_found_and_says_what_is(
    iris: RunStore, reference: str, message: str
) -> None:
    with pytest.raises(NotFoundError, match=message):
        resolve(iris, reference)


def test_a_reference_that_is_not_one_is_a_config_error(iris: RunStore) -> None:
    with pytest.raises(ConfigError, match="'iris:x' is not a model reference"):
        resolve(iris, "iris:x")


@pytest.mark.parametrize("alias", ["12", "a b", "-x", ""], ids=["digits", "space", "dash", "empty"])
def test_an_alias_that_cannot_be_one_is_refused_before_anything_moves(
    iris: RunStore, alias: str
) -> None:
    with pytest.raises(ConfigError, match="cannot be an alias"):
        set_alias(iris, resolve(iris, "iris"), alias)
    assert aliases_by_version(iris, "iris") == {}


def test_summaries_list_each_model_with_its_newest_version_and_aliases(iris: RunStore) -> None:
    set_alias(iris, resolve(iris, "iris:1"), "production")
    rows = model_summaries(iris)
    assert [(m.model.name, len(m.versions), m.aliases) for m in rows] == [
        ("iris", 2, {"production": 1}),
        ("wine", 1, {}),
    ]
    assert rows[0].latest is not None and rows[0].latest.metrics == {"accuracy": 0.95}
    assert [v.version for v in model_versions(iris, "iris")] == [2, 1]
    with pytest.raises(NotFoundError, match=r"No model named 'nothing'\."):
        model_versions(iris, "nothing")


def test_an_empty_registry_lists_nothing(store: RunStore) -> None:
    assert model_summaries(store) == []
    with pytest.raises(NotFoundError, match="Registered models: none yet"):
        resolve(store, "iris")


@pytest.mark.parametrize("reference", ["nothing", "iris:7", "iris@gold"])
def test_not_found_is_still_a_config_error_for_old_callers(iris: RunStore, reference: str) -> None:
    """``kubeline.get_model`` raised ConfigError for these before: ``except ConfigError``
    still catches them, while the table answers them as not found (404, exit 2)."""
    try:
        resolve(iris, reference)
    except ConfigError as exc:
        caught: Exception = exc
    assert isinstance(caught, ModelNotFoundError) and isinstance(caught, NotFoundError)
    assert codes_of(caught) == Codes(404, 2)
    with pytest.raises(ConfigError):
        remove_alias(iris, "iris", "gold")
    with pytest.raises(ConfigError):
        model_versions(iris, "nothing")


def test_the_python_api_still_raises_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kubeline

    monkeypatch.setenv("KUBELINE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBELINE_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="No model named 'nothing'"):
        kubeline.get_model("nothing")


def test_the_cli_exits_2(iris: RunStore) -> None:
    """(The API's 404 for it: tests/server/test_errors.py.)"""
    from kubeline.cli.common import report_error

    with pytest.raises(ModelNotFoundError) as raised:
        resolve(iris, "nothing")
    assert report_error(raised.value, verbose=False, console=Console(file=io.StringIO())) == 2
