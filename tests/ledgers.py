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
