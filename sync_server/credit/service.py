"""Charge customers on account, record their payments and report their accounts."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from common.errors import Conflict, CreditLimitExceeded, NotFound, ValidationFailed
from common.ids import new_id
from common.money import format_money
from sync_server.audit import service as audit
from sync_server.credit.models import CreditEntry
from sync_server.db import lock_for_update, utcnow
from sync_server.foundation.principal import Actor
from sync_server.org.service import get_setting
from sync_server.partners.models import Customer
from sync_server.partners.service import publish_customer

CHARGE = "charge"
PAYMENT = "payment"
ADJUSTMENT = "adjustment"
_PLACES = Decimal("0.0001")
ZERO = Decimal("0")


def exact(value: Any) -> Decimal:
    """Return a stored or summed amount as an exact Decimal (SQLite sums NUMERIC as REAL)."""
    if value is None:
        return ZERO.quantize(_PLACES)
    return Decimal(str(value)).quantize(_PLACES)


def lock_customer(session: Session, *, tenant_id: int, customer_id: int) -> Customer:
    """Return the customer row locked, so balance changes of one customer run one at a time."""
    customer = session.scalar(
        lock_for_update(
            select(Customer).where(Customer.id == customer_id, Customer.tenant_id == tenant_id),
            session,
        )
    )
    if customer is None:
        raise NotFound(f"There is no customer with id {customer_id}.")
    # Another transaction may have changed it since this session loaded it.
    session.refresh(customer)
    return customer


def _positive(amount: Decimal, what: str) -> Decimal:
    if isinstance(amount, float):
        raise TypeError("money must not be a float")
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed(f"The {what} must be more than zero.")
    if amount != amount.quantize(_PLACES):
        raise ValidationFailed(f"The {what} may have at most 4 decimal places.")
    return amount


def _open_rows(session: Session, customer: Customer, *, debit: bool) -> list[CreditEntry]:
    sign = CreditEntry.amount > 0 if debit else CreditEntry.amount < 0
    return list(
        session.scalars(
            select(CreditEntry)
            .where(
                CreditEntry.tenant_id == customer.tenant_id,
                CreditEntry.customer_id == customer.id,
                CreditEntry.open_amount > 0,
                sign,
            )
            .order_by(CreditEntry.created_at, CreditEntry.id)
        )
    )


def _allocate(credit: CreditEntry, debit: CreditEntry, limit: Decimal | None = None) -> Decimal:
    share = min(credit.open_amount, debit.open_amount)
    if limit is not None:
        share = min(share, limit)
    if share <= 0:
        return ZERO
    credit.open_amount -= share
    debit.open_amount -= share
    # Reassign, not append: the JSON column only notices a new value.
    credit.allocations = [
        *credit.allocations,
        {
            "entry_id": debit.id,
            "reference_type": debit.reference_type,
            "reference_id": debit.reference_id,
            "amount": str(share),
        },
    ]
    return share


def _settle(session: Session, customer: Customer) -> None:
    """Match unallocated payments to unpaid charges, oldest first on both sides."""
    session.flush()
    credits = _open_rows(session, customer, debit=False)
    debits = _open_rows(session, customer, debit=True)
    ci = di = 0
    while ci < len(credits) and di < len(debits):
        _allocate(credits[ci], debits[di])
        if credits[ci].open_amount == 0:
            ci += 1
        if debits[di].open_amount == 0:
            di += 1
    session.flush()


def _flag_over_limit(
    session: Session, *, actor: Actor, customer: Customer, entry: CreditEntry
) -> None:
    """Raise a credit_over_limit alert for managers when the alerts domain exists."""
    detail = {
        "customer_id": customer.id,
        "customer": customer.name,
        "balance": str(customer.balance),
        "credit_limit": str(customer.credit_limit),
        "reference_type": entry.reference_type,
        "reference_id": entry.reference_id,
    }
    audit.record(
        session,
        actor=actor,
        action="credit.over_limit",
        entity_type="customer",
        entity_id=customer.id,
        after=detail,
    )
    try:
        alerts = importlib.import_module("sync_server.alerts.service")
    except ModuleNotFoundError:
        return
    # The alert's subject is the tenant (alerts key on branch/product); details name the customer.
    alerts.raise_alert(
        session, tenant_id=customer.tenant_id, kind="credit_over_limit", details=detail
    )


def _entry_snapshot(entry: CreditEntry, customer: Customer) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "customer_id": customer.id,
        "kind": entry.kind,
        "amount": entry.amount,
        "reference_type": entry.reference_type,
        "reference_id": entry.reference_id,
        "method": entry.method,
        "balance": customer.balance,
    }


def charge(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    amount: Decimal,
    reference_type: str,
    reference_id: str,
    allow_over_limit: bool,
    due_date: date | None = None,
    occurred_at: datetime | None = None,
) -> CreditEntry:
    """Put a sale on the customer's account; refuse it past the credit limit unless allowed.

    Tills selling offline pass allow_over_limit=True (the sale already happened): the charge
    is then booked and managers are alerted instead. occurred_at dates an offline sale when
    it happened, so statements and oldest-first allocation see it in its place.
    """
    amount = _positive(amount, "amount charged")
    customer = lock_customer(session, tenant_id=actor.tenant_id, customer_id=customer_id)
    duplicate = session.scalar(
        select(CreditEntry.id).where(
            CreditEntry.tenant_id == actor.tenant_id,
            CreditEntry.customer_id == customer.id,
            CreditEntry.kind == CHARGE,
            CreditEntry.reference_type == reference_type,
            CreditEntry.reference_id == str(reference_id),
        )
    )
    if duplicate is not None:
        raise Conflict(f"{reference_type} {reference_id} is already on this customer's account.")
    new_balance = customer.balance + amount
    over = new_balance > customer.credit_limit
    if over and not allow_over_limit:
        money = str(get_setting(session, tenant_id=customer.tenant_id, key="currency"))
        raise CreditLimitExceeded(
            f"{customer.name} would owe {format_money(new_balance, money)}, over the credit "
            f"limit of {format_money(customer.credit_limit, money)}.",
            customer_id=customer.id,
            balance=str(customer.balance),
            credit_limit=str(customer.credit_limit),
            amount=str(amount),
        )
    entry = CreditEntry(
        tenant_id=actor.tenant_id,
        customer_id=customer.id,
        kind=CHARGE,
        amount=amount,
        open_amount=amount,
        reference_type=reference_type,
        reference_id=str(reference_id),
        due_date=due_date,
        allocations=[],
        created_at=occurred_at or utcnow(),
        actor_id=actor.user_id,
        actor=actor.label,
    )
    session.add(entry)
    customer.balance = new_balance
    _settle(session, customer)
    audit.record(
        session,
        actor=actor,
        action="credit.charged",
        entity_type="customer",
        entity_id=customer.id,
        after=_entry_snapshot(entry, customer),
    )
    if over:
        _flag_over_limit(session, actor=actor, customer=customer, entry=entry)
    publish_customer(session, customer)
    return entry


def record_payment(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    amount: Decimal,
    method: str,
    reference: str,
    allocate_to: str | None = None,
) -> CreditEntry:
    """Record money the customer paid; it settles the chosen invoice first, then the oldest.

    allocate_to names a charge by its reference id (an invoice number, a sale id) or entry id.
    Paying more than is owed leaves a credit that settles the next charges.
    """
    amount = _positive(amount, "payment")
    customer = lock_customer(session, tenant_id=actor.tenant_id, customer_id=customer_id)
    entry = CreditEntry(
        tenant_id=actor.tenant_id,
        customer_id=customer.id,
        kind=PAYMENT,
        amount=-amount,
        open_amount=amount,
        reference_type=PAYMENT,
        reference_id=new_id(),
        method=method,
        note=reference,
        allocations=[],
        actor_id=actor.user_id,
        actor=actor.label,
    )
    if allocate_to is not None:
        target = _find_charge(session, customer=customer, key=allocate_to)
        if target.open_amount <= 0:
            raise Conflict(f"{target.reference_type} {target.reference_id} is already paid.")
        session.add(entry)
        session.flush()
        _allocate(entry, target)
    else:
        session.add(entry)
    customer.balance -= amount
    _settle(session, customer)
    audit.record(
        session,
        actor=actor,
        action="credit.payment_recorded",
        entity_type="customer",
        entity_id=customer.id,
        after={**_entry_snapshot(entry, customer), "allocations": entry.allocations},
    )
    publish_customer(session, customer)
    return entry


def adjust(
    session: Session, *, actor: Actor, customer_id: int, amount: Decimal, note: str
) -> CreditEntry:
    """Correct an account by a signed amount (write-off, goodwill, opening balance)."""
    if Decimal(amount) == 0:
        raise ValidationFailed("An adjustment must not be zero.")
    magnitude = _positive(abs(Decimal(amount)), "adjustment")
    customer = lock_customer(session, tenant_id=actor.tenant_id, customer_id=customer_id)
    entry = CreditEntry(
        tenant_id=actor.tenant_id,
        customer_id=customer.id,
        kind=ADJUSTMENT,
        amount=Decimal(amount),
        open_amount=magnitude,
        reference_type=ADJUSTMENT,
        reference_id=new_id(),
        note=note,
        allocations=[],
        actor_id=actor.user_id,
        actor=actor.label,
    )
    session.add(entry)
    customer.balance += Decimal(amount)
    _settle(session, customer)
    audit.record(
        session,
        actor=actor,
        action="credit.adjusted",
        entity_type="customer",
        entity_id=customer.id,
        after={**_entry_snapshot(entry, customer), "note": note},
    )
    publish_customer(session, customer)
    return entry


def _find_charge(session: Session, *, customer: Customer, key: str) -> CreditEntry:
    candidates = select(CreditEntry).where(
        CreditEntry.tenant_id == customer.tenant_id,
        CreditEntry.customer_id == customer.id,
        CreditEntry.amount > 0,
    )
    row = session.scalar(candidates.where(CreditEntry.reference_id == key))
    if row is None and key.isdigit():
        row = session.scalar(candidates.where(CreditEntry.id == int(key)))
    if row is None:
        raise NotFound(f"This customer has no invoice or sale '{key}' on account.")
    return row


def get_customer(session: Session, *, tenant_id: int, customer_id: int) -> Customer:
    """Return a customer of the tenant or NotFound."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant_id:
        raise NotFound(f"There is no customer with id {customer_id}.")
    return customer


