"""Books that tie out: a month of mixed activity on one server, and every report checked
against the stored documents it summarises (never against another report).

The month is seeded by tests/sync/books_month.py. Then: sales summary = Σ documents; tender
summary = payments net of change and refunds; Z reports = the server's shift report;
dashboard = the reports; tax summary and GSTR-1 = Σ line taxes; customer and supplier
balances = their documents; valuation = the movement ledger replayed at moving-average cost,
and the ledger verifies.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from common.money import round_money
from common.roles import Permission
from common.tax import LineTax, document_totals
from pos_client.api.client import ApiClient
from pos_client.services import queries
from pos_client.services.sync_engine import SyncEngine
from pos_client.ui.manager.dashboard import OPEN_ORDER_STATUSES, TODAY, load_dashboard
from pos_client.ui.manager.table import as_money
from sync_server.db import transaction
from sync_server.inventory.models import StockMovement
from sync_server.orders.models import Order, OrderLine, OrderReturn, OrderReturnLine
from sync_server.purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder
from sync_server.reports.shifts import TENDERS
from sync_server.sales.models import Return, ReturnLine, Sale, SaleLine, SalePayment
from sync_server.wholesale.models import SalesRequest, SalesRequestLine
from tests.factories import PASSWORD
from tests.sync.books_month import D, Month, books, seed_month  # noqa: F401 - a fixture


def _documents_line_taxes(world) -> tuple[list[LineTax], Decimal]:
    """Return every document line's tax as recorded, and the tax of completed till sales."""
    with transaction(world.sessions(), readonly=True) as session:
        till = [
            (LineTax.from_wire(line.tax_detail), line.tax)
            for line in session.scalars(
                select(SaleLine).join(Sale).where(Sale.status == "completed")
            )
        ]
        back = [LineTax.from_wire(x.tax_detail) for x in session.scalars(select(ReturnLine))]
        online = [
            LineTax.from_wire(x.tax_detail)
            for x in session.scalars(
                select(OrderLine).join(Order).where(Order.status == "delivered")
            )
        ]
        online_back = [
            LineTax.from_wire(x.tax_detail)
            for x in session.scalars(
                select(OrderReturnLine).join(OrderReturn).where(OrderReturn.status == "received")
            )
        ]
        wholesale = [
            LineTax.from_wire(x.tax_detail)
            for x in session.scalars(
                select(SalesRequestLine).join(SalesRequest).where(SalesRequest.status == "approved")
            )
        ]
    assert all(line.tax == recorded for line, recorded in till)
    every = [t for t, _ in till] + back + online + online_back + wholesale
    return every, sum((recorded for _, recorded in till), D(0))


def _check_tax(world) -> None:
    """Tax summary by rate and HSN, GSTR-1 and the sales summary's tax = Σ line taxes."""
    lines, till_sales_tax = _documents_line_taxes(world)
    expected = document_totals(lines)
    assert expected.tax > 0
    manager = world.api("manager")

    by_rate = manager.get("reports/tax-summary", params={"by": "rate"}).json()["rows"]
    by_hsn = manager.get("reports/tax-summary", params={"by": "hsn"}).json()["rows"]
    for rows in (by_rate, by_hsn):
        assert sum(D(r["taxable"]) for r in rows) == expected.taxable
        assert sum(D(r["tax"]) for r in rows) == expected.tax
        assert sum(D(r[k]) for r in rows for k in ("cgst", "sgst", "igst", "other")) == expected.tax

    export = json.loads(manager.get("reports/gstr1").text, parse_float=Decimal)
    gst = document_totals(
        [
            LineTax(t.taxable, tuple(c for c in t.components if c.code != "TAX"))
            for t in lines
            if any(c.code != "TAX" for c in t.components)
        ]
    )

    def items(section: str, key: str) -> list[dict]:
        return [
            i["itm_det"] for party in export[section] for doc in party[key] for i in doc["itms"]
        ]

    def total(rows: list[dict], key: str) -> Decimal:
        return sum((D(str(r.get(key, 0))) for r in rows), D(0))

    for key, figure in (("txval", gst.taxable), ("iamt", None), ("camt", None)):
        reported = (
            total(items("b2b", "inv"), key)
            + total(items("b2cl", "inv"), key)
            - total(items("cdnr", "nt"), key)
            + total(export["b2cs"], key)
        )
        assert reported == total(export["hsn"]["data"], key)
        if figure is not None:
            assert reported == figure
    assert (
        sum(total(export["hsn"]["data"], f) for f in ("iamt", "camt", "samt", "csamt")) == gst.tax
    )

    # The sales summary's tax is the sales' own (returns are shown apart, by amount).
    summary = manager.get("reports/sales-summary", params={"group_by": "channel"}).json()
    by_channel = {r["channel"]: D(r["tax"]) for r in summary["rows"]}
    assert by_channel.get("in_store", D(0)) == till_sales_tax


