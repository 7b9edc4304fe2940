"""Returns at the till: by receipt (some lines, refunded by the original tender) or without one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import NotFound, PermissionDenied, ValidationFailed
from common.ids import new_id
from common.money import ZERO, allocate, round_money
from common.roles import Permission
from common.sync import protocol
from common.units import format_quantity
from pos_client.printing.receipt import Receipt, ReceiptLine, ReceiptPayment
from pos_client.services.checkout import ShopInfo
from pos_client.services.login import Cashier
from pos_client.services.till import CatalogItem, Override
from pos_client.store import documents
from pos_client.store.models import Customer, Return, ReturnLine, Sale, SaleLine, SalePayment

METHOD_NAMES = {"cash": "Cash", "card": "Card", "account": "On account", "voucher": "Voucher"}


@dataclass(frozen=True)
class ReturnableLine:
    """A line of the original sale and how much of it may still come back."""

    line_id: str
    product_id: int
    sku: str
    name: str
    sold: Decimal
    returned: Decimal
    unit_price: Decimal
    total: Decimal

    @property
    def available(self) -> Decimal:
        """Return the quantity not yet returned."""
        return self.sold - self.returned

    def refund_for(self, quantity: Decimal) -> Decimal:
        """Return what was paid for quantity of this line (discounts included)."""
        return round_money(self.total * quantity / self.sold)


@dataclass(frozen=True)
class SaleForReturn:
    """An original sale as the returns dialog shows it."""

    sale_id: str
    receipt_number: str
    created_at: datetime
    total: Decimal
    customer_id: int | None
    customer_local_id: str | None
    lines: tuple[ReturnableLine, ...]
    # What each tender actually took (cash net of change), in the order paid.
    paid: tuple[tuple[str, Decimal, str | None], ...]


@dataclass(frozen=True)
class RecordedReturn:
    """A return as recorded, with its refunds and receipt."""

    return_id: str
    receipt_number: str
    total: Decimal
    refunds: tuple[protocol.Refund, ...]
    receipt: Receipt


def find_sale(session: Session, *, receipt_number: str) -> SaleForReturn:
    """Look up a sale of this till by its receipt number (typed or scanned)."""
    sale = session.scalars(
        select(Sale).where(func.upper(Sale.receipt_number) == receipt_number.strip().upper())
    ).first()
    if sale is None:
        raise NotFound(f"No sale with receipt number {receipt_number.strip()} on this till")
    if sale.status != "completed":
        raise ValidationFailed(f"Sale {sale.receipt_number} was voided; nothing to return")
    returned = dict(
        session.execute(
            select(ReturnLine.original_line_id, func.group_concat(ReturnLine.quantity, "|"))
            .join(Return, Return.id == ReturnLine.return_id)
            .where(Return.original_sale_id == sale.id)
            .group_by(ReturnLine.original_line_id)
        ).all()
    )
    lines = tuple(
        ReturnableLine(
            line_id=line.id,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            sold=line.quantity,
            # Quantities are summed as Decimals: SQLite's SUM would go through floats.
            returned=sum((Decimal(q) for q in (returned.get(line.id) or "").split("|") if q), ZERO),
            unit_price=line.unit_price,
            total=line.total,
        )
        for line in session.scalars(
            select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(SaleLine.id)
        )
    )
    payments = list(session.scalars(select(SalePayment).where(SalePayment.sale_id == sale.id)))
    paid = []
    change = sale.change_due
    for payment in payments:
        amount = payment.amount
        if payment.method == "cash" and change:
            amount, change = amount - change, ZERO
        paid.append((payment.method, amount, payment.reference))
    return SaleForReturn(
        sale_id=sale.id,
        receipt_number=sale.receipt_number,
        created_at=sale.created_at,
        total=sale.total,
        customer_id=sale.customer_id,
        customer_local_id=sale.customer_local_id,
        lines=lines,
        paid=tuple(paid),
    )


def split_refund(
    total: Decimal, paid: tuple[tuple[str, Decimal, str | None], ...]
) -> list[protocol.Refund]:
    """Refund by the original tenders, in proportion to what each one paid."""
    shares = allocate(total, [amount for _, amount, _ in paid])
    return [
        protocol.Refund(
            refund_id=new_id(),
            method=protocol.PaymentMethod(method),
            amount=share,
            reference=reference,
        )
        for (method, _, reference), share in zip(paid, shares, strict=True)
        if share
    ]


def _require(cashier: Cashier) -> None:
    if not cashier.can(Permission.POS_REFUND):
        raise PermissionDenied(f"{cashier.display_name} may not give refunds")


def return_with_receipt(
    session: Session,
    *,
    sale_id: str,
    quantities: dict[str, Decimal],
    cashier: Cashier,
    shift_id: str | None,
    reason: str,
    shop: ShopInfo,
) -> RecordedReturn:
    """Take back some lines of a sale and refund them by the tenders that paid for them."""
    _require(cashier)
    receipt_number = session.scalar(select(Sale.receipt_number).where(Sale.id == sale_id))
    if receipt_number is None:
        raise NotFound("That sale is not on this till")
    sale = find_sale(session, receipt_number=receipt_number)
    by_id = {line.line_id: line for line in sale.lines}
    lines: list[tuple[ReturnableLine, Decimal]] = []
    for line_id, quantity in quantities.items():
        if not quantity:
            continue
        line = by_id.get(line_id)
        if line is None:
            raise ValidationFailed("A returned line is not on that sale")
        if quantity < 0 or quantity > line.available:
            raise ValidationFailed(
                f"Only {format_quantity(line.available)} of {line.name} can still be returned"
            )
        lines.append((line, quantity))
    if not lines:
        raise ValidationFailed("Choose what comes back")
    total = sum((line.refund_for(q) for line, q in lines), ZERO)
    refunds = split_refund(total, sale.paid)
    event = protocol.ReturnRecorded(
        return_id=new_id(),
        original_sale_id=sale.sale_id,
        receipt_number=documents.next_receipt_number(session),
        branch_id=documents.get_state(session).branch_id or 0,
        shift_id=shift_id,
        cashier_id=cashier.user_id,
        customer_id=sale.customer_id,
        customer_local_id=sale.customer_local_id,
        lines=[
            protocol.ReturnLine(
                line_id=new_id(),
                original_line_id=line.line_id,
                product_id=line.product_id,
                quantity=q,
                amount=line.refund_for(q),
            )
            for line, q in lines
        ],
        refunds=refunds,
        total=total,
        reason=reason or f"Return of receipt {sale.receipt_number}",
    )
    documents.record_return(session, event)
    _credit_account(session, sale=sale, refunds=refunds)
    names = {line.product_id: (line.name, line.unit_price) for line, _ in lines}
    return RecordedReturn(
        return_id=event.return_id,
        receipt_number=event.receipt_number,
        total=total,
        refunds=tuple(refunds),
        receipt=_receipt(event, shop=shop, cashier=cashier, names=names),
    )


def return_without_receipt(
    session: Session,
    *,
    items: list[tuple[CatalogItem, Decimal]],
    cashier: Cashier,
    shift_id: str | None,
    override: Override | None,
    reason: str,
    shop: ShopInfo,
) -> RecordedReturn:
    """Take goods back with no receipt: a manager approves, refunded in cash at today's price."""
    _require(cashier)
    if override is None:
        raise PermissionDenied("A return without a receipt needs a manager")
    if not items:
        raise ValidationFailed("Scan or choose what comes back")
    amounts = [(item, q, round_money(item.price * q)) for item, q in items]
    total = sum((amount for _, _, amount in amounts), ZERO)
    refunds = [
        protocol.Refund(refund_id=new_id(), method=protocol.PaymentMethod.CASH, amount=total)
    ]
    approval = f"no receipt, approved by {override.manager_name} (#{override.manager_id})"
    event = protocol.ReturnRecorded(
        return_id=new_id(),
        receipt_number=documents.next_receipt_number(session),
        branch_id=documents.get_state(session).branch_id or 0,
        shift_id=shift_id,
        cashier_id=cashier.user_id,
        lines=[
            protocol.ReturnLine(
                line_id=new_id(), product_id=item.product_id, quantity=q, amount=amount
            )
            for item, q, amount in amounts
        ],
        refunds=refunds,
        total=total,
        reason=f"{reason.strip() or 'Return'}; {approval}"[:200],
    )
    documents.record_return(session, event)
    names = {item.product_id: (item.name, item.price) for item, _, _ in amounts}
    return RecordedReturn(
        return_id=event.return_id,
        receipt_number=event.receipt_number,
        total=total,
        refunds=tuple(refunds),
        receipt=_receipt(event, shop=shop, cashier=cashier, names=names),
    )


