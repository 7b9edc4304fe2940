"""Tax invoices and credit notes at the till: place of supply, per-line components, printing.

A sale is taxed line by line with common.tax (the server's code) for its place of supply: a
walk-in sale or a buyer in the branch's state pays CGST + SGST, a business buyer whose GSTIN
is of another state pays IGST. A return credits the original line's own figures, so a full
return nets the invoice to exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import tax
from common.money import ZERO, format_money
from common.words import amount_in_words
from pos_client.printing.receipt import Receipt
from pos_client.services.shop_profile import branch_profile
from pos_client.services.till import Cart
from pos_client.store.models import (
    LineTaxRow,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    TaxDocument,
)
from pos_client.store.plain_sql import PreparedWrite

if TYPE_CHECKING:  # the sync protocol loads pydantic: not at the till's start-up
    from common.sync import protocol

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"


def buyer_gstin(cart: Cart) -> str:
    """Return the cart customer's GSTIN when it is a valid one, else ''."""
    number = (cart.customer.tax_number if cart.customer else "").strip().upper()
    return number if number and tax.gstin_problem(number) is None else ""


@dataclass(frozen=True)
class SaleTax:
    """A cart taxed for its place of supply: one LineTax per cart line, and the buyer."""

    lines: tuple[tax.LineTax, ...]
    buyer_gstin: str
    buyer_state: str


def tax_cart(cart: Cart, *, seller_state: str) -> SaleTax:
    """Tax each cart line for the sale's place of supply (the buyer's GSTIN says where)."""
    gstin = buyer_gstin(cart)
    buyer_state = tax.state_of_gstin(gstin)
    supply = tax.supply_kind(seller_state=seller_state, buyer_state=buyer_state)
    return SaleTax(
        lines=tuple(
            tax.tax_inclusive(
                line.net, components=line.item.tax_components(supply), currency=cart.currency
            )
            for line in cart.lines
        ),
        buyer_gstin=gstin,
        buyer_state=buyer_state,
    )


def tax_sale(
    session: Session, *, event: protocol.SaleCompleted, cart: Cart
) -> protocol.SaleCompleted:
    """Return the sale event with each line taxed for the sale's place of supply."""
    taxed = tax_cart(cart, seller_state=str(branch_profile(session).get("state_code") or ""))
    lines = [
        wire.model_copy(
            update={"tax": line_tax.tax, "tax_detail": line_tax.to_wire(), "hsn": line.item.hsn}
        )
        for wire, line, line_tax in zip(event.lines, cart.lines, taxed.lines, strict=True)
    ]
    return event.model_copy(
        update={
            "lines": lines,
            "tax_total": sum((line.tax for line in lines), ZERO),
            "buyer_gstin": taxed.buyer_gstin,
            "buyer_state": taxed.buyer_state,
        }
    )


# A sale's tax rows are on its critical path: plain SQL, values bound by column type.
_DOCUMENT_INSERT = PreparedWrite(
    TaxDocument.__table__,
    columns=(
        "document_id",
        "kind",
        "supply",
        "seller_state",
        "buyer_name",
        "buyer_gstin",
        "buyer_state",
        "original_document_id",
    ),
)
_LINE_TAX_INSERT = PreparedWrite(
    LineTaxRow.__table__, columns=("line_id", "document_id", "hsn", "detail")
)


def record_sale_tax(
    session: Session, *, event: protocol.SaleCompleted, buyer_name: str, seller_state: str
) -> TaxDocument:
    """Keep the sale's tax document and line taxes beside it in the till's store.

    Return the document as written (not added to the session) for the receipt.
    """
    document = TaxDocument(
        document_id=event.sale_id,
        kind=INVOICE,
        supply=tax.supply_kind(seller_state=seller_state, buyer_state=event.buyer_state),
        seller_state=seller_state,
        buyer_name=buyer_name if event.buyer_gstin else "",
        buyer_gstin=event.buyer_gstin,
        buyer_state=event.buyer_state,
        original_document_id=None,
    )
    connection = session.connection()
    _DOCUMENT_INSERT.run(connection, [{c: getattr(document, c) for c in _DOCUMENT_INSERT.columns}])
    _LINE_TAX_INSERT.run(
        connection,
        [
            {
                "line_id": line.line_id,
                "document_id": event.sale_id,
                "hsn": line.hsn,
                "detail": line.tax_detail,
            }
            for line in event.lines
            if line.tax_detail is not None
        ],
    )
    return document


