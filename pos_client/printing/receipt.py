"""Describe a receipt with plain values and lay it out as monospace text for any printer."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from common.money import format_money

__all__ = [
    "MIN_WIDTH",
    "PrintLine",
    "Receipt",
    "ReceiptLine",
    "ReceiptPayment",
    "layout",
    "layout_report",
    "render_text",
]

# Below this a quantity line and its amount no longer fit side by side in any useful way.
MIN_WIDTH = 24


def _require_decimal(owner: object, *names: str) -> None:
    """Refuse money or quantities that are not finite Decimals (floats are never exact)."""
    for name in names:
        value = getattr(owner, name)
        if not isinstance(value, Decimal):
            raise TypeError(
                f"{type(owner).__name__}.{name} must be a Decimal, got {type(value).__name__}"
            )
        if not value.is_finite():
            raise ValueError(f"{type(owner).__name__}.{name} must be finite, got {value}")


@dataclass(frozen=True)
class ReceiptLine:
    """One item as printed; discount is the positive amount taken off, total is after it."""

    name: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount: Decimal
    total: Decimal
    # Printed under the item on a tax invoice or credit note: HSN, taxable value, components.
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_decimal(self, "quantity", "unit_price", "discount", "total")


@dataclass(frozen=True)
class ReceiptPayment:
    """One tender as printed: method name, amount and an optional card/UPI reference."""

    method: str
    amount: Decimal
    reference: str | None = None

    def __post_init__(self) -> None:
        _require_decimal(self, "amount")


@dataclass(frozen=True)
class Receipt:
    """Everything a printed receipt shows, already computed and rounded by the till."""

    shop_name: str
    branch_name: str
    address_lines: tuple[str, ...]
    receipt_number: str
    issued_at: datetime
    cashier: str
    lines: tuple[ReceiptLine, ...]
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    payments: tuple[ReceiptPayment, ...]
    change_due: Decimal
    customer: str | None
    footer: str
    currency: str = "INR"
    is_refund: bool = False
    is_copy: bool = False
    # "TAX INVOICE" / "CREDIT NOTE" with the buyer's details; tax by component and rate.
    title: str = ""
    buyer_lines: tuple[str, ...] = ()
    tax_rows: tuple[tuple[str, Decimal], ...] = ()
    # A tax invoice or credit note states its total in words too ("Rupees … Only").
    amount_words: str = ""
    # What the customer saved and why: (promotion or price list, amount), from the engine.
    savings: tuple[tuple[str, Decimal], ...] = ()

    def __post_init__(self) -> None:
        _require_decimal(self, "subtotal", "discount_total", "tax_total", "total", "change_due")
        object.__setattr__(self, "savings", tuple(self.savings))
        # Lists passed by callers become tuples so a receipt cannot change after it is printed.
        object.__setattr__(self, "address_lines", tuple(self.address_lines))
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "payments", tuple(self.payments))


@dataclass(frozen=True)
class PrintLine:
    """One laid-out line of exactly-placed text, with the emphasis a printer may add.

    ``large`` asks for double height, and double width as well when the stripped text fits
    in half the width (it is then centred); ``text`` is already padded for normal size.
    """

    text: str
    bold: bool = False
    large: bool = False


def _clean(text: str) -> str:
    """Compose accents and turn control characters into spaces so columns stay aligned."""
    composed = unicodedata.normalize("NFC", text)
    # A stray ESC or LF in a product name would otherwise reach the printer as a command.
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in composed)


def _wrap(text: str, width: int) -> list[str]:
    """Wrap cleaned text to width, breaking long words; an empty text gives no lines."""
    return textwrap.wrap(_clean(text), width=width, break_long_words=True) or []


def _center(text: str, width: int) -> str:
    """Centre text in width columns without trailing spaces."""
    return text.center(width).rstrip()


def _pair(left: str, right: str, width: int, *, indent: int = 0) -> list[str]:
    """Put left and right on one line, right flush with the edge, or wrap left above it."""
    left = _clean(left).rstrip()
    right = _clean(right).strip()
    if len(left) + 1 + len(right) <= width:
        return [left + " " * (width - len(left) - len(right)) + right]
    wrapped = textwrap.wrap(
        left, width=width, subsequent_indent=" " * indent, break_long_words=True
    )
    if len(right) > width:
        # A value wider than the paper (an audit checkpoint) goes under its label, wrapped.
        pad = " " * indent
        return [
            *wrapped,
            *textwrap.wrap(right, width=width, initial_indent=pad, subsequent_indent=pad),
        ]
    return [*wrapped, right.rjust(width)]


def _qty(quantity: Decimal) -> str:
    """Show a quantity without trailing zeros: 2, 0.75, 1.5."""
    return format(quantity.normalize(), "f")


def _rule(width: int, char: str = "-") -> PrintLine:
    """Return a full-width separator line."""
    return PrintLine(char * width)


def layout(receipt: Receipt, *, width: int = 42) -> list[PrintLine]:
    """Lay out a receipt as lines of at most width columns with emphasis hints."""
    if width < MIN_WIDTH:
        raise ValueError(f"Receipt width must be at least {MIN_WIDTH} columns, got {width}")

    def money(amount: Decimal) -> str:
        return format_money(amount, receipt.currency, symbol=False)

    out: list[PrintLine] = []

    def add(texts: list[str], *, bold: bool = False, large: bool = False) -> None:
        out.extend(PrintLine(t, bold=bold, large=large) for t in texts)

    markers = []
    if receipt.is_refund:
        markers.append("*** REFUND ***")
    if receipt.is_copy:
        markers.append("*** REPRINT ***")

    add([_center(t, width) for t in _wrap(receipt.shop_name, width)], bold=True, large=True)
    for text in (receipt.branch_name, *receipt.address_lines):
        add([_center(t, width) for t in _wrap(text, width)])
    add([_center(m, width) for m in markers], bold=True)
    if receipt.title:
        add([_center(t, width) for t in _wrap(receipt.title, width)], bold=True)
    out.append(_rule(width))

    add(
        _pair(
            f"Receipt {receipt.receipt_number}", receipt.issued_at.strftime("%Y-%m-%d %H:%M"), width
        )
    )
    add(_wrap(f"Cashier: {receipt.cashier}", width))
    if receipt.customer:
        add(_wrap(f"Customer: {receipt.customer}", width))
    for text in receipt.buyer_lines:
        add(_wrap(text, width))
    out.append(_rule(width))

    for item in receipt.lines:
        add(_wrap(item.name, width))
        unit = f" {_clean(item.unit).strip()}" if item.unit.strip() else ""
        # The amount beside qty x price is before the discount, so the two lines add up to
        # the line total without this layer doing any rounding of its own.
        gross = item.total + item.discount
        add(
            _pair(
                f"  {_qty(item.quantity)}{unit} x {money(item.unit_price)}",
                money(gross),
                width,
                indent=4,
            )
        )
        if item.discount:
            add(_pair("  Discount", money(-item.discount), width))
        for note in item.notes:
            add(
                textwrap.wrap(
                    _clean(note), width=width, initial_indent="  ", subsequent_indent="    "
                )
            )
    out.append(_rule(width))

    add(_pair("Subtotal", money(receipt.subtotal), width))
    if receipt.discount_total:
        add(_pair("Discount", money(-receipt.discount_total), width))
    add(_pair("Tax", money(receipt.tax_total), width))
    for label, amount in receipt.tax_rows:
        add(_pair(f"  {label}", money(amount), width, indent=4))
    total_label = "REFUND TOTAL" if receipt.is_refund else "TOTAL"
    add(
        _pair(f"{total_label} {_clean(receipt.currency)}", money(receipt.total), width),
        bold=True,
        large=True,
    )
    if receipt.amount_words:
        add(_wrap(receipt.amount_words, width))

    if receipt.payments:
        out.append(_rule(width))
        for payment in receipt.payments:
            add(_pair(payment.method, money(payment.amount), width))
            if payment.reference:
                add(_wrap(f"  Ref {payment.reference}", width))
    if receipt.change_due:
        add(_pair("Change", money(receipt.change_due), width), bold=True)
    if receipt.savings:
        out.append(_rule(width))
        saved = sum((amount for _, amount in receipt.savings), Decimal(0))
        add(_pair("YOU SAVED", money(saved), width), bold=True)
        for why, amount in receipt.savings:
            add(_pair(f"  {_clean(why)}", money(amount), width, indent=4))

    footer = [t for part in receipt.footer.splitlines() for t in _wrap(part, width)]
    if footer or markers:
        out.append(_rule(width))
    add([_center(t, width) for t in footer])
    # Repeated at the bottom so a torn-off copy still says it is not the original.
    add([_center(m, width) for m in markers], bold=True)
    return out


def layout_report(
    title: str, *, rows: Sequence[tuple[str, str]], width: int = 42
) -> list[PrintLine]:
    """Lay out a key/value report; a row with an empty value is a bold section heading."""
    if width < MIN_WIDTH:
        raise ValueError(f"Report width must be at least {MIN_WIDTH} columns, got {width}")
    out = [PrintLine(_center(t, width), bold=True, large=True) for t in _wrap(title, width)]
    out.append(_rule(width, "="))
    for key, value in rows:
        if value:
            out.extend(PrintLine(t) for t in _pair(key, value, width, indent=2))
        else:
            out.extend(PrintLine(t, bold=True) for t in _wrap(key, width))
    out.append(_rule(width, "="))
    return out


def render_text(receipt: Receipt, *, width: int = 42) -> list[str]:
    """Return the receipt as monospace lines of at most width columns."""
    return [line.text for line in layout(receipt, width=width)]
