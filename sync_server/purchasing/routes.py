"""Purchase orders, goods receipts, vendor accounts and reorder suggestions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.inventory import IncomingRead
from common.schemas.purchasing import (
    POEmailsRead,
    PORead,
    ReceiptRead,
    SuggestionsRead,
    SupplierPriceRead,
    VendorAccountRead,
    VendorEntryRead,
)
from sync_server.credit.documents import statement_pdf
from sync_server.documents.pdf import PDF_MEDIA_TYPE
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, in_caller_branches, paginate
from sync_server.purchasing import mail, prices, reorder, service, shipping, vendors
from sync_server.purchasing.models import (
    GoodsReceipt,
    PurchaseOrder,
    SupplierPrice,
    VendorEntry,
)
from sync_server.purchasing.schemas import (
    Cancellation,
    Confirmation,
    Decision,
    POCreate,
    POUpdate,
    ReceiptCreate,
    Rejection,
    Shipment,
    StartingCost,
    SuggestionsApply,
    SupplierHistoryRead,
    SupplierPriceIn,
    VendorPaymentCreate,
    VendorStatementRead,
)

router = APIRouter(tags=["purchasing"])
PO = "/purchase-orders/{po_id}"
_TRANSITION = problem_responses(403, 404, 409)


@router.get("/purchase-orders", response_model=Page[PORead])
def list_pos(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "expected_date", "number", "total")],
    status: Literal[
        "draft",
        "pending_approval",
        "approved",
        "sent",
        "confirmed",
        "shipped",
        "partially_received",
        "received",
        "closed",
        "rejected",
        "cancelled",
    ]
    | None = None,
    supplier_id: Id | None = None,
    branch_id: Id | None = None,
) -> dict[str, Any]:
    """List purchase orders, filtered by status, supplier or branch."""
    stmt = select(PurchaseOrder).where(PurchaseOrder.tenant_id == principal.tenant_id)
    stmt = in_caller_branches(stmt, column=PurchaseOrder.branch_id, principal=principal)
    if status:
        stmt = stmt.where(PurchaseOrder.status == status)
    if supplier_id is not None:
        stmt = stmt.where(PurchaseOrder.supplier_id == supplier_id)
    if branch_id is not None:
        stmt = stmt.where(PurchaseOrder.branch_id == branch_id)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={
            "created_at": PurchaseOrder.created_at,
            "number": PurchaseOrder.number,
            "total": PurchaseOrder.total,
            "expected_date": PurchaseOrder.expected_date,
        },
        default_sort="-created_at",
        tiebreak=PurchaseOrder.id,
    )


@router.post(
    "/purchase-orders",
    response_model=PORead,
    status_code=201,
    responses=problem_responses(403, 404, 409, 422),
)
def create_po(
    body: POCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> PurchaseOrder:
    """Create a draft purchase order."""
    return service.create(session, actor=principal, data=body)


@router.get(PO, response_model=PORead, responses=problem_responses(404))
def get_po(
    po_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
) -> PurchaseOrder:
    """Return one purchase order with its lines."""
    return service.visible_po(session, actor=principal, po_id=po_id)


@router.patch(PO, response_model=PORead, responses=problem_responses(403, 404, 409, 422))
def update_po(
    po_id: Id,
    body: POUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> PurchaseOrder:
    """Change a draft purchase order."""
    return service.update(session, actor=principal, po_id=po_id, data=body)


@router.post(f"{PO}/submit", response_model=PORead, responses=_TRANSITION)
def submit_po(
    po_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> PurchaseOrder:
    """Send a draft for approval."""
    return service.submit(session, actor=principal, po_id=po_id)


@router.post(f"{PO}/approve", response_model=PORead, responses=_TRANSITION)
def approve_po(
    po_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_APPROVE)],
    body: Decision | None = None,
) -> PurchaseOrder:
    """Approve a pending purchase order (not your own; above the threshold, admins only)."""
    comment = body.comment if body else ""
    return service.approve(session, actor=principal, po_id=po_id, comment=comment)


@router.post(f"{PO}/reject", response_model=PORead, responses=_TRANSITION)
def reject_po(
    po_id: Id,
    body: Rejection,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_APPROVE)],
) -> PurchaseOrder:
    """Reject a pending purchase order with a reason."""
    return service.reject(session, actor=principal, po_id=po_id, comment=body.comment)


@router.post(f"{PO}/send", response_model=PORead, responses=problem_responses(403, 404, 409, 422))
def send_po(
    po_id: Id,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> PurchaseOrder:
    """E-mail an approved purchase order to its supplier, its PDF attached.

    Refused (409, nothing changes) when the server has no mail server configured.
    """
    return shipping.send(
        session, actor=principal, po_id=po_id, email_configured=_email_configured(request)
    )


def _email_configured(request: Request) -> bool:
    return bool(request.app.state.settings.smtp_host)


@router.get(f"{PO}/emails", response_model=POEmailsRead, responses=problem_responses(404))
def po_emails(
    po_id: Id,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
) -> dict[str, Any]:
    """The e-mails sent about a purchase order and their delivery state (queued/sent/failed)."""
    return mail.emails(
        session, actor=principal, po_id=po_id, email_configured=_email_configured(request)
    )


@router.post(
    f"{PO}/confirm", response_model=PORead, responses=problem_responses(403, 404, 409, 422)
)
def confirm_po(
    po_id: Id,
    body: Confirmation,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> PurchaseOrder:
    """Record the supplier's confirmed quantities and delivery date."""
    return shipping.confirm(session, actor=principal, po_id=po_id, data=body)


