"""Till, shift and purchasing reports on hand-computable data, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from sync_server.db import transaction
from sync_server.partners.models import Customer, Supplier
from sync_server.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    PurchaseOrder,
    PurchaseOrderLine,
    VendorEntry,
)
from sync_server.reports import summary
from sync_server.reports.models import SalesDaily
from sync_server.sales.models import (
    CashMovement,
    Return,
    ReturnLine,
    Sale,
    SaleLine,
    SalePayment,
    Shift,
)

D = Decimal
MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
FEB = {"date_from": "2026-02-01", "date_to": "2026-02-28"}


def at(day: str, hour: float = 10) -> datetime:
    base = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return base.replace(hour=int(hour), minute=int((hour % 1) * 60))


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def _sale(
    s,
    *,
    tenant_id,
    branch_id,
    cashier_id,
    number,
    when,
    lines,
    payments,
    shift=None,
    status="completed",
    discount="0",
    tax="0",
    change="0",
):
    """Insert a till sale as sync stores it: lines (product, qty, price, discount, total)."""
    total = sum((D(t) for *_x, t in lines), D(0))
    sale = Sale(
        tenant_id=tenant_id,
        uuid=f"u-{number}",
        receipt_number=number,
        status=status,
        branch_id=branch_id,
        shift_uuid=shift,
        cashier_id=cashier_id,
        subtotal=total + D(discount),
        discount_total=D(discount),
        tax_total=D(tax),
        total=total,
        change_due=D(change),
        occurred_at=when,
    )
    for i, (product_id, qty, price, disc, line_total) in enumerate(lines):
        sale.lines.append(
            SaleLine(
                tenant_id=tenant_id,
                line_uuid=f"{number}-{i}",
                product_id=product_id,
                sku="x",
                name="x",
                quantity=D(qty),
                unit_price=D(price),
                discount=D(disc),
                tax=D(tax) if i == 0 else D(0),
                total=D(line_total),
            )
        )
    for i, (method, amount) in enumerate(payments):
        sale.payments.append(
            SalePayment(
                tenant_id=tenant_id, payment_uuid=f"{number}-p{i}", method=method, amount=D(amount)
            )
        )
    s.add(sale)


@pytest.fixture
def till_world(world):
    """March 2026 at the tills (products cost 0.00, so margin = revenue).

    Shift SH1 in MAIN, cashier 'cashier', opened 03-02 08:00, float 100.00:
      T1 09:00  p0 2 × 10 = 20 (tax 0.95 inside), p1 1 × 10 − 2.00 = 8   → 28.00 cash
      T2 10:00  p2 3 × 10 = 30                                           → 20 card + 10 cash
      T3        voided (10.00): not a sale, one void
      RT1 11:00 p0 1 back for 10.00; cash in 50.00, cash out 20.00
      closed 18:00: expected 158.00, counted 155.00, variance −3.00
    T4 03-03 in WEST by 'manager', no shift: p0 1 × 10 = 10 card.
    """
    a = world.a
    b0, b1 = a.branch_ids
    p0, p1, p2 = a.product_ids
    cashier, manager = a.users["cashier"], a.users["manager"]
    with transaction(world.sessions()) as s:
        s.add(
            Shift(
                tenant_id=a.id,
                uuid="SH1",
                branch_id=b0,
                cashier_id=cashier,
                opened_at=at("2026-03-02", 8),
                closed_at=at("2026-03-02", 18),
                opening_float=D(100),
                expected_cash=D(158),
                counted_cash=D(155),
                variance=D(-3),
                totals={},
            )
        )
        kw = {"tenant_id": a.id, "branch_id": b0, "cashier_id": cashier, "shift": "SH1"}
        _sale(
            s,
            **kw,
            number="T1",
            when=at("2026-03-02", 9),
            discount="2",
            tax="0.95",
            lines=[(p0, "2", "10", "0", "20"), (p1, "1", "10", "2", "8")],
            # A 50 note for 28.00: 22.00 change, so the drawer kept 28.00.
            payments=[("cash", "50")],
            change="22",
        )
        _sale(
            s,
            **kw,
            number="T2",
            when=at("2026-03-02", 10),
            lines=[(p2, "3", "10", "0", "30")],
            payments=[("card", "20"), ("cash", "10")],
        )
        _sale(
            s,
            **kw,
            number="T3",
            when=at("2026-03-02", 10.5),
            status="voided",
            lines=[(p0, "1", "10", "0", "10")],
            payments=[("cash", "10")],
        )
        _sale(
            s,
            tenant_id=a.id,
            branch_id=b1,
            cashier_id=manager,
            number="T4",
            when=at("2026-03-03"),
            lines=[(p0, "1", "10", "0", "10")],
            payments=[("card", "10")],
        )
        ret = Return(
            tenant_id=a.id,
            uuid="u-RT1",
            receipt_number="RT1",
            branch_id=b0,
            shift_uuid="SH1",
            cashier_id=cashier,
            total=D(10),
            refunds=[{"method": "cash", "amount": "6.00"}, {"method": "card", "amount": "4.00"}],
            occurred_at=at("2026-03-02", 11),
        )
        ret.lines.append(
            ReturnLine(
                tenant_id=a.id, line_uuid="RT1-0", product_id=p0, quantity=D(1), amount=D(10)
            )
        )
        s.add(ret)
        for uuid, direction, amount in (("CM1", "in", "50"), ("CM2", "out", "20")):
            s.add(
                CashMovement(
                    tenant_id=a.id,
                    uuid=uuid,
                    branch_id=b0,
                    shift_uuid="SH1",
                    direction=direction,
                    amount=D(amount),
                    cashier_id=cashier,
                    occurred_at=at("2026-03-02", 12),
                )
            )
    return world


def test_till_sales_by_cashier_tender_channel_and_the_z_report(world, till_world):
    a = world.a
    b1 = a.branch_ids[1]
    cashier = a.users["cashier"]
    admin = world.api("admin")
    # Cashier: T1 + T2 = 2 sales, 6 units, 58.00, discount 2.00, tax 0.95; RT1 −10 → 48.00.
    # The manager's user id is lower (made first), so the manager's row comes first.
    by_cashier = rows(admin.get("reports/sales-summary", params={**MARCH, "group_by": "cashier"}))
    assert [
        (
            r["cashier"],
            r["sales"],
            r["quantity"],
            r["revenue"],
            r["discounts"],
            r["tax"],
            r["returns"],
            r["net_revenue"],
        )
        for r in by_cashier
    ] == [
        ("manager", 1, "1", "10.00", "0.00", "0.00", 0, "10.00"),
        ("cashier", 2, "6", "58.00", "2.00", "0.95", 1, "48.00"),
    ]
    # Tenders: card 20 + 10 = 30.00 (2 payments), cash 28 + 10 = 38.00 (2); T3 is void.
    tender = rows(admin.get("reports/sales-summary", params={**MARCH, "group_by": "tender"}))
    assert [(r["tender"], r["payments"], r["amount"]) for r in tender] == [
        ("card", 2, "30.00"),
        ("cash", 2, "38.00"),
    ]
    # The return gave 6.00 back in cash and 4.00 to the card: net of refunds, by tender.
    assert [(r["refunded"], r["net"]) for r in tender] == [("4.00", "26.00"), ("6.00", "32.00")]
    channel = rows(
        admin.get(
            "reports/sales-summary", params={**MARCH, "group_by": "channel", "cashier_id": cashier}
        )
    )
    assert [(r["channel"], r["sales"], r["revenue"], r["returned_amount"]) for r in channel] == [
        ("in_store", 2, "58.00", "10.00")
    ]
    online = rows(admin.get("reports/sales-summary", params={**MARCH, "channel": "online"}))
    assert online == []

    # The Z report of SH1, row by row from the story above.
    (z,) = rows(admin.get("reports/shift-reports", params=MARCH))
    assert (z["branch"], z["date"], z["cashier"], z["sales"], z["voids"]) == (
        "Tenant A MAIN",
        "2026-03-02",
        "cashier",
        2,
        1,
    )
    assert (z["sales_total"], z["discounts"], z["tax"], z["cash"], z["card"], z["account"]) == (
        "58.00",
        "2.00",
        "0.95",
        "38.00",
        "20.00",
        "0.00",
    )
    assert (z["returns"], z["returns_total"], z["net_sales"]) == (1, "10.00", "48.00")
    assert (z["refund_cash"], z["refund_card"], z["refund_account"]) == ("6.00", "4.00", "0.00")
    assert (
        z["opening_float"],
        z["cash_in"],
        z["cash_out"],
        z["expected_cash"],
        z["counted_cash"],
        z["variance"],
    ) == ("100.00", "50.00", "20.00", "158.00", "155.00", "-3.00")
    assert rows(admin.get("reports/shift-reports", params={**MARCH, "branch_id": b1})) == []
    assert rows(admin.get("reports/shift-reports", params=FEB)) == []


def test_purchase_summary_and_supplier_performance(world):
    """February 2026 purchasing of MAIN from S1 and S2 (orders count from their approval).

    PO1 S1 approved 02-01 10:00, expected 02-05: p0 10 @ 5 = 50, p1 10 @ 2 = 20 (70.00);
        received in full 02-04 10:00, p1 billed at 2.20 → receipt 72.00. Lead 3.0 d, on time.
    PO2 S1 approved 02-10 10:00, expected 02-12: p0 20 @ 5 = 100; 10 received 02-15 10:00
        (50.00) → open, 50.00 outstanding. Lead 5.0 d; not in full → not on time.
    PO3 S1 approved 02-20 10:00, no expected date: p1 5 @ 2 = 10; received 02-21 22:00.
        Lead 1.5 d.
    PO4 S2 approved 02-03, expected 02-10: p2 4 @ 3 = 12; nothing received.
    PO5 S1 draft (999.00): not an order yet. PO6 S1 approved in January, received 02-02
        (30.00): its receipt counts in February's received, the order does not.
    S1 paid 40.00 on 02-25.
    """
    a = world.a
    b0 = a.branch_ids[0]
    p0, p1, p2 = a.product_ids
    with transaction(world.sessions()) as s:
        s1, s2 = Supplier(tenant_id=a.id, name="S1"), Supplier(tenant_id=a.id, name="S2")
        s.add_all([s1, s2])
        s.flush()

        def po(number, supplier, status, approved, expected, lines, received_at=None):
            total = sum((D(q) * D(c) for _p, q, c, _r in lines), D(0))
            order = PurchaseOrder(
                tenant_id=a.id,
                number=number,
                supplier_id=supplier.id,
                branch_id=b0,
                status=status,
                expected_date=expected,
                subtotal=total,
                total=total,
                decided_at=approved,
                received_at=received_at,
                created_at=approved or at("2026-02-01"),
                updated_at=at("2026-02-01"),
            )
            for product, qty, cost, got in lines:
                order.lines.append(
                    PurchaseOrderLine(
                        tenant_id=a.id,
                        product_id=product,
                        quantity=D(qty),
                        unit_cost=D(cost),
                        line_total=D(qty) * D(cost),
                        received_quantity=D(got),
                    )
                )
            s.add(order)
            s.flush()
            return order

        def receipt(order, when, lines):
            value = sum((D(q) * D(c) for _i, q, c in lines), D(0))
            gr = GoodsReceipt(
                tenant_id=a.id,
                purchase_order_id=order.id,
                supplier_id=order.supplier_id,
                branch_id=b0,
                value=value,
                received_at=when,
            )
            for index, qty, cost in lines:
                line = order.lines[index]
                gr.lines.append(
                    GoodsReceiptLine(
                        tenant_id=a.id,
                        po_line_id=line.id,
                        product_id=line.product_id,
                        quantity=D(qty),
                        unit_cost=D(cost),
                        value=D(qty) * D(cost),
                    )
                )
            s.add(gr)
            order.received_value += value

        po1 = po(
            "PO1",
            s1,
            "received",
            at("2026-02-01"),
            date(2026, 2, 5),
            [(p0, "10", "5", "10"), (p1, "10", "2", "10")],
            received_at=at("2026-02-04"),
        )
        receipt(po1, at("2026-02-04"), [(0, "10", "5"), (1, "10", "2.20")])
        po2 = po(
            "PO2",
            s1,
            "partially_received",
            at("2026-02-10"),
            date(2026, 2, 12),
            [(p0, "20", "5", "10")],
        )
        receipt(po2, at("2026-02-15"), [(0, "10", "5")])
        po3 = po(
            "PO3",
            s1,
            "received",
            at("2026-02-20"),
            None,
            [(p1, "5", "2", "5")],
            received_at=at("2026-02-21", 22),
        )
        receipt(po3, at("2026-02-21", 22), [(0, "5", "2")])
        po("PO4", s2, "approved", at("2026-02-03"), date(2026, 2, 10), [(p2, "4", "3", "0")])
        po("PO5", s1, "draft", None, None, [(p0, "999", "1", "0")])
        po6 = po(
            "PO6",
            s1,
            "received",
            at("2026-01-15"),
            None,
            [(p0, "6", "5", "6")],
            received_at=at("2026-02-02"),
        )
        receipt(po6, at("2026-02-02"), [(0, "6", "5")])
        s.add(
            VendorEntry(
                tenant_id=a.id,
                supplier_id=s1.id,
                kind="payment",
                amount=D(-40),
                occurred_at=at("2026-02-25"),
                created_at=at("2026-02-25"),
            )
        )
    api = world.api("viewer")
    # S1: 3 orders, 70 + 100 + 10 = 180.00; received 72 + 50 + 10 + 30 = 162.00;
    # outstanding PO2 100 − 50 = 50.00; paid 40.00. S2: 1 order, 12.00, all outstanding.
    summary = rows(api.get("reports/purchase-summary", params=FEB))
    assert [
        (r["supplier"], r["orders"], r["ordered"], r["received"], r["outstanding"], r["paid"])
        for r in summary
    ] == [
        ("S1", 3, "180.00", "162.00", "50.00", "40.00"),
        ("S2", 1, "12.00", "0.00", "12.00", "0.00"),
    ]
    monthly = rows(api.get("reports/purchase-summary", params={**FEB, "grain": "month"}))
    assert [(r["period"], r["supplier"], r["ordered"]) for r in monthly] == [
        ("2026-02-01", "S1", "180.00"),
        ("2026-02-01", "S2", "12.00"),
    ]
    only_s2 = rows(api.get("reports/purchase-summary", params={**FEB, "supplier_id": s2.id}))
    assert [r["supplier"] for r in only_s2] == ["S2"]

    perf = {r["supplier"]: r for r in rows(api.get("reports/supplier-performance", params=FEB))}
    s1_row, s2_row = perf["S1"], perf["S2"]
    # Leads 1.5, 3.0, 5.0 → median 3.0, p90 = rank ⌈2.7⌉ = 3 → 5.0.
    assert (
        s1_row["orders"],
        s1_row["received_orders"],
        s1_row["lead_median"],
        s1_row["lead_p90"],
    ) == (3, 3, "3", "5")
    # Fill 35 of 45 units = 77.8 %; on time 1 of the 2 with an expected date = 50 %;
    # price: receipts 72 + 50 + 10 = 132 against 130 at order prices → +1.5 %.
    assert (s1_row["fill_rate"], s1_row["on_time_rate"], s1_row["price_variance"]) == (
        "77.8",
        "50",
        "1.5",
    )
    assert (
        s2_row["orders"],
        s2_row["lead_median"],
        s2_row["fill_rate"],
        s2_row["on_time_rate"],
        s2_row["price_variance"],
    ) == (1, None, "0", "0", None)


def test_the_daily_summary_gives_the_same_figures_and_takes_later_voids_off(world, till_world):
    """Refresh (T1, T2, T3 and RT1 summed), then T5 is recorded and T1 voided.

    Before: cashier 2 sales, 58.00, net 48.00 (as in the test above, now from the summary).
    After: T2 30.00 + T5 (03-04, p2 2 × 10 = 20 cash) = 2 sales, 5 units, 50.00; T1's
    28.00, 3 units, 2.00 discount and 0.95 tax come off; RT1 still takes 10.00 → 40.00.
    """
    a = world.a
    cashier = a.users["cashier"]
    admin = world.api("admin")
    params = {**MARCH, "group_by": "cashier", "cashier_id": cashier}

    def figures() -> tuple:
        (row,) = rows(admin.get("reports/sales-summary", params=params))
        return (
            row["sales"],
            row["quantity"],
            row["revenue"],
            row["discounts"],
            row["tax"],
            row["returns"],
            row["net_revenue"],
        )

    live = figures()
    assert live == (2, "6", "58.00", "2.00", "0.95", 1, "48.00")
    with transaction(world.sessions()) as s:
        done = summary.refresh(s, tenant_id=a.id)
    # Groups: MAIN 03-02 in store by the cashier (T1–T3 and RT1), WEST 03-03 manager (T4).
    assert done["rows"] == 2
    with transaction(world.sessions(), readonly=True) as s:
        stored = s.scalars(select(SalesDaily).where(SalesDaily.tenant_id == a.id)).all()
    # T3 (void) is summed too: MAIN 03-02 holds 3 sales of 68.00 until voids come off.
    main = next(r for r in stored if r.cashier_id == cashier and r.sales)
    assert (main.sales, main.revenue) == (3, D("68.0000"))
    assert figures() == live  # the same answer from the summary as from the lines

    p2 = a.product_ids[2]
    with transaction(world.sessions()) as s:
        _sale(
            s,
            tenant_id=a.id,
            branch_id=a.branch_ids[0],
            cashier_id=cashier,
            number="T5",
            when=at("2026-03-04"),
            lines=[(p2, "2", "10", "0", "20")],
            payments=[("cash", "20")],
        )
        s.execute(update(Sale).where(Sale.receipt_number == "T1").values(status="voided"))
    after = (2, "5", "50.00", "0.00", "0.00", 1, "40.00")
    assert figures() == after  # T5 read live, T1 taken off though the summary counts it
    # Over a half year the voids are looked for another way (in table order): same figures.
    half = {**params, "date_from": "2026-01-01", "date_to": "2026-06-30"}
    (row,) = rows(admin.get("reports/sales-summary", params=half))
    assert (row["sales"], row["revenue"], row["net_revenue"]) == (2, "50.00", "40.00")
    days = rows(admin.get("reports/sales-summary", params={**MARCH, "group_by": "day"}))
    assert [(d["period"], d["sales"], d["revenue"]) for d in days] == [
        ("2026-03-02", 1, "30.00"),
        ("2026-03-03", 1, "10.00"),
        ("2026-03-04", 1, "20.00"),
    ]
    with transaction(world.sessions()) as s:
        assert summary.refresh(s, tenant_id=a.id)["rows"] == 1  # T5 only
    assert figures() == after
    trend = rows(admin.get("reports/revenue-trend", params={**MARCH, "grain": "month"}))
    # March net: 30 + 10 + 20 − 10 = 50.00 over 3 sales; nothing in the 31 days before.
    assert [(t["sales"], t["revenue"], t["previous_revenue"]) for t in trend] == [
        (3, "50.00", "0.00")
    ]
    (main_branch, _west) = rows(admin.get("reports/branch-comparison", params=MARCH))
    assert (main_branch["sales"], main_branch["revenue"], main_branch["net_revenue"]) == (
        2,
        "50.00",
        "40.00",
    )


def test_approved_wholesale_requests_are_sales_of_the_wholesale_channel(world):
    """W1 approved 03-05 on account: p0 4 × 10 = 40 gross, 10 % off → 36.00 net, no tax.

    W2 (pending) and W3 (rejected) are no sales.
    """
    from sync_server.wholesale.models import SalesRequest, SalesRequestLine

    a = world.a
    p0 = a.product_ids[0]
    with transaction(world.sessions()) as s:
        customer = Customer(tenant_id=a.id, name="Kirana Wholesale")
        s.add(customer)
        s.flush()
        for number, status, decided in (
            ("W1", "approved", at("2026-03-05")),
            ("W2", "pending_approval", None),
            ("W3", "rejected", at("2026-03-06")),
        ):
            request = SalesRequest(
                tenant_id=a.id,
                number=number,
                customer_id=customer.id,
                branch_id=a.branch_ids[0],
                status=status,
                payment_terms="account",
                gross_total=D(40),
                discount_total=D(4),
                total=D(36),
                decided_at=decided,
            )
            request.lines.append(
                SalesRequestLine(
                    tenant_id=a.id,
                    product_id=p0,
                    sku="s",
                    name="n",
                    quantity=D(4),
                    unit_price=D(10),
                    discount_percent=D(10),
                    gross=D(40),
                    net=D(36),
                    tax=D(0),
                    total=D(36),
                )
            )
            s.add(request)
    admin = world.api("admin")
    channel = rows(admin.get("reports/sales-summary", params={**MARCH, "group_by": "channel"}))
    assert [
        (r["channel"], r["sales"], r["quantity"], r["revenue"], r["discounts"]) for r in channel
    ] == [("wholesale", 1, "4", "36.00", "4.00")]
    tender = rows(
        admin.get(
            "reports/sales-summary", params={**MARCH, "group_by": "tender", "channel": "wholesale"}
        )
    )
    assert [(r["tender"], r["payments"], r["amount"]) for r in tender] == [("account", 1, "36.00")]
    best = rows(admin.get("reports/best-sellers", params={**MARCH, "channel": "wholesale"}))
    assert [(r["sku"], r["quantity"], r["revenue"]) for r in best] == [("ADMIN-0", "4", "36.00")]
