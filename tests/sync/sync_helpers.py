"""Plain helpers shared by the sync tests (fixtures live in conftest.py)."""

from __future__ import annotations

from decimal import Decimal

from common.ids import new_id
from common.sync.protocol import SaleCompleted, SaleLine, SalePayment


def sale_payload(
    *,
    branch_id: int,
    product_id: int,
    receipt: str,
    quantity: str = "1",
    price: str = "10.00",
    method: str = "cash",
    customer_id: int | None = None,
    customer_local_id: str | None = None,
) -> SaleCompleted:
    """Build a one-line sale as a till would."""
    total = Decimal(price) * Decimal(quantity)
    return SaleCompleted(
        sale_id=new_id(),
        receipt_number=receipt,
        branch_id=branch_id,
        customer_id=customer_id,
        customer_local_id=customer_local_id,
        lines=[
            SaleLine(
                line_id=new_id(),
                product_id=product_id,
                sku="X",
                name="Item",
                quantity=Decimal(quantity),
                unit_price=Decimal(price),
                total=total,
            )
        ],
        payments=[SalePayment(payment_id=new_id(), method=method, amount=total)],
        subtotal=total,
        total=total,
    )


def sell_locally(store, *, product_id: int, quantity: str = "1") -> str:
    """Ring up a one-line cash sale on a till store at the replica's price; return its id."""
    from pos_client.store import documents
    from pos_client.store.models import Product

    with store.transaction() as session:
        product = session.get(Product, product_id)
        state = documents.get_state(session)
        payload = sale_payload(
            branch_id=state.branch_id,
            product_id=product_id,
            receipt=documents.next_receipt_number(session),
            quantity=quantity,
            price=str(product.price),
        )
        documents.record_sale(session, payload)
    return payload.sale_id
