"""Apply till facts to the server: sales, voids, returns, shifts, cash, counts.

Till documents already happened: a sale is booked even when it drives stock below zero,
and the price charged is the price on the sale, whatever the catalog says now.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.codes import MovementCode
from common.errors import InvalidState, NotFound, ValidationFailed
from common.sync.protocol import (
    CashMovement as CashMovementPayload,
)
from common.sync.protocol import (
    PaymentMethod,
    ReturnRecorded,
    SaleCompleted,
    SaleVoided,
    ShiftClosed,
    ShiftOpened,
    StockCountEntered,
)
from sync_server.audit import service as audit
from sync_server.credit import service as credit
from sync_server.db import flush_document, in_one_flush, insert_with_children
from sync_server.foundation.principal import Actor
from sync_server.inventory import ledger
from sync_server.inventory.lots import LotHints
from sync_server.sales.models import (
    ZERO,
    CashMovement,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    SalePayment,
    Shift,
)
from sync_server.tax.service import credited_tax, legacy_line_tax


def _account_total(methods_amounts: list[tuple[PaymentMethod, Decimal]]) -> Decimal:
    return sum((a for m, a in methods_amounts if m == PaymentMethod.ACCOUNT), ZERO)


def lot_hints(lines: list[Any]) -> LotHints:
    """Return the lots the till's labels named, per product (sold quantities only)."""
    hints: LotHints = {}
    for line in lines:
        if line.lot and line.quantity > 0:
            hints.setdefault(line.product_id, []).append((line.lot, line.quantity))
    return hints


# A sale's rows as plain column values: the sale, its lines and its payments.
SaleRows = tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]
_WAITING = "sales_waiting"


@contextmanager
def sales_written_together(session: Session) -> Iterator[None]:
    """Let the rows of plain sales booked in the block wait and go out together at its end.

    For a push's batch (in one_flush_at_end): three inserts for all its sales instead of
    three per sale. Whoever may read sales first writes what waits (write_waiting_sales):
    push does before any event but a plain sale, and a sale that is not plain does itself.
    An exception drops what waits; the caller's savepoint drops the rest.
    """
    session.info[_WAITING] = []
    try:
        yield
        write_waiting_sales(session)
    finally:
        session.info.pop(_WAITING, None)


def may_wait(payload: SaleCompleted) -> bool:
    """Say whether booking this sale reads no sale (no customer, coupon, card or points)."""
    return (
        payload.customer_id is None
        and payload.customer_local_id is None
        and not payload.coupon_codes
        and all(p.method not in _READS_SALES for p in payload.payments)
    )


# Tenders whose booking reaches other programs (accounts, gift cards, points).
_READS_SALES = frozenset({PaymentMethod.ACCOUNT, PaymentMethod.GIFT_CARD, PaymentMethod.LOYALTY})


def write_waiting_sales(session: Session) -> None:
    """Write the sales waiting in sales_written_together now, so a query can find them."""
    waiting = session.info.get(_WAITING)
    if waiting:
        rows = list(waiting)
        waiting.clear()
        _insert_sales(session, rows)


def _insert_sales(session: Session, sales: list[SaleRows]) -> None:
    """Insert sales with their lines and payments (one statement on PostgreSQL, else three)."""
    insert_with_children(
        session,
        Sale,
        [sale for sale, _, _ in sales],
        key="uuid",
        children=[
            (
                SaleLine,
                "sale_id",
                [(sale["uuid"], line) for sale, lines, _ in sales for line in lines],
            ),
            (
                SalePayment,
                "sale_id",
                [(sale["uuid"], pay) for sale, _, pays in sales for pay in pays],
            ),
        ],
    )


