"""The supplier's side of a purchase order: sent as PDF, confirmed, shipped.

approved -> sent (the PO goes to the supplier by e-mail through the notification outbox,
its PDF attached) -> confirmed (quantities and date the supplier commits to) ->
shipped (carrier, tracking, expected arrival). Goods may be received from any of these.
The delivery date the supplier confirmed is what the supplier performance report holds
them to (sync_server/reports/purchasing.py); the shipment's expected arrival tells
GET /stock/incoming when goods are due.
"""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import Conflict, ValidationFailed
from common.money import format_money
from common.units import format_quantity
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.documents.pdf import PDF_MEDIA_TYPE, Document, render
from sync_server.foundation.principal import Principal
from sync_server.org.models import Branch
from sync_server.partners.models import Supplier
from sync_server.purchasing import notify, service
from sync_server.purchasing.models import PurchaseOrder, PurchaseOrderLine
from sync_server.purchasing.schemas import Confirmation, Shipment


def pdf_path(po_id: int) -> str:
    """Return the API path of a PO's PDF (what the supplier's e-mail links to)."""
    return f"/api/v1/purchase-orders/{po_id}/pdf"


def unit_text(line: PurchaseOrderLine, base_unit: str) -> str:
    """Return the unit a line counts in: "piece", "kg", or "case of 12 piece"."""
    if not line.purchase_unit or line.purchase_unit == base_unit:
        return base_unit
    return f"{line.purchase_unit} of {format_quantity(line.units_per)} {base_unit}"


def po_pdf(session: Session, *, actor: Principal, po_id: int) -> bytes:
    """Render a purchase order as the PDF a supplier receives: units and tax on every line."""
    po = service.visible_po(session, actor=actor, po_id=po_id)
    supplier = session.get(Supplier, po.supplier_id)
    branch = session.get(Branch, po.branch_id)
    cur = service.currency(session, po.tenant_id)
    products = {
        row.id: row
        for row in session.execute(
            select(Product.id, Product.name, Product.sku, Product.unit).where(
                Product.id.in_([line.product_id for line in po.lines])
            )
        ).all()
    }

    def money(value: Decimal) -> str:
        return format_money(value, cur, symbol=False)

    def name(line: PurchaseOrderLine) -> str:
        product = products.get(line.product_id)
        text = f"{product.name} ({product.sku})" if product else str(line.product_id)
        # Wrapped at word boundaries, never inside a word, to keep the table on the page.
        return "\n".join(textwrap.wrap(text, width=30, break_long_words=False)) or text

    def unit(line: PurchaseOrderLine) -> str:
        product = products.get(line.product_id)
        return "\n".join(textwrap.wrap(unit_text(line, product.unit if product else ""), 12))

    return render(
        Document(
            title=f"Purchase order {po.number}",
            subtitle=supplier.name if supplier else "",
            facts=[
                ("Supplier", supplier.name if supplier else str(po.supplier_id)),
                ("Supplier GSTIN", (supplier.tax_number if supplier else "") or "-"),
                ("Deliver to", branch.name if branch else str(po.branch_id)),
                ("Wanted by", po.expected_date.isoformat() if po.expected_date else "-"),
                ("Currency", cur),
            ],
            columns=("Product", "Qty", "Unit", "Unit cost", "Taxable", "Tax %", "Tax", "Total"),
            rows=[
                (
                    name(line),
                    format_quantity(line.quantity),
                    unit(line),
                    money(line.unit_cost),
                    money(line.taxable),
                    format(line.tax_rate.normalize(), "f"),
                    money(line.tax_amount),
                    money(line.line_total),
                )
                for line in po.lines
            ],
            numeric=frozenset({1, 3, 4, 5, 6, 7}),
            totals=[
                ("Taxable value", money(po.subtotal)),
                ("Tax", money(po.tax_total)),
                ("Total", money(po.total)),
            ],
            footer="Costs are before tax. Please confirm quantities and delivery date.",
        )
    )


