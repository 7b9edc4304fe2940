"""The consent a customer gave at the till to receive a receipt by e-mail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, TenantKeyed, utcnow


class ReceiptConsent(TenantKeyed, Base):
    """One e-receipt request: who agreed, to what words, at which till, for which receipt."""

    __tablename__ = "receipt_consents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_id"),
        Index("ix_receipt_consents_tenant_email", "tenant_id", "email"),
    )

    request_id: Mapped[str] = mapped_column(String(36))
    receipt_number: Mapped[str] = mapped_column(String(40))
    # One of the two: where the receipt went.
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    consent_text: Mapped[str] = mapped_column(String(300), default="")
    branch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    notification_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
