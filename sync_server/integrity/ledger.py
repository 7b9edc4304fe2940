"""Check the books against themselves: levels, reservations and balances against their ledgers.

Every stock level must equal the sum of its movements (on hand and reserved), and every lot
level the sum of its lot movements (sync_server/integrity/lots.py), every online
order still waiting for payment must hold exactly its lines in reservations (and no other
order any), no document may release more than it reserved, every customer balance must
equal the customer's credit ledger, and every supplier's receipts and payments must be
booked once, at their value, on the supplier's ledger and on the purchase order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from common.money import ZERO
from sync_server.catalog.models import Product
from sync_server.credit.models import CreditEntry
from sync_server.giftcards import service as giftcards
from sync_server.integrity.difference import Difference
from sync_server.integrity.lots import check_lots
from sync_server.inventory.ledger import RESERVATION_CODES, RESERVATION_ONLY
from sync_server.inventory.models import StockLevel, StockMovement
from sync_server.loyalty import service as loyalty
from sync_server.orders.models import Order, OrderLine, OrderStatus
from sync_server.orders.service import REFERENCE as ORDER_REFERENCE
from sync_server.org.models import Branch
from sync_server.partners.models import Customer, Supplier
from sync_server.purchasing.models import GoodsReceipt, PurchaseOrder, VendorEntry

CENT = Decimal("0.01")


def _qty(value: object) -> Decimal:
    # Quantities are stored with three decimals on both engines.
    return Decimal(str(value or 0)).quantize(Decimal("0.001"))


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _names(session: Session, *, tenant_id: int) -> tuple[dict[int, str], dict[int, str]]:
    branches = dict(
        session.execute(select(Branch.id, Branch.code).where(Branch.tenant_id == tenant_id)).all()
    )
    products = dict(
        session.execute(select(Product.id, Product.sku).where(Product.tenant_id == tenant_id)).all()
    )
    return branches, products


def check_stock(session: Session, *, tenant_id: int) -> list[Difference]:
    """Compare every level with the sum of its movements, and reservations with documents."""
    branches, products = _names(session, tenant_id=tenant_id)

    def place(branch_id: int, product_id: int) -> str:
        branch = branches.get(branch_id, f"#{branch_id}")
        return f"branch {branch}, product {products.get(product_id, f'#{product_id}')}"

    shelf = func.sum(
        case(
            (StockMovement.code.in_([c.value for c in RESERVATION_ONLY]), 0),
            else_=StockMovement.quantity,
        )
    )
    held = func.sum(
        case(
            (StockMovement.code.in_([c.value for c in RESERVATION_CODES]), StockMovement.quantity),
            else_=0,
        )
    )
    key = (StockMovement.branch_id, StockMovement.product_id)
    sums = {
        (b, p): (_qty(on_hand), _qty(reserved))
        for b, p, on_hand, reserved in session.execute(
            select(*key, shelf, held).where(StockMovement.tenant_id == tenant_id).group_by(*key)
        )
    }
    levels = {
        (b, p): (_qty(on_hand), _qty(reserved))
        for b, p, on_hand, reserved in session.execute(
            select(
                StockLevel.branch_id, StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved
            ).where(StockLevel.tenant_id == tenant_id)
        )
    }
    found: list[Difference] = []
    for level_key in sorted(set(sums) | set(levels)):
        stored = levels.get(level_key)
        moved = sums.get(level_key, (ZERO, ZERO))
        if stored is None:
            found.append(
                Difference(
                    "stock_level",
                    place(*level_key),
                    "no stock level",
                    f"on hand {moved[0]}, reserved {moved[1]}",
                )
            )
            continue
        for label, have, want in (
            ("on hand", stored[0], moved[0]),
            ("reserved", stored[1], moved[1]),
        ):
            if have != want:
                found.append(
                    Difference("stock_level", f"{place(*level_key)}, {label}", str(have), str(want))
                )
    found += _check_reservations(session, tenant_id=tenant_id, place=place)
    return found


def _check_reservations(
    session: Session, *, tenant_id: int, place: Callable[[int, int], str]
) -> list[Difference]:
    doc = (
        StockMovement.branch_id,
        StockMovement.product_id,
        StockMovement.reference_type,
        StockMovement.reference_id,
    )
    holding = {
        (b, p, rtype, rid): _qty(total)
        for b, p, rtype, rid, total in session.execute(
            select(*doc, func.sum(StockMovement.quantity))
            .where(
                StockMovement.tenant_id == tenant_id,
                StockMovement.code.in_([c.value for c in RESERVATION_CODES]),
            )
            .group_by(*doc)
        )
    }
    found = [
        Difference(
            "reservation",
            f"{place(b, p)}, {rtype} {rid}",
            f"released {-total} more than reserved",
            "0 or more held",
        )
        for (b, p, rtype, rid), total in sorted(holding.items())
        if total < 0
    ]
    # What every online order should hold: its lines while it waits for payment, else nothing.
    owed: dict[tuple[int, int, str], Decimal] = defaultdict(lambda: ZERO)
    for order_id, branch_id, status, product_id, quantity in session.execute(
        select(Order.id, Order.branch_id, Order.status, OrderLine.product_id, OrderLine.quantity)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.tenant_id == tenant_id)
    ):
        key = (branch_id, product_id, str(order_id))
        owed[key] += _qty(quantity) if status == OrderStatus.PENDING_PAYMENT else ZERO
    held = {
        (b, p, rid): total
        for (b, p, rtype, rid), total in holding.items()
        if rtype == ORDER_REFERENCE
    }
    for key in sorted(set(owed) | set(held)):
        have, want = held.get(key, ZERO), owed.get(key, ZERO)
        if have != want:
            at_branch, of_product, order_ref = key
            found.append(
                Difference(
                    "reservation",
                    f"{place(at_branch, of_product)}, order {order_ref} reserved",
                    str(_qty(have)),
                    str(_qty(want)),
                )
            )
    return found


def check_customers(session: Session, *, tenant_id: int) -> list[Difference]:
    """Compare every customer's balance with the sum of their credit ledger."""
    ledger = dict(
        session.execute(
            select(CreditEntry.customer_id, func.sum(CreditEntry.amount))
            .where(CreditEntry.tenant_id == tenant_id)
            .group_by(CreditEntry.customer_id)
        ).all()
    )
    return [
        Difference(
            "customer_balance",
            f"customer {name} (#{customer_id}) balance",
            str(_money(balance)),
            str(_money(ledger.get(customer_id))),
        )
        for customer_id, name, balance in session.execute(
            select(Customer.id, Customer.name, Customer.balance)
            .where(Customer.tenant_id == tenant_id)
            .order_by(Customer.id)
        )
        if _money(balance) != _money(ledger.get(customer_id))
    ]