def _sum(values) -> Decimal:
    return sum((D(str(v)) for v in values), D(0))


def _rows_total(rows: list[dict], key: str) -> Decimal:
    return _sum(r.get(key) or 0 for r in rows)


def _expected_channels(world) -> dict[str, dict[str, Decimal]]:
    """Sum each channel's stored documents (headers, not the lines the reports read)."""
    tenant = world.a.id
    with transaction(world.sessions(), readonly=True) as session:
        sales = session.scalars(
            select(Sale).where(Sale.tenant_id == tenant, Sale.status == "completed")
        ).all()
        backs = session.scalars(select(Return).where(Return.tenant_id == tenant)).all()
        orders = session.scalars(
            select(Order).where(Order.tenant_id == tenant, Order.status == "delivered")
        ).all()
        order_tax = _sum(
            session.scalars(
                select(OrderLine.tax)
                .join(Order)
                .where(Order.tenant_id == tenant, Order.status == "delivered")
            )
        )
        order_backs = session.scalars(
            select(OrderReturn).where(
                OrderReturn.tenant_id == tenant, OrderReturn.status == "received"
            )
        ).all()
        requests = session.scalars(
            select(SalesRequest).where(
                SalesRequest.tenant_id == tenant, SalesRequest.status == "approved"
            )
        ).all()
        return {
            "in_store": {
                "sales": D(len(sales)),
                "revenue": _sum(x.total for x in sales),
                "discounts": _sum(x.discount_total for x in sales),
                "tax": _sum(x.tax_total for x in sales),
                "returns": D(len(backs)),
                "returned_amount": _sum(x.total for x in backs),
            },
            "online": {
                "sales": D(len(orders)),
                "revenue": _sum(x.total for x in orders),
                "tax": order_tax,
                "returns": D(len(order_backs)),
                "returned_amount": _sum(x.refund_amount for x in order_backs),
            },
            "wholesale": {
                "sales": D(len(requests)),
                "revenue": _sum(x.total for x in requests),
                "discounts": _sum(x.discount_total for x in requests),
                "tax": _sum(x.tax_total for x in requests),
                "returns": D(0),
                "returned_amount": D(0),
            },
        }


def _check_the_mix(world) -> None:
    """The month holds what it claims to, so a change to the random draws cannot hollow it."""
    tenant = world.a.id
    with transaction(world.sessions(), readonly=True) as session:
        sales = session.scalars(select(Sale).where(Sale.tenant_id == tenant)).all()
        paid = {
            sale.id: [
                p.method
                for p in session.scalars(select(SalePayment).where(SalePayment.sale_id == sale.id))
            ]
            for sale in sales
        }
        weighed = session.scalars(
            select(SaleLine.quantity).join(Sale).where(Sale.tenant_id == tenant)
        ).all()
        refunds = [
            r["method"]
            for rs in session.scalars(select(Return.refunds).where(Return.tenant_id == tenant))
            for r in rs
        ]
    assert len({sale.shift_uuid for sale in sales}) == 2
    assert any(q != q.to_integral_value() for q in weighed)  # weighed by the gram
    assert any(len(paid[s.id]) > 1 and s.change_due > 0 for s in sales)  # split, with change
    assert any(paid[s.id] == ["account"] for s in sales)
    assert any(s.status == "voided" and "account" in paid[s.id] for s in sales)
    assert {"cash", "card", "account"} <= set(refunds)


