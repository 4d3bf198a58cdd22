"""Server settings: one frozen object given to the app factory (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubeline.errors import ConfigError
from kubeline.httpguard import is_loopback

__all__ = ["ServerSettings", "is_loopback"]


@dataclass(frozen=True)
class ServerSettings:
    """What ``kubeline server`` runs with."""

    home: Path
    host: str = "127.0.0.1"
    port: int = 8888
    token: str | None = None
    max_upload_bytes: int = 32 * 1024 * 1024  # KFP's own upload limit
    max_concurrent_runs: int = 4
    workers_per_run: int | None = None
    preview_bytes: int = 1024 * 1024
    schedule_interval_seconds: float = 1.0
    #: Host names a request may use besides loopback names and the bound address
    #: (``--allow-host``); ``*`` turns the Host check off.
    allow_hosts: tuple[str, ...] = ()
    #: Addresses of a reverse proxy whose X-Forwarded-Proto/-Host are believed
    #: (``--trusted-proxy``); nobody's by default.
    trusted_proxies: tuple[str, ...] = ()

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