def record_sale(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    payload: SaleCompleted,
    customer_id: int | None,
    occurred_at: datetime,
) -> None:
    """Book a completed till sale with its stock movements and account charge."""
    if payload.branch_id != branch_id:
        raise ValidationFailed("The sale names another branch than the till's own.")
    account = _account_total([(p.method, p.amount) for p in payload.payments])
    if account and customer_id is None:
        raise ValidationFailed("A sale on account needs a customer.")
    occurred = payload.completed_at or occurred_at
    overrides = [o.model_dump(mode="json") for o in payload.overrides]
    sale_row = {
        "tenant_id": actor.tenant_id,
        "uuid": payload.sale_id,
        "receipt_number": payload.receipt_number,
        "channel": "in_store",
        "branch_id": branch_id,
        "device_id": actor.device_id,
        "shift_uuid": payload.shift_id,
        "cashier_id": actor.user_id,
        "customer_id": customer_id,
        "subtotal": payload.subtotal,
        "discount_total": payload.discount_total,
        "tax_total": payload.tax_total,
        "total": payload.total,
        "change_due": payload.change_due,
        "overrides": overrides,
        "occurred_at": occurred,
        "buyer_gstin": payload.buyer_gstin,
        "buyer_state": payload.buyer_state,
    }
    line_rows = [
        {
            "tenant_id": actor.tenant_id,
            "line_uuid": line.line_id,
            "product_id": line.product_id,
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount": line.discount,
            "tax_rate": line.tax_rate,
            "tax": line.tax,
            "total": line.total,
            "tax_detail": line.tax_detail or legacy_line_tax(line),
            "hsn": line.hsn,
        }
        for line in payload.lines
    ]
    payment_rows = [
        {
            "tenant_id": actor.tenant_id,
            "payment_uuid": p.payment_id,
            "method": str(p.method),
            "amount": p.amount,
            "reference": p.reference,
        }
        for p in payload.payments
    ]
    if in_one_flush(session):
        # A push's batch: the rows go out as plain inserts, not through the unit of work's
        # flush (which costs several times more). A constraint they break (the receipt
        # number) fires in the batch's savepoint, which is then dropped whole and each
        # event applied alone (tests/server/test_push_batch_equivalence.py proves both
        # store the same rows).
        waiting = session.info.get(_WAITING)
        if waiting is not None and may_wait(payload):
            waiting.append((sale_row, line_rows, payment_rows))
        else:
            write_waiting_sales(session)
            _insert_sales(session, [(sale_row, line_rows, payment_rows)])
    else:
        sale = Sale(**sale_row)
        sale.lines = [SaleLine(**row) for row in line_rows]
        sale.payments = [SalePayment(**row) for row in payment_rows]
        session.add(sale)
        # The receipt number's unique constraint fires here, before any stock moves.
        flush_document(session)
    # One movement per product, in product order: fewer ledger rows, and two pushes that
    # touch the same products lock their levels in the same order.
    sold: dict[int, Decimal] = {}
    for line in payload.lines:
        sold[line.product_id] = sold.get(line.product_id, ZERO) + line.quantity
    # A negative line (an item handed back in the same sale) nets out; more back than sold
    # is a return. One batch books every product: one query each for products, levels and
    # alerts instead of one per line.
    lines = [
        ledger.MovementLine(
            product_id, MovementCode.SALE if quantity > 0 else MovementCode.RETURN, -quantity
        )
        for product_id, quantity in sorted(sold.items())
        if quantity != 0
    ]
    if lines:
        ledger.record_movements(
            session,
            actor=actor,
            branch_id=branch_id,
            lines=lines,
            reference_type="sale",
            reference_id=payload.sale_id,
            occurred_at=occurred,
            allow_negative=True,
            lots=lot_hints(payload.lines),
        )
    if account and customer_id is not None:  # checked above: account needs a customer
        # Over the limit is flagged for managers, not refused: the goods already left.
        credit.charge(
            session,
            actor=actor,
            customer_id=customer_id,
            amount=account,
            reference_type="sale",
            reference_id=payload.sale_id,
            allow_over_limit=True,
        )
    audit.record(
        session,
        actor=actor,
        action="sale.recorded",
        entity_type="sale",
        entity_id=payload.sale_id,
        after={
            "receipt_number": payload.receipt_number,
            "branch_id": branch_id,
            "total": payload.total,
            "lines": len(payload.lines),
            "customer_id": customer_id,
            "overrides": overrides,
        },
    )