def credit_for(
    session: Session, *, original_line_id: str | None, returned: Decimal
) -> tax.LineTax | None:
    """Return the credit of returning `returned` of a sold line (None: no tax detail kept)."""
    if original_line_id is None:
        return None
    kept = session.get(LineTaxRow, original_line_id)
    line = session.get(SaleLine, original_line_id)
    if kept is None or line is None:
        return None
    original = tax.LineTax.from_wire(kept.detail)
    before_qty, before = _credited(session, original_line_id=original_line_id, original=original)
    return tax.credit_line(
        original,
        sold=line.quantity,
        returned=min(returned, line.quantity - before_qty),
        returned_before=before_qty,
        credited_before=before,
    )


def _credited(
    session: Session, *, original_line_id: str, original: tax.LineTax
) -> tuple[Decimal, tax.LineTax]:
    quantity = ZERO
    taxable = ZERO
    amounts = {c.code: ZERO for c in original.components}
    rows = session.execute(
        select(ReturnLine.quantity, LineTaxRow.detail)
        .join(LineTaxRow, LineTaxRow.line_id == ReturnLine.id)
        .where(ReturnLine.original_line_id == original_line_id)
    )
    for returned, detail in rows:
        quantity += returned
        credit = tax.LineTax.from_wire(detail)
        taxable += credit.taxable
        for c in credit.components:
            amounts[c.code] = amounts.get(c.code, ZERO) + c.amount
    return quantity, tax.LineTax(
        taxable=taxable,
        components=tuple(
            tax.ComponentAmount(c.code, c.rate, amounts[c.code]) for c in original.components
        ),
    )


def credit_return(session: Session, *, event: protocol.ReturnRecorded) -> protocol.ReturnRecorded:
    """Return the return event with each line's credit of the original line's tax."""
    lines = []
    for line in event.lines:
        credit = credit_for(session, original_line_id=line.original_line_id, returned=line.quantity)
        if credit is not None and -credit.total != line.amount:
            # The money refunded is the truth; a paisa of rounding sits in the taxable value.
            credit = tax.LineTax(taxable=-line.amount - credit.tax, components=credit.components)
        lines.append(line.model_copy(update={"tax_detail": credit.to_wire() if credit else None}))
    return event.model_copy(update={"lines": lines})


def credited_tax(event: protocol.ReturnRecorded) -> Decimal | None:
    """Return the tax a return gives back (None when no line carries tax detail)."""
    credits = [tax.LineTax.from_wire(x.tax_detail) for x in event.lines if x.tax_detail]
    return -sum((c.tax for c in credits), ZERO) if credits else None


def record_return_tax(
    session: Session, *, event: protocol.ReturnRecorded, original_sale_id: str | None
) -> None:
    """Keep a return's credit note and its line credits in the till's store."""
    invoice = session.get(TaxDocument, original_sale_id) if original_sale_id else None
    session.add(
        TaxDocument(
            document_id=event.return_id,
            kind=CREDIT_NOTE,
            supply=invoice.supply if invoice else tax.Supply.INTRA.value,
            seller_state=invoice.seller_state if invoice else "",
            buyer_name=invoice.buyer_name if invoice else "",
            buyer_gstin=invoice.buyer_gstin if invoice else "",
            buyer_state=invoice.buyer_state if invoice else "",
            original_document_id=original_sale_id,
        )
    )
    for line in event.lines:
        if line.tax_detail is not None:
            session.add(
                LineTaxRow(
                    line_id=line.line_id,
                    document_id=event.return_id,
                    hsn="",
                    detail=line.tax_detail,
                )
            )


def _label(code: str, rate: Decimal) -> str:
    return f"{code} {rate.normalize():f}%"


