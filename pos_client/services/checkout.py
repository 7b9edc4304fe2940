"""Complete a sale: one local transaction through the store, then a receipt to print."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.codes import Tender, Unit
from common.errors import CreditLimitExceeded, InvalidState, NotFound, ValidationFailed
from common.giftcards import masked
from common.ids import new_id
from common.money import ZERO, format_money
from common.sync import protocol
from pos_client.config import ShopInfo
from pos_client.printing.receipt import Receipt, ReceiptLine, ReceiptPayment
from pos_client.services import tax_invoice
from pos_client.services.login import Cashier
from pos_client.services.pricing import count_coupon_uses
from pos_client.services.queries import customer_credit
from pos_client.services.shop_profile import sale_profile, shop_profile
from pos_client.services.till import Cart, Payment, check_payments
from pos_client.store import documents
from pos_client.store.models import Customer, Product, Sale, SaleLine, SalePayment, Staff

TENDER_NAMES = {
    Tender.CASH: "Cash",
    Tender.CARD: "Card",
    Tender.ACCOUNT: "On account",
    Tender.VOUCHER: "Voucher",
    Tender.GIFT_CARD: "Gift card",
    Tender.UPI: "UPI",
    Tender.LOYALTY: "Points",
}


@dataclass(frozen=True)
class CompletedSale:
    """A sale as recorded, ready for the receipt and the screen."""

    sale_id: str
    receipt_number: str
    event_id: str
    total: Decimal
    change_due: Decimal
    receipt: Receipt


def sale_event(
    *,
    cart: Cart,
    payments: list[Payment],
    receipt_number: str,
    branch_id: int,
    shift_id: str | None,
    cashier: Cashier,
    completed_at: datetime,
    taxed: tax_invoice.SaleTax | None = None,
) -> protocol.SaleCompleted:
    """Describe the cart as the SaleCompleted fact the server will receive.

    With `taxed` (the cart taxed for its place of supply) the event is built once, taxed.
    The models are constructed, not validated: every value is the till's own (the cart's
    Decimals, the replica's names, ids made here), and validating a sale on the cashier's
    critical path cost more than writing it. tests/client/test_sale_fast_path.py proves
    the envelope is byte for byte what the validated models make.
    """
    totals = cart.totals()
    change = check_payments(total=totals.total, payments=payments, currency=cart.currency)
    customer = cart.customer
    line_taxes = taxed.lines if taxed is not None else (None,) * len(cart.lines)
    build = protocol.SaleLine.model_construct
    return protocol.SaleCompleted.model_construct(
        sale_id=cart.sale_id,
        receipt_number=receipt_number,
        branch_id=branch_id,
        shift_id=shift_id,
        cashier_id=cashier.user_id,
        customer_id=customer.customer_id if customer else None,
        customer_local_id=customer.local_id if customer and not customer.customer_id else None,
        lines=[
            build(
                line_id=line.line_id,
                product_id=line.item.product_id,
                sku=line.item.sku,
                name=line.item.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                # The order discount's share is part of the line's discount, so line totals
                # add up to the sale total and a refund of a line gives back what was paid.
                discount=line.discount + line.order_discount_share,
                tax_rate=line.item.tax_rate,
                tax=line.tax if line_tax is None else line_tax.tax,
                lot=line.attributes.get("lot"),
                total=line.net,
                tax_detail=None if line_tax is None else line_tax.to_wire(),
                hsn="" if line_tax is None else line.item.hsn,
            )
            for line, line_tax in zip(cart.lines, line_taxes, strict=True)
        ],
        payments=[
            # Cash is recorded as handed over, with the change beside it on the sale, so the
            # drawer's expected cash is payments minus change.
            protocol.SalePayment.model_construct(
                payment_id=new_id(),
                method=protocol.PaymentMethod(p.tender),
                amount=p.tendered if p.tendered is not None else p.amount,
                reference=p.reference,
            )
            for p in payments
        ],
        subtotal=totals.subtotal,
        discount_total=totals.discount_total,
        tax_total=totals.tax if taxed is None else sum((t.tax for t in taxed.lines), ZERO),
        total=totals.total,
        change_due=change,
        overrides=[
            protocol.Override.model_construct(
                kind=o.action,
                manager_id=o.manager_id,
                detail=f"{o.detail} (approved by {o.manager_name})",
            )
            for o in cart.overrides
        ],
        completed_at=completed_at,
        coupon_codes=list(cart.used_coupons()),
        buyer_gstin="" if taxed is None else taxed.buyer_gstin,
        buyer_state="" if taxed is None else taxed.buyer_state,
    )


def printed_unit(unit: str | None) -> str:
    """Return the unit printed after a quantity: "kg" for weighed goods, nothing for pieces."""
    return "" if unit in (None, Unit.PIECE.value) else str(unit)


def product_units(session: Session, product_ids: Iterable[int]) -> dict[int, str]:
    """Return the unit each product is sold in, from the till's catalog."""
    wanted = set(product_ids)
    if not wanted:
        return {}
    rows = session.execute(select(Product.id, Product.unit).where(Product.id.in_(wanted)))
    return {product_id: unit for product_id, unit in rows}