def _sum(session: Session, customer: Customer, *conditions: Any) -> Decimal:
    return exact(
        session.scalar(
            select(func.sum(CreditEntry.amount)).where(
                CreditEntry.tenant_id == customer.tenant_id,
                CreditEntry.customer_id == customer.id,
                *conditions,
            )
        )
    )


def account(session: Session, *, tenant_id: int, customer_id: int) -> dict[str, Any]:
    """Summarise a customer's account: limit, what they owe, bought and paid."""
    customer = get_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    last_payment = session.scalar(
        select(func.max(CreditEntry.created_at)).where(
            CreditEntry.tenant_id == tenant_id,
            CreditEntry.customer_id == customer.id,
            CreditEntry.kind == PAYMENT,
        )
    )
    if isinstance(last_payment, str):  # SQLite hands aggregates back untyped
        last_payment = datetime.fromisoformat(last_payment)
    if last_payment is not None and last_payment.tzinfo is None:
        last_payment = last_payment.replace(tzinfo=UTC)
    balance = exact(customer.balance)
    return {
        "customer_id": customer.id,
        "name": customer.name,
        "credit_limit": exact(customer.credit_limit),
        "balance_due": balance,
        "available_credit": max(exact(customer.credit_limit) - balance, ZERO),
        "total_purchases": _sum(session, customer, CreditEntry.kind == CHARGE),
        "amount_paid": -_sum(session, customer, CreditEntry.kind == PAYMENT),
        "last_payment_at": last_payment,
    }


