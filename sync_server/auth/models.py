"""Users, their branches, the directory of usernames, revoked tokens and failed logins.

Distribution (one tenant's rows together, keyed by tenant_id): users, their branches,
revoked tokens and the failed logins of known usernames belong to one tenant. A person
logs in by username alone, before the tenant is known, so two small tables are global:
`usernames` (the directory: username -> tenant and user, read on every login, written only
when a user is created; a reference table in distributed terms) and
`unknown_login_failures` (failed logins for names in no tenant, so that throttling reads the
same whether a name exists or not).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Connection,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    event,
    insert,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from sync_server.db import Base, BigId, TenantKeyed, TenantScoped, Timestamps, tenant_fk, utcnow


class User(TenantKeyed, Timestamps, Base):
    __tablename__ = "users"
    # Unique across the server too, so login needs no tenant name: the directory's key
    # (Username) holds that; here the key is the tenant's own.
    __table_args__ = (UniqueConstraint("tenant_id", "username"),)

    username: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    pin_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Raised by a password reset or a deactivation: every token issued before is refused.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    branch_links: Mapped[list[UserBranch]] = relationship(
        foreign_keys="UserBranch.user_id", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def branch_ids(self) -> list[int]:
        return sorted(link.branch_id for link in self.branch_links)


class UserBranch(TenantScoped, Base):
    __tablename__ = "user_branches"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "branch_id", "tenant_id"),
        tenant_fk("user_id", "users", ondelete="CASCADE"),
        tenant_fk("branch_id", "branches"),
    )

    user_id: Mapped[int] = mapped_column(BigId)
    branch_id: Mapped[int] = mapped_column(BigId)


class Username(Base):
    """The server-wide directory of usernames: who a login names, before any tenant is known.

    Global and small (one row per user, written only when a user is created), it is what
    keeps a username unique across the server. It has no foreign key to users: in a
    distributed database it is a reference table, and those cannot point at a distributed
    table; the row is written in the same flush as its user (see _add_to_directory).
    """

    __tablename__ = "usernames"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    user_id: Mapped[int] = mapped_column(BigId)


@event.listens_for(User, "after_insert")
def _add_to_directory(mapper: Mapper[User], connection: Connection, user: User) -> None:
    """Enter a new user's username in the directory (refused there if already taken)."""
    connection.execute(
        insert(Username.__table__).values(
            username=user.username, tenant_id=user.tenant_id, user_id=user.id
        )
    )


class RevokedToken(TenantScoped, Base):
    """A logged-out token's id, kept until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"
    # The token names its tenant (claim "tid"): the revocation is the tenant's row.
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "jti"),)

    jti: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(TenantKeyed, Base):
    """A failed login for a username the directory knows: the tenant's row."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)

    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class UnknownLoginFailure(Base):
    """A failed login for a username in no tenant (global: it has no tenant to go with).

    Counted like LoginFailure, so a lockout does not tell whether a name exists.
    """

    __tablename__ = "unknown_login_failures"
    __table_args__ = (Index("ix_unknown_login_failures_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
