"""What tills sync with: their devices and enrolment codes, the events they pushed, dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, TenantScoped, tenant_fk, utcnow
from sync_server.foundation.models import keep_in_directory

if TYPE_CHECKING:
    # Only named by DeadLetter.of: every command that opens the database loads these models,
    # and the push protocol's schemas (pydantic) load when a push is handled.
    from common.sync.protocol import Event

# The kinds of a till's credential and of an enrolment code in the credential directory
# (foundation.models.CredentialEntry): both are presented with no tenant named.
DEVICE_TOKEN = "device"
ENROLMENT_CODE = "enrolment_code"


class Device(TenantScoped, Base):
    """A till enrolled at a branch; it authenticates with a token stored only as a hash."""

    __tablename__ = "devices"
    # Keyed with its tenant like every tenant row (see TenantKeyed); the ORM's key is id.
    __table_args__ = (
        PrimaryKeyConstraint("id", "tenant_id"),
        UniqueConstraint("tenant_id", "receipt_prefix"),
        # Found by (tenant_id, token_hash) once the credential directory named the tenant.
        UniqueConstraint("tenant_id", "token_hash"),
        tenant_fk("branch_id", "branches"),
    )

    id: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int] = mapped_column(BigId, index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64))
    # Receipts made offline never collide: each device numbers in its own series.
    receipt_prefix: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __mapper_args__ = {"primary_key": [id]}


class EnrolmentCode(TenantKeyed, Base):
    """A one-time code an admin hands to whoever sets up a till."""

    __tablename__ = "device_enrolment_codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code_hash"),
        tenant_fk("branch_id", "branches"),
    )

    code_hash: Mapped[str] = mapped_column(String(64))
    branch_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


keep_in_directory(Device, kind=DEVICE_TOKEN, column="token_hash")
keep_in_directory(EnrolmentCode, kind=ENROLMENT_CODE, column="code_hash")


class ReceivedEvent(TenantKeyed, Base):
    """Every event a device pushed; the unique event id makes applying it twice impossible."""

    __tablename__ = "sync_events"
    __table_args__ = (UniqueConstraint("tenant_id", "event_id"),)

    event_id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str] = mapped_column(String(36), index=True)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12))  # applied | rejected
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)


class DeadLetter(TenantKeyed, Base):
    """A rejected event kept for managers to look at and resolve."""

    __tablename__ = "sync_dead_letters"
    __table_args__ = (Index("ix_sync_dead_letters_tenant_resolved", "tenant_id", "resolved_at"),)

    event_id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str] = mapped_column(String(36))
    branch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[Any] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_note: Mapped[str | None] = mapped_column(String(500), nullable=True)

    @classmethod
    def of(cls, *, device: Device, event: Event, kind: str, reason: str) -> DeadLetter:
        """Keep an event a device sent, refused for reason, under kind (its type or a rule's)."""
        return cls(
            tenant_id=device.tenant_id,
            event_id=event.id,
            device_id=device.id,
            branch_id=device.branch_id,
            type=kind,
            payload=event.model_dump(mode="json"),
            reason=reason[:500],
        )


class CustomerLink(TenantKeyed, Base):
    """Which server customer a customer created offline on a till became."""

    __tablename__ = "sync_customer_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "local_id"),
        tenant_fk("customer_id", "customers"),
    )

    local_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[int] = mapped_column(BigId)
    device_id: Mapped[str] = mapped_column(String(36))
    merged: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedFloor(TenantKeyed, Base):
    """The highest seq of the tenant's changes that feed retention dropped (PostgreSQL).

    A till whose cursor is below it missed changes that no longer exist, so its pull starts
    it over from a snapshot (sync/retention.py). Kept apart from the feed head, which the
    sequencer holds locked while it numbers.
    """

    __tablename__ = "feed_floors"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    dropped_through: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped_at: Mapped[datetime | None] = mapped_column(nullable=True)