def check_vendors(session: Session, *, tenant_id: int) -> list[Difference]:
    """Check every receipt is booked once at its value, and POs agree with the vendor ledger."""
    suppliers = dict(
        session.execute(
            select(Supplier.id, Supplier.name).where(Supplier.tenant_id == tenant_id)
        ).all()
    )
    booked: dict[int, list[Decimal]] = defaultdict(list)
    paid_by_po: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for kind, amount, receipt_id, po_id in session.execute(
        select(
            VendorEntry.kind,
            VendorEntry.amount,
            VendorEntry.receipt_id,
            VendorEntry.purchase_order_id,
        ).where(VendorEntry.tenant_id == tenant_id)
    ):
        if kind == "receipt" and receipt_id is not None:
            booked[receipt_id].append(_money(amount))
        elif kind == "payment" and po_id is not None:
            paid_by_po[po_id] += -_money(amount)
    found: list[Difference] = []
    received_by_po: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for receipt_id, supplier_id, po_id, value in session.execute(
        select(
            GoodsReceipt.id,
            GoodsReceipt.supplier_id,
            GoodsReceipt.purchase_order_id,
            GoodsReceipt.value,
        )
        .where(GoodsReceipt.tenant_id == tenant_id)
        .order_by(GoodsReceipt.id)
    ):
        if po_id is not None:
            received_by_po[po_id] += _money(value)
        entries = booked.get(receipt_id, [])
        if entries != [_money(value)]:
            found.append(
                Difference(
                    "vendor_ledger",
                    f"supplier {suppliers.get(supplier_id, supplier_id)}, goods receipt "
                    f"#{receipt_id} value",
                    str(_money(value)),
                    " + ".join(str(e) for e in entries) or "not booked",
                )
            )
    for po_id, number, received, paid in session.execute(
        select(
            PurchaseOrder.id,
            PurchaseOrder.number,
            PurchaseOrder.received_value,
            PurchaseOrder.paid_amount,
        )
        .where(PurchaseOrder.tenant_id == tenant_id)
        .order_by(PurchaseOrder.id)
    ):
        if _money(received) != received_by_po.get(po_id, ZERO).quantize(CENT):
            found.append(
                Difference(
                    "vendor_ledger",
                    f"purchase order {number} received value",
                    str(_money(received)),
                    str(received_by_po.get(po_id, ZERO).quantize(CENT)),
                )
            )
        if _money(paid) != paid_by_po.get(po_id, ZERO).quantize(CENT):
            found.append(
                Difference(
                    "vendor_ledger",
                    f"purchase order {number} paid",
                    str(_money(paid)),
                    str(paid_by_po.get(po_id, ZERO).quantize(CENT)),
                )
            )
    return found


def verify_ledgers(session: Session, *, tenant_id: int) -> list[Difference]:
    """Return every difference between the tenant's stored figures and their ledgers."""
    return (
        check_stock(session, tenant_id=tenant_id)
        + check_lots(session, tenant_id=tenant_id)
        + check_customers(session, tenant_id=tenant_id)
        + check_vendors(session, tenant_id=tenant_id)
        + check_gift_cards(session, tenant_id=tenant_id)
    )


def check_gift_cards(session: Session, *, tenant_id: int) -> list[Difference]:
    """Compare gift card, store credit and loyalty balances with the sums of their ledgers."""
    return [
        Difference(
            "gift_card_balance",
            f"card {row['number']} balance",
            str(_money(row["balance"])),
            str(_money(row["ledger"])),
        )
        for row in giftcards.mismatched_balances(session, tenant_id=tenant_id)
    ] + [
        Difference(
            "loyalty_points",
            f"customer #{row['customer_id']} loyalty points",
            str(row["points"]),
            str(row["ledger"]),
        )
        for row in loyalty.mismatched_accounts(session, tenant_id=tenant_id)
    ]
