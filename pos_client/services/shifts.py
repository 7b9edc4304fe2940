"""Shifts at the till: open with a float, cash in/out, X report, close with a count -> Z report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidState, PermissionDenied, ValidationFailed
from common.money import ZERO, format_money, round_money, tax_included
from common.roles import Permission
from pos_client.config import ShopInfo
from pos_client.services import tax_invoice
from pos_client.services.login import Cashier
from pos_client.services.queries import ShiftInfo, current_shift
from pos_client.services.shop_profile import header_rows, shop_profile
from pos_client.store import documents
from pos_client.store.models import (
    Product,
    ReplicaRow,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    Shift,
    utcnow,
)

# Notes and coins a drawer is counted in, largest first.
DENOMINATIONS: dict[str, tuple[Decimal, ...]] = {
    "INR": tuple(
        Decimal(v) for v in ("2000", "500", "200", "100", "50", "20", "10", "5", "2", "1")
    ),
}


def denominations(currency: str) -> tuple[Decimal, ...]:
    """Return the notes and coins of a currency, largest first (a generic set if unknown)."""
    return DENOMINATIONS.get(
        currency.upper(),
        tuple(Decimal(v) for v in ("100", "50", "20", "10", "5", "2", "1", "0.50", "0.20", "0.10")),
    )


def counted_total(counts: dict[Decimal, int]) -> Decimal:
    """Return the cash a denomination count adds up to."""
    if any(n < 0 for n in counts.values()):
        raise ValidationFailed("A count cannot be negative")
    return round_money(sum((value * n for value, n in counts.items()), ZERO))


@dataclass(frozen=True)
class TaxRow:
    """Tax at one rate: on sales, and given back on refunds."""

    rate: Decimal
    sales_tax: Decimal
    refunded_tax: Decimal


@dataclass(frozen=True)
class ZReport:
    """A shift's figures: takings by tender (cash kept), refunds by tender, tax, the drawer.

    An X report (mid-shift) is the same figures with no count and no close.
    """

    shift_id: str
    opened_at: datetime
    closed_at: datetime
    cashier: str
    sale_count: int
    gross_sales: Decimal
    discounts: Decimal
    by_tender: dict[str, Decimal]
    refund_count: int
    refunds: Decimal
    opening_float: Decimal
    cash_in: Decimal
    cash_out: Decimal
    expected_cash: Decimal
    counted_cash: Decimal
    variance: Decimal
    sales_total: Decimal = ZERO
    sales_tax: Decimal = ZERO
    refunds_by_tender: dict[str, Decimal] = field(default_factory=dict)
    tax_rows: tuple[TaxRow, ...] = ()
    counted: tuple[tuple[Decimal, int], ...] = ()
    is_final: bool = True

    @property
    def title(self) -> str:
        """Return the report's heading."""
        kind = "Z REPORT" if self.is_final else "X REPORT (shift still open)"
        return f"{kind} · SHIFT {self.shift_id[-6:].upper()}"

    # The server's latest signed audit checkpoint, printed so it leaves the building.
    audit_checkpoint: str = ""
    # The shop, branch and tax registration heading the report (from the synced profile).
    shop_rows: tuple[tuple[str, str], ...] = ()
    # Net tax by component and rate (CGST 9%, IGST 18%...), from the lines' own tax.
    tax_components: tuple[tuple[str, Decimal], ...] = ()

    def rows(self, currency: str = "INR") -> list[tuple[str, str]]:
        """Return the report as (label, value) rows; an empty value is a heading."""
        return (
            list(self.shop_rows)
            + self._header_rows()
            + self._sales_rows(currency)
            + self._refund_rows(currency)
            + self._tax_rows(currency)
            + self._drawer_rows(currency)
            + checkpoint_rows(self.audit_checkpoint)
        )

    def _header_rows(self) -> list[tuple[str, str]]:
        closed = "Closed" if self.is_final else "Printed"
        return [
            ("Opened", self.opened_at.astimezone().strftime("%Y-%m-%d %H:%M")),
            (closed, self.closed_at.astimezone().strftime("%Y-%m-%d %H:%M")),
            ("Cashier", self.cashier),
        ]

    def _sales_rows(self, currency: str) -> list[tuple[str, str]]:
        rows = [
            ("Sales", ""),
            ("Number of sales", str(self.sale_count)),
            ("Gross sales", _money(self.gross_sales, currency)),
            ("Discounts", _money(-self.discounts, currency)),
            ("Sales total", _money(self.sales_total, currency)),
            ("Takings by tender (cash kept)", ""),
        ]
        rows += [
            (f"  {METHOD_LABELS.get(name, name.title())}", _money(amount, currency))
            for name, amount in self.by_tender.items()
        ]
        return rows

    def _refund_rows(self, currency: str) -> list[tuple[str, str]]:
        rows = [
            ("Refunds", ""),
            ("Number of refunds", str(self.refund_count)),
            ("Refunded", _money(-self.refunds, currency)),
        ]
        rows += [
            (f"  {METHOD_LABELS.get(name, name.title())}", _money(-amount, currency))
            for name, amount in self.refunds_by_tender.items()
        ]
        return rows

    def _tax_rows(self, currency: str) -> list[tuple[str, str]]:
        rows = [("Tax", "")]
        for row in self.tax_rows:
            rate = f"{row.rate.normalize():f}%"
            rows.append((f"  Tax {rate} on sales", _money(row.sales_tax, currency)))
            if row.refunded_tax:
                rows.append((f"  Tax {rate} refunded", _money(-row.refunded_tax, currency)))
        refunded = sum((r.refunded_tax for r in self.tax_rows), ZERO)
        rows.append(("Net tax", _money(self.sales_tax - refunded, currency)))
        if self.tax_components:
            rows.append(("Net tax by component", ""))
            rows += [
                (f"  {label}", _money(amount, currency)) for label, amount in self.tax_components
            ]
        return rows

    def _drawer_rows(self, currency: str) -> list[tuple[str, str]]:
        rows = [
            ("Cash drawer", ""),
            ("Opening float", _money(self.opening_float, currency)),
            ("Cash sales", _money(self.by_tender.get("cash", ZERO), currency)),
            ("Cash refunds", _money(-self.refunds_by_tender.get("cash", ZERO), currency)),
            ("Cash in", _money(self.cash_in, currency)),
            ("Cash out", _money(-self.cash_out, currency)),
            ("Expected cash", _money(self.expected_cash, currency)),
        ]
        if not self.is_final:
            return rows
        if any(n for _, n in self.counted):
            rows.append(("Count", ""))
        rows += [
            (f"  {_money(value, currency)} x {n}", _money(value * n, currency))
            for value, n in self.counted
            if n
        ]
        rows += [
            ("Counted cash", _money(self.counted_cash, currency)),
            ("Difference", _money(self.variance, currency)),
        ]
        return rows


