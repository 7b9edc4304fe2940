"""Mount every domain's router under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from sync_server.domains import domain_modules
from sync_server.health import router as health_router


def build_api_router() -> APIRouter:
    """Return /api/v1 with the health route and each domain's routes."""
    api_router = APIRouter(prefix="/api/v1")
    api_router.include_router(health_router)
    for module in domain_modules("routes"):
        api_router.include_router(module.router)
    return api_router
