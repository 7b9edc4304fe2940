"""Balance-agreement checks: every stored balance must equal what its ledger says."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, select

from sync_server.credit.models import CreditEntry
from sync_server.db import make_sessionmaker, transaction
from sync_server.partners.models import Customer

ZERO = Decimal("0")


def _q(value: Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"))


def check_customer_ledgers(engine: Engine, *, tenant_id: int) -> dict[int, Decimal]:
    """Assert each customer's balance = charges − payments ± adjustments, settlements agree."""
    balances: dict[int, Decimal] = {}
    with transaction(make_sessionmaker(engine), readonly=True) as session:
        customers = session.scalars(select(Customer).where(Customer.tenant_id == tenant_id))
        for customer in customers:
            entries = session.scalars(
                select(CreditEntry).where(
                    CreditEntry.tenant_id == tenant_id, CreditEntry.customer_id == customer.id
                )
            ).all()
            ledger = sum((e.amount for e in entries), ZERO)
            assert _q(customer.balance) == _q(ledger), (customer.id, customer.balance, ledger)
            unpaid = sum((e.open_amount for e in entries if e.amount > 0), ZERO)
            unallocated = sum((e.open_amount for e in entries if e.amount < 0), ZERO)
            # Settlement bookkeeping must tell the same story as the amounts.
            assert _q(unpaid - unallocated) == _q(ledger), (customer.id, unpaid, unallocated)
            assert unpaid == 0 or unallocated == 0, "an open payment was left beside an open debt"
            for e in entries:
                assert ZERO <= e.open_amount <= abs(e.amount), (e.id, e.open_amount, e.amount)
                if e.amount < 0:
                    allocated = sum((Decimal(a["amount"]) for a in e.allocations), ZERO)
                    assert _q(allocated + e.open_amount) == _q(-e.amount), e.id
            balances[customer.id] = _q(ledger)
    return balances


def check_vendor_ledgers(engine: Engine, *, tenant_id: int) -> dict[int, Decimal]:
    """Assert each supplier's balance = value received − paid, and every PO agrees with it."""
    from sync_server.partners.models import Supplier
    from sync_server.purchasing.models import (
        GoodsReceipt,
        GoodsReceiptLine,
        PurchaseOrder,
        VendorEntry,
    )

    balances: dict[int, Decimal] = {}
    with transaction(make_sessionmaker(engine), readonly=True) as session:
        for supplier in session.scalars(select(Supplier).where(Supplier.tenant_id == tenant_id)):
            entries = session.scalars(
                select(VendorEntry).where(
                    VendorEntry.tenant_id == tenant_id, VendorEntry.supplier_id == supplier.id
                )
            ).all()
            receipts = session.scalars(
                select(GoodsReceipt).where(
                    GoodsReceipt.tenant_id == tenant_id, GoodsReceipt.supplier_id == supplier.id
                )
            ).all()
            received = sum((r.value for r in receipts), ZERO)
            paid = -sum((e.amount for e in entries if e.kind == "payment"), ZERO)
            ledger = sum((e.amount for e in entries), ZERO)
            assert _q(ledger) == _q(received - paid), (supplier.id, ledger, received, paid)
            booked = {e.receipt_id: e.amount for e in entries if e.kind == "receipt"}
            assert {r.id: _q(r.value) for r in receipts} == {k: _q(v) for k, v in booked.items()}, (
                "every receipt is booked once, at its value"
            )
            for r in receipts:
                assert _q(r.value) == _q(sum((x.value for x in r.lines), ZERO)), r.id
            balances[supplier.id] = _q(ledger)
        for po in session.scalars(
            select(PurchaseOrder).where(PurchaseOrder.tenant_id == tenant_id)
        ):
            values = session.scalars(
                select(GoodsReceipt.value).where(GoodsReceipt.purchase_order_id == po.id)
            ).all()
            assert _q(po.received_value) == _q(sum(values, ZERO)), po.number
            po_paid = -sum(
                session.scalars(
                    select(VendorEntry.amount).where(
                        VendorEntry.purchase_order_id == po.id, VendorEntry.kind == "payment"
                    )
                ).all(),
                ZERO,
            )
            assert _q(po.paid_amount) == _q(po_paid), po.number
            for line in po.lines:
                got = session.scalars(
                    select(GoodsReceiptLine.quantity).where(GoodsReceiptLine.po_line_id == line.id)
                ).all()
                assert Decimal(str(line.received_quantity)) == sum(got, ZERO), line.id
    return balances
