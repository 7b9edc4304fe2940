"""Customer accounts: balance, history, payments and statements."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from sync_server.credit import service
from sync_server.credit.documents import statement_pdf
from sync_server.credit.models import CreditEntry
from sync_server.credit.schemas import (
    AccountRead,
    AdjustmentCreate,
    CreditEntryRead,
    PaymentCreate,
    StatementRead,
)
from sync_server.documents.pdf import PDF_MEDIA_TYPE
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.org.service import get_setting
from sync_server.paging import PageParams, SortedBy, paginate

router = APIRouter(tags=["credit"])


@router.get(
    "/customers/{customer_id}/account",
    response_model=AccountRead,
    responses=problem_responses(404),
)
def get_account(
    customer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CREDIT_READ)],
) -> dict[str, Any]:
    """Return a customer's credit limit, balance due, purchases, payments, last payment."""
    return service.account(session, tenant_id=principal.tenant_id, customer_id=customer_id)


@router.get(
    "/customers/{customer_id}/credit-history",
    response_model=Page[CreditEntryRead],
    responses=problem_responses(404),
)
def credit_history(
    customer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CREDIT_READ)],
    page: Annotated[PageParams, SortedBy("created_at", "amount")],
) -> dict[str, Any]:
    """List a customer's charges, payments and adjustments, newest first."""
    service.get_customer(session, tenant_id=principal.tenant_id, customer_id=customer_id)
    return paginate(
        session,
        service.history_query(tenant_id=principal.tenant_id, customer_id=customer_id),
        params=page,
        sortable={"created_at": CreditEntry.created_at, "amount": CreditEntry.amount},
        default_sort="-created_at",
        tiebreak=CreditEntry.id,
    )


@router.post(
    "/customers/{customer_id}/payments",
    response_model=CreditEntryRead,
    status_code=201,
    responses=problem_responses(404, 409, 422),
)
def record_payment(
    customer_id: Id,
    body: PaymentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CREDIT_WRITE)],
) -> CreditEntry:
    """Record a customer's payment, settling the chosen invoice or the oldest open ones."""
    return service.record_payment(
        session,
        actor=principal.actor,
        customer_id=customer_id,
        amount=body.amount,
        method=body.method,
        reference=body.reference,
        allocate_to=body.allocate_to,
    )


@router.post(
    "/customers/{customer_id}/credit-adjustments",
    response_model=CreditEntryRead,
    status_code=201,
    responses=problem_responses(404, 422),
)
def adjust_account(
    customer_id: Id,
    body: AdjustmentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CREDIT_WRITE)],
) -> CreditEntry:
    """Correct a customer's account by a signed amount, with a note."""
    return service.adjust(
        session,
        actor=principal.actor,
        customer_id=customer_id,
        amount=body.amount,
        note=body.note,
    )


@router.get(
    "/customers/{customer_id}/statement",
    response_model=StatementRead,
    responses={
        **problem_responses(404, 422),
        200: {"content": {PDF_MEDIA_TYPE: {}}, "description": "JSON, or PDF with format=pdf"},
    },
)
def get_statement(
    customer_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.CREDIT_READ)],
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    format: Literal["json", "pdf"] = "json",
) -> Response | dict[str, Any]:
    """Return the statement of account for a date range (inclusive), as JSON or PDF."""
    data = service.statement(
        session, tenant_id=principal.tenant_id, customer_id=customer_id, start=start, end=end
    )
    if format == "pdf":
        currency = get_setting(session, tenant_id=principal.tenant_id, key="currency")
        return Response(
            statement_pdf(data, currency=currency),
            media_type=PDF_MEDIA_TYPE,
            headers={"Content-Disposition": f'inline; filename="statement-{customer_id}.pdf"'},
        )
    return data
