"""The invoice of an approved sales request as a printable PDF."""

from __future__ import annotations

from typing import Any

from common.money import format_money
from sync_server.documents.pdf import Document, render


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """Render an invoice (as built by service.invoice) to PDF."""
    cur = invoice["currency"]

    def money(value) -> str:
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
            f"{line.tax_rate.normalize():f}%",
            money(line.total),
        )
        for line in invoice["lines"]
    ]
    return render(
        Document(
            title=f"Invoice {invoice['invoice_number']}",
            subtitle=invoice["seller"]["name"],
            facts=[
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
                ("Tax", money(invoice["tax_total"])),
                ("Total due", money(invoice["total"])),
            ],
            footer=f"Sales request #{invoice['sales_request_id']}",
        )
    )