def _sale_by_uuid(session: Session, *, tenant_id: int, sale_uuid: str) -> Sale:
    sale = session.scalar(select(Sale).where(Sale.tenant_id == tenant_id, Sale.uuid == sale_uuid))
    if sale is None:
        raise NotFound(f"Sale {sale_uuid} is not on the server.")
    return sale


def void_sale(session: Session, *, actor: Actor, branch_id: int, payload: SaleVoided) -> Sale:
    """Void a till sale of the branch: its stock comes back and an account charge is reversed."""
    sale = _sale_by_uuid(session, tenant_id=actor.tenant_id, sale_uuid=payload.sale_id)
    if sale.branch_id != branch_id:
        raise ValidationFailed("A till may void only its own branch's sales.")
    if sale.status != "completed":
        raise InvalidState(f"Sale {sale.receipt_number} is already voided.")
    sale.status = "voided"
    for line in sale.lines:
        ledger.record_movement(
            session,
            actor=actor,
            branch_id=sale.branch_id,
            product_id=line.product_id,
            code=MovementCode.RETURN,
            quantity=line.quantity,
            reference_type="sale_void",
            reference_id=sale.uuid,
            allow_negative=True,
        )
    account = _account_total([(PaymentMethod(p.method), p.amount) for p in sale.payments])
    if account and sale.customer_id is not None:
        credit.adjust(
            session,
            actor=actor,
            customer_id=sale.customer_id,
            amount=-account,
            note=f"void of sale {sale.receipt_number}",
        )
    audit.record(
        session,
        actor=actor,
        action="sale.voided",
        entity_type="sale",
        entity_id=sale.uuid,
        before={"status": "completed"},
        after={"status": "voided", "reason": payload.reason, "manager_id": payload.manager_id},
    )
    return sale


def record_return(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    payload: ReturnRecorded,
    customer_id: int | None,
    occurred_at: datetime,
) -> Return:
    """Book a till return: restocked lines come back, refunds to account lower the balance."""
    if payload.branch_id != branch_id:
        raise ValidationFailed("The return names another branch than the till's own.")
    row = Return(
        tenant_id=actor.tenant_id,
        uuid=payload.return_id,
        receipt_number=payload.receipt_number,
        original_sale_uuid=payload.original_sale_id,
        branch_id=branch_id,
        device_id=actor.device_id,
        shift_uuid=payload.shift_id,
        cashier_id=actor.user_id,
        customer_id=customer_id,
        total=payload.total,
        reason=payload.reason,
        refunds=[r.model_dump(mode="json") for r in payload.refunds],
        occurred_at=occurred_at,
    )
    row.lines = [
        ReturnLine(
            tenant_id=actor.tenant_id,
            line_uuid=line.line_id,
            product_id=line.product_id,
            quantity=line.quantity,
            amount=line.amount,
            restock=line.restock,
            tax_detail=line.tax_detail,
            tax=credited_tax(line.tax_detail),
        )
        for line in payload.lines
    ]
    session.add(row)
    session.flush()
    for line in payload.lines:
        if line.restock:
            ledger.record_movement(
                session,
                actor=actor,
                branch_id=branch_id,
                product_id=line.product_id,
                code=MovementCode.RETURN,
                quantity=line.quantity,
                reference_type="return",
                reference_id=payload.return_id,
                occurred_at=occurred_at,
            )
    account = _account_total([(r.method, r.amount) for r in payload.refunds])
    if account:
        if customer_id is None:
            raise ValidationFailed("A refund to account needs a customer.")
        credit.adjust(
            session,
            actor=actor,
            customer_id=customer_id,
            amount=-account,
            note=f"refund {payload.receipt_number}",
        )
    audit.record(
        session,
        actor=actor,
        action="return.recorded",
        entity_type="return",
        entity_id=payload.return_id,
        after={
            "receipt_number": payload.receipt_number,
            "original_sale_id": payload.original_sale_id,
            "total": payload.total,
            "reason": payload.reason,
        },
    )
    return row


def record_payment_on_account(
    session: Session, *, actor: Actor, customer_id: int, amount: Decimal, method: str, ref: str
) -> None:
    """Book money a customer paid at the till against their account."""
    credit.record_payment(
        session, actor=actor, customer_id=customer_id, amount=amount, method=method, reference=ref
    )


