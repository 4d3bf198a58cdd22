"""Opening the store at a URL: what a team's KUBELINE_DATABASE_URL can get wrong is a
ConfigError that says what and how to fix it (exit code 2 in the CLI), never a driver's
traceback, and never shows the URL's password."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeline.errors import ConfigError
from kubeline.store import RunStore
from tests.conftest import run_cli
from tests.live import free_port
from tests.postgres import INSTALL_HINT
from tests.requirements import need

SECRET = "hunter2"


def need_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need("PostgreSQL's driver", "psycopg is not installed", INSTALL_HINT)


@pytest.mark.postgres
def test_a_plain_postgresql_url_uses_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with RunStore(plain) as store:
        assert store._db.engine.dialect.driver == "psycopg"
        assert store.runs.list() == []


def test_a_missing_driver_says_what_to_install() -> None:
    with pytest.raises(ConfigError, match=r"no driver for 'postgresql\+nosuchdriver'") as caught:
        RunStore(f"postgresql+nosuchdriver://team:{SECRET}@127.0.0.1/kubeline")
    assert "pip install 'kubeline[postgresql]'" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_an_unreachable_database_is_a_config_error() -> None:
    need_psycopg()
    url = f"postgresql+psycopg://team:{SECRET}@127.0.0.1:{free_port()}/kubeline"
    with pytest.raises(ConfigError, match="Cannot open the store's database") as caught:
        RunStore(url)
    message = str(caught.value)
    assert "team:***@127.0.0.1" in message and SECRET not in message
    assert "KUBELINE_DATABASE_URL" in message


def test_a_malformed_url_is_a_config_error_that_does_not_repeat_it() -> None:
    with pytest.raises(ConfigError, match="not a database URL") as caught:
        RunStore(f"team:{SECRET}@db/kubeline")
    assert SECRET not in str(caught.value)


def test_the_cli_says_why_the_database_cannot_be_opened(
    kubeline_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_psycopg()
    url = f"postgresql+psycopg://team:{SECRET}@127.0.0.1:{free_port()}/kubeline"
    monkeypatch.setenv("KUBELINE_DATABASE_URL", url)
    done = run_cli("runs", "list", home=kubeline_home)
    assert done.returncode == 2, done.stderr
    assert "Cannot open the store's database" in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr
