"""Record the till's documents: each with its outbox event and stock change, atomically.

Every function works in the caller's transaction (LocalStore.transaction()); none commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.errors import InvalidState, NotFound, ValidationFailed
from common.ids import new_id
from common.money import round_money
from common.sync.protocol import (
    CashMovement as CashMovementPayload,
)
from common.sync.protocol import (
    CustomerCreated,
    Event,
    Payload,
    PaymentMethod,
    PaymentOnAccount,
    ReturnRecorded,
    SaleCompleted,
    SaleVoided,
    ShiftClosed,
    ShiftOpened,
)
from pos_client.store import outbox
from pos_client.store.models import (
    ZERO,
    CashMovement,
    Customer,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    SalePayment,
    Shift,
    StockLevel,
    SyncState,
    utcnow,
)
from pos_client.store.plain_sql import PreparedWrite, run_sql

RECEIPT_DIGITS = 6

# The statements of a sale, prepared once (see plain_sql for why the sale path is plain SQL).
_NEXT_RECEIPT = (
    "UPDATE sync_state SET last_receipt_seq = last_receipt_seq + 1 WHERE id = 1 "
    "RETURNING receipt_prefix, last_receipt_seq"
)
_SALE_INSERT = PreparedWrite(
    Sale.__table__,
    columns=(
        "id",
        "receipt_number",
        "shift_id",
        "cashier_id",
        "customer_id",
        "customer_local_id",
        "subtotal",
        "discount_total",
        "tax_total",
        "total",
        "change_due",
        "overrides",
        "status",
        "created_at",
        "event_id",
    ),
)
_LINE_INSERT = PreparedWrite(
    SaleLine.__table__,
    columns=(
        "id",
        "sale_id",
        "product_id",
        "sku",
        "name",
        "quantity",
        "unit_price",
        "discount",
        "tax_rate",
        "tax",
        "total",
    ),
)
_PAYMENT_INSERT = PreparedWrite(
    SalePayment.__table__, columns=("id", "sale_id", "method", "amount", "reference")
)
_STOCK_UPDATE = PreparedWrite(
    StockLevel.__table__, columns=("on_hand", "updated_at"), key="product_id"
)
_STOCK_INSERT = PreparedWrite(StockLevel.__table__, columns=("product_id", "on_hand", "updated_at"))


def get_state(session: Session) -> SyncState:
    """Return the till's sync state row, creating it on first use."""
    state = session.get(SyncState, 1)
    if state is None:
        state = SyncState(id=1)
        session.add(state)
        session.flush()
    return state


def configure_device(
    session: Session,
    *,
    device_id: str,
    token: str,
    tenant_id: int,
    branch_id: int,
    branch_code: str,
    receipt_prefix: str,
    name: str = "",
    server_url: str = "",
) -> SyncState:
    """Store the identity the server gave this till at enrolment."""
    state = get_state(session)
    state.device_id = device_id
    state.device_token = token
    state.tenant_id = tenant_id
    state.branch_id = branch_id
    state.branch_code = branch_code
    state.receipt_prefix = receipt_prefix
    state.device_name = name
    if server_url:
        state.server_url = server_url
    return state


_NOT_ENROLLED = "This till is not enrolled yet; enrol it with a code from an admin."


def _enrolled(session: Session) -> SyncState:
    state = get_state(session)
    if not state.device_id or state.branch_id is None:
        raise InvalidState(_NOT_ENROLLED)
    return state


def _branch_of(state: SyncState) -> int:
    """The enrolled till's branch (checked by _enrolled; said again for the type checker)."""
    if state.branch_id is None:
        raise InvalidState(_NOT_ENROLLED)
    return state.branch_id


def next_receipt_number(session: Session) -> str:
    """Take the next number of this device's own series, e.g. AND-T01-000123."""
    state = _enrolled(session)
    prefix, seq = session.connection().exec_driver_sql(_NEXT_RECEIPT).one()
    # The SQL moved the number on; the loaded state must not write its old one back.
    session.expire(state, ["last_receipt_seq"])
    return f"{prefix}-{seq:0{RECEIPT_DIGITS}d}"


_CLAIM_RECEIPT = (
    "UPDATE sync_state SET last_receipt_seq = last_receipt_seq + 1 WHERE id = 1 "
    "RETURNING receipt_prefix, last_receipt_seq, device_id, branch_id"
)


@dataclass(frozen=True)
class Numbered:
    """A sale's receipt number, taken with the till's identity in one statement."""

    receipt_number: str
    device_id: str
    branch_id: int


