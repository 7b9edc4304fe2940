"""What the server's /health answers: its version and whether its database serves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class HealthRead(BaseModel):
    status: str  # "ok" or "degraded"
    version: str = ""
    # dialect, ok, migrated (and error when it does not answer).
    database: dict[str, Any] = {}
    # A read replica's lag, when the server has one.
    replica: dict[str, Any] | None = None