def _check_sales_summary(world) -> None:
    """Sales summary = Σ documents, per channel, and the same totals by day, branch, cashier."""
    expected = _expected_channels(world)
    for figures in expected.values():
        figures["net_revenue"] = figures["revenue"] - figures["returned_amount"]
    manager = world.api("manager")
    rows = manager.get("reports/sales-summary", params={"group_by": "channel"}).json()["rows"]
    reported = {r["channel"]: r for r in rows}
    assert set(reported) == set(expected)
    for channel, figures in expected.items():
        for key, value in figures.items():
            assert D(str(reported[channel][key])) == value, (channel, key)
    whole = {k: _sum(f.get(k, 0) for f in expected.values()) for k in expected["in_store"]}
    for group_by in ("day", "branch", "cashier"):
        rows = manager.get("reports/sales-summary", params={"group_by": group_by}).json()["rows"]
        for key, value in whole.items():
            assert _rows_total(rows, key) == value, (group_by, key)


def _expected_tenders(world) -> dict[str, Decimal]:
    """Money taken per tender: payments, less the change given back and every refund."""
    tenant = world.a.id
    net: dict[str, Decimal] = {}

    def add(tender: str, amount) -> None:
        net[tender] = net.get(tender, D(0)) + D(str(amount))

    with transaction(world.sessions(), readonly=True) as session:
        for sale in session.scalars(
            select(Sale).where(Sale.tenant_id == tenant, Sale.status == "completed")
        ):
            add("cash", -sale.change_due)
            for payment in session.scalars(
                select(SalePayment).where(SalePayment.sale_id == sale.id)
            ):
                add(payment.method, payment.amount)
        for back in session.scalars(select(Return).where(Return.tenant_id == tenant)):
            for refund in back.refunds:
                add(refund["method"], -D(refund["amount"]))
        for order in session.scalars(
            select(Order).where(Order.tenant_id == tenant, Order.status == "delivered")
        ):
            add("card", order.paid_amount - order.refunded_amount)
        for request in session.scalars(
            select(SalesRequest).where(
                SalesRequest.tenant_id == tenant, SalesRequest.status == "approved"
            )
        ):
            add(request.payment_terms, request.total)
    return net


def _check_tenders(world) -> None:
    """Tender summary = payments net of change and refunds (till, online and wholesale)."""
    expected = _expected_tenders(world)
    assert {"cash", "card", "account"} <= set(expected)
    rows = world.api("manager").get("reports/sales-summary", params={"group_by": "tender"})
    reported = {r["tender"]: D(r["net"]) for r in rows.json()["rows"]}
    assert reported == expected


Z_FIELDS = (  # (Z report figure, server shift report column)
    ("sale_count", "sales"),
    ("sales_total", "sales_total"),
    ("discounts", "discounts"),
    ("sales_tax", "tax"),
    ("refund_count", "returns"),
    ("refunds", "returns_total"),
    ("opening_float", "opening_float"),
    ("cash_in", "cash_in"),
    ("cash_out", "cash_out"),
    ("expected_cash", "expected_cash"),
    ("counted_cash", "counted_cash"),
    ("variance", "variance"),
)


def _check_shifts(world, month: Month) -> None:
    """Each Z report printed at the till = its row of the server's shift report; sums too."""
    rows = world.api("manager").get("reports/shift-reports").json()["rows"]
    by_shift = {r["shift"]: r for r in rows}
    assert set(by_shift) == {z.shift_id for z in month.z_reports}
    for z in month.z_reports:
        row = by_shift[z.shift_id]
        for figure, column in Z_FIELDS:
            assert D(str(getattr(z, figure))) == D(str(row[column])), (figure, z.shift_id)
        for tender in TENDERS:
            assert z.by_tender.get(tender, D(0)) == D(row[tender]), tender
            assert z.refunds_by_tender.get(tender, D(0)) == D(row[f"refund_{tender}"]), tender
    for figure, column in Z_FIELDS:
        assert _sum(getattr(z, figure) for z in month.z_reports) == _rows_total(rows, column)
    assert _sum(z.variance for z in month.z_reports) == D("-4.00")