def decorate(
    session: Session,
    receipt: Receipt,
    *,
    document_id: str,
    line_ids: list[str],
    original_receipt: str = "",
) -> Receipt:
    """Return the receipt as a tax invoice or credit note: title, buyer, per-line tax, totals."""
    document = session.get(TaxDocument, document_id)
    rows = {
        row.line_id: (row.hsn, row.detail)
        for row in session.scalars(select(LineTaxRow).where(LineTaxRow.document_id == document_id))
    }
    return decorate_with(
        receipt,
        document=document,
        rows=rows,
        line_ids=line_ids,
        original_receipt=original_receipt,
    )


def decorate_with(
    receipt: Receipt,
    *,
    document: TaxDocument | None,
    rows: dict[str, tuple[str, dict[str, Any]]],
    line_ids: list[str],
    original_receipt: str = "",
) -> Receipt:
    """Decorate a receipt from its tax document and line taxes ({line id: (hsn, detail)})."""
    if not rows:
        return receipt
    taxes = [tax.LineTax.from_wire(rows[i][1]) for i in line_ids if i in rows]
    totals = tax.document_totals(taxes, currency=receipt.currency)
    tax_rows = tuple(
        (f"{_label(r.code, r.rate)} on {_money(abs(r.taxable), receipt.currency)}", r.amount)
        for r in totals.breakdown
        if r.code != "TAX" or len(totals.breakdown) > 1
    )
    credit = document is not None and document.kind == CREDIT_NOTE
    b2b = document is not None and bool(document.buyer_gstin)
    if not (b2b or credit):
        # A B2C receipt: the tax by rate is enough.
        return replace(receipt, tax_rows=tax_rows)
    lines = []
    for line_id, printed in zip(line_ids, receipt.lines, strict=True):
        row = rows.get(line_id)
        if row is None:
            lines.append(printed)
            continue
        hsn, detail = row
        taxed = tax.LineTax.from_wire(detail)
        parts = [f"HSN {hsn}"] if hsn else []
        parts.append(f"Taxable {_money(taxed.taxable, receipt.currency)}")
        parts += [
            f"{_label(c.code, c.rate)} {_money(c.amount, receipt.currency)}"
            for c in taxed.components
        ]
        lines.append(replace(printed, notes=("  ".join(parts),)))
    buyer: list[str] = []
    if document is not None and document.buyer_gstin:
        state = tax.STATE_CODES.get(document.buyer_state, "")
        buyer += [
            f"Buyer: {document.buyer_name}" if document.buyer_name else "Buyer",
            f"Buyer GSTIN {document.buyer_gstin}",
            f"Place of supply {document.buyer_state}-{state}",
        ]
    if credit and original_receipt:
        buyer.append(f"Against invoice {original_receipt}")
    buyer.append(f"Taxable value {_money(totals.taxable, receipt.currency)}")
    return replace(
        receipt,
        title="CREDIT NOTE" if credit else "TAX INVOICE",
        buyer_lines=tuple(buyer),
        lines=tuple(lines),
        tax_rows=tax_rows,
        amount_words=amount_in_words(receipt.total, receipt.currency),
    )


def shift_breakdown(session: Session, *, shift_id: str) -> tuple[tuple[str, Decimal], ...]:
    """Return a shift's tax by component and rate, sales less returns: ("CGST 9%", amount)."""
    details = list(
        session.scalars(
            select(LineTaxRow.detail)
            .join(Sale, Sale.id == LineTaxRow.document_id)
            .where(Sale.shift_id == shift_id, Sale.status == "completed")
        )
    ) + list(
        session.scalars(
            select(LineTaxRow.detail)
            .join(Return, Return.id == LineTaxRow.document_id)
            .where(Return.shift_id == shift_id)
        )
    )
    rows = tax.breakdown(tax.LineTax.from_wire(d) for d in details)
    return tuple((_label(r.code, r.rate), r.amount) for r in rows)


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency, symbol=False)


__all__ = [
    "CREDIT_NOTE",
    "INVOICE",
    "SaleTax",
    "buyer_gstin",
    "credit_for",
    "credit_return",
    "credited_tax",
    "decorate",
    "decorate_with",
    "record_return_tax",
    "record_sale_tax",
    "tax_cart",
    "tax_sale",
]