METHOD_LABELS = {"cash": "Cash", "card": "Card", "account": "On account", "voucher": "Voucher"}


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency, symbol=False)


def checkpoint_rows(checkpoint: str) -> list[tuple[str, str]]:
    """Return the Z report's audit checkpoint line (none until the server has sent one)."""
    return [("Audit checkpoint", checkpoint)] if checkpoint else []


def latest_audit_checkpoint(session: Session) -> str:
    """Return the newest audit checkpoint the server published to this till, or ''."""
    row = session.get(ReplicaRow, ("audit_checkpoint", "latest"))
    return str((row.data or {}).get("text") or "") if row is not None else ""


def _require(cashier: Cashier) -> None:
    if not cashier.can(Permission.POS_SHIFT):
        raise PermissionDenied(f"{cashier.display_name} may not open or close shifts")


def open_shift(session: Session, *, cashier: Cashier, opening_float: Decimal) -> ShiftInfo:
    """Open a shift with the cash float counted into the drawer."""
    _require(cashier)
    if current_shift(session) is not None:
        raise InvalidState("A shift is already open on this till")
    if opening_float < 0:
        raise ValidationFailed("The float cannot be negative")
    shift = documents.open_shift(
        session, cashier_id=cashier.user_id, opening_float=round_money(opening_float)
    )
    return ShiftInfo(
        shift_id=shift.id,
        cashier_id=shift.cashier_id,
        opened_at=shift.opened_at,
        opening_float=shift.opening_float,
    )


def move_cash(
    session: Session,
    *,
    cashier: Cashier,
    shift_id: str,
    direction: str,
    amount: Decimal,
    reason: str,
) -> None:
    """Put cash into or take it out of the drawer, with a reason."""
    _require(cashier)
    if amount <= 0:
        raise ValidationFailed("Enter an amount above zero")
    if not reason.strip():
        raise ValidationFailed("Say why cash goes in or out")
    documents.record_cash_movement(
        session,
        shift_id=shift_id,
        direction=direction,
        amount=amount,
        reason=reason.strip(),
        cashier_id=cashier.user_id,
    )


def close_shift(
    session: Session,
    *,
    cashier: Cashier,
    shift_id: str,
    counted_cash: Decimal | None = None,
    counts: dict[Decimal, int] | None = None,
) -> ZReport:
    """Close the shift against the counted cash (or a denomination count); return its Z report."""
    _require(cashier)
    if counts is not None:
        counted_cash = counted_total(counts)
    if counted_cash is None:
        raise ValidationFailed("Count the cash in the drawer")
    if counted_cash < 0:
        raise ValidationFailed("Counted cash cannot be negative")
    shift = documents.close_shift(session, shift_id=shift_id, counted_cash=counted_cash)
    counted = tuple(sorted((counts or {}).items(), reverse=True))
    return _report(session, shift=shift, cashier=cashier, counted=counted, final=True)