def _check_dashboard(world, live_server) -> None:
    """The dashboard's cards and charts show the reports' figures (and the documents')."""
    expected = _expected_channels(world)
    net = _sum(f["revenue"] - f["returned_amount"] for f in expected.values())
    gross = _sum(f["revenue"] for f in expected.values())
    today = datetime.now(UTC).date()
    client = ApiClient(live_server.url)
    try:
        client.login(username="admin", password=PASSWORD)
        data = load_dashboard(client, can={p.value for p in Permission}, today=today)
    finally:
        client.close()
    cards = data["cards"]
    assert cards[TODAY] == as_money(net)
    assert data["details"][TODAY] == f"Gross {as_money(gross)} − returns {as_money(gross - net)}"
    (day,) = [r for r in data["charts"]["trend"]["rows"] if r["period"] == today.isoformat()]
    assert D(day["revenue"]) == net
    charted = {r["channel"]: D(r["net_revenue"]) for r in data["charts"]["channel"]["rows"]}
    assert charted == {c: f["revenue"] - f["returned_amount"] for c, f in expected.items()}
    branches = {r["branch_id"]: r for r in data["charts"]["branch"]["rows"]}
    main, west = (branches[b] for b in world.a.branch_ids)  # everything sold at MAIN
    assert D(main["sales"]) == _sum(f["sales"] for f in expected.values())
    assert (D(main["revenue"]), D(main["returned_amount"]), D(main["net_revenue"])) == (
        gross,
        gross - net,
        net,
    )
    assert D(west["revenue"]) == 0
    tenant = world.a.id
    with transaction(world.sessions(), readonly=True) as session:
        open_orders = session.scalar(
            select(func.count(Order.id)).where(
                Order.tenant_id == tenant, Order.status.in_(OPEN_ORDER_STATUSES)
            )
        )
        waiting = session.scalar(
            select(func.count(SalesRequest.id)).where(
                SalesRequest.tenant_id == tenant, SalesRequest.status == "pending_approval"
            )
        ) + session.scalar(
            select(func.count(PurchaseOrder.id)).where(
                PurchaseOrder.tenant_id == tenant, PurchaseOrder.status == "pending_approval"
            )
        )
    assert cards["Open orders"] == str(open_orders)
    assert cards["Pending approvals"] == str(waiting) == "1"


def _check_customer(world, customer_id: int, month: Month, till: SyncEngine) -> None:
    """The customer's balance = on-account sales less refunds to account less payments."""
    tenant = world.a.id
    with transaction(world.sessions(), readonly=True) as session:
        charged = _sum(
            session.scalars(
                select(SalePayment.amount)
                .join(Sale, Sale.id == SalePayment.sale_id)
                .where(
                    Sale.tenant_id == tenant,
                    Sale.customer_id == customer_id,
                    Sale.status == "completed",
                    SalePayment.method == "account",
                )
            )
        )
        refunded = _sum(
            refund["amount"]
            for refunds in session.scalars(
                select(Return.refunds).where(
                    Return.tenant_id == tenant, Return.customer_id == customer_id
                )
            )
            for refund in refunds
            if refund["method"] == "account"
        )
        invoiced = _sum(
            session.scalars(
                select(SalesRequest.total).where(
                    SalesRequest.tenant_id == tenant,
                    SalesRequest.customer_id == customer_id,
                    SalesRequest.status == "approved",
                    SalesRequest.payment_terms == "account",
                )
            )
        )
    owed = charged - refunded + invoiced - month.customer_payments
    assert charged > 0 and refunded >= 0 and invoiced > 0
    api = world.api("sales_admin")
    account = api.get(f"customers/{customer_id}/account").json()
    assert D(account["balance_due"]) == owed
    history = api.get(f"customers/{customer_id}/credit-history", params={"limit": 200}).json()
    assert history["total"] == len(history["items"])
    assert _sum(x["amount"] for x in history["items"]) == owed
    today = datetime.now(UTC).date().isoformat()
    statement = api.get(
        f"customers/{customer_id}/statement", params={"from": today, "to": today}
    ).json()
    assert D(statement["closing_balance"]) == owed
    ageing = world.api("manager").get("reports/customer-credit-ageing").json()["rows"]
    (row,) = [r for r in ageing if r["customer_id"] == customer_id]
    assert D(row["balance"]) == owed
    # The till's copy, which checks the credit limit offline, says the same once synced.
    assert till.sync_once().online
    with till.store.session() as session:
        (buyer,) = queries.find_customers(session, "Mysore")
    assert buyer.balance == owed


