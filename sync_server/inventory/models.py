"""Stock movements (the ledger), stock levels, transfers and counts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import BigInteger, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync_server.db import (
    Base,
    BigId,
    Money,
    Qty,
    TenantKeyed,
    Timestamps,
    tenant_fk,
    utcnow,
)


class StockMovement(TenantKeyed, Base):
    """One change of stock; rows are only ever inserted, a correction is a new row."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_level", "tenant_id", "branch_id", "product_id", "id"),
        Index("ix_stock_movements_tenant_occurred", "tenant_id", "occurred_at"),
        Index("ix_stock_movements_reference", "tenant_id", "reference_type", "reference_id"),
        # Unique within the business (migration 0030_movement_uuid_key), like every other
        # uuid; on PostgreSQL one unique index per range (sync_server/partitions.py).
        UniqueConstraint("tenant_id", "uuid"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
    )

    # Made here for every movement: SQLite cannot say which RETURNING row is which, so the
    # ORM matches rows by this column (fresh in every flush, so distinct within one
    # statement) and inserts a flush's movements in one statement (without it, one INSERT
    # per movement).
    uuid: Mapped[str] = mapped_column(String(36), insert_sentinel=True)
    branch_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId)
    code: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Qty())
    unit_cost: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(120), default="system")
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockLevel(TenantKeyed, Base):
    """What a branch holds of a product, kept in step with the movements."""

    __tablename__ = "stock_levels"
    # A push's batch writes its changed rows in one UPDATE (db.write_changes_plainly).
    plain_updates: ClassVar[bool] = True
    __table_args__ = (
        UniqueConstraint("tenant_id", "branch_id", "product_id"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
    )

    branch_id: Mapped[int] = mapped_column(BigId, index=True)
    product_id: Mapped[int] = mapped_column(BigId, index=True)
    on_hand: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class BranchProductSetting(TenantKeyed, Base):
    """A branch's own low-stock threshold and reorder quantity for a product."""

    __tablename__ = "branch_product_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "branch_id", "product_id"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
    )

    branch_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId)
    low_stock_threshold: Mapped[Decimal | None] = mapped_column(Qty(), nullable=True)
    reorder_quantity: Mapped[Decimal | None] = mapped_column(Qty(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Transfer(TenantKeyed, Timestamps, Base):
    """Goods moving between two branches: created, dispatched, received, closed."""

    __tablename__ = "stock_transfers"
    __table_args__ = (
        tenant_fk("source_branch_id", "branches"),
        tenant_fk("destination_branch_id", "branches"),
    )

    source_branch_id: Mapped[int] = mapped_column(BigId)
    destination_branch_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(24), default="created", index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    lines: Mapped[list[TransferLine]] = relationship(
        foreign_keys="TransferLine.transfer_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="TransferLine.id",
    )


class TransferLine(TenantKeyed, Base):
    __tablename__ = "stock_transfer_lines"
    __table_args__ = (
        UniqueConstraint("transfer_id", "product_id", "tenant_id"),
        tenant_fk("transfer_id", "stock_transfers", ondelete="CASCADE"),
        tenant_fk("product_id", "products"),
    )

    transfer_id: Mapped[int] = mapped_column(BigId, index=True)
    product_id: Mapped[int] = mapped_column(BigId)
    quantity: Mapped[Decimal] = mapped_column(Qty())
    received_quantity: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    # Sent minus received, fixed when the transfer closes (lost or damaged in transit).
    discrepancy: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))


class StockCount(TenantKeyed, Timestamps, Base):
    """A physical count of a branch (or one category of it)."""

    __tablename__ = "stock_counts"
    __table_args__ = (
        tenant_fk("branch_id", "branches"),
        tenant_fk("category_id", "categories"),
    )

    branch_id: Mapped[int] = mapped_column(BigId, index=True)
    category_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    posted_at: Mapped[datetime | None] = mapped_column(nullable=True)

    lines: Mapped[list[StockCountLine]] = relationship(
        foreign_keys="StockCountLine.count_id",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="StockCountLine.id",
    )


class StockCountLine(TenantKeyed, Base):
    __tablename__ = "stock_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "product_id", "tenant_id"),
        tenant_fk("count_id", "stock_counts", ondelete="CASCADE"),
        tenant_fk("product_id", "products"),
    )

    count_id: Mapped[int] = mapped_column(BigId, index=True)
    product_id: Mapped[int] = mapped_column(BigId)
    counted: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    # What the ledger said when the count was posted; None while the count is open.
    expected: Mapped[Decimal | None] = mapped_column(Qty(), nullable=True)


class StockLot(TenantKeyed, Base):
    """A lot (batch) of a product as its maker numbered it, with its expiry date."""

    __tablename__ = "stock_lots"
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id", "lot_number"),
        tenant_fk("product_id", "products"),
    )

    product_id: Mapped[int] = mapped_column(BigId, index=True)
    lot_number: Mapped[str] = mapped_column(String(20))
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LotLevel(TenantKeyed, Base):
    """What a branch holds of one lot; the product's level is the sum of these plus untracked."""

    __tablename__ = "lot_levels"
    __table_args__ = (
        UniqueConstraint("tenant_id", "branch_id", "lot_id"),
        Index("ix_lot_levels_product", "tenant_id", "branch_id", "product_id"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
        tenant_fk("lot_id", "stock_lots"),
    )

    branch_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId)
    lot_id: Mapped[int] = mapped_column(BigId, index=True)
    on_hand: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))


class LotMovement(TenantKeyed, Base):
    """The share of one stock movement that moved one lot (a sale may take two lots)."""

    __tablename__ = "lot_movements"
    __table_args__ = (
        Index("ix_lot_movements_lot", "tenant_id", "lot_id", "id"),
        Index("ix_lot_movements_reference", "tenant_id", "reference_type", "reference_id"),
        tenant_fk("lot_id", "stock_lots"),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
    )

    movement_uuid: Mapped[str] = mapped_column(String(36), index=True)
    lot_id: Mapped[int] = mapped_column(BigId)
    branch_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId)
    code: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Qty())
    reference_type: Mapped[str] = mapped_column(String(32))
    reference_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class StockCountLot(TenantKeyed, Base):
    """What a count found of one lot; a product counted by lot has every lot counted."""

    __tablename__ = "stock_count_lots"
    __table_args__ = (
        UniqueConstraint("count_id", "lot_id", "tenant_id"),
        tenant_fk("count_id", "stock_counts", ondelete="CASCADE"),
        tenant_fk("product_id", "products"),
        tenant_fk("lot_id", "stock_lots"),
    )

    count_id: Mapped[int] = mapped_column(BigId, index=True)
    product_id: Mapped[int] = mapped_column(BigId)
    lot_id: Mapped[int] = mapped_column(BigId)
    counted: Mapped[Decimal] = mapped_column(Qty(), default=Decimal("0"))
