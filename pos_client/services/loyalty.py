"""Loyalty points at the till: the customer's points (asked online, remembered), and points
taken as a tender, offline too within what the server last said; the server reconciles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import Tender
from common.errors import ValidationFailed
from common.loyalty import LoyaltyRules, points_for, value_of
from common.money import format_money, round_money
from pos_client.services.sync_engine import SyncEngine
from pos_client.services.till import CreditInfo, Payment
from pos_client.store.models import Sale, SalePayment, Setting, utcnow
from pos_client.store.programs import KnownPoints


@dataclass(frozen=True)
class PointsInfo:
    customer_id: int
    points: int
    value: Decimal


def rules(session: Session) -> LoyaltyRules:
    """Return the business's loyalty rules as last synced."""
    values: dict[str, Any] = dict(
        session.execute(
            select(Setting.key, Setting.value).where(Setting.key.like("loyalty_%"))
        ).all()
    )
    return LoyaltyRules.from_settings(values)


def check_online(engine: SyncEngine, *, customer_id: int) -> PointsInfo:
    """Ask the server for a customer's points (raises SyncFailed when it cannot answer)."""
    answer = engine.call("GET", f"/customers/{customer_id}/loyalty")
    return PointsInfo(
        customer_id=customer_id, points=int(answer["points"]), value=Decimal(answer["value"])
    )


def remember(session: Session, info: PointsInfo) -> None:
    """Keep what the server said, to bound offline redemptions later."""
    row = session.get(KnownPoints, info.customer_id) or KnownPoints(customer_id=info.customer_id)
    row.points = info.points
    row.checked_at = utcnow()
    session.add(row)


def points_used(session: Session, *, customer_id: int, since: datetime | None = None) -> int:
    """Return the points this till took from a customer on sales not yet synced (or since)."""
    stmt = (
        select(SalePayment.reference)
        .join(Sale, Sale.id == SalePayment.sale_id)
        .where(
            SalePayment.method == Tender.LOYALTY.value,
            Sale.customer_id == customer_id,
            Sale.status == "completed",
        )
    )
    stmt = stmt.where(Sale.created_at > since) if since else stmt.where(Sale.synced_at.is_(None))
    return sum(int(ref or 0) for ref in session.scalars(stmt))


def loyalty_payment(
    session: Session,
    *,
    customer: CreditInfo | None,
    amount: Decimal,
    seen: PointsInfo | None,
    currency: str,
) -> Payment:
    """Pay an amount with the customer's points: within what the server said, less what this
    till took since."""
    if customer is None or customer.customer_id is None:
        raise ValidationFailed("Choose a customer the server knows (F9) to pay with points")
    found = rules(session)
    if found.point_value <= 0:
        raise ValidationFailed("Points cannot pay for anything in this shop")
    amount = round_money(amount)
    if amount <= 0:
        raise ValidationFailed("A points payment must be more than zero")
    needed = points_for(amount, rules=found)
    if seen is not None:
        available = seen.points - points_used(session, customer_id=customer.customer_id)
    else:
        known = session.get(KnownPoints, customer.customer_id)
        if known is None:
            raise ValidationFailed(
                f"{customer.name}'s points are not known on this till yet; "
                "it needs the server once to check them"
            )
        available = known.points - points_used(
            session, customer_id=customer.customer_id, since=known.checked_at
        )
    if needed > available:
        worth = value_of(max(available, 0), rules=found)
        raise ValidationFailed(
            f"{customer.name} has {max(available, 0)} points "
            f"(worth {format_money(worth, currency)}), {needed} are needed"
        )
    return Payment(tender=Tender.LOYALTY, amount=amount, reference=str(needed))


def known_points(session: Session, *, customer_id: int) -> tuple[int, Decimal] | None:
    """Return (points, worth) as last heard from the server, or None if never."""
    row = session.get(KnownPoints, customer_id)
    if row is None:
        return None
    return row.points, value_of(row.points, rules=rules(session))
