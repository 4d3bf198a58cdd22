"""What routes get injected (``Depends``), set up in the app's lifespan.

Starlette's ``app.state`` is untyped: each getter names the type the app factory stored.
"""

from __future__ import annotations

from fastapi import Request

from kubeline.server.manager import RunManager
from kubeline.server.settings import ServerSettings
from kubeline.store import RunStore

__all__ = ["get_manager", "get_settings", "get_store"]


def get_store(request: Request) -> RunStore:
    store: RunStore = request.app.state.store
    return store


def get_manager(request: Request) -> RunManager:
    manager: RunManager = request.app.state.manager
    return manager


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings
