"""Returns at the till: by receipt (some lines, refunded by the original tender) or without one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from common.errors import NotFound, PermissionDenied, ValidationFailed
from common.ids import new_id
from common.money import (
    DEFAULT_CURRENCY,
    ZERO,
    allocate,
    round_cash,
    round_money,
    tax_included,
)
from common.roles import Permission
from common.sync import protocol
from common.units import format_quantity
from pos_client.config import ShopInfo
from pos_client.printing.receipt import Receipt, ReceiptLine, ReceiptPayment
from pos_client.services import tax_invoice
from pos_client.services.checkout import printed_unit, product_units
from pos_client.services.login import Cashier
from pos_client.services.shop_profile import shop_profile
from pos_client.services.till import CatalogItem, Override
from pos_client.store import documents
from pos_client.store.models import Customer, Return, ReturnLine, Sale, SaleLine, SalePayment

METHOD_NAMES = {
    "cash": "Cash",
    "card": "Card",
    "account": "On account",
    "voucher": "Voucher",
    "gift_card": "Gift card",
    "upi": "UPI",
    "loyalty": "Points",
}


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
    tax: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        """Return the quantity not yet returned."""
        return self.sold - self.returned

    def refund_for(self, quantity: Decimal) -> Decimal:
        """Return what was paid for quantity of this line (discounts included)."""
        return round_money(self.total * quantity / self.sold)

    def tax_for(self, quantity: Decimal) -> Decimal:
        """Return the tax contained in the refund for quantity of this line."""
        return round_money(self.tax * quantity / self.sold)


@dataclass(frozen=True)
class RecentSale:
    """One row of the returns dialog's list of sales to choose from."""

    sale_id: str
    receipt_number: str
    created_at: datetime
    total: Decimal
    customer: str
    items: int


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
    returned: dict[str, str] = dict(
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
            tax=line.tax,
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


def recent_sales(
    session: Session, *, text: str = "", now: datetime | None = None, limit: int = 50
) -> list[RecentSale]:
    """List completed sales to return from: today's, or any of the last 90 days matching text.

    Text matches part of a receipt number, part of the customer's name, or the exact total.
    """
    now = now or datetime.now(UTC)
    local = now.astimezone()
    text = text.strip()
    if text:
        since = now - timedelta(days=90)
    else:
        since = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    items = (
        select(func.count(SaleLine.id))
        .where(SaleLine.sale_id == Sale.id)
        .correlate(Sale)
        .scalar_subquery()
    )
    stmt = (
        select(Sale, Customer.name, items)
        .outerjoin(
            Customer,
            or_(
                Customer.local_id == Sale.customer_local_id,
                Customer.server_id == Sale.customer_id,
            ),
        )
        .where(Sale.status == "completed", Sale.created_at >= since)
        .order_by(Sale.created_at.desc())
    )
    if text:
        matches = [
            func.upper(Sale.receipt_number).contains(text.upper(), autoescape=True),
            func.upper(Customer.name).contains(text.upper(), autoescape=True),
        ]
        try:
            amount = Decimal(text.replace(",", "").replace("₹", ""))
        except InvalidOperation:
            amount = None
        if amount is not None and amount.is_finite():
            matches.append(Sale.total == round_money(amount))
        stmt = stmt.where(or_(*matches))
    return [
        RecentSale(
            sale_id=sale.id,
            receipt_number=sale.receipt_number,
            created_at=sale.created_at,
            total=sale.total,
            customer=name or "",
            items=count or 0,
        )
        for sale, name, count in session.execute(stmt.limit(limit))
    ]


def refundable_tenders(sale: SaleForReturn) -> dict[str, Decimal]:
    """Return what each original tender other than cash took: the most it can get back."""
    taken: dict[str, Decimal] = {}
    for method, amount, _ in sale.paid:
        if method != "cash":
            taken[method] = taken.get(method, ZERO) + amount
    return taken


def split_refund(
    total: Decimal,
    paid: tuple[tuple[str, Decimal, str | None], ...],
    *,
    currency: str = DEFAULT_CURRENCY,
) -> list[protocol.Refund]:
    """Refund by the original tenders in proportion; cash goes out in whole cash units.

    What cash rounding leaves over goes to another tender when there is one, so the refund
    still adds up to the total.
    """
    shares = allocate(total, [amount for _, amount, _ in paid])
    others = [i for i, (method, _, _) in enumerate(paid) if method != "cash" and shares[i]]
    for i, (method, _, _) in enumerate(paid):
        if method == "cash" and shares[i]:
            rounded = round_cash(shares[i], currency)
            if others:
                target = max(others, key=lambda j: shares[j])
                if shares[target] + shares[i] - rounded >= 0:
                    shares[target] += shares[i] - rounded
                    shares[i] = rounded
            else:
                shares[i] = rounded
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


def chosen_refund(
    total: Decimal,
    sale: SaleForReturn,
    *,
    non_cash: dict[str, Decimal],
    currency: str = DEFAULT_CURRENCY,
) -> list[protocol.Refund]:
    """Refund what the cashier chose on the original non-cash tenders; the rest in cash."""
    limits = refundable_tenders(sale)
    references = {method: reference for method, _, reference in sale.paid}
    refunds = []
    for method, amount in non_cash.items():
        amount = round_money(amount)
        if not amount:
            continue
        if method not in limits:
            raise ValidationFailed(
                f"{METHOD_NAMES.get(method, method)} did not pay for this sale; refund in cash"
            )
        if amount < 0 or amount > limits[method]:
            raise ValidationFailed(
                f"At most {limits[method]} can go back to {METHOD_NAMES.get(method, method)}"
            )
        refunds.append(
            protocol.Refund(
                refund_id=new_id(),
                method=protocol.PaymentMethod(method),
                amount=amount,
                reference=references.get(method),
            )
        )
    rest = total - sum((r.amount for r in refunds), ZERO)
    if rest < 0:
        raise ValidationFailed(f"The refund is only {total}; take some off the other tenders")
    cash = round_cash(rest, currency)
    if cash:
        refunds.append(
            protocol.Refund(refund_id=new_id(), method=protocol.PaymentMethod.CASH, amount=cash)
        )
    return refunds


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
    non_cash: dict[str, Decimal] | None = None,
    store_credit: str | None = None,
) -> RecordedReturn:
    """Take back some lines of a sale and refund them.

    With non_cash (method -> amount) the cashier chose how much goes back to each original
    card/account tender and the rest is paid in cash; without it the original tenders share
    the refund in proportion. With store_credit (a card number) all of it goes on that card.
    """
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
    if store_credit is not None:
        refunds = [
            protocol.Refund(
                refund_id=new_id(),
                method=protocol.PaymentMethod.GIFT_CARD,
                amount=total,
                reference=store_credit,
            )
        ]
    elif non_cash is None:
        refunds = split_refund(total, sale.paid, currency=shop.currency)
    else:
        refunds = chosen_refund(total, sale, non_cash=non_cash, currency=shop.currency)
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
    event = tax_invoice.credit_return(session, event=event)
    documents.record_return(session, event)
    tax_invoice.record_return_tax(session, event=event, original_sale_id=sale.sale_id)
    _credit_account(session, sale=sale, refunds=refunds)
    names = {line.product_id: (line.name, line.unit_price) for line, _ in lines}
    tax = sum((line.tax_for(q) for line, q in lines), ZERO)
    receipt = _receipt(
        event,
        shop=shop_profile(session, fallback=shop),
        cashier=cashier,
        names=names,
        tax=tax_invoice.credited_tax(event) or tax,
        units=product_units(session, (line.product_id for line in event.lines)),
    )
    return RecordedReturn(
        return_id=event.return_id,
        receipt_number=event.receipt_number,
        total=total,
        refunds=tuple(refunds),
        receipt=tax_invoice.decorate(
            session,
            receipt,
            document_id=event.return_id,
            line_ids=[line.line_id for line in event.lines],
            original_receipt=sale.receipt_number,
        ),
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
    tax = sum((tax_included(amount, item.tax_rate) for item, _, amount in amounts), ZERO)
    refunds = [
        protocol.Refund(
            refund_id=new_id(),
            method=protocol.PaymentMethod.CASH,
            amount=round_cash(total, shop.currency),
        )
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
        receipt=_receipt(
            event,
            shop=shop_profile(session, fallback=shop),
            cashier=cashier,
            names=names,
            tax=tax,
            units=product_units(session, (line.product_id for line in event.lines)),
        ),
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
    tax: Decimal,
    units: dict[int, str],
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
                unit=printed_unit(units.get(line.product_id)),
                unit_price=names[line.product_id][1],
                discount=names[line.product_id][1] * line.quantity - line.amount,
                total=line.amount,
            )
            for line in event.lines
        ),
        subtotal=event.total,
        discount_total=ZERO,
        tax_total=tax,
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
