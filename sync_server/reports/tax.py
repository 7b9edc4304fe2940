"""Tax reports: the tax summary by rate and by HSN, and a GSTR-1-shaped export.

Every figure is a sum of the per-line tax recorded with each document (common.tax's rounded
components), so the reports equal the documents' own tax to the paisa: till sales and
returns, online orders and their received returns, and approved wholesale invoices.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from io import BytesIO
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import ValidationFailed
from common.hygiene import spreadsheet_safe
from common.money import ZERO, round_money
from common.tax import LineTax, Supply, gstin_problem, state_of_gstin, supply_kind
from sync_server.catalog.models import Product
from sync_server.orders.models import Order, OrderLine, OrderReturn, OrderReturnLine
from sync_server.org.models import Branch
from sync_server.partners.models import Customer
from sync_server.reports.base import Column, Filters, Kind, Report
from sync_server.reports.facts import APPROVED_REQUEST, SOLD_ORDER_STATUSES
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine
from sync_server.wholesale.models import SalesRequest, SalesRequestLine

# Inter-state sales to unregistered buyers above this invoice value are "B2C large".
B2CL_LIMIT = Decimal("100000")
GST_FIELDS = {"IGST": "iamt", "CGST": "camt", "SGST": "samt", "UTGST": "samt", "CESS": "csamt"}
UQC = {"piece": "NOS", "kg": "KGS", "g": "GMS", "l": "LTR", "ml": "MLT", "m": "MTR"}


@dataclass(frozen=True)
class TaxedLine:
    """One document line's tax, with what the filings need to know about its document."""

    credit: bool
    number: str
    day: date
    seller_state: str
    buyer_gstin: str
    buyer_state: str
    original_number: str
    hsn: str
    name: str
    unit: str
    quantity: Decimal
    tax: LineTax

    @property
    def supply(self) -> Supply:
        return supply_kind(seller_state=self.seller_state, buyer_state=self.buyer_state)

    @property
    def place(self) -> str:
        return self.buyer_state or self.seller_state

    @property
    def gst_rate(self) -> Decimal:
        """Return the GST rate of the line (IGST, or CGST + SGST), cess apart."""
        return sum(
            (c.rate for c in self.tax.components if c.code in ("IGST", "CGST", "SGST", "UTGST")),
            ZERO,
        )


def _branch_filter(stmt: Any, column: Any, filters: Filters) -> Any:
    if filters.branch_id is not None:
        return stmt.where(column == filters.branch_id)
    if filters.branch_ids is not None:
        return stmt.where(column.in_(filters.branch_ids))
    return stmt


