"""Outbox rows written with the event, and the per-tenant rules that say who gets what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, tenant_fk, utcnow


class NotificationRule(TenantKeyed, Base):
    """Who hears about an event: a role (in-app or e-mail to its users), an address or a URL."""

    __tablename__ = "notification_rules"
    __table_args__ = (tenant_fk("branch_id", "branches"),)

    # An event name ("alert.low_stock"), a prefix with a star ("alert.*") or "*".
    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    branch_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    address: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(TenantKeyed, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_inbox", "tenant_id", "channel", "role", "user_id"),
        tenant_fk("rule_id", "notification_rules"),
    )

    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(500))
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    branch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rule_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)


class NotificationAttachment(TenantKeyed, Base):
    """A file sent with an e-mail notification, stored as the bytes that were rendered.

    Bytes rather than a reference to re-render: the supplier gets exactly the document as it
    was when sent, every retry sends the same file, and a PDF of a purchase order is a few
    kilobytes (notify() refuses more than MAX_ATTACHMENT_BYTES per notification).
    """

    __tablename__ = "notification_attachments"
    __table_args__ = (tenant_fk("notification_id", "notifications", ondelete="CASCADE"),)

    notification_id: Mapped[int] = mapped_column(BigId, index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class SmsOptIn(TenantKeyed, Base):
    """A customer who agreed to get text messages, and the number they gave for them."""

    __tablename__ = "sms_opt_ins"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id"),
        tenant_fk("customer_id", "customers"),
    )

    customer_id: Mapped[int] = mapped_column(BigId)
    phone: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
