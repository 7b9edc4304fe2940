"""Wire shapes of alerts and in-app notifications, as the back office lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.schemas.base import ReadSchema


class AlertRead(ReadSchema):
    id: int
    kind: str
    branch_id: int | None
    product_id: int | None
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    cleared_at: datetime | None
    details: dict[str, Any]


class NotificationRead(ReadSchema):
    id: int
    event: str
    subject: str
    body: str
    payload: dict[str, Any]
    branch_id: int | None
    created_at: datetime
    read_at: datetime | None
