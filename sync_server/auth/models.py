"""Users, their branches, revoked tokens and failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync_server.db import Base, BigId, TenantScoped, Timestamps, utcnow


class User(TenantScoped, Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Unique across the server, so login needs no tenant name.
    username: Mapped[str] = mapped_column(String(64), unique=True)
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
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def branch_ids(self) -> list[int]:
        return sorted(link.branch_id for link in self.branch_links)


class UserBranch(TenantScoped, Base):
    __tablename__ = "user_branches"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    branch_id: Mapped[int] = mapped_column(BigId, ForeignKey("branches.id"), primary_key=True)


class RevokedToken(Base):
    """A logged-out token's id, kept until the token would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