@router.post(f"{PO}/ship", response_model=PORead, responses=problem_responses(403, 404, 409, 422))
def ship_po(
    po_id: Id,
    body: Shipment,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> PurchaseOrder:
    """Record the supplier's shipment: carrier, tracking number, expected arrival."""
    return shipping.ship(session, actor=principal, po_id=po_id, data=body)


@router.get(
    f"{PO}/pdf",
    responses={200: {"content": {PDF_MEDIA_TYPE: {}}}, **problem_responses(404)},
    response_class=Response,
)
def po_pdf(
    po_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
) -> Response:
    """Return the purchase order as the PDF its supplier gets."""
    pdf = shipping.po_pdf(session, actor=principal, po_id=po_id)
    return Response(
        pdf,
        media_type=PDF_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="purchase-order-{po_id}.pdf"'},
    )


@router.get("/stock/incoming", response_model=list[IncomingRead], responses=problem_responses(403))
def stock_incoming(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_READ)],
    branch_id: Annotated[Id | None, Query(ge=1)] = None,
) -> list[dict[str, Any]]:
    """What open purchase orders still bring, per branch and product, and when it is due."""
    return shipping.incoming(session, actor=principal, branch_id=branch_id)


@router.post(f"{PO}/cancel", response_model=PORead, responses=_TRANSITION)
def cancel_po(
    po_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
    body: Cancellation | None = None,
) -> PurchaseOrder:
    """Cancel a draft, pending or approved purchase order."""
    reason = body.reason if body else ""
    return service.cancel(session, actor=principal, po_id=po_id, reason=reason)


@router.post(f"{PO}/close", response_model=PORead, responses=_TRANSITION)
def close_po(
    po_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> PurchaseOrder:
    """Close a received (or short-close a partly received) purchase order."""
    return service.close(session, actor=principal, po_id=po_id)


@router.post(
    f"{PO}/receipts",
    response_model=ReceiptRead,
    status_code=201,
    responses=problem_responses(403, 404, 409, 422),
)
def receive_goods(
    po_id: Id,
    body: ReceiptCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.STOCK_RECEIVE)],
) -> GoodsReceipt:
    """Receive all or part of a purchase order's lines into its branch."""
    return service.receive(session, actor=principal, po_id=po_id, lines=body.lines, note=body.note)


@router.get(f"{PO}/receipts", response_model=list[ReceiptRead], responses=problem_responses(404))
def list_receipts(
    po_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
) -> list[GoodsReceipt]:
    """List the goods receipts of a purchase order."""
    po = service.visible_po(session, actor=principal, po_id=po_id)
    return list(
        session.scalars(
            select(GoodsReceipt)
            .where(GoodsReceipt.purchase_order_id == po.id)
            .order_by(GoodsReceipt.id)
        )
    )


@router.get(
    "/reorder-suggestions", response_model=SuggestionsRead, responses=problem_responses(404)
)
def reorder_suggestions(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
    branch_id: Id,
    days_of_sales: Annotated[int, Query(ge=1, le=365)] = 30,
    cover_days: Annotated[int, Query(ge=0, le=365)] = 14,
    method: Literal["threshold", "forecast"] = "threshold",
    service_level: Annotated[float, Query(ge=0.5, le=0.999)] = 0.95,
) -> dict[str, Any]:
    """Propose what a branch should order, grouped by preferred supplier (forecast: with why)."""
    return reorder.suggest(
        session,
        tenant_id=principal.tenant_id,
        branch_id=branch_id,
        days_of_sales=days_of_sales,
        cover_days=cover_days,
        method=method,
        service_level=service_level,
    )


