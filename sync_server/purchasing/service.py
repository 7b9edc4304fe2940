"""The purchase order lifecycle: draft, approval, goods receipt, close or cancel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import (
    Conflict,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from common.money import format_money, percent_of, round_money
from common.roles import Permission, Role
from common.schemas.purchasing import (
    ALLOWED_FROM as ALLOWED_FROM,
)
from common.schemas.purchasing import (
    APPROVED as APPROVED,
)
from common.schemas.purchasing import (
    CANCELLED as CANCELLED,
)
from common.schemas.purchasing import (
    CLOSED as CLOSED,
)
from common.schemas.purchasing import (
    CONFIRMED as CONFIRMED,
)
from common.schemas.purchasing import (
    DRAFT as DRAFT,
)
from common.schemas.purchasing import (
    PARTIAL as PARTIAL,
)
from common.schemas.purchasing import (
    PENDING as PENDING,
)
from common.schemas.purchasing import (
    RECEIVED as RECEIVED,
)
from common.schemas.purchasing import (
    REJECTED as REJECTED,
)
from common.schemas.purchasing import (
    SENT as SENT,
)
from common.schemas.purchasing import (
    SHIPPED as SHIPPED,
)
from common.tax import (
    Component,
    LineTax,
    Supply,
    components_for,
    gstin_problem,
    state_of_gstin,
    supply_kind,
    tax_exclusive,
)
from sync_server.audit import service as audit
from sync_server.catalog.models import Product
from sync_server.credit.schemas import MAX_AMOUNT
from sync_server.db import lock_for_update, utcnow
from sync_server.documents.numbering import next_number
from sync_server.foundation.principal import Principal
from sync_server.inventory import costing, ledger, lot_receipts
from sync_server.org.models import Branch
from sync_server.org.service import get_setting
from sync_server.partners.models import Supplier
from sync_server.purchasing import notify, prices, units, vendors
from sync_server.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    PurchaseOrder,
    PurchaseOrderLine,
)
from sync_server.purchasing.schemas import LineIn, POCreate, POUpdate, ReceiptLineIn
from sync_server.tax import service as tax_classes
from sync_server.tax.models import TaxClassRow

# Goods of these orders are still to come (what is left of their lines).
INCOMING = (APPROVED, SENT, CONFIRMED, SHIPPED, PARTIAL)
REFERENCE_TYPE = "purchase_order"


def _check(po: PurchaseOrder, action: str) -> None:
    if po.status not in ALLOWED_FROM[action]:
        allowed = ", ".join(sorted(ALLOWED_FROM[action]))
        raise InvalidState(
            f"Purchase order {po.number} is {po.status}; it can be {_past(action)} only when "
            f"{allowed}.",
            status_now=po.status,
        )


def _past(action: str) -> str:
    return {
        "submit": "submitted",
        "edit": "edited",
        "receive": "received into",
        "send": "sent",
        "ship": "marked shipped",
    }.get(action, f"{action.rstrip('e')}ed")


def currency(session: Session, tenant_id: int) -> str:
    """Return the tenant's currency (it decides how money rounds)."""
    return str(get_setting(session, tenant_id=tenant_id, key="currency"))


def line_tax(
    quantity: Decimal, unit_cost: Decimal, components: tuple[Component, ...], cur: str
) -> LineTax:
    """Tax a PO line: costs are before tax, each component rounded on the rounded value."""
    return tax_exclusive(quantity * unit_cost, components=components, currency=cur)


def line_value(quantity: Decimal, unit_cost: Decimal, tax_rate: Decimal, cur: str) -> Decimal:
    """Return a line's value with tax: net rounded, tax on the rounded net."""
    net = round_money(quantity * unit_cost, cur)
    return net + percent_of(net, tax_rate, cur)


def snapshot(po: PurchaseOrder) -> dict[str, Any]:
    """Return the audit picture of a PO."""
    return {
        "number": po.number,
        "status": po.status,
        "supplier_id": po.supplier_id,
        "branch_id": po.branch_id,
        "total": po.total,
        "received_value": po.received_value,
        "paid_amount": po.paid_amount,
        "lines": [
            {
                "product_id": line.product_id,
                "quantity": line.quantity,
                "unit_cost": line.unit_cost,
                "received_quantity": line.received_quantity,
            }
            for line in po.lines
        ],
    }


def get_po(session: Session, *, tenant_id: int, po_id: int) -> PurchaseOrder:
    """Return a PO of the tenant or NotFound."""
    po = session.get(PurchaseOrder, po_id)
    if po is None or po.tenant_id != tenant_id:
        raise NotFound(f"There is no purchase order with id {po_id}.")
    return po


