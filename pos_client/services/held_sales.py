"""Park a cart and recall it: on this till from its store (offline too), or from another till
of the branch through the server when online.

A parked cart is written to the till's store (it survives a restart) and sent in the outbox,
so the server can hand it to another till of the branch; recalling it here tells the server.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import Unit
from common.errors import NotFound, ValidationFailed
from common.ids import new_id
from common.sync.programs import HeldSaleParked, HeldSaleRecalled
from common.sync.protocol import Event
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import Cart, CartLine, CatalogItem, CreditInfo, Override
from pos_client.store import documents, outbox
from pos_client.store.programs import HeldCart

CART_FORMAT = 1


@dataclass(frozen=True)
class HeldRow:
    """A parked cart as the recall list shows it."""

    hold_id: str
    label: str
    total: Decimal
    line_count: int
    parked_at: datetime
    here: bool  # parked on (or already brought to) this till


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def cart_to_dict(cart: Cart) -> dict[str, Any]:
    """Write a cart as plain JSON (Decimals as text) to park it."""
    return {
        "format": CART_FORMAT,
        "sale_id": cart.sale_id,
        "currency": cart.currency,
        "max_discount_percent": str(cart.max_discount_percent),
        "order_discount": str(cart.order_discount),
        "customer": None
        if cart.customer is None
        else {
            **asdict(cart.customer),
            "credit_limit": str(cart.customer.credit_limit),
            "balance": str(cart.customer.balance),
        },
        "overrides": [{**asdict(o), "at": o.at.isoformat()} for o in cart.overrides],
        "lines": [
            {
                "line_id": line.line_id,
                "item": {
                    "product_id": line.item.product_id,
                    "sku": line.item.sku,
                    "name": line.item.name,
                    "price": str(line.item.price),
                    "unit": line.item.unit.value,
                    "tax_rate": str(line.item.tax_rate),
                    "barcode": line.item.barcode,
                },
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "discount": str(line.discount),
                "attributes": dict(line.attributes),
            }
            for line in cart.lines
        ],
    }


def cart_from_dict(data: dict[str, Any]) -> Cart:
    """Rebuild a parked cart (raises ValidationFailed if it is not one)."""
    try:
        cart = Cart(
            max_discount_percent=Decimal(data["max_discount_percent"]),
            currency=data["currency"],
        )
        cart.sale_id = data["sale_id"]
        for raw in data["lines"]:
            item = raw["item"]
            cart.lines.append(
                CartLine(
                    line_id=raw["line_id"],
                    item=CatalogItem(
                        product_id=int(item["product_id"]),
                        sku=item["sku"],
                        name=item["name"],
                        price=Decimal(item["price"]),
                        unit=Unit(item["unit"]),
                        tax_rate=Decimal(item["tax_rate"]),
                        barcode=item.get("barcode"),
                    ),
                    quantity=Decimal(raw["quantity"]),
                    unit_price=Decimal(raw["unit_price"]),
                    discount=Decimal(raw["discount"]),
                    attributes=dict(raw.get("attributes") or {}),
                )
            )
        customer = data.get("customer")
        if customer:
            cart.customer = CreditInfo(
                customer_id=customer["customer_id"],
                local_id=customer["local_id"],
                name=customer["name"],
                credit_limit=Decimal(customer["credit_limit"]),
                balance=Decimal(customer["balance"]),
                phone=customer.get("phone", ""),
            )
        cart.overrides = [
            Override(
                manager_id=o["manager_id"],
                manager_name=o["manager_name"],
                action=o["action"],
                detail=o["detail"],
                at=datetime.fromisoformat(o["at"]),
            )
            for o in data.get("overrides", [])
        ]
        cart.order_discount = Decimal(data["order_discount"])
        cart._spread_order_discount()
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValidationFailed(f"That held sale cannot be read back ({exc})") from None
    return cart


def park(session: Session, *, cart: Cart, cashier: Cashier, label: str = "") -> HeldRow:
    """Park the cart on this till and tell the server, so the branch's tills see it."""
    if cart.is_empty:
        raise ValidationFailed("There is nothing to hold: the cart is empty")
    # Unnamed, a held sale is known by its customer or its first item.
    first = cart.lines[0].item.name
    more = f" +{len(cart.lines) - 1}" if len(cart.lines) > 1 else ""
    label = (label.strip() or (cart.customer.name if cart.customer else f"{first}{more}"))[:80]
    state = documents.get_state(session)
    totals = cart.totals()
    row = HeldCart(
        id=new_id(),
        label=label,
        total=totals.total,
        line_count=totals.line_count,
        cashier_id=cashier.user_id,
        cart=cart_to_dict(cart),
    )
    session.add(row)
    payload = HeldSaleParked(
        hold_id=row.id,
        branch_id=state.branch_id or 0,
        label=label,
        total=totals.total,
        cashier_id=cashier.user_id,
        cart=row.cart,
    )
    outbox.enqueue(
        session, event=Event.wrap(payload, device_id=state.device_id or ""), document_id=row.id
    )
    session.flush()
    return _row(row, here=True)


def _row(row: HeldCart, *, here: bool) -> HeldRow:
    return HeldRow(
        hold_id=row.id,
        label=row.label,
        total=row.total,
        line_count=row.line_count,
        parked_at=row.parked_at,
        here=here,
    )


def held_here(session: Session) -> list[HeldRow]:
    """Return the carts parked on this till, oldest first."""
    rows = session.scalars(select(HeldCart).order_by(HeldCart.parked_at, HeldCart.id))
    return [_row(row, here=True) for row in rows]


def recall_here(session: Session, *, hold_id: str) -> Cart:
    """Take a cart parked on this till back into the sale (works offline)."""
    row = session.get(HeldCart, hold_id)
    if row is None:
        raise NotFound("That held sale is no longer on this till")
    cart = cart_from_dict(row.cart)
    state = documents.get_state(session)
    session.delete(row)
    payload = HeldSaleRecalled(hold_id=hold_id, branch_id=state.branch_id or 0)
    outbox.enqueue(
        session, event=Event.wrap(payload, device_id=state.device_id or ""), document_id=hold_id
    )
    return cart


def held_at_branch(engine: SyncEngine) -> list[HeldRow]:
    """Return the carts parked at other tills of the branch (raises SyncFailed offline).

    Carts parked here that another till has recalled since are dropped from this till.
    """
    answer = engine.call("GET", "/held-sales")
    waiting = {held["hold_id"] for held in answer}
    with engine.store.transaction() as session:
        mine = set()
        for row in session.scalars(select(HeldCart)):
            if row.id not in waiting and not outbox.waiting_for(session, document_id=row.id):
                # The server has it, and not as waiting: another till recalled it.
                session.delete(row)
            else:
                mine.add(row.id)
    return [
        HeldRow(
            hold_id=held["hold_id"],
            label=held["label"],
            total=Decimal(held["total"]),
            line_count=len(held["cart"].get("lines", [])),
            parked_at=datetime.fromisoformat(held["created_at"]),
            here=False,
        )
        for held in answer
        if held["hold_id"] not in mine
    ]


def recall_from_branch(engine: SyncEngine, *, hold_id: str) -> Cart:
    """Take a cart parked at another till through the server; it is taken once, by one till."""
    answer = engine.call("POST", f"/held-sales/{hold_id}/recall")
    return cart_from_dict(answer["cart"])