def claim_receipt(session: Session) -> Numbered:
    """Take the next receipt number and read who this till is (a sale's first write)."""
    row = run_sql(session.connection(), _CLAIM_RECEIPT).fetchone()
    if row is None or not row[2] or row[3] is None:
        # Nothing is kept: the caller's transaction ends with this error.
        raise InvalidState("This till is not enrolled yet; enrol it with a code from an admin.")
    loaded = session.identity_map.get(SyncState.__mapper__.identity_key_from_primary_key((1,)))
    if loaded is not None:
        # The SQL moved the number on; a loaded state must not write its old one back.
        session.expire(loaded, ["last_receipt_seq"])
    prefix, seq, device_id, branch_id = row
    return Numbered(
        receipt_number=f"{prefix}-{seq:0{RECEIPT_DIGITS}d}",
        device_id=device_id,
        branch_id=branch_id,
    )


def _adjust_stock(session: Session, deltas: Iterable[tuple[int, Decimal]]) -> None:
    """Move the till's stock of each (product, delta): one read and one write per document."""
    totals: dict[int, Decimal] = {}
    for product_id, delta in deltas:
        totals[product_id] = totals.get(product_id, ZERO) + delta
    if not totals:
        return
    now = utcnow()
    connection = session.connection()
    marks = ", ".join("?" for _ in totals)
    # Plain rows, not entities: no StockLevel object is left stale in this session.
    held = {
        product_id: Decimal(on_hand)
        for product_id, on_hand in run_sql(
            connection,
            f"SELECT product_id, on_hand FROM stock_levels WHERE product_id IN ({marks})",
            tuple(totals),
        )
    }
    _STOCK_UPDATE.run(
        connection,
        [
            {"product_id": p, "on_hand": held[p] + d, "updated_at": now}
            for p, d in totals.items()
            if p in held
        ],
    )
    _STOCK_INSERT.run(
        connection,
        [
            {"product_id": p, "on_hand": d, "updated_at": now}
            for p, d in totals.items()
            if p not in held
        ],
    )


def _emit(
    session: Session, *, state: SyncState, payload: Payload, document_id: str | None
) -> Event:
    event = Event.wrap(payload, device_id=state.device_id or "")
    outbox.enqueue(session, event=event, document_id=document_id)
    return event


def record_sale(session: Session, event: SaleCompleted, *, till: Numbered | None = None) -> Event:
    """Write a completed sale, its lines, payments, outbox event and stock decrement.

    `till` is what claim_receipt read in this transaction (saves reading the state again).
    """
    if till is None:
        state = _enrolled(session)
        device_id, branch_id = state.device_id or "", state.branch_id
    else:
        device_id, branch_id = till.device_id, till.branch_id
    if event.branch_id != branch_id:
        raise ValidationFailed("The sale's branch is not this till's branch.")
    if event.customer_id is None and event.customer_local_id is not None:
        customer = session.get(Customer, event.customer_local_id)
        if customer is None:
            raise NotFound("The sale's customer is not on this till.")
        if customer.server_id is not None:
            event = event.model_copy(update={"customer_id": customer.server_id})
    envelope = Event.wrap(event, device_id=device_id)
    outbox.enqueue(session, event=envelope, document_id=event.sale_id)
    connection = session.connection()
    _SALE_INSERT.run(
        connection,
        [
            {
                "id": event.sale_id,
                "receipt_number": event.receipt_number,
                "shift_id": event.shift_id,
                "cashier_id": event.cashier_id,
                "customer_id": event.customer_id,
                "customer_local_id": event.customer_local_id,
                "subtotal": event.subtotal,
                "discount_total": event.discount_total,
                "tax_total": event.tax_total,
                "total": event.total,
                "change_due": event.change_due,
                "overrides": [o.model_dump(mode="json") for o in event.overrides],
                "status": "completed",
                "created_at": event.completed_at or envelope.occurred_at,
                "event_id": envelope.id,
            }
        ],
    )
    _LINE_INSERT.run(
        connection,
        [
            {
                "id": line.line_id,
                "sale_id": event.sale_id,
                "product_id": line.product_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "tax_rate": line.tax_rate,
                "tax": line.tax,
                "total": line.total,
            }
            for line in event.lines
        ],
    )
    _PAYMENT_INSERT.run(
        connection,
        [
            {
                "id": p.payment_id,
                "sale_id": event.sale_id,
                "method": str(p.method),
                "amount": p.amount,
                "reference": p.reference,
            }
            for p in event.payments
        ],
    )
    _adjust_stock(session, ((line.product_id, -line.quantity) for line in event.lines))
    on_account = sum((p.amount for p in event.payments if p.method == PaymentMethod.ACCOUNT), ZERO)
    if on_account:
        _charge_local_customer(session, event=event, amount=on_account)
    session.flush()
    return envelope


