"""What routes get injected (``Depends``), set up in the app's lifespan."""

from __future__ import annotations

from fastapi import Request

from kubeline.server.manager import RunManager
from kubeline.server.settings import ServerSettings
from kubeline.store import RunStore

__all__ = ["get_manager", "get_settings", "get_store"]


def get_store(request: Request) -> RunStore:
    return request.app.state.store


def get_manager(request: Request) -> RunManager:
    return request.app.state.manager


def get_settings(request: Request) -> ServerSettings:
    return request.app.state.settings
