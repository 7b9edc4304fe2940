"""The customer credit ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class CreditEntry(TenantKeyed, Base):
    """One line of a customer's account; the sum of amounts is what the customer owes.

    Charges are positive, payments negative, adjustments either. ``open_amount`` is the part
    not yet settled: for a charge what is still unpaid, for a payment what is not yet
    allocated to a charge. ``amount`` never changes; only the settlement columns do.
    """

    __tablename__ = "credit_entries"
    __table_args__ = (
        Index(
            "ix_credit_entries_tenant_customer_created", "tenant_id", "customer_id", "created_at"
        ),
        Index("ix_credit_entries_tenant_reference", "tenant_id", "reference_type", "reference_id"),
        tenant_fk("customer_id", "customers"),
    )

    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # charge | payment | adjustment
    amount: Mapped[Decimal]
    open_amount: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # For payments: [{"entry_id", "reference_type", "reference_id", "amount"}] it settled.
    allocations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