def history_query(*, tenant_id: int, customer_id: int) -> Select[CreditEntry]:
    """Return the select of a customer's ledger entries (the route pages it)."""
    return select(CreditEntry).where(
        CreditEntry.tenant_id == tenant_id, CreditEntry.customer_id == customer_id
    )


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Return [start 00:00 UTC, day after end 00:00 UTC) for an inclusive date range."""
    if end < start:
        raise ValidationFailed("The statement must end on or after the day it starts.")
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def statement(
    session: Session, *, tenant_id: int, customer_id: int, start: date, end: date
) -> dict[str, Any]:
    """Return the customer's statement of account: opening, entries with running balance."""
    customer = get_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    since, until = day_bounds(start, end)
    opening = _sum(session, customer, CreditEntry.created_at < since)
    rows = session.scalars(
        history_query(tenant_id=tenant_id, customer_id=customer.id)
        .where(CreditEntry.created_at >= since, CreditEntry.created_at < until)
        .order_by(CreditEntry.created_at, CreditEntry.id)
    ).all()
    running = opening
    lines = []
    for row in rows:
        running += row.amount
        lines.append(
            {
                "at": row.created_at,
                "kind": row.kind,
                "reference_type": row.reference_type,
                "reference_id": row.reference_id,
                "description": _describe(row),
                "debit": row.amount if row.amount > 0 else ZERO,
                "credit": -row.amount if row.amount < 0 else ZERO,
                "balance": running,
            }
        )
    return {
        "customer_id": customer.id,
        "name": customer.name,
        "start": start,
        "end": end,
        "opening_balance": opening,
        "closing_balance": running,
        "lines": lines,
    }


def _describe(row: CreditEntry) -> str:
    if row.kind == PAYMENT:
        return f"Payment ({row.method}) {row.note}".strip()
    if row.kind == ADJUSTMENT:
        return f"Adjustment {row.note}".strip()
    return f"{row.reference_type} {row.reference_id}"