def send(
    session: Session, *, actor: Principal, po_id: int, email_configured: bool = True
) -> PurchaseOrder:
    """Send an approved PO to its supplier: an e-mail with the PDF attached, via the outbox.

    Refused when the server has no mail server to send through: the PO would read "sent"
    while the e-mail could never leave.
    """
    po = service.lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    service._check(po, "send")
    service._branch_allowed(actor, po.branch_id)
    if not email_configured:
        raise Conflict(
            "This server has no mail server configured (STOCKPILOT_SMTP_HOST), so the "
            f"purchase order cannot be e-mailed; {po.number} was not changed."
        )
    supplier = session.get(Supplier, po.supplier_id)
    if supplier is None or not supplier.email:
        raise ValidationFailed(
            "The supplier has no e-mail address to send the purchase order to; add one first."
        )
    before = po.status
    po.status, po.sent_at = service.SENT, utcnow()
    service._transition(session, actor=actor, po=po, action="sent", before=before)
    notify.send(
        session,
        tenant_id=po.tenant_id,
        event="purchase_order.sent",
        subject=f"Purchase order {po.number}",
        body=(
            f"Please find attached our purchase order {po.number} ({len(po.lines)} lines, "
            f"total {format_money(po.total, service.currency(session, po.tenant_id))}; "
            f"also at {pdf_path(po.id)}) and confirm quantities and "
            "delivery date."
        ),
        payload={"purchase_order_id": po.id, "number": po.number, "pdf": pdf_path(po.id)},
        branch_id=po.branch_id,
        email=supplier.email,
        attachments=[
            (
                f"purchase-order-{po.number}.pdf",
                PDF_MEDIA_TYPE,
                po_pdf(session, actor=actor, po_id=po.id),
            )
        ],
    )
    return po


def confirm(session: Session, *, actor: Principal, po_id: int, data: Confirmation) -> PurchaseOrder:
    """Record the supplier's confirmation: quantities per line and the delivery date."""
    po = service.lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    service._check(po, "confirm")
    service._branch_allowed(actor, po.branch_id)
    by_id = {line.id: line for line in po.lines}
    unknown = [c.line_id for c in data.lines if c.line_id not in by_id]
    if unknown:
        raise ValidationFailed(f"Lines {unknown} are not on purchase order {po.number}.")
    for change in data.lines:
        by_id[change.line_id].confirmed_quantity = change.quantity
    for line in po.lines:
        if line.confirmed_quantity is None:
            line.confirmed_quantity = line.quantity  # not mentioned: confirmed as ordered
    before = po.status
    po.status, po.confirmed_at, po.confirmed_date = service.CONFIRMED, utcnow(), data.delivery_date
    service._transition(
        session,
        actor=actor,
        po=po,
        action="confirmed",
        before=before,
        comment=f"delivery {data.delivery_date.isoformat()}",
    )
    return po


def ship(session: Session, *, actor: Principal, po_id: int, data: Shipment) -> PurchaseOrder:
    """Record that the supplier shipped: carrier, tracking number and expected arrival."""
    po = service.lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    service._check(po, "ship")
    service._branch_allowed(actor, po.branch_id)
    before = po.status
    po.status, po.shipped_at = service.SHIPPED, utcnow()
    po.carrier, po.tracking_number = data.carrier, data.tracking_number
    po.expected_arrival = data.expected_arrival
    service._transition(
        session,
        actor=actor,
        po=po,
        action="shipped",
        before=before,
        comment=f"{data.carrier} {data.tracking_number}, arriving {data.expected_arrival}",
    )
    return po


def incoming(session: Session, *, actor: Principal, branch_id: int | None) -> list[dict[str, Any]]:
    """Return per product and branch what open POs still bring, and when the first is due."""
    left = PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity
    stmt = (
        select(
            PurchaseOrder.branch_id,
            PurchaseOrderLine.product_id,
            # In base units: a line of cases brings units_per pieces each.
            func.sum(left * PurchaseOrderLine.units_per),
            func.count(func.distinct(PurchaseOrder.id)),
            func.min(
                func.coalesce(
                    PurchaseOrder.expected_arrival,
                    PurchaseOrder.confirmed_date,
                    PurchaseOrder.expected_date,
                )
            ),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrder.tenant_id == actor.tenant_id,
            PurchaseOrder.status.in_(service.INCOMING),
            left > 0,
        )
        .group_by(PurchaseOrder.branch_id, PurchaseOrderLine.product_id)
        .order_by(PurchaseOrder.branch_id, PurchaseOrderLine.product_id)
    )
    if branch_id is not None:
        service._branch_allowed(actor, branch_id)
        stmt = stmt.where(PurchaseOrder.branch_id == branch_id)
    rows = []
    for branch, product_id, quantity, orders, first_due in session.execute(stmt).all():
        if not actor.may_use_branch(branch):
            continue
        due = first_due if first_due is None or isinstance(first_due, date) else None
        if first_due is not None and due is None:
            due = date.fromisoformat(str(first_due)[:10])
        rows.append(
            {
                "branch_id": branch,
                "product_id": product_id,
                "on_order": quantity,
                "purchase_orders": orders,
                "first_due": due,
            }
        )
    return rows
