"""The change feed that tills pull, one sequence per tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantScoped, utcnow


class Change(TenantScoped, Base):
    __tablename__ = "change_feed"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_change_feed_tenant_branch_seq", "tenant_id", "branch_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    # None: every branch of the tenant receives it (catalog); else only that branch (stock).
    branch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(8))  # upsert | delete
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedHead(TenantScoped, Base):
    """The last sequence handed out per tenant.

    Locking this row while publishing makes sequence order equal commit order, so a
    till that pulled up to N can never later meet a change numbered below N.
    """

    __tablename__ = "feed_heads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
