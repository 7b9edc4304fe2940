"""Read side of till documents: the sales journal and returns, narrowed to the caller's branches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from common.errors import NotFound, ValidationFailed
from sync_server.auth.models import User
from sync_server.catalog.models import Product
from sync_server.foundation.principal import Principal
from sync_server.lookups import PageParams, in_caller_branches, like_pattern, paginate
from sync_server.partners.models import Customer
from sync_server.sales.models import ZERO, Return, Sale
from sync_server.sales.schemas import (
    ReturnBrief,
    ReturnDetail,
    ReturnLineRead,
    ReturnRead,
    SaleDetail,
    SaleLineRead,
    SalePaymentRead,
    SaleRead,
)


@dataclass(frozen=True, slots=True)
class JournalFilter:
    """What a journal list is narrowed by; `date_to` is exclusive."""

    branch_id: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    q: str | None = None
    customer_id: int | None = None
    channel: str | None = None
    shift_uuid: str | None = None
    reason: str | None = None

    def check(self) -> None:
        """Refuse a period that ends before it starts."""
        if self.date_from and self.date_to and self.date_to <= self.date_from:
            raise ValidationFailed("date_to must be later than date_from.")


def _prefix(text: str) -> str:
    return like_pattern(text)[1:]  # drop the leading %: receipt numbers match from the start


# Keyed by id, looked up by a possibly missing id (a sale without a customer finds "").
Names = dict[int | None, str]


def _user_names(session: Session, *, ids: Iterable[int | None], tenant_id: int) -> Names:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(User.id, User.full_name, User.username).where(
            User.tenant_id == tenant_id, User.id.in_(wanted)
        )
    )
    return {user_id: full or username for user_id, full, username in rows}


def _customer_names(session: Session, *, ids: Iterable[int | None], tenant_id: int) -> Names:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.name).where(
            Customer.tenant_id == tenant_id, Customer.id.in_(wanted)
        )
    )
    return {customer_id: name for customer_id, name in rows}


def _sale_row(sale: Sale, *, cashiers: Names, customers: Names) -> dict[str, Any]:
    return {
        **{k: getattr(sale, k) for k in SaleRead.model_fields if hasattr(sale, k)},
        "cashier_name": cashiers.get(sale.cashier_id, ""),
        "customer_name": customers.get(sale.customer_id, ""),
        "line_count": len(sale.lines),
        "payments": kept_payments(sale),
    }


def kept_payments(sale: Sale) -> list[SalePaymentRead]:
    """Return the sale's payments with cash as kept: the change comes off the last cash one."""
    change = sale.change_due or ZERO
    last_cash = max((i for i, p in enumerate(sale.payments) if p.method == "cash"), default=None)
    payments = []
    for i, payment in enumerate(sale.payments):
        read = SalePaymentRead.model_validate(payment)
        if i == last_cash and change:
            read = read.model_copy(
                update={"amount": payment.amount - change, "tendered": payment.amount}
            )
        payments.append(read)
    return payments


def list_sales(
    session: Session, *, principal: Principal, params: PageParams, where: JournalFilter
) -> dict[str, Any]:
    """Return a page of the caller's till sales matching the filter, newest first."""
    where.check()
    stmt = select(Sale).where(Sale.tenant_id == principal.tenant_id)
    stmt = in_caller_branches(stmt, column=Sale.branch_id, principal=principal)
    if where.branch_id is not None:
        stmt = stmt.where(Sale.branch_id == where.branch_id)
    if where.date_from is not None:
        stmt = stmt.where(Sale.occurred_at >= where.date_from)
    if where.date_to is not None:
        stmt = stmt.where(Sale.occurred_at < where.date_to)
    if where.q:
        stmt = stmt.where(Sale.receipt_number.like(_prefix(where.q), escape="\\"))
    if where.customer_id is not None:
        stmt = stmt.where(Sale.customer_id == where.customer_id)
    if where.channel:
        stmt = stmt.where(Sale.channel == where.channel)
    if where.shift_uuid:
        stmt = stmt.where(Sale.shift_uuid == where.shift_uuid)
    page = paginate(
        session,
        stmt,
        params=params,
        sortable={
            "occurred_at": Sale.occurred_at,
            "receipt_number": Sale.receipt_number,
            "total": Sale.total,
        },
        default_sort="-occurred_at",
        tiebreak=Sale.id,
    )
    sales: list[Sale] = page["items"]
    tenant = principal.tenant_id
    cashiers = _user_names(session, ids=(s.cashier_id for s in sales), tenant_id=tenant)
    customers = _customer_names(session, ids=(s.customer_id for s in sales), tenant_id=tenant)
    page["items"] = [_sale_row(s, cashiers=cashiers, customers=customers) for s in sales]
    return page


def _owned_sale(session: Session, *, principal: Principal, sale_id: int | UUID) -> Sale:
    # A sale is named by the server's integer id or by the UUID the till (or a quick sale) gave it.
    if isinstance(sale_id, UUID):
        sale = session.scalar(
            select(Sale).where(Sale.tenant_id == principal.tenant_id, Sale.uuid == str(sale_id))
        )
    else:
        sale = session.get(Sale, sale_id)
    if (
        sale is None
        or sale.tenant_id != principal.tenant_id
        or not principal.may_use_branch(sale.branch_id)
    ):
        raise NotFound(f"There is no sale with id {sale_id}.")
    return sale