def _credit_account(
    session: Session, *, sale: SaleForReturn, refunds: list[protocol.Refund]
) -> None:
    """Give back on the customer's account what was bought on it (the till's cached copy)."""
    on_account = sum(
        (r.amount for r in refunds if r.method == protocol.PaymentMethod.ACCOUNT), ZERO
    )
    if not on_account:
        return
    customer = None
    if sale.customer_local_id:
        customer = session.get(Customer, sale.customer_local_id)
    elif sale.customer_id is not None:
        customer = session.scalars(
            select(Customer).where(Customer.server_id == sale.customer_id)
        ).first()
    if customer is not None:
        customer.balance = customer.balance - on_account


def _receipt(
    event: protocol.ReturnRecorded,
    *,
    shop: ShopInfo,
    cashier: Cashier,
    names: dict[int, tuple[str, Decimal]],
) -> Receipt:
    return Receipt(
        shop_name=shop.shop_name,
        branch_name=shop.branch_name,
        address_lines=shop.address_lines,
        receipt_number=event.receipt_number,
        issued_at=datetime.now(UTC).astimezone(),
        cashier=cashier.display_name,
        lines=tuple(
            ReceiptLine(
                name=names[line.product_id][0],
                quantity=line.quantity,
                unit="",
                unit_price=names[line.product_id][1],
                discount=names[line.product_id][1] * line.quantity - line.amount,
                total=line.amount,
            )
            for line in event.lines
        ),
        subtotal=event.total,
        discount_total=ZERO,
        tax_total=ZERO,
        total=event.total,
        payments=tuple(
            ReceiptPayment(
                method=METHOD_NAMES[str(r.method)], amount=r.amount, reference=r.reference
            )
            for r in event.refunds
        ),
        change_due=ZERO,
        customer=None,
        footer=shop.footer,
        currency=shop.currency,
        is_refund=True,
    )