def visible_po(session: Session, *, actor: Principal, po_id: int) -> PurchaseOrder:
    """Return a PO the caller may see: their tenant's, and one of their branches'."""
    po = get_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _branch_allowed(actor, po.branch_id)
    return po


def lock_po(session: Session, *, tenant_id: int, po_id: int) -> PurchaseOrder:
    """Return the PO locked and freshly read: two deciders queue here, the second sees the first."""
    po = session.scalar(
        lock_for_update(
            select(PurchaseOrder).where(
                PurchaseOrder.id == po_id, PurchaseOrder.tenant_id == tenant_id
            ),
            session,
        ).execution_options(populate_existing=True)
    )
    if po is None:
        raise NotFound(f"There is no purchase order with id {po_id}.")
    for line in po.lines:
        session.refresh(line)
    return po


def _branch_allowed(actor: Principal, branch_id: int) -> None:
    if not actor.may_use_branch(branch_id):
        raise PermissionDenied("You may not act for this branch.")


def _refuse_costless(session: Session, lines: list[LineIn]) -> None:
    """Refuse a zero cost unless the line says the goods come free.

    A forgotten cost saved as 0 would drag the moving-average cost down on receipt.
    """
    costless = [x.product_id for x in lines if x.unit_cost == 0 and not x.free]
    if costless:
        product = session.get(Product, costless[0])
        name = product.name if product is not None else f"product {costless[0]}"
        raise ValidationFailed(
            f"Give a cost for {name}, or mark the line free if the supplier gives it free."
        )


def _set_lines(session: Session, po: PurchaseOrder, lines: list[LineIn], cur: str) -> None:
    if not lines:
        raise ValidationFailed("A purchase order needs at least one line.")
    ids = {line.product_id for line in lines}
    if len(ids) != len(lines):
        raise ValidationFailed("Each product may appear on one line only.")
    defaults = {
        row.id: (row.purchase_unit, row.purchase_units_per)
        for row in session.execute(
            select(Product.id, Product.purchase_unit, Product.purchase_units_per).where(
                Product.tenant_id == po.tenant_id, Product.id.in_(ids)
            )
        )
    }
    found = set(defaults)
    missing = sorted(ids - found)
    if missing:
        raise NotFound(f"There is no product with id {missing[0]}.")
    _refuse_costless(session, lines)
    classes = _tax_classes(session, po, lines)
    po.lines.clear()
    session.flush()
    for line in lines:
        if line.tax_class_id is not None:
            components = classes[line.tax_class_id]
        else:
            components = components_for(
                tax_class=None, tax_rate=line.tax_rate, day=date.today(), supply=Supply.INTRA
            )
        taxed = line_tax(line.quantity, line.unit_cost, components, cur)
        po.lines.append(
            PurchaseOrderLine(
                tenant_id=po.tenant_id,
                product_id=line.product_id,
                quantity=line.quantity,
                unit_cost=line.unit_cost,
                tax_class_id=line.tax_class_id,
                tax_rate=taxed.rate if line.tax_class_id is not None else line.tax_rate,
                tax_amount=taxed.tax,
                line_total=taxed.total,
                received_quantity=Decimal("0"),
                # A line in the product's usual purchase unit unless it names its own.
                purchase_unit=line.purchase_unit or defaults[line.product_id][0],
                units_per=line.units_per or defaults[line.product_id][1],
            )
        )
    po.total = sum((x.line_total for x in po.lines), Decimal(0))
    po.tax_total = sum((x.tax_amount for x in po.lines), Decimal(0))
    po.subtotal = po.total - po.tax_total
    if po.total > MAX_AMOUNT:
        raise ValidationFailed(f"A purchase order may total at most {MAX_AMOUNT}.")


def _tax_classes(
    session: Session, po: PurchaseOrder, lines: list[LineIn]
) -> dict[int, tuple[Component, ...]]:
    """Return the components each named tax class charges today on this PO's supply.

    The supply is inter-state when the supplier's GSTIN is of another state than the
    receiving branch (IGST), intra-state otherwise (CGST + SGST).
    """
    ids = {x.tax_class_id for x in lines if x.tax_class_id is not None}
    if not ids:
        return {}
    rows = {
        row.id: row
        for row in session.scalars(
            select(TaxClassRow).where(
                TaxClassRow.tenant_id == po.tenant_id, TaxClassRow.id.in_(ids)
            )
        )
    }
    missing = sorted(ids - set(rows))
    if missing:
        raise NotFound(f"There is no tax class with id {missing[0]}.")
    supplier = session.get(Supplier, po.supplier_id)
    branch = session.get(Branch, po.branch_id)
    gstin = (supplier.tax_number if supplier else "").strip().upper()
    supply = supply_kind(
        seller_state=state_of_gstin(gstin) if gstin and gstin_problem(gstin) is None else "",
        buyer_state=branch.state_code if branch else "",
    )
    return {
        class_id: tax_classes.class_of(row).components_on(day=date.today(), supply=supply)
        for class_id, row in rows.items()
    }


