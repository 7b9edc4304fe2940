"""The change feed that tills pull, one sequence per tenant, and its head; the directory of
credentials presented before any tenant is known."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
    insert,
    text,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from sync_server.db import Base, BigId, TenantKeyed, TenantScoped, utcnow


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


class CredentialEntry(Base):
    """The server-wide directory of credential hashes: whose a presented secret is.

    An API key, a till's credential and an enrolment code arrive with no tenant named; the
    directory, read first, names it, and the credential's own row is then found by
    (tenant_id, hash), the unique key of its tenant table. Global and small (one row per
    credential issued, written only when one is issued), it holds the server-wide
    uniqueness of the hashes, like `usernames` for logins. It has no foreign key to the
    credentials' tables: in a distributed database it is a reference table, and those cannot
    point at a distributed table; the row is written in the same flush as its credential
    (see keep_in_directory).
    """

    __tablename__ = "credential_directory"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )


def keep_in_directory(model: type[TenantScoped], *, kind: str, column: str) -> None:
    """Enter each new `model` row's hash (its `column`) in the directory, in the same flush.

    A hash already there (of any tenant) is refused by the directory's key, and the
    credential's insert with it.
    """

    @event.listens_for(model, "after_insert")
    def _enter(mapper: Mapper[Any], connection: Connection, row: TenantScoped) -> None:
        connection.execute(
            insert(CredentialEntry.__table__).values(
                kind=kind, digest=getattr(row, column), tenant_id=row.tenant_id
            )
        )