def build_receipt(
    event: protocol.SaleCompleted,
    *,
    shop: ShopInfo,
    cashier: str,
    customer: str | None,
    payments: list[Payment],
    units: Mapping[int, str],
    is_copy: bool = False,
    savings: tuple[tuple[str, Decimal], ...] = (),
) -> Receipt:
    """Lay the recorded sale out as the receipt the customer takes home."""
    return Receipt(
        shop_name=shop.shop_name,
        branch_name=shop.branch_name,
        address_lines=shop.address_lines,
        receipt_number=event.receipt_number,
        issued_at=(event.completed_at or datetime.now(UTC)).astimezone(),
        cashier=cashier,
        lines=tuple(
            ReceiptLine(
                name=line.name,
                quantity=line.quantity,
                unit=printed_unit(units.get(line.product_id)),
                unit_price=line.unit_price,
                discount=line.discount,
                total=line.total,
            )
            for line in event.lines
        ),
        subtotal=event.subtotal,
        discount_total=event.discount_total,
        tax_total=event.tax_total,
        total=event.total,
        payments=tuple(
            ReceiptPayment(
                method=TENDER_NAMES[p.tender],
                amount=p.tendered if p.tendered is not None else p.amount,
                # A card number is money to whoever reads it: print its last digits only.
                reference=masked(p.reference)
                if p.tender == Tender.GIFT_CARD and p.reference
                else p.reference,
            )
            for p in payments
        ),
        change_due=event.change_due,
        customer=customer,
        footer=shop.footer,
        currency=shop.currency,
        is_copy=is_copy,
        savings=savings,
    )