def create(session: Session, *, actor: Principal, data: POCreate) -> PurchaseOrder:
    """Create a draft purchase order."""
    supplier = session.get(Supplier, data.supplier_id)
    if supplier is None or supplier.tenant_id != actor.tenant_id:
        raise NotFound(f"There is no supplier with id {data.supplier_id}.")
    if not supplier.active:
        raise Conflict(f"Supplier {supplier.name} is inactive.")
    branch = session.get(Branch, data.branch_id)
    if branch is None or branch.tenant_id != actor.tenant_id:
        raise NotFound(f"There is no branch with id {data.branch_id}.")
    _branch_allowed(actor, branch.id)
    number = next_number(session, tenant_id=actor.tenant_id, scope="purchase_order")
    po = PurchaseOrder(
        tenant_id=actor.tenant_id,
        number=f"PO-{number:06d}",
        supplier_id=supplier.id,
        branch_id=branch.id,
        status=DRAFT,
        expected_date=data.expected_date,
        notes=data.notes,
        created_by=actor.user_id,
        created_by_name=actor.label,
    )
    session.add(po)
    _set_lines(session, po, data.lines, currency(session, actor.tenant_id))
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="purchase_order.created",
        entity_type="purchase_order",
        entity_id=po.id,
        after=snapshot(po),
    )
    return po


def update(session: Session, *, actor: Principal, po_id: int, data: POUpdate) -> PurchaseOrder:
    """Change a draft: its lines, expected date or notes."""
    po = lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _check(po, "edit")
    _branch_allowed(actor, po.branch_id)
    before = snapshot(po)
    changes = data.model_dump(exclude_unset=True)
    if "expected_date" in changes:
        po.expected_date = data.expected_date
    if data.notes is not None:
        po.notes = data.notes
    if data.lines is not None:
        _set_lines(session, po, data.lines, currency(session, actor.tenant_id))
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action="purchase_order.updated",
        entity_type="purchase_order",
        entity_id=po.id,
        before=before,
        after=snapshot(po),
    )
    return po


def _threshold(session: Session, tenant_id: int) -> Decimal:
    return Decimal(
        str(get_setting(session, tenant_id=tenant_id, key="po_admin_approval_threshold"))
    )


def submit(session: Session, *, actor: Principal, po_id: int) -> PurchaseOrder:
    """Send a draft for approval and tell the approvers."""
    po = lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _check(po, "submit")
    _branch_allowed(actor, po.branch_id)
    po.status, po.submitted_at = PENDING, utcnow()
    _transition(session, actor=actor, po=po, action="submitted", before=DRAFT)
    admin_only = po.total > _threshold(session, po.tenant_id)
    notify.send(
        session,
        tenant_id=po.tenant_id,
        event="purchase_order.approval_requested",
        subject=f"Purchase order {po.number} needs approval",
        body=f"{po.created_by_name} asks to approve {po.number} for "
        f"{format_money(po.total, currency(session, po.tenant_id))}.",
        payload={"purchase_order_id": po.id, "number": po.number, "total": po.total},
        branch_id=po.branch_id,
        roles=notify.approvers(Permission.PURCHASING_APPROVE, admin_only=admin_only),
    )
    return po


def _decide(session: Session, *, actor: Principal, po: PurchaseOrder) -> None:
    """Refuse a decision by the creator, by another branch, or above the threshold by non-admins."""
    if po.created_by is not None and po.created_by == actor.user_id:
        raise PermissionDenied("You created this purchase order; someone else must decide on it.")
    _branch_allowed(actor, po.branch_id)
    if po.total > _threshold(session, po.tenant_id) and actor.role != Role.ADMIN:
        raise PermissionDenied(
            f"Purchase order {po.number} totals "
            f"{format_money(po.total, currency(session, po.tenant_id))}, above the approval "
            "threshold; only an admin may decide on it."
        )


