"""Report endpoints: JSON by default, CSV/XLSX/PDF by ?format= or the Accept header."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from common.codes import Channel
from common.errors import ValidationFailed
from common.roles import Permission
from common.schemas.base import Id, problem_responses
from sync_server.db import utcnow
from sync_server.foundation.deps import Requires, SessionDep
from sync_server.foundation.principal import Principal
from sync_server.reports import (
    branches,
    credit,
    lots,
    purchasing,
    sales,
    shifts,
    stock,
    tax,
    variants,
)
from sync_server.reports.base import Filters, Grain, make_filters
from sync_server.reports.exports import (
    MEDIA_TYPES,
    Format,
    Letterhead,
    letterhead,
    negotiate,
    render,
)
from sync_server.reports.schemas import ReportRead

router = APIRouter(prefix="/reports", tags=["reports"])

Reader = Annotated[Principal, Requires(Permission.REPORTS_READ)]


def report_filters(
    principal: Reader,
    branch_id: Annotated[Id | None, Query()] = None,
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    category_id: Annotated[Id | None, Query()] = None,
    supplier_id: Annotated[Id | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    cashier_id: Annotated[Id | None, Query()] = None,
) -> Filters:
    """Read the common filters and check them against the caller's tenant and branches."""
    return make_filters(
        principal=principal,
        branch_id=branch_id,
        date_from=date_from,
        date_to=date_to,
        category_id=category_id,
        supplier_id=supplier_id,
        channel=channel.value if channel else None,
        cashier_id=cashier_id,
    )


def output_format(
    request: Request,
    format: Annotated[str | None, Query(description="json, csv, xlsx or pdf")] = None,  # noqa: A002
) -> Format:
    return negotiate(requested=format, accept=request.headers.get("accept"))


FormatDep = Annotated[Format, Depends(output_format)]


def export_head(principal: Reader, session: SessionDep, fmt: FormatDep) -> Letterhead | None:
    """Read the shop's letterhead for a file export (JSON needs none)."""
    if fmt == Format.JSON:
        return None
    return letterhead(session, tenant_id=principal.tenant_id)


FiltersDep = Annotated[Filters, Depends(report_filters)]
HeadDep = Annotated[Letterhead | None, Depends(export_head)]
SPEC: dict[str, Any] = {"response_model": ReportRead, "responses": problem_responses(403, 422)}


def _today(value: date | None) -> date:
    return value or utcnow().date()


@router.get("/stock-shortages", **SPEC)
def stock_shortages(session: SessionDep, filters: FiltersDep, fmt: FormatDep, head: HeadDep) -> Any:
    """List negative, out-of-stock and low levels with days of cover and what to reorder."""
    report = stock.stock_shortages(session, filters=filters, today=_today(None))
    return render(report, fmt, head)


@router.get("/lot-trace", response_model=ReportRead, responses=problem_responses(403, 404, 422))
def lot_trace(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    product_id: Annotated[Id, Query()],
    lot_number: Annotated[str, Query(min_length=1, max_length=20)],
) -> Any:
    """For a recall: every sale, online order and transfer that took the lot, with customers."""
    report = lots.lot_trace(
        session,
        tenant_id=filters.tenant_id,
        product_id=product_id,
        lot_number=lot_number,
        branch_ids=filters.branch_ids,
    )
    return render(report, fmt, head)


@router.get("/lots-expiring", **SPEC)
def lots_expiring(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    days: Annotated[int, Query(ge=0, le=3650)] = 30,
) -> Any:
    """Lots in stock that expire within days or have expired, with a markdown suggestion."""
    report = lots.expiring(
        session,
        tenant_id=filters.tenant_id,
        branch_ids=filters.branch_ids,
        days=days,
        today=_today(None),
    )
    return render(report, fmt, head)


@router.get("/stock-valuation", **SPEC)
def stock_valuation(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    as_of: Annotated[date | None, Query()] = None,
) -> Any:
    """Value stock per branch and category at average cost and retail, now or as of a date."""
    return render(stock.stock_valuation(session, filters=filters, as_of=as_of), fmt, head)


@router.get("/sales-summary", **SPEC)
def sales_summary(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    group_by: Annotated[sales.GroupBy, Query()] = sales.GroupBy.DAY,
) -> Any:
    """Sum sales, returns, discounts, tax, cost and margin per period or dimension."""
    return render(sales.sales_summary(session, filters=filters, group_by=group_by), fmt, head)