def complete_sale(
    session: Session,
    *,
    cart: Cart,
    payments: list[Payment],
    cashier: Cashier,
    shift_id: str | None,
    shop: ShopInfo,
) -> CompletedSale:
    """Record the sale, its payments, outbox event and stock change in the caller's transaction.

    The sale's critical path (DESIGN: a durable sale within 3× a bare SQLite transaction):
    the till's identity and receipt number come from one statement, the event is built and
    validated once, already taxed, and the receipt is decorated from what was just written.
    """
    if cart.is_empty:
        raise ValidationFailed("The cart is empty")
    if shift_id is None:
        raise InvalidState("Open a shift before selling")
    # Any error below ends the caller's transaction, and the receipt number with it.
    till = documents.claim_receipt(session)
    shop, branch = sale_profile(session, fallback=shop, branch_id=till.branch_id)
    on_account = sum((p.amount for p in payments if p.tender == Tender.ACCOUNT), ZERO)
    if on_account:
        # The cart's copy may be minutes old: check the limit against the balance as stored.
        fresh = customer_credit(session, cart.customer.local_id) if cart.customer else None
        if fresh is None:
            raise ValidationFailed("Choose a customer before selling on account")
        if on_account > fresh.available:
            raise CreditLimitExceeded(
                f"{fresh.name} can buy only {format_money(fresh.available, shop.currency)} "
                "more on account",
                available=str(fresh.available),
            )
    event = sale_event(
        cart=cart,
        payments=payments,
        receipt_number=till.receipt_number,
        branch_id=till.branch_id,
        shift_id=shift_id,
        cashier=cashier,
        completed_at=datetime.now(UTC),
        taxed=tax_invoice.tax_cart(cart, seller_state=str(branch.get("state_code") or "")),
    )
    envelope = documents.record_sale(session, event, till=till)
    document = tax_invoice.record_sale_tax(
        session,
        event=event,
        buyer_name=cart.customer.name if cart.customer else "",
        seller_state=shop.state_code,
    )
    count_coupon_uses(session, event.coupon_codes)
    receipt = build_receipt(
        event,
        shop=shop,
        cashier=cashier.display_name,
        customer=cart.customer.name if cart.customer else None,
        payments=payments,
        # The unit comes from the product, never from whether the weight happens to be whole.
        units={line.item.product_id: line.item.unit.value for line in cart.lines},
        savings=tuple(cart.savings()),
    )
    receipt = tax_invoice.decorate_with(
        receipt,
        document=document,
        rows={
            line.line_id: (line.hsn, line.tax_detail)
            for line in event.lines
            if line.tax_detail is not None
        },
        line_ids=[x.line_id for x in event.lines],
    )
    return CompletedSale(
        sale_id=event.sale_id,
        receipt_number=event.receipt_number,
        event_id=envelope.id,
        total=event.total,
        change_due=event.change_due,
        receipt=receipt,
    )


def receipt_copy(session: Session, *, receipt_number: str, shop: ShopInfo) -> Receipt:
    """Rebuild any sale's receipt from the store, marked as a copy."""
    sale = session.scalars(
        select(Sale).where(func.upper(Sale.receipt_number) == receipt_number.strip().upper())
    ).first()
    if sale is None:
        raise NotFound(f"No sale with receipt number {receipt_number.strip()} on this till")
    shop = shop_profile(session, fallback=shop)
    staff = session.get(Staff, sale.cashier_id) if sale.cashier_id is not None else None
    customer = None
    if sale.customer_local_id:
        customer = session.get(Customer, sale.customer_local_id)
    elif sale.customer_id is not None:
        customer = session.scalars(
            select(Customer).where(Customer.server_id == sale.customer_id)
        ).first()
    lines = session.scalars(select(SaleLine).where(SaleLine.sale_id == sale.id)).all()
    units = product_units(session, (line.product_id for line in lines))
    payments = session.scalars(select(SalePayment).where(SalePayment.sale_id == sale.id))
    receipt = Receipt(
        shop_name=shop.shop_name,
        branch_name=shop.branch_name,
        address_lines=shop.address_lines,
        receipt_number=sale.receipt_number,
        issued_at=sale.created_at.astimezone(),
        cashier=(staff.full_name or staff.username) if staff else "",
        lines=tuple(
            ReceiptLine(
                name=line.name,
                quantity=line.quantity,
                unit=printed_unit(units.get(line.product_id)),
                unit_price=line.unit_price,
                discount=line.discount,
                total=line.total,
            )
            for line in lines
        ),
        subtotal=sale.subtotal,
        discount_total=sale.discount_total,
        tax_total=sale.tax_total,
        total=sale.total,
        payments=tuple(
            ReceiptPayment(
                method=TENDER_NAMES[Tender(p.method)],
                amount=p.amount,
                reference=masked(p.reference)
                if p.method == Tender.GIFT_CARD and p.reference
                else p.reference,
            )
            for p in payments
        ),
        change_due=sale.change_due,
        customer=customer.name if customer else None,
        footer=shop.footer,
        currency=shop.currency,
        is_copy=True,
    )
    return tax_invoice.decorate(
        session, receipt, document_id=sale.id, line_ids=[line.id for line in lines]
    )