def x_report(session: Session, *, cashier: Cashier, shift_id: str) -> ZReport:
    """Return the open shift's figures so far, without closing it (the X report)."""
    _require(cashier)
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise InvalidState("There is no such shift on this till")
    return _report(session, shift=shift, cashier=cashier, counted=(), final=False)


def _report(
    session: Session,
    *,
    shift: Shift,
    cashier: Cashier,
    counted: tuple[tuple[Decimal, int], ...],
    final: bool,
) -> ZReport:
    totals = documents.shift_totals(session, shift_id=shift.id)
    sales = list(
        session.execute(
            select(Sale.subtotal, Sale.discount_total, Sale.total, Sale.tax_total).where(
                Sale.shift_id == shift.id, Sale.status == "completed"
            )
        ).all()
    )
    returns = list(session.scalars(select(Return).where(Return.shift_id == shift.id)))
    tenders = {name: totals[name] for name in METHOD_LABELS if name in totals}
    if "cash" in tenders:
        # Cash payments are recorded as handed over; the takings are net of the change.
        tenders["cash"] -= totals.get("change_given", ZERO)
    refunds_by_tender: dict[str, Decimal] = {}
    for done in returns:
        for refund in done.refunds:
            method = refund["method"]
            refunds_by_tender[method] = refunds_by_tender.get(method, ZERO) + Decimal(
                refund["amount"]
            )
    expected = documents.expected_cash(shift=shift, totals=totals)
    closed_at = shift.closed_at or utcnow()
    counted_cash = shift.counted_cash if final and shift.counted_cash is not None else ZERO
    return ZReport(
        shift_id=shift.id,
        opened_at=shift.opened_at,
        closed_at=closed_at,
        cashier=cashier.display_name,
        sale_count=len(sales),
        gross_sales=sum((row.subtotal for row in sales), ZERO),
        discounts=sum((row.discount_total for row in sales), ZERO),
        by_tender=tenders,
        refund_count=len(returns),
        refunds=sum((r.total for r in returns), ZERO),
        opening_float=shift.opening_float,
        cash_in=totals.get("cash_in", ZERO),
        cash_out=totals.get("cash_out", ZERO),
        expected_cash=expected,
        counted_cash=counted_cash,
        variance=(shift.variance or ZERO) if final else ZERO,
        sales_total=sum((row.total for row in sales), ZERO),
        sales_tax=sum((row.tax_total for row in sales), ZERO),
        refunds_by_tender=refunds_by_tender,
        tax_rows=_tax_summary(session, shift_id=shift.id),
        counted=counted,
        is_final=final,
        audit_checkpoint=latest_audit_checkpoint(session),
        shop_rows=_shop_rows(session),
        tax_components=tax_invoice.shift_breakdown(session, shift_id=shift.id),
    )


def _shop_rows(session: Session) -> tuple[tuple[str, str], ...]:
    profile = shop_profile(session, fallback=ShopInfo(shop_name=""))
    return tuple(header_rows(profile))


def _tax_summary(session: Session, *, shift_id: str) -> tuple[TaxRow, ...]:
    """Tax by rate on the shift's sales, and the part of it given back by its refunds."""
    sold: dict[Decimal, Decimal] = {}
    for rate, tax in session.execute(
        select(SaleLine.tax_rate, SaleLine.tax)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.shift_id == shift_id, Sale.status == "completed")
    ):
        sold[rate] = sold.get(rate, ZERO) + tax
    refunded: dict[Decimal, Decimal] = {}
    rows = session.execute(
        select(ReturnLine, SaleLine, Product.tax_rate)
        .join(Return, Return.id == ReturnLine.return_id)
        .outerjoin(SaleLine, SaleLine.id == ReturnLine.original_line_id)
        .outerjoin(Product, Product.id == ReturnLine.product_id)
        .where(Return.shift_id == shift_id)
    )
    for back, line, product_rate in rows:
        if line is not None and line.quantity:
            rate = line.tax_rate
            tax = round_money(line.tax * back.quantity / line.quantity)
        else:
            # Taken back without a receipt at today's price: the tax inside that price.
            rate = product_rate or ZERO
            tax = tax_included(back.amount, rate)
        refunded[rate] = refunded.get(rate, ZERO) + tax
    return tuple(
        TaxRow(rate=rate, sales_tax=sold.get(rate, ZERO), refunded_tax=refunded.get(rate, ZERO))
        for rate in sorted(set(sold) | set(refunded))
    )
