"""Click-and-collect at the till: find an online order by number or scan, take what is still
due and hand it over (online only: the server holds the order and its reserved stock)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from common.schemas.pickup import PickupRead
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.store import documents


def find(engine: SyncEngine, *, number: str) -> PickupRead:
    """Return the order to collect (raises SyncFailed: offline, unknown, not for pickup)."""
    return PickupRead.model_validate(engine.call("GET", f"/pickups/{number.strip()}"))


def collect(
    engine: SyncEngine,
    *,
    number: str,
    amount: Decimal,
    method: str,
    reference: str,
    cashier: Cashier,
    shift_id: str | None,
) -> PickupRead:
    """Hand the order over; cash taken for it goes into the shift's drawer."""
    body: dict[str, Any] = {"amount": str(amount), "method": method, "reference": reference}
    answer = PickupRead.model_validate(
        engine.call("POST", f"/pickups/{number.strip()}/collect", json=body)
    )
    if method == "cash" and amount > 0:
        with engine.store.transaction() as session:
            documents.record_cash_movement(
                session,
                shift_id=shift_id,
                direction="in",
                amount=amount,
                reason=f"Order {answer.number} collected",
                cashier_id=cashier.user_id,
            )
    return answer
