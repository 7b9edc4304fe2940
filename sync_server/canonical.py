"""Canonical JSON for stored payloads: Decimals and datetimes as stable text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from common.schemas.base import plain_str


def json_default(value: Any) -> Any:
    """Encode what json cannot: Decimals as plain text, datetimes as UTC ISO 8601."""
    if isinstance(value, Decimal):
        # Canonical text: 649.0000 from the database and 649.00 from a request are equal.
        return plain_str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def jsonable(value: Any) -> Any:
    """Return value as plain JSON data (Decimals and datetimes as strings)."""
    return json.loads(json.dumps(value, default=json_default))
