"""Earn and burn loyalty points; every change is a ledger entry under the account's row lock."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.errors import NotFound
from common.loyalty import EarningLine, LoyaltyRules, points_earned, value_of
from common.sync.protocol import SaleCompleted
from sync_server.catalog.models import Product
from sync_server.db import lock_for_update
from sync_server.foundation.principal import Actor
from sync_server.loyalty.models import LoyaltyAccount, LoyaltyEntry
from sync_server.org.service import get_settings
from sync_server.partners.models import Customer


def rules(session: Session, *, tenant_id: int) -> LoyaltyRules:
    """Return the business's loyalty rules."""
    return LoyaltyRules.from_settings(get_settings(session, tenant_id=tenant_id))


def _account(session: Session, *, tenant_id: int, customer_id: int) -> LoyaltyAccount:
    """Return the customer's account locked, making it on first use."""
    stmt = select(LoyaltyAccount).where(
        LoyaltyAccount.tenant_id == tenant_id, LoyaltyAccount.customer_id == customer_id
    )
    account = session.scalar(lock_for_update(stmt, session))
    if account is not None:
        session.refresh(account)
        return account
    try:
        # Two first earns of one customer at once: one inserts, the other finds its row.
        with session.begin_nested():
            account = LoyaltyAccount(tenant_id=tenant_id, customer_id=customer_id, points=0)
            session.add(account)
            session.flush()
        return account
    except IntegrityError:
        account = session.scalar(lock_for_update(stmt, session))
        assert account is not None
        session.refresh(account)
        return account


def _book(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    kind: str,
    points: int,
    reference_type: str,
    reference_id: str,
    channel: str = "in_store",
) -> LoyaltyEntry:
    account = _account(session, tenant_id=actor.tenant_id, customer_id=customer_id)
    account.points += points
    entry = LoyaltyEntry(
        tenant_id=actor.tenant_id,
        customer_id=customer_id,
        kind=kind,
        points=points,
        balance_after=account.points,
        reference_type=reference_type,
        reference_id=reference_id,
        channel=channel,
        device_id=actor.device_id,
        overdrawn=account.points < 0,
    )
    session.add(entry)
    session.flush()
    return entry


def earn_for_sale(
    session: Session, *, actor: Actor, customer_id: int, payload: SaleCompleted
) -> LoyaltyEntry | None:
    """Give the customer the points a till sale earns (nothing on points paid with points)."""
    found = rules(session, tenant_id=actor.tenant_id)
    categories = dict(
        session.execute(
            select(Product.id, Product.category_id).where(
                Product.tenant_id == actor.tenant_id,
                Product.id.in_({line.product_id for line in payload.lines}),
            )
        ).all()
    )
    paid_with_points = sum(
        (p.amount for p in payload.payments if p.method == "loyalty"), Decimal(0)
    )
    lines = [
        EarningLine(amount=line.total, sku=line.sku, category_id=categories.get(line.product_id))
        for line in payload.lines
    ]
    earned = points_earned(lines, rules=found, channel="in_store")
    if paid_with_points and payload.total > 0:
        # Points do not earn points: scale down by the share paid with points.
        share = max(payload.total - paid_with_points, Decimal(0)) / payload.total
        earned = int(Decimal(earned) * share)
    if earned <= 0:
        return None
    return _book(
        session,
        actor=actor,
        customer_id=customer_id,
        kind="earn",
        points=earned,
        reference_type="sale",
        reference_id=payload.sale_id,
    )


def earn_for_order(
    session: Session, *, actor: Actor, order_id: int, customer_id: int, lines: list[EarningLine]
) -> LoyaltyEntry | None:
    """Give the customer the points a paid online order earns (channel "online")."""
    earned = points_earned(lines, rules=rules(session, tenant_id=actor.tenant_id), channel="online")
    if earned <= 0:
        return None
    return _book(
        session,
        actor=actor,
        customer_id=customer_id,
        kind="earn",
        points=earned,
        reference_type="order",
        reference_id=str(order_id),
        channel="online",
    )


@dataclass(frozen=True)
class Burned:
    points: int
    balance_after: int

    @property
    def overdrawn(self) -> bool:
        return self.balance_after < 0


def burn_from_till(
    session: Session, *, actor: Actor, customer_id: int, points: int, payment_id: str
) -> Burned:
    """Take points a till already accepted as payment; never refuse (the goods left)."""
    entry = _book(
        session,
        actor=actor,
        customer_id=customer_id,
        kind="burn",
        points=-points,
        reference_type="sale_payment",
        reference_id=payment_id,
    )
    return Burned(points=points, balance_after=entry.balance_after)


def summary(session: Session, *, tenant_id: int, customer_id: int) -> dict[str, Any]:
    """Return a customer's points, their value and their statement (oldest first)."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != tenant_id:
        raise NotFound(f"There is no customer with id {customer_id}.")
    points = session.scalar(
        select(LoyaltyAccount.points).where(
            LoyaltyAccount.tenant_id == tenant_id, LoyaltyAccount.customer_id == customer_id
        )
    )
    found = rules(session, tenant_id=tenant_id)
    entries = session.scalars(
        select(LoyaltyEntry)
        .where(LoyaltyEntry.tenant_id == tenant_id, LoyaltyEntry.customer_id == customer_id)
        .order_by(LoyaltyEntry.id)
    ).all()
    return {
        "customer_id": customer_id,
        "name": customer.name,
        "points": points or 0,
        "value": value_of(points or 0, rules=found),
        "point_value": found.point_value,
        "entries": entries,
    }


def mismatched_accounts(session: Session, *, tenant_id: int) -> list[dict[str, Any]]:
    """Return every account whose points are not the sum of its ledger (ledger verify)."""
    sums = dict(
        session.execute(
            select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
            .where(LoyaltyEntry.tenant_id == tenant_id)
            .group_by(LoyaltyEntry.customer_id)
        ).all()
    )
    return [
        {
            "customer_id": account.customer_id,
            "points": account.points,
            "ledger": int(sums.get(account.customer_id) or 0),
        }
        for account in session.scalars(
            select(LoyaltyAccount).where(LoyaltyAccount.tenant_id == tenant_id)
        )
        if int(sums.get(account.customer_id) or 0) != account.points
    ]
