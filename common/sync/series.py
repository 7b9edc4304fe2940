"""Wire schema of a till's receipt series as the server last saw it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DeviceSeries(BaseModel):
    """The device's receipt prefix and the highest number of it the server holds."""

    receipt_prefix: str = Field(max_length=40)
    last_receipt_seq: int = Field(ge=0)


def series_number(receipt_number: str, *, prefix: str) -> int | None:
    """Return the running number of a receipt of this series (AND-T01-000123 → 123)."""
    head, _, tail = receipt_number.rpartition("-")
    if head != prefix or not tail.isdigit():
        return None
    return int(tail)