def _customer_of(session: Session, *, server_id: int | None, local_id: str | None) -> Customer:
    customer = None
    if local_id is not None:
        customer = session.get(Customer, local_id)
    elif server_id is not None:
        customer = session.scalar(select(Customer).where(Customer.server_id == server_id))
    if customer is None:
        raise NotFound("That customer is not on this till.")
    return customer


def _charge_local_customer(session: Session, *, event: SaleCompleted, amount: Decimal) -> None:
    customer = _customer_of(session, server_id=event.customer_id, local_id=event.customer_local_id)
    # The till's copy moves at once so the limit check of the next sale sees it; the
    # server's balance arrives with the next pull and replaces it.
    customer.balance = customer.balance + amount


def void_sale(
    session: Session, *, sale_id: str, reason: str = "", manager_id: int | None = None
) -> Event:
    """Void a completed sale: put its stock back and tell the server."""
    state = _enrolled(session)
    sale = session.get(Sale, sale_id)
    if sale is None:
        raise NotFound("There is no such sale on this till.")
    if sale.status != "completed":
        raise InvalidState("This sale is already voided.")
    sale.status = "voided"
    lines = session.execute(
        select(SaleLine.product_id, SaleLine.quantity).where(SaleLine.sale_id == sale_id)
    ).tuples()
    _adjust_stock(session, lines)
    payload = SaleVoided(sale_id=sale_id, reason=reason, manager_id=manager_id)
    envelope = _emit(session, state=state, payload=payload, document_id=sale_id)
    session.flush()
    return envelope


def record_return(session: Session, event: ReturnRecorded) -> Event:
    """Write a return with its lines and refunds, its outbox event and the restock."""
    state = _enrolled(session)
    if event.branch_id != state.branch_id:
        raise ValidationFailed("The return's branch is not this till's branch.")
    envelope = _emit(session, state=state, payload=event, document_id=event.return_id)
    session.add(
        Return(
            id=event.return_id,
            receipt_number=event.receipt_number,
            original_sale_id=event.original_sale_id,
            shift_id=event.shift_id,
            cashier_id=event.cashier_id,
            total=event.total,
            reason=event.reason,
            refunds=[r.model_dump(mode="json") for r in event.refunds],
            created_at=envelope.occurred_at,
            event_id=envelope.id,
        )
    )
    session.flush()
    for line in event.lines:
        session.add(
            ReturnLine(
                id=line.line_id,
                return_id=event.return_id,
                original_line_id=line.original_line_id,
                product_id=line.product_id,
                quantity=line.quantity,
                amount=line.amount,
                restock=line.restock,
            )
        )
    restocked = [(line.product_id, line.quantity) for line in event.lines if line.restock]
    _adjust_stock(session, restocked)
    session.flush()
    return envelope


def open_shift(session: Session, *, cashier_id: int | None, opening_float: Decimal = ZERO) -> Shift:
    """Open a shift with its cash float."""
    state = _enrolled(session)
    shift = Shift(
        id=new_id(),
        cashier_id=cashier_id,
        opened_at=utcnow(),
        opening_float=round_money(opening_float),
        totals={},
    )
    session.add(shift)
    payload = ShiftOpened(
        shift_id=shift.id,
        branch_id=_branch_of(state),
        cashier_id=cashier_id,
        opening_float=shift.opening_float,
        opened_at=shift.opened_at,
    )
    _emit(session, state=state, payload=payload, document_id=shift.id)
    session.flush()
    return shift


def shift_totals(session: Session, *, shift_id: str) -> dict[str, Decimal]:
    """Return takings of a shift by method, plus cash in/out and refunds in cash."""
    totals: dict[str, Decimal] = {}
    rows = session.execute(
        select(SalePayment.method, SalePayment.amount)
        .join(Sale, Sale.id == SalePayment.sale_id)
        .where(Sale.shift_id == shift_id, Sale.status == "completed")
    )
    for method, amount in rows:
        totals[method] = totals.get(method, ZERO) + amount
    change = session.scalars(
        select(Sale.change_due).where(Sale.shift_id == shift_id, Sale.status == "completed")
    )
    totals["change_given"] = sum(change, ZERO)
    for direction, amount in session.execute(
        select(CashMovement.direction, CashMovement.amount).where(CashMovement.shift_id == shift_id)
    ):
        key = f"cash_{direction}"
        totals[key] = totals.get(key, ZERO) + amount
    refunds = ZERO
    for refund_list in session.scalars(select(Return.refunds).where(Return.shift_id == shift_id)):
        refunds += sum((Decimal(r["amount"]) for r in refund_list if r["method"] == "cash"), ZERO)
    totals["cash_refunds"] = refunds
    return totals


