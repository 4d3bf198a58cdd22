"""Server settings: one frozen object given to the app factory (no globals)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from kubeline.errors import ConfigError

__all__ = ["ServerSettings", "is_loopback"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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

    def check(self) -> None:
        """Refuse to listen beyond this machine without a token.

        Raises:
            ConfigError: a non-loopback host without a token.
        """
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"Refusing to serve on {self.host} without a token: anyone who can reach it "
                "could run code on this machine. Pass --token (or set KUBELINE_TOKEN), or "
                "bind to 127.0.0.1."
            )