def approve(session: Session, *, actor: Principal, po_id: int, comment: str) -> PurchaseOrder:
    """Approve a pending PO; with stock_in_on_approval its goods are received at once."""
    po = lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _check(po, "approve")
    _decide(session, actor=actor, po=po)
    po.status = APPROVED
    po.decided_by, po.decided_by_name, po.decided_at = actor.user_id, actor.label, utcnow()
    po.decision_comment = comment
    _transition(session, actor=actor, po=po, action="approved", before=PENDING, comment=comment)
    _tell_creator(session, po=po, event="purchase_order.approved", verb="approved")
    if get_setting(session, tenant_id=po.tenant_id, key="stock_in_on_approval"):
        _receive(
            session,
            actor=actor,
            po=po,
            lines=[
                ReceiptLineIn(line_id=line.id, quantity=line.quantity, unit_cost=line.unit_cost)
                for line in po.lines
            ],
            note="Received on approval (stock_in_on_approval)",
        )
    return po


def reject(session: Session, *, actor: Principal, po_id: int, comment: str) -> PurchaseOrder:
    """Reject a pending PO with a reason."""
    po = lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _check(po, "reject")
    _decide(session, actor=actor, po=po)
    po.status = REJECTED
    po.decided_by, po.decided_by_name, po.decided_at = actor.user_id, actor.label, utcnow()
    po.decision_comment = comment
    _transition(session, actor=actor, po=po, action="rejected", before=PENDING, comment=comment)
    _tell_creator(session, po=po, event="purchase_order.rejected", verb="rejected")
    return po


def cancel(session: Session, *, actor: Principal, po_id: int, reason: str) -> PurchaseOrder:
    """Cancel a PO that has received nothing yet."""
    po = lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _check(po, "cancel")
    _branch_allowed(actor, po.branch_id)
    before = po.status
    po.status, po.cancelled_at = CANCELLED, utcnow()
    _transition(session, actor=actor, po=po, action="cancelled", before=before, comment=reason)
    return po


def close(session: Session, *, actor: Principal, po_id: int) -> PurchaseOrder:
    """Close a received PO, or short-close a partly received one (nothing more will come)."""
    po = lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _check(po, "close")
    _branch_allowed(actor, po.branch_id)
    before = po.status
    po.status, po.closed_at = CLOSED, utcnow()
    _transition(session, actor=actor, po=po, action="closed", before=before)
    return po


def receive(
    session: Session, *, actor: Principal, po_id: int, lines: list[ReceiptLineIn], note: str
) -> GoodsReceipt:
    """Receive all or part of a PO's lines: stock in at the branch, vendor owed the value."""
    po = lock_po(session, tenant_id=actor.tenant_id, po_id=po_id)
    _check(po, "receive")
    _branch_allowed(actor, po.branch_id)
    return _receive(session, actor=actor, po=po, lines=lines, note=note)


