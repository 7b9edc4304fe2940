"""The customer statement as a printable PDF."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from common.money import format_money
from sync_server.documents.pdf import Document, render


def statement_pdf(
    statement: dict[str, Any],
    *,
    currency: str,
    party: str = "Customer",
    party_id: str = "customer_id",
) -> bytes:
    """Render a statement of account (customer or supplier) to PDF."""

    def money(value: Decimal) -> str:
        return format_money(value, currency, symbol=False)

    rows = [
        (
            line["at"].strftime("%Y-%m-%d"),
            line["description"],
            money(line["debit"]) if line["debit"] else "",
            money(line["credit"]) if line["credit"] else "",
            money(line["balance"]),
        )
        for line in statement["lines"]
    ]
    return render(
        Document(
            title="Statement of account",
            subtitle=statement["name"],
            facts=[
                (party, f"{statement['name']} (#{statement[party_id]})"),
                ("Period", f"{statement['start']} to {statement['end']}"),
                ("Currency", currency),
                ("Opening balance", money(statement["opening_balance"])),
            ],
            columns=("Date", "Description", "Owed", "Paid", "Balance"),
            rows=rows,
            numeric=frozenset({2, 3, 4}),
            totals=[("Closing balance", money(statement["closing_balance"]))],
        )
    )
