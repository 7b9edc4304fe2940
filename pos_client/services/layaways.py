"""Deposits and layaway at the till (online: the goods are reserved on the server).

Cash taken or given back goes through the shift's drawer as a cash-in or cash-out, so the
Z report's expected cash stays right.
"""

from __future__ import annotations

from decimal import Decimal

from common.ids import new_id
from common.schemas.layaway import LayawayRead
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart
from pos_client.store import documents


def _drawer(
    engine: SyncEngine,
    *,
    amount: Decimal,
    direction: str,
    reason: str,
    cashier: Cashier,
    shift_id: str | None,
) -> None:
    with engine.store.transaction() as session:
        documents.record_cash_movement(
            session,
            shift_id=shift_id,
            direction=direction,
            amount=amount,
            reason=reason,
            cashier_id=cashier.user_id,
        )


def start(
    engine: SyncEngine,
    *,
    cart: Cart,
    deposit: Decimal,
    cashier: Cashier,
    shift_id: str | None,
    method: str = "cash",
) -> LayawayRead:
    """Reserve the cart's goods for its customer against a deposit."""
    customer = cart.customer
    body = {
        "layaway_id": new_id(),
        "customer_id": customer.customer_id if customer else None,
        "lines": [
            {
                "product_id": line.item.product_id,
                "quantity": str(line.quantity),
                # What the customer agreed to pay per unit, after the line's discounts.
                "unit_price": str((line.net / line.quantity).quantize(Decimal("0.01"))),
            }
            for line in cart.lines
        ],
        "deposit": {"payment_id": new_id(), "amount": str(deposit), "method": method},
    }
    answer = LayawayRead.model_validate(engine.call("POST", "/layaways", json=body))
    if method == "cash":
        _drawer(
            engine,
            amount=deposit,
            direction="in",
            reason=f"Layaway deposit {answer.id[-8:]}",
            cashier=cashier,
            shift_id=shift_id,
        )
    return answer


def pay(
    engine: SyncEngine,
    *,
    layaway_id: str,
    amount: Decimal,
    cashier: Cashier,
    shift_id: str | None,
    method: str = "cash",
) -> LayawayRead:
    """Take a part payment; the last one hands the goods over."""
    body = {"payment_id": new_id(), "amount": str(amount), "method": method}
    answer = LayawayRead.model_validate(
        engine.call("POST", f"/layaways/{layaway_id}/payments", json=body)
    )
    if method == "cash":
        _drawer(
            engine,
            amount=amount,
            direction="in",
            reason=f"Layaway payment {layaway_id[-8:]}",
            cashier=cashier,
            shift_id=shift_id,
        )
    return answer


def cancel(
    engine: SyncEngine, *, layaway_id: str, outcome: str, cashier: Cashier, shift_id: str | None
) -> LayawayRead:
    """Release the goods: refund in cash, keep as store credit, or keep the deposit."""
    answer = LayawayRead.model_validate(
        engine.call("POST", f"/layaways/{layaway_id}/cancel", json={"outcome": outcome})
    )
    if outcome == "refunded" and answer.paid > 0:
        _drawer(
            engine,
            amount=answer.paid,
            direction="out",
            reason=f"Layaway {layaway_id[-8:]} refunded",
            cashier=cashier,
            shift_id=shift_id,
        )
    return answer
