"""Liveness and database health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from sync_server import __version__
from sync_server.db import transaction
from sync_server.migrations.heads import is_up_to_date

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> JSONResponse:
    """Report the app version, whether the database answers and is migrated, replica lag."""
    database: dict[str, object] = {"dialect": request.app.state.engine.dialect.name}
    status = 200
    try:
        with transaction(request.app.state.sessions, readonly=True) as session:
            session.execute(text("SELECT 1"))
        database["ok"] = True
        database["migrated"] = is_up_to_date(request.app.state.engine)
        if not database["migrated"]:
            status = 503
    except Exception as exc:  # health must answer even when the database cannot
        database["ok"] = False
        database["error"] = exc.__class__.__name__
        status = 503
    body: dict[str, object] = {
        "status": "ok" if status == 200 else "degraded",
        "version": __version__,
        "database": database,
    }
    replica = getattr(request.app.state, "replica", None)
    if replica is not None:
        # Lag is reported, never a reason for 503: reads fall back to the primary past the bound.
        body["replica"] = replica.health()
    return JSONResponse(body, status_code=status)