def get_sale(session: Session, *, principal: Principal, sale_id: int | UUID) -> SaleDetail:
    """Return one sale with its lines, payments, returns and what is still returnable.

    The server keeps returned quantities per product, not per original line, so a product's
    returns are set against its lines in receipt order.
    """
    sale = _owned_sale(session, principal=principal, sale_id=sale_id)
    returns = session.scalars(
        select(Return)
        .where(Return.tenant_id == sale.tenant_id, Return.original_sale_uuid == sale.uuid)
        .order_by(Return.occurred_at, Return.id)
    ).all()
    back: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for ret in returns:
        for returned_line in ret.lines:
            back[returned_line.product_id] += returned_line.quantity
    lines = []
    for line in sale.lines:
        returned = min(back[line.product_id], max(line.quantity, ZERO))
        back[line.product_id] -= returned
        lines.append(
            SaleLineRead.model_validate(
                {
                    **{k: getattr(line, k) for k in SaleLineRead.model_fields if hasattr(line, k)},
                    "returned_quantity": returned,
                    "returnable_quantity": max(line.quantity - returned, ZERO),
                }
            )
        )
    tenant = principal.tenant_id
    sale_row = _sale_row(
        sale,
        cashiers=_user_names(session, ids=[sale.cashier_id], tenant_id=tenant),
        customers=_customer_names(session, ids=[sale.customer_id], tenant_id=tenant),
    )
    return SaleDetail.model_validate(
        {
            **sale_row,
            "lines": lines,
            "returns": [ReturnBrief.model_validate(r) for r in returns],
            "returned_total": sum((r.total for r in returns), ZERO),
        }
    )


def _return_filters(stmt: Select[Any], *, where: JournalFilter, tenant_id: int) -> Select[Any]:
    if where.branch_id is not None:
        stmt = stmt.where(Return.branch_id == where.branch_id)
    if where.date_from is not None:
        stmt = stmt.where(Return.occurred_at >= where.date_from)
    if where.date_to is not None:
        stmt = stmt.where(Return.occurred_at < where.date_to)
    if where.q:
        # The return's own receipt, or the receipt of the sale it brings back.
        pattern = _prefix(where.q)
        originals = select(Sale.uuid).where(
            Sale.tenant_id == tenant_id, Sale.receipt_number.like(pattern, escape="\\")
        )
        stmt = stmt.where(
            or_(
                Return.receipt_number.like(pattern, escape="\\"),
                Return.original_sale_uuid.in_(originals),
            )
        )
    if where.customer_id is not None:
        stmt = stmt.where(Return.customer_id == where.customer_id)
    if where.shift_uuid:
        stmt = stmt.where(Return.shift_uuid == where.shift_uuid)
    if where.reason:
        stmt = stmt.where(
            func.lower(Return.reason).like(like_pattern(where.reason.lower()), escape="\\")
        )
    return stmt


def _return_rows(
    session: Session, *, returns: list[Return], tenant_id: int
) -> list[dict[str, Any]]:
    uuids = sorted({r.original_sale_uuid for r in returns if r.original_sale_uuid})
    originals: dict[str, tuple[int, str]] = {}
    if uuids:
        found = session.execute(
            select(Sale.uuid, Sale.id, Sale.receipt_number).where(
                Sale.tenant_id == tenant_id, Sale.uuid.in_(uuids)
            )
        )
        originals = {uuid: (sale_id, number) for uuid, sale_id, number in found}
    cashiers = _user_names(session, ids=(r.cashier_id for r in returns), tenant_id=tenant_id)
    customers = _customer_names(session, ids=(r.customer_id for r in returns), tenant_id=tenant_id)
    rows = []
    for row in returns:
        sale_id, number = originals.get(row.original_sale_uuid or "", (None, None))
        rows.append(
            {
                **{k: getattr(row, k) for k in ReturnRead.model_fields if hasattr(row, k)},
                "original_sale_id": sale_id,
                "original_receipt_number": number,
                "cashier_name": cashiers.get(row.cashier_id, ""),
                "customer_name": customers.get(row.customer_id, ""),
                "refunds": row.refunds or [],
            }
        )
    return rows


def list_returns(
    session: Session, *, principal: Principal, params: PageParams, where: JournalFilter
) -> dict[str, Any]:
    """Return a page of the caller's till returns matching the filter, newest first."""
    where.check()
    stmt = select(Return).where(Return.tenant_id == principal.tenant_id)
    stmt = in_caller_branches(stmt, column=Return.branch_id, principal=principal)
    stmt = _return_filters(stmt, where=where, tenant_id=principal.tenant_id)
    page = paginate(
        session,
        stmt,
        params=params,
        sortable={
            "occurred_at": Return.occurred_at,
            "receipt_number": Return.receipt_number,
            "total": Return.total,
        },
        default_sort="-occurred_at",
        tiebreak=Return.id,
    )
    page["items"] = _return_rows(session, returns=page["items"], tenant_id=principal.tenant_id)
    return page


def get_return(session: Session, *, principal: Principal, return_id: int) -> ReturnDetail:
    """Return one till return with its lines, refunds and the original receipt number."""
    row = session.get(Return, return_id)
    if (
        row is None
        or row.tenant_id != principal.tenant_id
        or not principal.may_use_branch(row.branch_id)
    ):
        raise NotFound(f"There is no return with id {return_id}.")
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(
                Product.tenant_id == row.tenant_id,
                Product.id.in_(sorted({ln.product_id for ln in row.lines})),
            )
        )
    }
    lines = [
        ReturnLineRead(
            id=ln.id,
            line_uuid=ln.line_uuid,
            product_id=ln.product_id,
            sku=products[ln.product_id].sku if ln.product_id in products else "",
            name=products[ln.product_id].name if ln.product_id in products else "",
            quantity=ln.quantity,
            amount=ln.amount,
            restock=ln.restock,
        )
        for ln in row.lines
    ]
    (summary,) = _return_rows(session, returns=[row], tenant_id=principal.tenant_id)
    return ReturnDetail.model_validate({**summary, "lines": lines})
