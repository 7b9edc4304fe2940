"""The daily sales summary that keeps long-range sales reports fast over millions of lines."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, PrimaryKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db import Base, BigId, Qty, TenantKeyed, TenantScoped, tenant_fk, utcnow

ZERO = Decimal("0")


class SalesDaily(TenantKeyed, Base):
    """Till sales and returns summed per UTC day, branch, channel and cashier.

    Why: a year of sales is millions of lines; scanning them for every report blows the 2 s
    budget (SQLite joins lines to headers at ~1 µs a row). A day × branch × channel × cashier
    row holds the sums instead, and reports add the few lines recorded since (see
    reports/summary.py). Sales are summed whatever their status; voids are taken off at
    read time, so a sale voided after the refresh never leaves a stale total behind.
    """

    __tablename__ = "report_sales_daily"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "day",
            "branch_id",
            "channel",
            "cashier_id",
            name="uq_report_sales_daily_key",
        ),
        tenant_fk("branch_id", "branches"),
    )

    day: Mapped[datetime]  # midnight UTC starting the day
    branch_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    # 0 when no cashier is known, so the unique key never holds a NULL.
    cashier_id: Mapped[int] = mapped_column(BigInteger, default=0)
    sales: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[Decimal] = mapped_column(Qty(), default=ZERO)
    revenue: Mapped[Decimal] = mapped_column(default=ZERO)
    discounts: Mapped[Decimal] = mapped_column(default=ZERO)
    tax: Mapped[Decimal] = mapped_column(default=ZERO)
    # At the products' average cost when the day was summed (close to the cost at sale).
    cost: Mapped[Decimal] = mapped_column(default=ZERO)
    returns: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_quantity: Mapped[Decimal] = mapped_column(Qty(), default=ZERO)
    returned_amount: Mapped[Decimal] = mapped_column(default=ZERO)


class SummaryState(TenantKeyed, Base):
    """How far the summary goes: the last till sale and return id it has summed."""

    __tablename__ = "report_summary_state"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    sale_id_through: Mapped[int] = mapped_column(BigInteger, default=0)
    return_id_through: Mapped[int] = mapped_column(BigInteger, default=0)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Stock snapshots: one per month start from snapshot_from to snapshot_through (none
    # while NULL), each holding the movements up to this id that happened before it.
    movement_id_through: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    snapshot_from: Mapped[datetime | None] = mapped_column(nullable=True)
    snapshot_through: Mapped[datetime | None] = mapped_column(nullable=True)
    # Product totals: one per month start from totals_from to totals_through (none while
    # NULL), each holding the summed sales (up to sale_id_through) that happened before it.
    totals_from: Mapped[datetime | None] = mapped_column(nullable=True)
    totals_through: Mapped[datetime | None] = mapped_column(nullable=True)


class ProductDaily(TenantScoped, Base):
    """Sales and returns summed per UTC day, branch, product, channel and direction.

    Why: best sellers and movers read product grain over weeks to a year; a row per day
    holds each product's lines of that day at a branch, so a report reads one narrow table
    instead of joining every line to its sale. Kept with the daily summary's watermark.
    """

    __tablename__ = "report_product_daily"
    # The key is the primary key, and on SQLite the table is stored in its order (WITHOUT
    # ROWID): a range of days is read in one sweep, with no lookup from an index per row.
    __table_args__ = (
        PrimaryKeyConstraint(
            "tenant_id",
            "day",
            "branch_id",
            "product_id",
            "channel",
            "is_return",
            name="pk_report_product_daily",
        ),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
        {"sqlite_with_rowid": False},
    )

    day: Mapped[datetime]  # midnight UTC starting the day
    branch_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    # 0 for sold lines, 1 for returned ones (their quantity and revenue negative).
    is_return: Mapped[int] = mapped_column(default=0)
    lines: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[Decimal] = mapped_column(Qty(), default=ZERO)
    revenue: Mapped[Decimal] = mapped_column(default=ZERO)


class ProductTotals(TenantScoped, Base):
    """Sales and returns per product summed over every day before a month start.

    Why: a year of product days is about as many rows as there are lines (a product sells at
    a branch a few times a month), so ranking products over a year read millions of rows.
    Two month-start totals give the whole months between them in one row per product; the
    days at the ends come from ProductDaily (reports/totals.py). Kept with the daily
    summary's watermark: a sale summed late is added to every total it happened before.
    """

    __tablename__ = "report_product_totals"
    __table_args__ = (
        PrimaryKeyConstraint(
            "tenant_id",
            "as_of",
            "product_id",
            "channel",
            "is_return",
            name="pk_report_product_totals",
        ),
        tenant_fk("product_id", "products"),
        {"sqlite_with_rowid": False},
    )

    # The primary key leads with the tenant: an index of the tenant alone only tempts SQLite's
    # planner into looking every row of a month up through it (see migration 0024).
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenants.id", ondelete="RESTRICT"))
    as_of: Mapped[datetime]  # midnight UTC starting a month: the sales before it
    product_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    is_return: Mapped[int] = mapped_column(default=0)
    lines: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[Decimal] = mapped_column(Qty(), default=ZERO)
    revenue: Mapped[Decimal] = mapped_column(default=ZERO)


class ProductLastDay(TenantScoped, Base):
    """The last day each product has a summed sale (or return), per channel and direction.

    Why: movers wants each product's last sale day over its look-back (60 days by default):
    grouping that many product days (hundreds of thousands) per request was most of the
    report. One row per product answers for every product whose summed sales were not
    voided since (reports/stock.py groups the few others per day). Kept with the daily
    summary's watermark; a day only ever moves later (a late sale of an older day leaves it).
    """

    __tablename__ = "report_product_last_day"
    __table_args__ = (
        PrimaryKeyConstraint(
            "tenant_id", "product_id", "channel", "is_return", name="pk_report_product_last_day"
        ),
        tenant_fk("product_id", "products"),
        {"sqlite_with_rowid": False},
    )

    # The primary key leads with the tenant (no index of the tenant alone; see ProductTotals).
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenants.id", ondelete="RESTRICT"))
    product_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    is_return: Mapped[int] = mapped_column(default=0)
    day: Mapped[datetime]  # midnight UTC starting the latest summed day


class TenderDaily(TenantKeyed, Base):
    """Till payments summed per UTC day, branch, channel, cashier and tender.

    Cash change given back is a cash amount taken off (and no payment of its own), as the
    tender report shows cash kept. Summed whatever the sale's status; voids come off when read.
    """

    __tablename__ = "report_tender_daily"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "day",
            "branch_id",
            "channel",
            "cashier_id",
            "tender",
            name="uq_report_tender_daily_key",
        ),
        tenant_fk("branch_id", "branches"),
    )

    day: Mapped[datetime]
    branch_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16))
    cashier_id: Mapped[int] = mapped_column(BigInteger, default=0)
    tender: Mapped[str] = mapped_column(String(16))
    payments: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal] = mapped_column(default=ZERO)


class StockSnapshot(TenantScoped, Base):
    """Stock per branch and product at a month start, from the ledger (reports/snapshots.py).

    Why: valuing stock as of a past date sums the ledger up to that date, millions of
    movements a year; the month's snapshot plus the movements since answers instead.
    """

    __tablename__ = "report_stock_snapshots"
    # Stored in key order on SQLite, like ProductDaily: one month is one sweep.
    __table_args__ = (
        PrimaryKeyConstraint(
            "tenant_id", "as_of", "branch_id", "product_id", name="pk_report_stock_snapshots"
        ),
        tenant_fk("branch_id", "branches"),
        tenant_fk("product_id", "products"),
        {"sqlite_with_rowid": False},
    )

    # The primary key leads with the tenant: an index of the tenant alone only tempts SQLite's
    # planner into looking every row of a month up through it (see migration 0024).
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenants.id", ondelete="RESTRICT"))
    as_of: Mapped[datetime]  # midnight UTC starting a month: movements before it
    branch_id: Mapped[int] = mapped_column(BigId)
    product_id: Mapped[int] = mapped_column(BigId)
    # On the shelf (reservations and releases left out, as the valuation does).
    quantity: Mapped[Decimal] = mapped_column(Qty(), default=ZERO)
    # Costed receipts so far, for the quantity-weighted receipt cost.
    receipt_quantity: Mapped[Decimal] = mapped_column(Qty(), default=ZERO)
    receipt_value: Mapped[Decimal] = mapped_column(default=ZERO)
