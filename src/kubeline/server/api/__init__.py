"""KFP v2beta1 routes, one module per resource."""

from fastapi import APIRouter

from kubeline.server.api import (
    artifacts,
    experiments,
    health,
    logs,
    models,
    pipelines,
    recurring,
    runs,
)

__all__ = ["router"]

router = APIRouter()
router.include_router(health.router)
router.include_router(pipelines.router, prefix="/apis/v2beta1")
router.include_router(experiments.router, prefix="/apis/v2beta1")
router.include_router(runs.router, prefix="/apis/v2beta1")
router.include_router(recurring.router, prefix="/apis/v2beta1")
router.include_router(artifacts.router)
router.include_router(logs.router)
router.include_router(models.router)
