"""Counters that hand out document numbers (POs, invoices) without gaps."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, TenantKeyed


class DocumentSequence(TenantKeyed, Base):
    """The last number used in one numbering scope (e.g. "invoice:3" = invoices of branch 3)."""

    __tablename__ = "document_sequences"
    __table_args__ = (UniqueConstraint("tenant_id", "scope"),)

    scope: Mapped[str] = mapped_column(String(48))
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)
