"""A business's tax classes; each product names one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, TenantKeyed, Timestamps


class TaxClassRow(TenantKeyed, Timestamps, Base):
    """A tax class: its rate sets (effective date + components) as common.tax reads them."""

    __tablename__ = "tax_classes"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    # [{"effective_from": "2017-07-01", "components": [{"code", "rate", "scope"}]}]
    rates: Mapped[Any] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
