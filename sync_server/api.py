"""Every domain's router in one, for create_app to mount under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from sync_server.domains import domain_modules
from sync_server.health import router as health_router

# Where the API lives. create_app gives it when it includes the router (not the router
# itself): FastAPI checks every route of a router included without a prefix for an empty
# path, and working out the routes for that check (their dependencies, their models' schema)
# was thrown away when the app worked them out again under its own inclusion: ~0.4 s of CPU
# on each start of the server.
API_PREFIX = "/api/v1"


def build_api_router() -> APIRouter:
    """Return the health route and each domain's routes (create_app puts them at API_PREFIX)."""
    api_router = APIRouter()
    api_router.include_router(health_router)
    for module in domain_modules("routes"):
        api_router.include_router(module.router)
    return api_router
