"""Shifts at the till: open with a float, cash in/out, close with counted cash -> Z report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidState, PermissionDenied, ValidationFailed
from common.money import ZERO, format_money, round_money
from common.roles import Permission
from pos_client.services.login import Cashier
from pos_client.services.queries import ShiftInfo, current_shift
from pos_client.store import documents
from pos_client.store.models import ReplicaRow, Return, Sale


@dataclass(frozen=True)
class ZReport:
    """The end-of-shift figures: takings by tender, refunds, discounts, cash expected vs counted."""

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
    # The server's latest signed audit checkpoint, printed so it leaves the building.
    audit_checkpoint: str = ""

    def rows(self, currency: str = "INR") -> list[tuple[str, str]]:
        """Return the report as (label, value) rows; an empty value is a heading."""

        def money(amount: Decimal) -> str:
            return format_money(amount, currency, symbol=False)

        rows = [
            ("Opened", self.opened_at.astimezone().strftime("%Y-%m-%d %H:%M")),
            ("Closed", self.closed_at.astimezone().strftime("%Y-%m-%d %H:%M")),
            ("Cashier", self.cashier),
            ("Sales", ""),
            ("Number of sales", str(self.sale_count)),
            ("Gross sales", money(self.gross_sales)),
            ("Discounts", money(-self.discounts)),
        ]
        rows += [(f"  {name.title()}", money(amount)) for name, amount in self.by_tender.items()]
        rows += [
            ("Refunds", ""),
            ("Number of refunds", str(self.refund_count)),
            ("Refunded", money(-self.refunds)),
            ("Cash drawer", ""),
            ("Opening float", money(self.opening_float)),
            ("Cash in", money(self.cash_in)),
            ("Cash out", money(-self.cash_out)),
            ("Expected cash", money(self.expected_cash)),
            ("Counted cash", money(self.counted_cash)),
            ("Variance", money(self.variance)),
        ]
        rows += checkpoint_rows(self.audit_checkpoint)
        return rows


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
    session: Session, *, cashier: Cashier, shift_id: str, counted_cash: Decimal
) -> ZReport:
    """Close the shift against the counted cash and return its Z report."""
    _require(cashier)
    if counted_cash < 0:
        raise ValidationFailed("Counted cash cannot be negative")
    shift = documents.close_shift(session, shift_id=shift_id, counted_cash=counted_cash)
    totals = {k: Decimal(v) for k, v in shift.totals.items()}
    sales = list(
        session.execute(
            select(Sale.subtotal, Sale.discount_total).where(
                Sale.shift_id == shift_id, Sale.status == "completed"
            )
        ).all()
    )
    returns = list(session.scalars(select(Return).where(Return.shift_id == shift_id)))
    tenders = {
        name: totals[name] for name in ("cash", "card", "account", "voucher") if name in totals
    }
    if "cash" in tenders:
        # Cash payments are recorded as handed over; the takings are net of the change.
        tenders["cash"] -= totals.get("change_given", ZERO)
    return ZReport(
        shift_id=shift.id,
        opened_at=shift.opened_at,
        closed_at=shift.closed_at or shift.opened_at,
        cashier=cashier.display_name,
        sale_count=len(sales),
        gross_sales=sum((gross for gross, _ in sales), ZERO),
        discounts=sum((discount for _, discount in sales), ZERO),
        by_tender=tenders,
        refund_count=len(returns),
        refunds=sum((r.total for r in returns), ZERO),
        opening_float=shift.opening_float,
        cash_in=totals.get("cash_in", ZERO),
        cash_out=totals.get("cash_out", ZERO),
        expected_cash=shift.expected_cash or ZERO,
        counted_cash=shift.counted_cash or ZERO,
        variance=shift.variance or ZERO,
        audit_checkpoint=latest_audit_checkpoint(session),
    )
