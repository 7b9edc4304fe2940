"""The append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, TenantKeyed, utcnow


class AuditEntry(TenantKeyed, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        # One entry per position in a tenant's chain: a fork cannot be committed.
        UniqueConstraint("tenant_id", "seq"),
        # A copy of a recorded entry (same nonce, same MAC) cannot be slipped in beside it.
        UniqueConstraint("tenant_id", "record_mac"),
        Index("ix_audit_tenant_entity", "tenant_id", "entity_type", "entity_id"),
        Index("ix_audit_tenant_at", "tenant_id", "at"),
        # Only the entries waiting for a seal: the keeper finds its tenants here.
        Index(
            "ix_audit_entries_unsealed",
            "tenant_id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    # seq, prev_hash and hash stay None until the sealer chains the entry (PostgreSQL).
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Keyed entries (key_id set): hash is an HMAC, and record_mac, written by record() with
    # a random nonce, proves the server wrote the entry before the sealer chains it. Entries
    # chained before the audit key existed have none of the three (plain SHA-256 links).
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    nonce: Mapped[str | None] = mapped_column(String(32), nullable=True)
    record_mac: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditHead(TenantKeyed, Base):
    """The end of a tenant's sealed chain; only the sealer locks it."""

    __tablename__ = "audit_heads"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    # Entries from this seq on are keyed; before it, the unkeyed chain of an upgraded database.
    keyed_from_seq: Mapped[int] = mapped_column(BigInteger, default=1)
    # Unsealed entries up to this id were written before the key (upgrade); they may be sealed.
    legacy_max_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # HMAC of (tenant, last_seq, last_hash, keyed_from_seq, legacy_max_id): a head reset,
    # rewound or moved outside the server does not match it.
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    head_mac: Mapped[str | None] = mapped_column(String(64), nullable=True)
