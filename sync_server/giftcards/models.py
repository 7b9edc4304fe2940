"""A gift card or store credit balance and its ledger; the balance is the sum of the ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class GiftCard(TenantKeyed, Base):
    """One card; ``balance`` is kept in step with its entries in the same transaction."""

    __tablename__ = "gift_cards"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        tenant_fk("customer_id", "customers"),
    )

    number: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="gift_card")  # | store_credit
    status: Mapped[str] = mapped_column(String(12), default="active")  # | blocked
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    pin_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    # Per-card offline limit; None: the business's giftcard_offline_card_limit.
    offline_limit: Mapped[Decimal | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def has_pin(self) -> bool:
        return self.pin_hash is not None


class GiftCardEntry(TenantKeyed, Base):
    """One change of a card's balance: issue and top-up positive, redemption negative.

    A redemption made offline may take the balance below zero (the sale already happened);
    ``overdrawn`` marks it so managers see and resolve it.
    """

    __tablename__ = "gift_card_entries"
    __table_args__ = (
        Index("ix_gift_card_entries_tenant_card", "tenant_id", "card_id", "id"),
        # One entry per card per document: a replayed push or API retry books nothing twice.
        UniqueConstraint("tenant_id", "card_id", "kind", "reference_id"),
        tenant_fk("card_id", "gift_cards"),
    )

    card_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))  # issue | top_up | redeem | refund | adjust
    amount: Mapped[Decimal]
    balance_after: Mapped[Decimal]
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32), default="")
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    branch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    overdrawn: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