@router.post(
    "/reorder-suggestions/purchase-orders",
    response_model=list[PORead],
    status_code=201,
    responses=problem_responses(403, 404, 422),
)
def suggestions_to_drafts(
    body: SuggestionsApply,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> list[PurchaseOrder]:
    """Turn the reorder suggestions into draft purchase orders, one per supplier."""
    return reorder.create_drafts(session, actor=principal, data=body)


@router.get(
    "/suppliers/{supplier_id}/account",
    response_model=VendorAccountRead,
    responses=problem_responses(404),
)
def vendor_account(
    supplier_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
) -> dict[str, Any]:
    """Return what was supplied, what was paid and the balance due to a supplier."""
    return vendors.account(session, tenant_id=principal.tenant_id, supplier_id=supplier_id)


@router.get(
    "/suppliers/{supplier_id}/payments",
    response_model=Page[VendorEntryRead],
    responses=problem_responses(404),
)
def vendor_payments(
    supplier_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
    page: Annotated[PageParams, SortedBy("occurred_at", "amount")],
) -> dict[str, Any]:
    """List payments made to a supplier, newest first."""
    vendors.get_supplier(session, tenant_id=principal.tenant_id, supplier_id=supplier_id)
    return paginate(
        session,
        vendors.entries_query(
            tenant_id=principal.tenant_id, supplier_id=supplier_id, kind=vendors.PAYMENT
        ),
        params=page,
        sortable={"occurred_at": VendorEntry.occurred_at, "amount": VendorEntry.amount},
        default_sort="-occurred_at",
        tiebreak=VendorEntry.id,
    )


@router.post(
    "/suppliers/{supplier_id}/payments",
    response_model=VendorEntryRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def pay_vendor(
    supplier_id: Id,
    body: VendorPaymentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.VENDOR_PAY)],
) -> VendorEntry:
    """Record a payment to a supplier, against their account or one purchase order."""
    return vendors.record_payment(
        session,
        actor=principal,
        supplier_id=supplier_id,
        amount=body.amount,
        method=body.method,
        reference=body.reference,
        paid_on=body.paid_on,
        purchase_order_id=body.purchase_order_id,
    )


@router.get(
    "/suppliers/{supplier_id}/statement",
    response_model=VendorStatementRead,
    responses={
        **problem_responses(404, 422),
        200: {"content": {PDF_MEDIA_TYPE: {}}, "description": "JSON, or PDF with format=pdf"},
    },
)
def vendor_statement(
    supplier_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    format: Literal["json", "pdf"] = "json",
) -> Response | dict[str, Any]:
    """Return a supplier's statement of account for a date range, as JSON or PDF."""
    data = vendors.statement(
        session, tenant_id=principal.tenant_id, supplier_id=supplier_id, start=start, end=end
    )
    if format == "pdf":
        pdf = statement_pdf(
            data,
            currency=service.currency(session, principal.tenant_id),
            party="Supplier",
            party_id="supplier_id",
        )
        return Response(
            pdf,
            media_type=PDF_MEDIA_TYPE,
            headers={"Content-Disposition": f'inline; filename="supplier-{supplier_id}.pdf"'},
        )
    return data


@router.get(
    "/suppliers/{supplier_id}/prices",
    response_model=list[SupplierPriceRead],
    responses=problem_responses(404),
)
def supplier_prices(
    supplier_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
    product_id: Annotated[list[Id] | None, Query(max_length=500)] = None,
) -> list[SupplierPrice]:
    """List what a supplier charges per base unit, for some products (product_id=…) or all."""
    return prices.list_prices(
        session, tenant_id=principal.tenant_id, supplier_id=supplier_id, product_ids=product_id
    )


@router.get(
    "/suppliers/{supplier_id}/starting-costs",
    response_model=list[StartingCost],
    responses=problem_responses(404, 422),
)
def starting_costs(
    supplier_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
    product_id: Annotated[list[Id], Query(min_length=1, max_length=500)],
) -> list[dict[str, Any]]:
    """The cost a new PO line starts from, per base unit: the supplier's price, else last cost."""
    return prices.starting_costs(
        session, tenant_id=principal.tenant_id, supplier_id=supplier_id, product_ids=product_id
    )


@router.put(
    "/suppliers/{supplier_id}/prices/{product_id}",
    response_model=SupplierPriceRead,
    responses=problem_responses(403, 404, 422),
)
def set_supplier_price(
    supplier_id: Id,
    product_id: Id,
    body: SupplierPriceIn,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_WRITE)],
) -> SupplierPrice:
    """Record what a supplier charges for one base unit of a product."""
    return prices.set_price(
        session,
        actor=principal,
        supplier_id=supplier_id,
        product_id=product_id,
        unit_cost=body.unit_cost,
    )


@router.get(
    "/suppliers/{supplier_id}/history",
    response_model=SupplierHistoryRead,
    responses=problem_responses(404),
)
def supplier_history(
    supplier_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.PURCHASING_READ)],
) -> dict[str, Any]:
    """Return a supplier's POs with lead time and fill rate, and their price changes."""
    return vendors.history(session, tenant_id=principal.tenant_id, supplier_id=supplier_id)
