"""The supplier's side of a purchase order: sent as PDF, confirmed, shipped.

approved -> sent (the PO goes to the supplier by e-mail through the notification outbox,
its PDF attached) -> confirmed (quantities and date the supplier commits to) ->
shipped (carrier, tracking, expected arrival). Goods may be received from any of these.
The delivery date the supplier confirmed is what the supplier performance report holds
them to (sync_server/reports/purchasing.py); the shipment's expected arrival tells
GET /stock/incoming when goods are due.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from common.money import format_money
from sync_server.auth.principal import Principal
from sync_server.catalog.models import Product
from sync_server.db import utcnow
from sync_server.documents.pdf import PDF_MEDIA_TYPE, Document, render
from sync_server.partners.models import Supplier
from sync_server.purchasing import notify, service
from sync_server.purchasing.models import PurchaseOrder, PurchaseOrderLine
from sync_server.purchasing.schemas import Confirmation, Shipment


def pdf_path(po_id: int) -> str:
    """Return the API path of a PO's PDF (what the supplier's e-mail links to)."""
    return f"/api/v1/purchase-orders/{po_id}/pdf"


def po_pdf(session: Session, *, actor: Principal, po_id: int) -> bytes:
    """Render a purchase order as the PDF a supplier receives."""
    po = service.visible_po(session, actor=actor, po_id=po_id)
    supplier = session.get(Supplier, po.supplier_id)
    cur = service.currency(session, po.tenant_id)
    names = dict(
        session.execute(
            select(Product.id, Product.name).where(
                Product.id.in_([line.product_id for line in po.lines])
            )
        ).all()
    )

    def money(value) -> str:
        return format_money(value, cur, symbol=False)

    return render(
        Document(
            title=f"Purchase order {po.number}",
            subtitle=supplier.name if supplier else "",
            facts=[
                ("Supplier", supplier.name if supplier else str(po.supplier_id)),
                ("Deliver to branch", str(po.branch_id)),
                ("Wanted by", po.expected_date.isoformat() if po.expected_date else "-"),
                ("Currency", cur),
            ],
            columns=("Product", "Quantity", "Unit cost", "Tax %", "Total"),
            rows=[
                (
                    names.get(line.product_id, str(line.product_id)),
                    format(line.quantity.normalize(), "f"),
                    money(line.unit_cost),
                    format(line.tax_rate.normalize(), "f"),
                    money(line.line_total),
                )
                for line in po.lines
            ],
            numeric=frozenset({1, 2, 3, 4}),
            totals=[("Total", money(po.total))],
            footer="Please confirm quantities and delivery date.",
        )
    )


def send(session: Session, *, actor: Principal, po_id: int) -> PurchaseOrder:
    """Send an approved PO to its supplier: an e-mail with the PDF attached, via the outbox."""
    po = service.lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    service._check(po, "send")
    service._branch_allowed(actor, po.branch_id)
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
