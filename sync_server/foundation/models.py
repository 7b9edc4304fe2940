"""The change feed that tills pull, one sequence per tenant, and its head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, TenantKeyed, utcnow


class Change(TenantKeyed, Base):
    __tablename__ = "change_feed"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_change_feed_tenant_branch_seq", "tenant_id", "branch_id", "seq"),
        # Only the changes waiting for a number: the keeper finds its tenants here.
        Index(
            "ix_change_feed_unnumbered",
            "tenant_id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    # None until the sequencer numbers the committed change (PostgreSQL; see feed.py).
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # None: every branch of the tenant receives it (catalog); else only that branch (stock).
    branch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(8))  # upsert | delete
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedHead(TenantKeyed, Base):
    """The last sequence handed out per tenant.

    Only the sequencer locks it, and it numbers committed changes only, so a till that
    pulled up to N can never later meet a change numbered below N.
    """

    __tablename__ = "feed_heads"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
