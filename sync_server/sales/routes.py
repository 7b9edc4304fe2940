"""The sales journal: till sales and returns for the back office (tills push them by sync)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime

from common.codes import Channel
from common.roles import Permission
from common.schemas.base import Id, Page, problem_responses
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.paging import PageParams, SortedBy
from sync_server.sales import journal
from sync_server.sales.journal import JournalFilter
from sync_server.sales.schemas import ReturnDetail, ReturnRead, SaleDetail, SaleRead

router = APIRouter(tags=["sales journal"])

When = AwareDatetime | date
_DATE_HELP = "A UTC day (YYYY-MM-DD) or a time with its offset"


def _start(value: When | None, *, end: bool = False) -> datetime | None:
    # A bare day covers all of that day: from its first instant, to the next day's.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value + timedelta(days=1 if end else 0), time(), tzinfo=UTC)


def journal_filter(
    branch_id: Id | None = None,
    date_from: Annotated[When | None, Query(description=f"From (inclusive). {_DATE_HELP}")] = None,
    date_to: Annotated[
        When | None,
        Query(description=f"To: a day is included, a time is exclusive. {_DATE_HELP}"),
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=40, description="Receipt number, or its beginning"),
    ] = None,
    customer_id: Id | None = None,
    shift_uuid: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
) -> JournalFilter:
    """Read the filters shared by the sales and returns lists."""
    return JournalFilter(
        branch_id=branch_id,
        date_from=_start(date_from),
        date_to=_start(date_to, end=True),
        q=q,
        customer_id=customer_id,
        shift_uuid=shift_uuid,
    )


FilterDep = Annotated[JournalFilter, Depends(journal_filter)]


@router.get("/sales", response_model=Page[SaleRead], responses=problem_responses(401, 403, 422))
def list_sales(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_READ)],
    page: Annotated[PageParams, SortedBy("occurred_at", "receipt_number", "total")],
    where: FilterDep,
    channel: Channel | None = None,
) -> dict[str, Any]:
    """List till sales of the caller's branches, newest first."""
    return journal.list_sales(
        session,
        principal=principal,
        params=page,
        where=replace(where, channel=channel),
    )


@router.get(
    "/sales/{sale_id}", response_model=SaleDetail, responses=problem_responses(401, 403, 404)
)
def get_sale(
    sale_id: Annotated[
        Id | UUID,
        Path(description="The sale's id, or its UUID (the sale_id a till or quick sale gives)"),
    ],
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_READ)],
) -> SaleDetail:
    """Return one sale with its lines (returned and still returnable), payments and returns."""
    return journal.get_sale(session, principal=principal, sale_id=sale_id)


@router.get("/returns", response_model=Page[ReturnRead], responses=problem_responses(401, 403, 422))
def list_returns(
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_READ)],
    page: Annotated[PageParams, SortedBy("occurred_at", "receipt_number", "total")],
    where: FilterDep,
    reason: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Words in the reason")
    ] = None,
) -> dict[str, Any]:
    """List till returns of the caller's branches, newest first (q finds the sale's too)."""
    return journal.list_returns(
        session,
        principal=principal,
        params=page,
        where=replace(where, reason=reason),
    )


@router.get(
    "/returns/{return_id}",
    response_model=ReturnDetail,
    responses=problem_responses(401, 403, 404),
)
def get_return(
    return_id: Id,
    session: SessionDep,
    principal: Annotated[Principal, Requires(Permission.SALES_READ)],
) -> ReturnDetail:
    """Return one till return with its lines, refunds and the original receipt number."""
    return journal.get_return(session, principal=principal, return_id=return_id)
