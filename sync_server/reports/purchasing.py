"""Purchasing reports: what was ordered, received, outstanding and paid; supplier performance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from sync_server.db import AnySelect, Money, is_sqlite
from sync_server.partners.models import Supplier
from sync_server.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    PurchaseOrder,
    PurchaseOrderLine,
    VendorEntry,
)
from sync_server.reports.base import (
    Column,
    Filters,
    Grain,
    Kind,
    Report,
    SqlColumn,
    bucket,
    in_branches,
    money_sum,
    qty_sum,
    ratio,
    to_dec,
)

# Orders the business committed to: approved, and everything that can follow approval.
COMMITTED = (
    "approved",
    "sent",
    "confirmed",
    "shipped",
    "partially_received",
    "received",
    "closed",
)
OPEN = ("approved", "sent", "confirmed", "shipped", "partially_received")


def _ordered_at() -> ColumnElement[datetime | None]:
    # An order is placed with the supplier when it is approved; older rows fall back.
    return func.coalesce(
        PurchaseOrder.decided_at, PurchaseOrder.submitted_at, PurchaseOrder.created_at
    )


def _scope(
    stmt: AnySelect, filters: Filters, *, supplier_col: SqlColumn, branch_col: SqlColumn
) -> AnySelect:
    stmt = stmt.where(supplier_col.is_not(None))
    if filters.supplier_id is not None:
        stmt = stmt.where(supplier_col == filters.supplier_id)
    branch = in_branches(branch_col, filters)
    return stmt if branch is None else stmt.where(branch)


def purchase_summary(session: Session, *, filters: Filters, grain: Grain | None) -> Report:
    """Sum per supplier (and period): ordered, received, outstanding on open orders, paid."""
    zero = literal(0, Money())
    at = _ordered_at()
    ordered = select(
        PurchaseOrder.supplier_id.label("supplier_id"),
        at.label("at"),
        PurchaseOrder.total.label("ordered"),
        literal(1, Integer).label("orders"),
        zero.label("received"),
        case(
            (
                PurchaseOrder.status.in_(OPEN),
                PurchaseOrder.total - PurchaseOrder.received_value,
            ),
            else_=zero,
        ).label("outstanding"),
        zero.label("paid"),
    ).where(
        PurchaseOrder.tenant_id == filters.tenant_id,
        PurchaseOrder.status.in_(COMMITTED),
        at >= filters.start,
        at < filters.end,
    )
    ordered = _scope(
        ordered, filters, supplier_col=PurchaseOrder.supplier_id, branch_col=PurchaseOrder.branch_id
    )
    received = select(
        GoodsReceipt.supplier_id,
        GoodsReceipt.received_at,
        zero,
        literal(0, Integer),
        GoodsReceipt.value,
        zero,
        zero,
    ).where(
        GoodsReceipt.tenant_id == filters.tenant_id,
        GoodsReceipt.received_at >= filters.start,
        GoodsReceipt.received_at < filters.end,
    )
    received = _scope(
        received, filters, supplier_col=GoodsReceipt.supplier_id, branch_col=GoodsReceipt.branch_id
    )
    # Payments are negative in the vendor ledger; a payment is not tied to a branch.
    paid = select(
        VendorEntry.supplier_id,
        VendorEntry.occurred_at,
        zero,
        literal(0, Integer),
        zero,
        zero,
        -VendorEntry.amount,
    ).where(
        VendorEntry.tenant_id == filters.tenant_id,
        VendorEntry.kind == "payment",
        VendorEntry.occurred_at >= filters.start,
        VendorEntry.occurred_at < filters.end,
    )
    if filters.supplier_id is not None:
        paid = paid.where(VendorEntry.supplier_id == filters.supplier_id)
    facts = union_all(ordered, received, paid).subquery("purchase_facts")
    keys: list[Any] = [Supplier.id, Supplier.name]
    label_cols = [Column("supplier", "Supplier")]
    selected: list[Any] = [Supplier.id.label("supplier_id"), Supplier.name.label("supplier")]
    if grain is not None:
        period = bucket(session, facts.c.at, grain).label("period")
        keys.insert(0, period)
        selected.insert(0, period)
        label_cols.insert(0, Column("period", grain.value.title(), Kind.DATE))
    stmt = (
        select(
            *selected,
            func.sum(facts.c.orders).label("orders"),
            money_sum(facts.c.ordered).label("ordered"),
            money_sum(facts.c.received).label("received"),
            money_sum(facts.c.outstanding).label("outstanding"),
            money_sum(facts.c.paid).label("paid"),
        )
        .join(Supplier, Supplier.id == facts.c.supplier_id)
        .group_by(*keys)
        .order_by(*keys)
    )
    rows = [dict(r) for r in session.execute(stmt).mappings()]
    shown = filters.describe()
    if grain is not None:
        shown["grain"] = grain.value
    return Report(
        name="purchase-summary",
        title="Purchase summary",
        columns=[
            *label_cols,
            Column("orders", "Orders", Kind.INT),
            Column("ordered", "Ordered", Kind.MONEY),
            Column("received", "Received", Kind.MONEY),
            Column("outstanding", "Outstanding", Kind.MONEY),
            Column("paid", "Paid", Kind.MONEY),
            Column("supplier_id", "Supplier id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters=shown,
        notes=["Outstanding is what open orders placed in the period still await."],
    )


def _days_between(session: Session, later: SqlColumn, earlier: SqlColumn) -> ColumnElement[Any]:
    """Return later − earlier in days (fractional) on either engine."""
    if is_sqlite(session.get_bind()):
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86400.0


def supplier_performance(session: Session, *, filters: Filters) -> Report:
    """Per supplier: lead time median and p90, fill rate, on-time rate, price variance.

    Counted over orders placed (approved) in the date range. Lead time runs from placing
    the order to its last goods receipt, over orders that received anything; the median
    averages the two middle values and p90 is the nearest rank ⌈0.9 n⌉, so both engines
    agree (SQLite has no percentile function).
    """
    at = _ordered_at()
    placed = select(PurchaseOrder.id).where(
        PurchaseOrder.tenant_id == filters.tenant_id,
        PurchaseOrder.status.in_(COMMITTED),
        at >= filters.start,
        at < filters.end,
    )
    placed = _scope(
        placed, filters, supplier_col=PurchaseOrder.supplier_id, branch_col=PurchaseOrder.branch_id
    )
    placed_ids = placed.scalar_subquery()
    last_receipt = (
        select(
            GoodsReceipt.purchase_order_id.label("po_id"),
            func.max(GoodsReceipt.received_at).label("last_at"),
        )
        .where(GoodsReceipt.tenant_id == filters.tenant_id)
        .group_by(GoodsReceipt.purchase_order_id)
        .subquery("last_receipt")
    )
    lead = cast(_days_between(session, last_receipt.c.last_at, at), Float).label("lead")
    per_po = (
        select(PurchaseOrder.supplier_id.label("supplier_id"), lead)
        .join(last_receipt, last_receipt.c.po_id == PurchaseOrder.id)
        .where(PurchaseOrder.id.in_(placed_ids))
        .subquery("per_po")
    )
    ranked = select(
        per_po.c.supplier_id,
        per_po.c.lead,
        func.row_number()
        .over(partition_by=per_po.c.supplier_id, order_by=per_po.c.lead)
        .label("rn"),
        func.count().over(partition_by=per_po.c.supplier_id).label("n"),
    ).subquery("ranked")
    # Integer halves: (n + 1) / 2 and (n + 2) / 2 are the middle ranks (one when n is odd).
    middle = and_(ranked.c.rn >= (ranked.c.n + 1) // 2, ranked.c.rn <= (ranked.c.n + 2) // 2)
    p90_rank = (ranked.c.n * 9 + 9) // 10  # ⌈0.9 n⌉ in integers
    leads = (
        select(
            ranked.c.supplier_id,
            func.avg(case((middle, ranked.c.lead))).label("lead_median"),
            func.max(case((ranked.c.rn == p90_rank, ranked.c.lead))).label("lead_p90"),
            func.max(ranked.c.n).label("received_orders"),
        )
        .group_by(ranked.c.supplier_id)
        .subquery("leads")
    )
    # On time: received in full by the end of the date the supplier confirmed, or else the
    # date asked for on the PO (UTC days).
    promised = func.coalesce(PurchaseOrder.confirmed_date, PurchaseOrder.expected_date)
    if is_sqlite(session.get_bind()):
        received_day = func.date(PurchaseOrder.received_at)
    else:
        received_day = func.date(func.timezone("UTC", PurchaseOrder.received_at))
    on_time = case(
        (
            and_(
                promised.is_not(None),
                PurchaseOrder.received_at.is_not(None),
                received_day <= promised,
            ),
            1,
        ),
        else_=0,
    )
    orders = (
        select(
            PurchaseOrder.supplier_id.label("supplier_id"),
            func.count(PurchaseOrder.id).label("orders"),
            func.sum(on_time).label("on_time"),
            func.count(promised).label("with_expected"),
        )
        .where(PurchaseOrder.id.in_(placed_ids))
        .group_by(PurchaseOrder.supplier_id)
        .subquery("po_counts")
    )
    fill = (
        select(
            PurchaseOrder.supplier_id.label("supplier_id"),
            qty_sum(PurchaseOrderLine.quantity).label("ordered_qty"),
            qty_sum(PurchaseOrderLine.received_quantity).label("received_qty"),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.id.in_(placed_ids))
        .group_by(PurchaseOrder.supplier_id)
        .subquery("fill")
    )
    prices = (
        select(
            PurchaseOrder.supplier_id.label("supplier_id"),
            money_sum(GoodsReceiptLine.quantity * GoodsReceiptLine.unit_cost).label("paid_value"),
            money_sum(GoodsReceiptLine.quantity * PurchaseOrderLine.unit_cost).label("po_value"),
        )
        .join(PurchaseOrderLine, PurchaseOrderLine.id == GoodsReceiptLine.po_line_id)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.id.in_(placed_ids))
        .group_by(PurchaseOrder.supplier_id)
        .subquery("prices")
    )
    stmt = (
        select(
            Supplier.id.label("supplier_id"),
            Supplier.name.label("supplier"),
            orders.c.orders,
            orders.c.on_time,
            orders.c.with_expected,
            leads.c.received_orders,
            leads.c.lead_median,
            leads.c.lead_p90,
            fill.c.ordered_qty,
            fill.c.received_qty,
            prices.c.paid_value,
            prices.c.po_value,
        )
        .join(orders, orders.c.supplier_id == Supplier.id)
        .outerjoin(leads, leads.c.supplier_id == Supplier.id)
        .outerjoin(fill, fill.c.supplier_id == Supplier.id)
        .outerjoin(prices, prices.c.supplier_id == Supplier.id)
        .where(Supplier.tenant_id == filters.tenant_id)
        .order_by(Supplier.name, Supplier.id)
    )
    rows = []
    for r in session.execute(stmt).mappings():
        row = dict(r)
        row["lead_median"] = _days(row["lead_median"])
        row["lead_p90"] = _days(row["lead_p90"])
        row["fill_rate"] = ratio(row["received_qty"], row["ordered_qty"])
        row["on_time_rate"] = ratio(row["on_time"], row["with_expected"])
        po_value, paid_value = row["po_value"], row["paid_value"]
        variance = ratio(to_dec(paid_value or 0) - to_dec(po_value or 0), po_value)
        row["price_variance"] = variance
        rows.append(row)
    return Report(
        name="supplier-performance",
        title="Supplier performance",
        columns=[
            Column("supplier", "Supplier"),
            Column("orders", "Orders", Kind.INT),
            Column("received_orders", "Received", Kind.INT),
            Column("lead_median", "Lead time median (d)", Kind.RATIO),
            Column("lead_p90", "Lead time p90 (d)", Kind.RATIO),
            Column("ordered_qty", "Ordered qty", Kind.QTY),
            Column("received_qty", "Received qty", Kind.QTY),
            Column("fill_rate", "Fill rate %", Kind.RATIO),
            Column("on_time_rate", "On time %", Kind.RATIO),
            Column("price_variance", "Price variance %", Kind.RATIO),
            Column("supplier_id", "Supplier id", Kind.INT, internal=True),
        ],
        rows=rows,
        filters=filters.describe(),
        notes=[
            "On time: received in full by the expected date, among orders that had one.",
            "Price variance: what receipts cost against the order's prices for the same units.",
        ],
    )


def _days(value: Any) -> Any:
    # Lead times come back as floats (a day count, not money); round to one decimal as text.
    return None if value is None else to_dec(round(float(value), 4))