@router.get("/revenue-trend", **SPEC)
def revenue_trend(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    grain: Annotated[Grain, Query()] = Grain.DAY,
) -> Any:
    """Return revenue per day, week or month beside the previous period."""
    return render(sales.revenue_trend(session, filters=filters, grain=grain), fmt, head)


@router.get("/best-sellers", **SPEC)
def best_sellers(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    by: Annotated[sales.Rank, Query()] = sales.Rank.QUANTITY,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    roll_up: Annotated[
        bool, Query(description="Add each template's variants up into one row")
    ] = False,
) -> Any:
    """Rank products by quantity, revenue or margin (or templates, with roll_up)."""
    if roll_up:
        # Every product first: a template's variants may each rank below the limit.
        every = sales.best_sellers(session, filters=filters, by=by, limit=10**9)
        report = variants.roll_up(session, report=every, tenant_id=filters.tenant_id, limit=limit)
        return render(report, fmt, head)
    return render(sales.best_sellers(session, filters=filters, by=by, limit=limit), fmt, head)


@router.get("/movers", **SPEC)
def movers(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    window_days: Annotated[int, Query(ge=1, le=366)] = 28,
    dead_days: Annotated[int, Query(ge=1, le=1000)] = 60,
    cls: Annotated[stock.MoverClass | None, Query(alias="class")] = None,
) -> Any:
    """Classify products as fast, normal, slow or dead movers."""
    report = stock.movers(
        session,
        filters=filters,
        today=_today(None),
        window_days=window_days,
        dead_days=dead_days,
        only=cls,
    )
    return render(report, fmt, head)


@router.get("/branch-comparison", **SPEC)
def branch_comparison(
    session: SessionDep, filters: FiltersDep, fmt: FormatDep, head: HeadDep
) -> Any:
    """Show each branch's sales, margin, returns and stock side by side."""
    return render(branches.branch_comparison(session, filters=filters), fmt, head)


@router.get("/customer-credit-ageing", **SPEC)
def customer_credit_ageing(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    as_of: Annotated[date | None, Query()] = None,
) -> Any:
    """Age what customers owe: 0–30, 31–60, 61–90 and over 90 days."""
    return render(credit.credit_ageing(session, filters=filters, as_of=_today(as_of)), fmt, head)


@router.get("/purchase-summary", **SPEC)
def purchase_summary(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    grain: Annotated[Grain | None, Query(description="split each supplier by period")] = None,
) -> Any:
    """Sum per supplier (and period) what was ordered, received, is outstanding and was paid."""
    return render(purchasing.purchase_summary(session, filters=filters, grain=grain), fmt, head)


@router.get("/supplier-performance", **SPEC)
def supplier_performance(
    session: SessionDep, filters: FiltersDep, fmt: FormatDep, head: HeadDep
) -> Any:
    """Return lead time (median, p90), fill rate, on-time rate and price variance per supplier."""
    return render(purchasing.supplier_performance(session, filters=filters), fmt, head)


@router.get("/shift-reports", **SPEC)
def shift_reports(session: SessionDep, filters: FiltersDep, fmt: FormatDep, head: HeadDep) -> Any:
    """Return the Z report of every till shift per branch and date."""
    return render(shifts.shift_reports(session, filters=filters), fmt, head)


@router.get("/tax-summary", **SPEC)
def tax_summary(
    session: SessionDep,
    filters: FiltersDep,
    fmt: FormatDep,
    head: HeadDep,
    by: Annotated[tax.TaxBy, Query(description="rate or hsn")] = tax.TaxBy.RATE,
) -> Any:
    """Sum taxable value and each tax component by rate, or by HSN and rate, net of returns."""
    return render(tax.tax_summary(session, filters=filters, by=by), fmt, head)


@router.get(
    "/gstr1",
    responses={
        200: {"content": {"application/json": {}}, "description": "GSTR-1 JSON"},
        **problem_responses(403, 422),
    },
)
def gstr1(session: SessionDep, filters: FiltersDep, fmt: FormatDep) -> Response:
    """Export the period's outward supplies in the GST portal's GSTR-1 JSON format (or XLSX)."""
    gstin = tax.filing_gstin(session, filters=filters)
    data = tax.gstr1(session, filters=filters, gstin=gstin)
    if fmt == Format.XLSX:
        name = f"gstr1-{gstin}-{data['fp']}.xlsx"
        return Response(
            tax.gstr1_xlsx(data),
            media_type=MEDIA_TYPES[Format.XLSX],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if fmt != Format.JSON:
        raise ValidationFailed("The GSTR-1 export comes as json or xlsx.")
    return Response(tax.gstr1_json(data), media_type="application/json")
