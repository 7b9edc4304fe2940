"""What the inventory tells the domains above it: stock levels moved, a threshold changed.

Published in the caller's transaction through sync_server/events.py; the alerts domain
receives both (sync_server/alerts/receivers.py) to open and clear stock alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from sync_server.catalog.models import Product
from sync_server.inventory.models import StockLevel


@dataclass(slots=True)
class LevelChange:
    """One level a batch of movements moved, with what judging it needs.

    ``product`` is the product's facts as the ledger read them (id, tenant_id, name, sku);
    ``threshold`` is the branch's low-stock threshold of it. A receiver leaves in
    ``follow_ups`` what must run right after the ledger publishes this level's own change
    to the feed (alerts announce there), so the feed lists a level's change before what it
    caused, line after line, whether the movements came one by one or as one batch.
    """

    product: Any
    level: StockLevel
    threshold: Decimal
    follow_ups: list[Callable[[], None]] = field(default_factory=list)


@dataclass(slots=True)
class StockChanged:
    """Movements of one branch moved these levels (one product each), in ``session``."""

    session: Session
    tenant_id: int
    branch_id: int
    changes: list[LevelChange]


@dataclass(slots=True)
class ThresholdChanged:
    """A branch's threshold of a product changed; its level may now be judged differently."""

    session: Session
    product: Product
    level: StockLevel
