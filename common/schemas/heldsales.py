"""Wire shapes of held (parked) sales that another till of the branch may recall."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.schemas.base import Amount, ReadSchema


class HeldSaleRead(ReadSchema):
    hold_id: str
    branch_id: int
    device_id: str
    label: str
    total: Amount
    cashier_id: int | None
    status: str
    created_at: datetime
    cart: dict[str, Any]
