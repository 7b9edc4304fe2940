"""The invoice of an approved sales request as a printable PDF."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from common.money import format_money
from common.tax import LineTax, breakdown, state_of_gstin
from common.words import amount_in_words
from sync_server.documents.pdf import Document, render


def _tax_cell(line: Any, money: Callable[[Any], str]) -> str:
    """Return a line's tax as printed: HSN and each component, or its one rate."""
    if not line.tax_detail:
        return f"{line.tax_rate.normalize():f}%"
    taxed = LineTax.from_wire(line.tax_detail)
    parts = [f"{c.code} {c.rate.normalize():f}% {money(c.amount)}" for c in taxed.components]
    hsn = f"HSN {line.hsn} " if line.hsn else ""
    return hsn + " ".join(parts)


def _tax_totals(lines: Any, money: Callable[[Any], str]) -> list[tuple[str, str]]:
    taxed = [LineTax.from_wire(x.tax_detail) for x in lines if x.tax_detail]
    return [
        (f"{r.code} {r.rate.normalize():f}% on {money(r.taxable)}", money(r.amount))
        for r in breakdown(taxed)
    ]


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """Render an invoice (as built by service.invoice) to PDF."""
    cur = invoice["currency"]

    def money(value: Decimal) -> str:
        return format_money(value, cur, symbol=False)

    customer = invoice["customer"]
    rows = [
        (
            line.sku,
            line.name,
            format(line.quantity.normalize(), "f"),
            money(line.unit_price),
            f"{line.discount_percent.normalize():f}%" if line.discount_percent else "",
            money(line.net),
            _tax_cell(line, money),
            money(line.total),
        )
        for line in invoice["lines"]
    ]
    seller = invoice["seller"]
    identity = [
        ("Seller", seller.get("legal_name") or seller["name"]),
        ("Seller address", seller.get("address") or "-"),
        ("Seller GSTIN", seller.get("tax_number") or "-"),
    ]
    if customer["tax_number"]:
        identity.append(("Place of supply", f"{state_of_gstin(customer['tax_number'])}"))
    return render(
        Document(
            title=f"Invoice {invoice['invoice_number']}",
            subtitle=invoice["seller"]["name"],
            facts=[
                *identity,
                ("Date", invoice["invoiced_at"].strftime("%Y-%m-%d")),
                ("Branch", invoice["branch"]),
                ("Bill to", customer["name"]),
                ("Address", customer["address"] or "-"),
                ("Tax number", customer["tax_number"] or "-"),
                ("Terms", "On account" if invoice["payment_terms"] == "account" else "Cash"),
                ("Currency", cur),
            ],
            columns=("SKU", "Item", "Qty", "Price", "Disc.", "Net", "Tax", "Total"),
            rows=rows,
            numeric=frozenset({2, 3, 4, 5, 6, 7}),
            totals=[
                ("Gross", money(invoice["gross_total"])),
                ("Discounts", money(invoice["discount_total"])),
                *_tax_totals(invoice["lines"], money),
                ("Tax", money(invoice["tax_total"])),
                ("Total due", money(invoice["total"])),
            ],
            words=amount_in_words(invoice["total"], cur),
            footer=f"Sales request #{invoice['sales_request_id']}",
        )
    )
