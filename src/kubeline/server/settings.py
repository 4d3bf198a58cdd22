"""Server settings: one frozen object given to the app factory (no globals).

The caller (the CLI) resolves what it is told (home, token, addresses); the app factory fills
in what the environment supplies (:meth:`ServerSettings.resolved`), once, and every module
below it reads values from the settings, never from ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kubeline.discovery import DEFAULT_PORT, new_instance
from kubeline.errors import ConfigError
from kubeline.httpguard import is_loopback
from kubeline.store import database_url

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["ServerSettings", "is_loopback"]


@dataclass(frozen=True)
class ServerSettings:
    """What ``kubeline server`` runs with."""

    home: Path
    host: str = "127.0.0.1"
    #: 8740, not Jupyter's 8888 (kubeline.discovery says why).
    port: int = DEFAULT_PORT
    token: str | None = None
    max_upload_bytes: int = 32 * 1024 * 1024  # KFP's own upload limit
    max_concurrent_runs: int = 4
    workers_per_run: int | None = None
    #: Seconds a terminated run's tasks have to end before they are killed (None: 5).
    grace_period: float | None = None
    #: Where runs' tasks run: ``local``, or ``docker`` / ``podman`` (each in its image),
    #: and when their images are pulled (``missing``, ``always``, ``never``).
    runner: str = "local"
    pull: str = "missing"
    preview_bytes: int = 1024 * 1024
    schedule_interval_seconds: float = 1.0
    #: Host names a request may use besides loopback names and the bound address
    #: (``--allow-host``); ``*`` turns the Host check off.
    allow_hosts: tuple[str, ...] = ()
    #: Addresses of a reverse proxy whose X-Forwarded-Proto/-Host are believed
    #: (``--trusted-proxy``); nobody's by default.
    trusted_proxies: tuple[str, ...] = ()
    #: The store's SQLAlchemy URL (e.g. PostgreSQL). ``None``: :meth:`resolved` takes
    #: ``$KUBELINE_DATABASE_URL``, else the SQLite file in ``home``.
    database_url: str | sa.URL | None = None
    #: This server start's id: its /healthz says it, and so does the record
    #: ``kubeline server`` leaves in ``home`` (kubeline.discovery), so that a record left by
    #: a killed server is not taken for the server now on its port.
    instance: str = field(default_factory=new_instance)

    def resolved(self, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """These settings with what the environment supplies filled in (the store's URL).

        Args:
            environ: The environment to read; the process's when ``None``.
        """
        if self.database_url is not None:
            return self
        return replace(self, database_url=database_url(self.home, environ))

    @property
    def store_url(self) -> str | sa.URL:
        """The store's URL: ``database_url``, else the SQLite file in ``home`` (the
        environment is read only by :meth:`resolved`)."""
        if self.database_url is not None:
            return self.database_url
        return database_url(self.home, environ={})

    def check(self) -> None:
        """Refuse to listen beyond this machine without a token.

        Raises:
            ConfigError: a non-loopback host without a token.
        """
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"Refusing to serve on {self.host} without a token: anyone who can reach it "
                "could run code on this machine. Pass --token-file PATH (or set "
                "KUBELINE_TOKEN), or bind to 127.0.0.1."
            )