def taxed_lines(session: Session, *, filters: Filters) -> list[TaxedLine]:
    """Return every taxed line of till sales and returns, online orders and wholesale."""
    states = dict(
        session.execute(
            select(Branch.id, Branch.state_code).where(Branch.tenant_id == filters.tenant_id)
        ).all()
    )
    units = dict(
        session.execute(
            select(Product.id, Product.unit).where(Product.tenant_id == filters.tenant_id)
        ).all()
    )
    out: list[TaxedLine] = []
    sales = select(Sale, SaleLine).join(SaleLine, SaleLine.sale_id == Sale.id)
    sales = sales.where(
        Sale.tenant_id == filters.tenant_id,
        Sale.status == "completed",
        Sale.occurred_at >= filters.start,
        Sale.occurred_at < filters.end,
    )
    for sale, line in session.execute(_branch_filter(sales, Sale.branch_id, filters)):
        if line.tax_detail is None:
            continue
        out.append(
            TaxedLine(
                credit=False,
                number=sale.receipt_number,
                day=_day(sale.occurred_at),
                seller_state=states.get(sale.branch_id) or "",
                buyer_gstin=sale.buyer_gstin,
                buyer_state=sale.buyer_state,
                original_number="",
                hsn=line.hsn,
                name=line.name,
                unit=units.get(line.product_id, "piece"),
                quantity=line.quantity,
                tax=LineTax.from_wire(line.tax_detail),
            )
        )
    returns = (
        select(Return, ReturnLine, Sale)
        .join(ReturnLine, ReturnLine.return_id == Return.id)
        .outerjoin(
            Sale, (Sale.uuid == Return.original_sale_uuid) & (Sale.tenant_id == Return.tenant_id)
        )
        .where(
            Return.tenant_id == filters.tenant_id,
            Return.occurred_at >= filters.start,
            Return.occurred_at < filters.end,
        )
    )
    hsn_of = _sale_line_hsn(session, tenant_id=filters.tenant_id)
    for back, line, sale in session.execute(_branch_filter(returns, Return.branch_id, filters)):
        if line.tax_detail is None:
            continue
        out.append(
            TaxedLine(
                credit=True,
                number=back.receipt_number,
                day=_day(back.occurred_at),
                seller_state=states.get(back.branch_id) or "",
                buyer_gstin=sale.buyer_gstin if sale else "",
                buyer_state=sale.buyer_state if sale else "",
                original_number=sale.receipt_number if sale else "",
                hsn=hsn_of.get((sale.id if sale else 0, line.product_id), ""),
                name="",
                unit=units.get(line.product_id, "piece"),
                quantity=-line.quantity,
                tax=LineTax.from_wire(line.tax_detail),
            )
        )
    orders = (
        select(Order, OrderLine, Product.hsn)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.tenant_id == filters.tenant_id,
            Order.status.in_(SOLD_ORDER_STATUSES),
            Order.created_at >= filters.start,
            Order.created_at < filters.end,
        )
    )
    for order, line, hsn in session.execute(_branch_filter(orders, Order.branch_id, filters)):
        if line.tax_detail is None:
            continue
        out.append(
            TaxedLine(
                credit=False,
                number=order.external_number,
                day=_day(order.created_at),
                seller_state=states.get(order.branch_id) or "",
                buyer_gstin="",
                buyer_state="",
                original_number="",
                hsn=hsn or "",
                name=line.name,
                unit=line.unit,
                quantity=line.quantity,
                tax=LineTax.from_wire(line.tax_detail),
            )
        )
    order_returns = (
        select(OrderReturn, OrderReturnLine, OrderLine, Order, Product.hsn)
        .join(OrderReturnLine, OrderReturnLine.return_id == OrderReturn.id)
        .join(OrderLine, OrderLine.id == OrderReturnLine.order_line_id)
        .join(Order, Order.id == OrderReturn.order_id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.tenant_id == filters.tenant_id,
            OrderReturn.status == "received",
            OrderReturn.received_at >= filters.start,
            OrderReturn.received_at < filters.end,
        )
    )
    for back, line, sold, order, hsn in session.execute(
        _branch_filter(order_returns, Order.branch_id, filters)
    ):
        if line.tax_detail is None or back.received_at is None:
            continue
        out.append(
            TaxedLine(
                credit=True,
                number=f"{order.external_number}-R{back.id}",
                day=_day(back.received_at),
                seller_state=states.get(order.branch_id) or "",
                buyer_gstin="",
                buyer_state="",
                original_number=order.external_number,
                hsn=hsn or "",
                name=sold.name,
                unit=sold.unit,
                quantity=-line.quantity,
                tax=LineTax.from_wire(line.tax_detail),
            )
        )
    out += _wholesale_lines(session, filters=filters, states=states, units=units)
    return out