def _shift(session: Session, *, actor: Actor, branch_id: int, shift_uuid: str) -> Shift:
    shift = session.scalar(
        select(Shift).where(Shift.tenant_id == actor.tenant_id, Shift.uuid == shift_uuid)
    )
    if shift is None:
        shift = Shift(
            tenant_id=actor.tenant_id,
            uuid=shift_uuid,
            branch_id=branch_id,
            device_id=actor.device_id,
            cashier_id=actor.user_id,
            totals={},
        )
        session.add(shift)
    return shift


def open_shift(
    session: Session, *, actor: Actor, branch_id: int, payload: ShiftOpened, occurred_at: datetime
) -> Shift:
    """Record a till shift's opening float (audited: the start of the cash it will count)."""
    shift = _shift(session, actor=actor, branch_id=branch_id, shift_uuid=payload.shift_id)
    shift.opened_at = payload.opened_at or occurred_at
    shift.opening_float = payload.opening_float
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="shift.opened",
        entity_type="shift",
        entity_id=payload.shift_id,
        after={
            "branch_id": branch_id,
            "cashier_id": payload.cashier_id,
            "opening_float": payload.opening_float,
            "opened_at": shift.opened_at.isoformat(),
        },
    )
    return shift


def close_shift(
    session: Session, *, actor: Actor, branch_id: int, payload: ShiftClosed, occurred_at: datetime
) -> Shift:
    """Record a till shift's count and variance (audited: cash short or over matters)."""
    shift = _shift(session, actor=actor, branch_id=branch_id, shift_uuid=payload.shift_id)
    shift.closed_at = payload.closed_at or occurred_at
    shift.counted_cash = payload.counted_cash
    shift.expected_cash = payload.expected_cash
    shift.variance = payload.variance
    shift.totals = {k: str(v) for k, v in payload.totals.items()}
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="shift.closed",
        entity_type="shift",
        entity_id=payload.shift_id,
        after={
            "counted_cash": payload.counted_cash,
            "expected_cash": payload.expected_cash,
            "variance": payload.variance,
        },
    )
    return shift


def record_cash_movement(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    payload: CashMovementPayload,
    occurred_at: datetime,
) -> CashMovement:
    """Record cash put into or taken out of a till drawer."""
    row = CashMovement(
        tenant_id=actor.tenant_id,
        uuid=payload.movement_id,
        branch_id=branch_id,
        device_id=actor.device_id,
        shift_uuid=payload.shift_id,
        direction=payload.direction,
        amount=payload.amount,
        reason=payload.reason,
        cashier_id=actor.user_id,
        occurred_at=occurred_at,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"cash.{payload.direction}",
        entity_type="cash_movement",
        entity_id=payload.movement_id,
        after={"amount": payload.amount, "reason": payload.reason, "shift": payload.shift_id},
    )
    return row


def record_count(
    session: Session,
    *,
    actor: Actor,
    branch_id: int,
    payload: StockCountEntered,
    occurred_at: datetime,
) -> list[dict[str, Any]]:
    """Bring levels to what was counted on the till, one count movement per difference."""
    moved = []
    for line in payload.lines:
        level = ledger.level(
            session, tenant_id=actor.tenant_id, branch_id=branch_id, product_id=line.product_id
        )
        delta = line.counted - level.on_hand
        if delta == 0:
            continue
        ledger.record_movement(
            session,
            actor=actor,
            branch_id=branch_id,
            product_id=line.product_id,
            code=MovementCode.COUNT,
            quantity=delta,
            reference_type="till_count",
            reference_id=payload.count_id,
            occurred_at=occurred_at,
            allow_negative=True,
        )
        moved.append({"product_id": line.product_id, "delta": str(delta)})
    audit.record(
        session,
        actor=actor,
        action="count.entered",
        entity_type="stock_count",
        entity_id=payload.count_id,
        after={"branch_id": branch_id, "lines": len(payload.lines), "moved": moved},
    )
    return moved