def expected_cash(*, shift: Shift, totals: dict[str, Decimal]) -> Decimal:
    """Return the cash the drawer should hold: float + cash kept - cash refunds +/- moves."""
    return round_money(
        shift.opening_float
        + totals.get("cash", ZERO)
        - totals.get("change_given", ZERO)
        + totals.get("cash_in", ZERO)
        - totals.get("cash_out", ZERO)
        - totals.get("cash_refunds", ZERO)
    )


def close_shift(session: Session, *, shift_id: str, counted_cash: Decimal) -> Shift:
    """Close a shift: expected cash from the day's documents, variance against the count."""
    state = _enrolled(session)
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound("There is no such shift on this till.")
    if shift.closed_at is not None:
        raise InvalidState("This shift is already closed.")
    totals = shift_totals(session, shift_id=shift_id)
    expected = expected_cash(shift=shift, totals=totals)
    shift.closed_at = utcnow()
    shift.counted_cash = round_money(counted_cash)
    shift.expected_cash = round_money(expected)
    shift.variance = shift.counted_cash - shift.expected_cash
    shift.totals = {k: str(v) for k, v in totals.items()}
    payload = ShiftClosed(
        shift_id=shift.id,
        branch_id=_branch_of(state),
        cashier_id=shift.cashier_id,
        counted_cash=shift.counted_cash,
        expected_cash=shift.expected_cash,
        variance=shift.variance,
        totals=totals,
        closed_at=shift.closed_at,
    )
    _emit(session, state=state, payload=payload, document_id=shift.id)
    session.flush()
    return shift


def record_cash_movement(
    session: Session,
    *,
    shift_id: str | None,
    direction: str,
    amount: Decimal,
    reason: str = "",
    cashier_id: int | None = None,
) -> CashMovement:
    """Record cash put into or taken out of the drawer."""
    state = _enrolled(session)
    if direction not in ("in", "out"):
        raise ValidationFailed("Cash moves 'in' or 'out'.")
    way: Literal["in", "out"] = "in" if direction == "in" else "out"
    movement = CashMovement(
        id=new_id(),
        shift_id=shift_id,
        direction=direction,
        amount=round_money(amount),
        reason=reason,
        cashier_id=cashier_id,
        created_at=utcnow(),
    )
    session.add(movement)
    payload = CashMovementPayload(
        movement_id=movement.id,
        branch_id=_branch_of(state),
        shift_id=shift_id,
        direction=way,
        amount=movement.amount,
        reason=reason,
        cashier_id=cashier_id,
    )
    _emit(session, state=state, payload=payload, document_id=movement.id)
    session.flush()
    return movement


def create_customer_offline(
    session: Session, *, name: str, phone: str = "", email: str | None = None
) -> Customer:
    """Create a customer on the till; the server gives it its identity on the next push."""
    state = _enrolled(session)
    customer = Customer(local_id=new_id(), name=name, phone=phone, email=email)
    session.add(customer)
    payload = CustomerCreated(local_id=customer.local_id, name=name, phone=phone, email=email)
    _emit(session, state=state, payload=payload, document_id=customer.local_id)
    session.flush()
    return customer


def record_payment_on_account(
    session: Session,
    *,
    customer_local_id: str,
    amount: Decimal,
    method: PaymentMethod = PaymentMethod.CASH,
    shift_id: str | None = None,
    reference: str | None = None,
) -> Event:
    """Take a payment against a customer's account."""
    state = _enrolled(session)
    customer = _customer_of(session, server_id=None, local_id=customer_local_id)
    amount = round_money(amount)
    payload = PaymentOnAccount(
        payment_id=new_id(),
        customer_id=customer.server_id,
        customer_local_id=customer.local_id if customer.server_id is None else None,
        branch_id=_branch_of(state),
        shift_id=shift_id,
        method=method,
        amount=amount,
        reference=reference,
    )
    customer.balance = customer.balance - amount
    envelope = _emit(session, state=state, payload=payload, document_id=payload.payment_id)
    session.flush()
    return envelope
