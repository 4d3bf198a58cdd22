"""Health: what kfp.Client asks first."""

from fastapi import APIRouter

router = APIRouter(tags=["health"])

_HEALTH = {"multi_user": False, "pipeline_store": "database"}


@router.get("/healthz")
@router.get("/apis/v2beta1/healthz")
def healthz() -> dict:
    return _HEALTH
