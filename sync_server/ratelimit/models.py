"""Shared rate-limit counters, for several workers behind one database."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base


class RateLimitCounter(Base):
    """Requests seen from one caller in one fixed window (not tenant data: no tenant_id)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