def _wholesale_lines(
    session: Session, *, filters: Filters, states: dict[int, str], units: dict[int, str]
) -> list[TaxedLine]:
    stmt = (
        select(SalesRequest, SalesRequestLine, Customer.tax_number)
        .join(SalesRequestLine, SalesRequestLine.sales_request_id == SalesRequest.id)
        .join(Customer, Customer.id == SalesRequest.customer_id)
        .where(
            SalesRequest.tenant_id == filters.tenant_id,
            SalesRequest.status == APPROVED_REQUEST,
            SalesRequest.decided_at >= filters.start,
            SalesRequest.decided_at < filters.end,
        )
    )
    out = []
    for request, line, number in session.execute(
        _branch_filter(stmt, SalesRequest.branch_id, filters)
    ):
        if line.tax_detail is None or request.decided_at is None:
            continue
        gstin = (number or "").strip().upper()
        gstin = gstin if gstin and gstin_problem(gstin) is None else ""
        out.append(
            TaxedLine(
                credit=False,
                number=request.invoice_number or request.number,
                day=_day(request.decided_at),
                seller_state=states.get(request.branch_id) or "",
                buyer_gstin=gstin,
                buyer_state=state_of_gstin(gstin),
                original_number="",
                hsn=line.hsn,
                name=line.name,
                unit=units.get(line.product_id, "piece"),
                quantity=line.quantity,
                tax=LineTax.from_wire(line.tax_detail),
            )
        )
    return out


def _sale_line_hsn(session: Session, *, tenant_id: int) -> dict[tuple[int, int], str]:
    rows = session.execute(
        select(SaleLine.sale_id, SaleLine.product_id, SaleLine.hsn).where(
            SaleLine.tenant_id == tenant_id, SaleLine.hsn != ""
        )
    )
    return {(sale_id, product_id): hsn for sale_id, product_id, hsn in rows}


def _day(moment: datetime) -> date:
    return moment.date()


class TaxBy(StrEnum):
    RATE = "rate"
    HSN = "hsn"


def tax_summary(session: Session, *, filters: Filters, by: TaxBy) -> Report:
    """Sum taxable value and each component by rate (or by HSN and rate), net of returns."""
    lines = taxed_lines(session, filters=filters)
    groups: dict[tuple[str, Decimal], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(lambda: ZERO)
    )
    for line in lines:
        key = (line.hsn if by == TaxBy.HSN else "", line.tax.rate.normalize())
        acc = groups[key]
        acc["quantity"] += line.quantity
        acc["taxable"] += line.tax.taxable
        acc["tax"] += line.tax.tax
        acc["total"] += line.tax.total
        for c in line.tax.components:
            field = GST_FIELDS.get(c.code, "other").removesuffix("amt")
            acc[field] += c.amount
    rows = [
        {
            "hsn": hsn or "-",
            "rate": rate,
            "quantity": acc["quantity"],
            "taxable": acc["taxable"],
            "cgst": acc["c"],
            "sgst": acc["s"],
            "igst": acc["i"],
            "cess": acc["cs"],
            "other": acc["other"],
            "tax": acc["tax"],
            "total": acc["total"],
        }
        for (hsn, rate), acc in sorted(groups.items())
    ]
    money = ("taxable", "cgst", "sgst", "igst", "cess", "other", "tax", "total")
    columns = [Column("rate", "Rate %", Kind.RATIO)]
    if by == TaxBy.HSN:
        columns = [Column("hsn", "HSN/SAC", Kind.TEXT), *columns]
    columns += [Column("quantity", "Quantity", Kind.QTY)]
    columns += [
        Column(key, key.upper() if len(key) <= 4 else key.title(), Kind.MONEY) for key in money
    ]
    return Report(
        name="tax-summary",
        title=f"Tax summary by {by.value}",
        columns=columns,
        rows=rows,
        filters={**filters.describe(), "by": by.value},
        notes=(
            "Sales less returns; each figure is the sum of the tax recorded on each line.",
            "Includes till sales and returns, online orders and their received returns, and "
            "approved wholesale invoices.",
        ),
    )


# ---------------------------------------------------------------------------------------------
# GSTR-1


