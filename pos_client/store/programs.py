"""Till tables of customer programs: gift cards as last seen, held (parked) carts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Connection, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pos_client.store.models import ZERO, LocalBase, utcnow


class KnownGiftCard(LocalBase):
    """A card as the server last described it, so an offline redemption has a bound."""

    __tablename__ = "gift_cards_seen"

    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="gift_card")
    balance: Mapped[Decimal] = mapped_column(default=ZERO)
    has_pin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="active")
    offline_limit: Mapped[Decimal | None] = mapped_column(nullable=True)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class HeldCart(LocalBase):
    """A cart parked on this till (or recalled here from another till of the branch)."""

    __tablename__ = "held_carts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    label: Mapped[str] = mapped_column(String(80), default="")
    total: Mapped[Decimal] = mapped_column(default=ZERO)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    cashier_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cart: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parked_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnownPoints(LocalBase):
    """A customer's loyalty points as the server last said, to bound offline redemptions."""

    __tablename__ = "loyalty_seen"

    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


TABLES = [KnownGiftCard.__table__, HeldCart.__table__, KnownPoints.__table__]


def create_tables(conn: Connection) -> None:
    """Create the programs' tables (a migration step; checkfirst keeps it idempotent)."""
    LocalBase.metadata.create_all(conn, tables=TABLES)
