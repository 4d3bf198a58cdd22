"""Health: what kfp.Client asks first, and how kubeline's clients tell kubeline apart.

KFP's fields stay as they are; the ``kubeline`` field (version and this server start's
instance id) lets :func:`kubeline.discovery.find_server` accept this server and nothing
else that happens to listen on a port.
"""

from fastapi import APIRouter, Depends

from kubeline.discovery import identity
from kubeline.server.deps import get_settings
from kubeline.server.settings import ServerSettings
from kubeline.version import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
@router.get("/apis/v2beta1/healthz")
def healthz(settings: ServerSettings = Depends(get_settings)) -> dict:
    return {
        "multi_user": False,
        "pipeline_store": "database",
        "kubeline": identity(__version__, settings.instance),
    }