def _check_vendor(world, month: Month) -> None:
    """The supplier's balance = goods received at their cost less payments made."""
    with transaction(world.sessions(), readonly=True) as session:
        supplied = _sum(
            session.scalars(
                select(GoodsReceiptLine.value)
                .join(GoodsReceipt, GoodsReceipt.id == GoodsReceiptLine.receipt_id)
                .where(GoodsReceipt.supplier_id == month.supplier_id)
            )
        )
    owed = supplied - month.vendor_payments
    assert supplied > 0
    api = world.api("purchase_admin")
    account = api.get(f"suppliers/{month.supplier_id}/account").json()
    assert (D(account["total_supplied"]), D(account["total_paid"])) == (
        supplied,
        month.vendor_payments,
    )
    assert D(account["balance_due"]) == owed
    today = datetime.now(UTC).date().isoformat()
    statement = api.get(
        f"suppliers/{month.supplier_id}/statement", params={"from": today, "to": today}
    ).json()
    assert D(statement["closing_balance"]) == owed
    rows = world.api("manager").get("reports/purchase-summary").json()["rows"]
    (row,) = [r for r in rows if r["supplier_id"] == month.supplier_id]
    assert (D(row["received"]), D(row["paid"])) == (supplied, month.vendor_payments)


def _replay_stock(world, costs: dict[int, Decimal]) -> tuple[dict, dict[int, Decimal]]:
    """Replay the movement ledger: levels per (branch, product) and moving-average cost.

    A receipt at a cost folds into the average weighted by what the business held (stock
    below zero counts as none); nothing else changes the cost.
    """
    levels: dict[tuple[int, int], Decimal] = {}
    cost = dict(costs)
    with transaction(world.sessions(), readonly=True) as session:
        moves = session.scalars(
            select(StockMovement)
            .where(StockMovement.tenant_id == world.a.id)
            .order_by(StockMovement.id)
        ).all()
        for move in moves:
            if move.code in ("reservation", "release"):
                continue
            if move.code == "receipt" and move.unit_cost is not None:
                held = _sum(q for (_, p), q in levels.items() if p == move.product_id and q > 0)
                new = (held * cost[move.product_id] + move.quantity * move.unit_cost) / (
                    held + move.quantity
                )
                cost[move.product_id] = new.quantize(D("0.0001"), rounding=ROUND_HALF_UP)
            key = (move.branch_id, move.product_id)
            levels[key] = levels.get(key, D(0)) + move.quantity
    return levels, cost


def _check_stock(world, costs: dict[int, Decimal]) -> None:
    """Valuation = Σ movements at moving-average cost; the ledger verifies clean."""
    levels, cost = _replay_stock(world, costs)
    assert cost != costs  # the receipts at varying cost moved the average
    valuation = world.api("admin").get("stock/valuation").json()
    items = {x["product_id"]: x for x in valuation["items"]}
    total = D(0)
    for product_id in world.a.product_ids:
        held = _sum(q for (_, p), q in levels.items() if p == product_id)
        assert D(items[product_id]["on_hand"]) == held
        assert D(items[product_id]["unit_cost"]) == cost[product_id]
        total += (held * cost[product_id]).quantize(D("0.0001"), rounding=ROUND_HALF_UP)
    assert D(valuation["total_value"]) == total
    # The manager sees one branch; the admin's report has both.
    rows = world.api("admin").get("reports/stock-valuation").json()["rows"]
    assert {r["branch_id"] for r in rows} == set(world.a.branch_ids)
    for branch_id in world.a.branch_ids:
        value = _sum(q * cost[p] for (b, p), q in levels.items() if b == branch_id)
        reported = _sum(r["cost_value"] for r in rows if r["branch_id"] == branch_id)
        assert reported == round_money(value), branch_id
    compared = world.api("admin").get("reports/branch-comparison").json()["rows"]
    for row in compared:
        value = _sum(q * cost[p] for (b, p), q in levels.items() if b == row["branch_id"])
        assert D(row["stock_value"]) == round_money(value), row["branch"]
    verified = world.api("admin").get("ledger/verify").json()
    assert verified == {"ok": True, "differences": []}


def test_the_books_tie_out_on_both_engines(world, books, live_server):  # noqa: F811
    till, customer_id, costs = books
    month = seed_month(world, till, customer_id)
    _check_the_mix(world)
    _check_tax(world)
    _check_sales_summary(world)
    _check_tenders(world)
    _check_shifts(world, month)
    _check_dashboard(world, live_server)
    _check_customer(world, customer_id, month, till)
    _check_vendor(world, month)
    _check_stock(world, costs)
