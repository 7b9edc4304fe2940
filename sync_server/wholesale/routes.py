"""Wholesale sales requests and their invoices."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from sqlalchemy import select

from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from common.schemas.wholesale import SalesRequestRead
from sync_server.documents.pdf import PDF_MEDIA_TYPE
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy, in_caller_branches, paginate
from sync_server.wholesale import service
from sync_server.wholesale.documents import invoice_pdf
from sync_server.wholesale.models import SalesRequest
from sync_server.wholesale.schemas import (
    Decision,
    InvoiceRead,
    Rejection,
    SalesRequestCreate,
)

router = APIRouter(tags=["wholesale"])
SR = "/sales-requests/{request_id}"
_TRANSITION = problem_responses(403, 404, 409)


@router.get("/sales-requests", response_model=Page[SalesRequestRead])
def list_requests(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_REQUESTS_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "number", "total")],
    status: Literal["pending_approval", "approved", "rejected", "cancelled"] | None = None,
    customer_id: Id | None = None,
    branch_id: Id | None = None,
) -> dict[str, Any]:
    """List sales requests, filtered by status, customer or branch."""
    stmt = select(SalesRequest).where(SalesRequest.tenant_id == principal.tenant_id)
    stmt = in_caller_branches(stmt, column=SalesRequest.branch_id, principal=principal)
    if status:
        stmt = stmt.where(SalesRequest.status == status)
    if customer_id is not None:
        stmt = stmt.where(SalesRequest.customer_id == customer_id)
    if branch_id is not None:
        stmt = stmt.where(SalesRequest.branch_id == branch_id)
    return paginate(
        session,
        stmt,
        params=page,
        sortable={
            "created_at": SalesRequest.created_at,
            "number": SalesRequest.number,
            "total": SalesRequest.total,
        },
        default_sort="-created_at",
        tiebreak=SalesRequest.id,
    )


@router.post(
    "/sales-requests",
    response_model=SalesRequestRead,
    status_code=201,
    responses=problem_responses(403, 404, 409, 422),
)
def create_request(
    body: SalesRequestCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_REQUESTS_WRITE)],
) -> SalesRequest:
    """Record a wholesale request; it waits for approval."""
    return service.create(session, actor=principal, data=body)


@router.get(SR, response_model=SalesRequestRead, responses=problem_responses(404))
def get_request(
    request_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_REQUESTS_READ)],
) -> SalesRequest:
    """Return one sales request."""
    return service.visible_request(session, actor=principal, request_id=request_id)


@router.post(f"{SR}/approve", response_model=SalesRequestRead, responses=_TRANSITION)
def approve_request(
    request_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_REQUESTS_APPROVE)],
    body: Decision | None = None,
) -> SalesRequest:
    """Approve: take the stock, charge the account if on credit, assign the invoice number."""
    comment = body.comment if body else ""
    return service.approve(session, actor=principal, request_id=request_id, comment=comment)


@router.post(f"{SR}/reject", response_model=SalesRequestRead, responses=_TRANSITION)
def reject_request(
    request_id: Id,
    body: Rejection,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_REQUESTS_APPROVE)],
) -> SalesRequest:
    """Reject a pending request with a reason."""
    return service.reject(session, actor=principal, request_id=request_id, comment=body.comment)


@router.post(f"{SR}/cancel", response_model=SalesRequestRead, responses=_TRANSITION)
def cancel_request(
    request_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_REQUESTS_WRITE)],
) -> SalesRequest:
    """Withdraw a pending request."""
    return service.cancel(session, actor=principal, request_id=request_id)


@router.get(
    f"{SR}/invoice",
    response_model=InvoiceRead,
    responses={
        **problem_responses(404, 409),
        200: {"content": {PDF_MEDIA_TYPE: {}}, "description": "JSON, or PDF with format=pdf"},
    },
)
def get_invoice(
    request_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_REQUESTS_READ)],
    format: Literal["json", "pdf"] = "json",
) -> Response | dict[str, Any]:
    """Return the invoice of an approved request, as JSON or a printable PDF."""
    service.visible_request(session, actor=principal, request_id=request_id)
    data = service.invoice(session, tenant_id=principal.tenant_id, request_id=request_id)
    if format == "pdf":
        return Response(
            invoice_pdf(data),
            media_type=PDF_MEDIA_TYPE,
            headers={"Content-Disposition": f'inline; filename="{data["invoice_number"]}.pdf"'},
        )
    return data