def _receive(
    session: Session,
    *,
    actor: Principal,
    po: PurchaseOrder,
    lines: list[ReceiptLineIn],
    note: str,
) -> GoodsReceipt:
    if not lines:
        raise ValidationFailed("A goods receipt needs at least one line.")
    by_id = {line.id: line for line in po.lines}
    if len({x.line_id for x in lines}) != len(lines):
        raise ValidationFailed("Each PO line may appear once per receipt.")
    unknown = [x.line_id for x in lines if x.line_id not in by_id]
    if unknown:
        raise ValidationFailed(f"Line {unknown[0]} is not on purchase order {po.number}.")
    # From here quantities are in each line's purchase unit; stock moves in base units.
    base = units.base_quantities(session, lines=lines, by_id=by_id)
    lines = units.in_purchase_units(lines, by_id, base)
    # A zero actual cost on a line ordered at a price is the blank-cost slip again, at receipt.
    zeroed = [x for x in lines if x.unit_cost == 0 and by_id[x.line_id].unit_cost != 0]
    if zeroed:
        raise ValidationFailed(
            f"Line {zeroed[0].line_id} was ordered at {by_id[zeroed[0].line_id].unit_cost}; "
            "give the actual cost, or leave it out to use the ordered cost."
        )
    allow_over = bool(get_setting(session, tenant_id=po.tenant_id, key="allow_over_receipt"))
    over = [
        {
            "line_id": x.line_id,
            "product_id": by_id[x.line_id].product_id,
            "ordered": str(by_id[x.line_id].quantity),
            "received": str(by_id[x.line_id].received_quantity),
            "requested": str(x.quantity),
        }
        for x in lines
        if by_id[x.line_id].received_quantity + x.quantity > by_id[x.line_id].quantity
    ]
    if any(x.quantity * (x.unit_cost or by_id[x.line_id].unit_cost) > MAX_AMOUNT for x in lines):
        raise ValidationFailed(f"A receipt line may be worth at most {MAX_AMOUNT}.")
    if over and not allow_over:
        raise Conflict(
            f"Receiving more than was ordered on purchase order {po.number} is not allowed.",
            lines=over,
        )
    before = snapshot(po)
    cur = currency(session, po.tenant_id)
    receipt = GoodsReceipt(
        tenant_id=po.tenant_id,
        purchase_order_id=po.id,
        supplier_id=po.supplier_id,
        branch_id=po.branch_id,
        value=Decimal("0"),
        note=note,
        actor_id=actor.user_id,
        actor=actor.label,
    )
    session.add(receipt)
    session.flush()
    # Products, then their levels, each in product order: the order every stock writer
    # keeps (ledger.lock_levels), so a receipt and a till sale never deadlock.
    product_ids = sorted({by_id[x.line_id].product_id for x in lines})
    costing.lock_products(session, tenant_id=po.tenant_id, product_ids=product_ids)
    ledger.lock_levels(
        session,
        tenant_id=po.tenant_id,
        keys=[(po.branch_id, product_id) for product_id in product_ids],
    )
    for x in lines:
        line = by_id[x.line_id]
        cost = line.unit_cost if x.unit_cost is None else x.unit_cost
        movement = costing.receive(
            session,
            actor=actor.actor,
            branch_id=po.branch_id,
            product_id=line.product_id,
            quantity=base[x.line_id],
            unit_cost=units.base_cost(cost, line),
            reference_type=REFERENCE_TYPE,
            reference_id=str(po.id),
        )
        lot_receipts.book_labelled(session, movement=movement, line=x)
        value = line_value(base[x.line_id], cost / line.units_per, line.tax_rate, cur)
        receipt.lines.append(
            GoodsReceiptLine(
                tenant_id=po.tenant_id,
                po_line_id=line.id,
                product_id=line.product_id,
                quantity=x.quantity,
                unit_cost=cost,
                tax_rate=line.tax_rate,
                value=value,
            )
        )
        line.received_quantity += x.quantity
        receipt.value += value
    po.received_value += receipt.value
    prices.learn_from_receipt(session, po=po, receipt=receipt, by_id=by_id)
    done = all(line.received_quantity >= line.quantity for line in po.lines)
    previous = po.status
    po.status = RECEIVED if done else PARTIAL
    if done:
        po.received_at = utcnow()
    session.flush()
    vendors.book_receipt(session, actor=actor, receipt=receipt)
    audit.record(
        session,
        actor=actor.actor,
        action="purchase_order.received",
        entity_type="purchase_order",
        entity_id=po.id,
        before={**before, "status": previous},
        after={**snapshot(po), "receipt_id": receipt.id, "receipt_value": receipt.value},
    )
    notify.send(
        session,
        tenant_id=po.tenant_id,
        event="purchase_order.goods_received",
        subject=f"Goods received for {po.number}",
        body=f"{actor.label} received goods worth {receipt.value} for {po.number}.",
        payload={"purchase_order_id": po.id, "receipt_id": receipt.id, "value": receipt.value},
        branch_id=po.branch_id,
        roles=[Role.MANAGER, Role.PURCHASE_ADMIN],
    )
    return receipt


def _transition(
    session: Session,
    *,
    actor: Principal,
    po: PurchaseOrder,
    action: str,
    before: str,
    comment: str = "",
) -> None:
    session.flush()
    audit.record(
        session,
        actor=actor.actor,
        action=f"purchase_order.{action}",
        entity_type="purchase_order",
        entity_id=po.id,
        before={"status": before},
        after={"status": po.status, "number": po.number, "total": po.total, "comment": comment},
    )


def _tell_creator(session: Session, *, po: PurchaseOrder, event: str, verb: str) -> None:
    notify.send(
        session,
        tenant_id=po.tenant_id,
        event=event,
        subject=f"Purchase order {po.number} was {verb}",
        body=f"{po.decided_by_name} {verb} {po.number}. {po.decision_comment}".strip(),
        payload={
            "purchase_order_id": po.id,
            "number": po.number,
            "status": po.status,
            "creator_id": po.created_by,
        },
        branch_id=po.branch_id,
        **notify.to_creator(session, user_id=po.created_by),
    )
