"""API keys with which an online store calls the server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, Timestamps, tenant_fk
from sync_server.foundation.models import keep_in_directory

# The key's kind in the credential directory (foundation.models.CredentialEntry).
API_KEY = "api_key"


class ApiKey(TenantKeyed, Timestamps, Base):
    """A scoped key; only its SHA-256 is stored, the key itself is shown once."""

    __tablename__ = "api_keys"
    # A key is presented with no tenant named: the credential directory names it, then the
    # key is found by (tenant_id, key_hash); the directory keeps hashes unique server-wide.
    __table_args__ = (
        UniqueConstraint("tenant_id", "key_hash"),
        tenant_fk("created_by", "users"),
    )

    name: Mapped[str] = mapped_column(String(120))
    # The first characters of the key, so an admin can tell keys apart in a list.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Branches the store may fulfil from; empty means every branch of the tenant.
    branch_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(BigId, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


keep_in_directory(ApiKey, kind=API_KEY, column="key_hash")
