"""Picking lists: what a branch must take off its shelves for paid online orders."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import NotFound
from sync_server.db import utcnow
from sync_server.foundation.principal import Principal
from sync_server.orders.models import Order, OrderStatus
from sync_server.orders.schemas import PickingItem, PickingLine, PickingList
from sync_server.org.models import Branch

TO_PICK = (OrderStatus.CONFIRMED, OrderStatus.PICKING)


def picking_list(session: Session, *, principal: Principal, branch_id: int) -> PickingList:
    """Return the branch's open picking work, per order line and totalled per product."""
    branch = session.get(Branch, branch_id)
    if (
        branch is None
        or branch.tenant_id != principal.tenant_id
        or not principal.may_use_branch(branch.id)
    ):
        raise NotFound(f"There is no branch with id {branch_id}.")
    orders = session.scalars(
        select(Order)
        .where(
            Order.tenant_id == principal.tenant_id,
            Order.branch_id == branch.id,
            Order.status.in_(TO_PICK),
        )
        .order_by(Order.confirmed_at, Order.id)
    ).all()
    lines: list[PickingLine] = []
    totals: dict[int, Decimal] = defaultdict(lambda: Decimal("0"))
    names: dict[int, tuple[str, str]] = {}
    for order in orders:
        for line in order.lines:
            lines.append(
                PickingLine(
                    order_id=order.id,
                    external_number=order.external_number,
                    product_id=line.product_id,
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                )
            )
            totals[line.product_id] += line.quantity
            names[line.product_id] = (line.sku, line.name)
    items = [
        PickingItem(product_id=pid, sku=names[pid][0], name=names[pid][1], quantity=qty)
        for pid, qty in sorted(totals.items(), key=lambda kv: names[kv[0]][0])
    ]
    return PickingList(
        branch_id=branch.id,
        branch_code=branch.code,
        generated_at=utcnow(),
        order_ids=[o.id for o in orders],
        items=items,
        lines=lines,
    )


def render_pdf(listing: PickingList) -> bytes:
    """Return the picking list as an A4 PDF: totals per product, then each order's lines."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Picking list {listing.branch_code}")
    when = listing.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    story = [
        Paragraph(f"Picking list - branch {listing.branch_code}", styles["Title"]),
        Paragraph(f"{len(listing.order_ids)} order(s), generated {when}", styles["Normal"]),
        Spacer(1, 12),
        Paragraph("Totals per product", styles["Heading2"]),
        Table(
            [["SKU", "Product", "Quantity"]]
            + [[i.sku, i.name[:60], str(i.quantity)] for i in listing.items],
            repeatRows=1,
        ),
        Spacer(1, 12),
        Paragraph("Per order", styles["Heading2"]),
        Table(
            [["Order", "SKU", "Product", "Quantity"]]
            + [
                [ln.external_number, ln.sku, ln.name[:50], str(ln.quantity)] for ln in listing.lines
            ],
            repeatRows=1,
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