def _amounts(lines: Iterable[TaxedLine], *, sign: int = 1) -> dict[str, Decimal]:
    acc = {"txval": ZERO, "iamt": ZERO, "camt": ZERO, "samt": ZERO, "csamt": ZERO}
    for line in lines:
        acc["txval"] += sign * line.tax.taxable
        for c in line.tax.components:
            if c.code in GST_FIELDS:
                acc[GST_FIELDS[c.code]] += sign * c.amount
    return {k: round_money(v) for k, v in acc.items()}


def _items(lines: list[TaxedLine], *, sign: int = 1) -> list[dict[str, Any]]:
    by_rate: dict[Decimal, list[TaxedLine]] = defaultdict(list)
    for line in lines:
        by_rate[line.gst_rate.normalize()].append(line)
    return [
        {"num": n, "itm_det": {"rt": rate, **_amounts(group, sign=sign)}}
        for n, (rate, group) in enumerate(sorted(by_rate.items()), start=1)
    ]


def _documents(lines: Iterable[TaxedLine]) -> dict[str, list[TaxedLine]]:
    docs: dict[str, list[TaxedLine]] = defaultdict(list)
    for line in lines:
        docs[line.number].append(line)
    return docs


def _idt(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def gstr1(session: Session, *, filters: Filters, gstin: str) -> dict[str, Any]:
    """Return the period's outward supplies in the GST portal's GSTR-1 JSON shape."""
    lines = [
        line
        for line in taxed_lines(session, filters=filters)
        if any(c.code in GST_FIELDS for c in line.tax.components)
    ]
    sales = [x for x in lines if not x.credit]
    credits = [x for x in lines if x.credit]

    b2b: dict[str, list[dict[str, Any]]] = defaultdict(list)
    b2cl: dict[str, list[dict[str, Any]]] = defaultdict(list)
    small: list[tuple[TaxedLine, int]] = []
    for number, doc in _documents(sales).items():
        first = doc[0]
        value = round_money(sum((x.tax.total for x in doc), ZERO))
        invoice = {"inum": number, "idt": _idt(first.day), "val": value}
        if first.buyer_gstin:
            b2b[first.buyer_gstin].append(
                {
                    **invoice,
                    "pos": first.place,
                    "rchrg": "N",
                    "inv_typ": "R",
                    "itms": _items(doc),
                }
            )
        elif first.supply == Supply.INTER and value > B2CL_LIMIT:
            b2cl[first.place].append({**invoice, "itms": _items(doc)})
        else:
            small += [(x, 1) for x in doc]

    cdnr: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for number, doc in _documents(credits).items():
        first = doc[0]
        if not first.buyer_gstin:
            small += [(x, 1) for x in doc]  # nets against the B2C figures, as filed
            continue
        cdnr[first.buyer_gstin].append(
            {
                "ntty": "C",
                "nt_num": number,
                "nt_dt": _idt(first.day),
                "val": round_money(-sum((x.tax.total for x in doc), ZERO)),
                "pos": first.place,
                "rchrg": "N",
                "inv_typ": "R",
                "itms": _items(doc, sign=-1),
            }
        )

    b2cs_groups: dict[tuple[str, str, Decimal], list[TaxedLine]] = defaultdict(list)
    for line, _ in small:
        kind = "INTER" if line.supply == Supply.INTER else "INTRA"
        b2cs_groups[(kind, line.place, line.gst_rate.normalize())].append(line)
    b2cs = [
        {"sply_ty": kind, "pos": pos, "typ": "OE", "rt": rate, **_amounts(group)}
        for (kind, pos, rate), group in sorted(b2cs_groups.items())
    ]

    hsn_groups: dict[tuple[str, str, Decimal], list[TaxedLine]] = defaultdict(list)
    for line in lines:
        hsn_groups[(line.hsn, UQC.get(line.unit, "OTH"), line.gst_rate.normalize())].append(line)
    hsn = [
        {
            "num": n,
            "hsn_sc": code,
            "desc": next((x.name for x in group if x.name), "")[:30],
            "uqc": uqc,
            "qty": sum((x.quantity for x in group), ZERO),
            "rt": rate,
            **_amounts(group),
        }
        for n, ((code, uqc, rate), group) in enumerate(sorted(hsn_groups.items()), start=1)
        if code
    ]
    return {
        "gstin": gstin,
        "fp": filters.date_from.strftime("%m%Y"),
        "version": "GST3.1.6",
        "hash": "hash",
        "b2b": [{"ctin": ctin, "inv": invs} for ctin, invs in sorted(b2b.items())],
        "b2cl": [{"pos": pos, "inv": invs} for pos, invs in sorted(b2cl.items())],
        "b2cs": b2cs,
        "cdnr": [{"ctin": ctin, "nt": notes} for ctin, notes in sorted(cdnr.items())],
        "hsn": {"data": hsn},
    }


def filing_gstin(session: Session, *, filters: Filters) -> str:
    """Return the GSTIN a filing is for: the chosen branch's, or the business's only one."""
    stmt = select(Branch.gstin).where(Branch.tenant_id == filters.tenant_id, Branch.gstin != "")
    if filters.branch_id is not None:
        stmt = stmt.where(Branch.id == filters.branch_id)
    numbers = sorted(set(session.scalars(stmt)))
    if not numbers:
        raise ValidationFailed(
            "No branch of this business has a GSTIN; set one on the branch (PATCH /branches/{id})."
        )
    if len(numbers) > 1:
        raise ValidationFailed(
            "Branches have different GSTINs; choose the branch to file for with branch_id."
        )
    return numbers[0]


_NUMBER = re.compile(r'"\\u0000(-?[0-9.]+)"')


def gstr1_json(data: dict[str, Any]) -> str:
    """Serialise the export with amounts as JSON numbers, written from Decimal (never float)."""

    def number(value: Any) -> str:
        if isinstance(value, Decimal):
            return "\0" + f"{value:f}"
        raise TypeError(f"{type(value).__name__} is not JSON")

    return _NUMBER.sub(r"\1", json.dumps(data, default=number, ensure_ascii=False))


_AMOUNTS = ("txval", "iamt", "camt", "samt", "csamt")
_SHEETS: dict[str, tuple[str, ...]] = {
    "b2b": ("ctin", "inum", "idt", "val", "pos", "rchrg", "inv_typ", "rt", *_AMOUNTS),
    "b2cl": ("pos", "inum", "idt", "val", "rt", *_AMOUNTS),
    "b2cs": ("sply_ty", "pos", "typ", "rt", *_AMOUNTS),
    "cdnr": ("ctin", "ntty", "nt_num", "nt_dt", "val", "pos", "rt", *_AMOUNTS),
    "hsn": ("num", "hsn_sc", "desc", "uqc", "qty", "rt", *_AMOUNTS),
}


def _sheet_rows(data: dict[str, Any], section: str) -> list[dict[str, Any]]:
    if section == "hsn":
        return list(data["hsn"]["data"])
    if section == "b2cs":
        return list(data["b2cs"])
    docs = "nt" if section == "cdnr" else "inv"
    party = "pos" if section == "b2cl" else "ctin"
    return [
        {party: group[party], **doc, **item["itm_det"]}
        for group in data[section]
        for doc in group[docs]
        for item in doc["itms"]
    ]


def gstr1_xlsx(data: dict[str, Any]) -> bytes:
    """Return the export as a workbook: one sheet per section, one row per rate of a document."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for section, columns in _SHEETS.items():
        sheet = book.create_sheet(section)
        sheet.append(list(columns))
        for row in _sheet_rows(data, section):
            sheet.append(
                [
                    spreadsheet_safe(v) if isinstance(v, str) else v
                    for v in (row.get(c, "") for c in columns)
                ]
            )
    out = BytesIO()
    book.save(out)
    return out.getvalue()
