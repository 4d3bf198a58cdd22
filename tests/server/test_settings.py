"""Server settings resolved once, in the app factory: the store's URL from the settings or,
when they leave it out, from $KUBELINE_DATABASE_URL; nothing deeper reads the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeline.server import ServerSettings
from kubeline.store import DATABASE_URL_VARIABLE, RunStore
from tests.server.conftest import start_server


def test_resolved_takes_the_url_from_the_environment_only_when_none_is_given(
    tmp_path: Path,
) -> None:
    settings = ServerSettings(home=tmp_path)
    assert settings.resolved({}).database_url == settings.store_url
    assert str(settings.store_url).endswith("kubeline.db")
    given = {DATABASE_URL_VARIABLE: "sqlite:///elsewhere.db"}
    assert settings.resolved(given).database_url == "sqlite:///elsewhere.db"
    explicit = ServerSettings(home=tmp_path, database_url="sqlite:///mine.db")
    assert explicit.resolved(given) is explicit
    assert explicit.store_url == "sqlite:///mine.db"


def test_the_app_opens_the_store_its_settings_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere.db"
    monkeypatch.setenv(DATABASE_URL_VARIABLE, f"sqlite:///{tmp_path / 'from-env.db'}")
    server = start_server(home, database_url=f"sqlite:///{elsewhere}")
    try:
        assert server.http().get("/apis/v2beta1/experiments").status_code == 200
    finally:
        server.stop()
    assert elsewhere.is_file()  # the settings' URL, not the environment's
    assert not (tmp_path / "from-env.db").exists()
    assert not (home / "kubeline.db").exists()


def test_without_a_url_the_factory_takes_the_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv(DATABASE_URL_VARIABLE, url)
    server = start_server(tmp_path / "home")
    try:
        assert server.http().get("/apis/v2beta1/experiments").status_code == 200
    finally:
        server.stop()
    with RunStore(url) as store:
        assert store.experiments.count() == 1  # the default experiment, in that store
    assert not (tmp_path / "home" / "kubeline.db").exists()
