"""Reports on hand-computable data, on SQLite and PostgreSQL: every figure is derived below."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from common.codes import MovementCode
from sync_server.catalog.models import Category, Product
from sync_server.db import transaction
from sync_server.inventory import costing, ledger
from sync_server.inventory.models import BranchProductSetting
from sync_server.orders.models import Order, OrderLine, OrderReturn, OrderReturnLine
from sync_server.partners.models import Customer, Supplier

D = Decimal
JAN = {"date_from": "2026-01-01", "date_to": "2026-01-31"}


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def _order(
    session, *, tenant_id, customer_id, branch_id, number, when, status, lines, refunded="0"
):
    """Insert a paid online order as the orders domain stores it: (product, qty, price, total)."""
    total = sum((D(t) for _p, _q, _u, t in lines), D(0))
    order = Order(
        tenant_id=tenant_id,
        external_number=number,
        status=status,
        customer_id=customer_id,
        branch_id=branch_id,
        total=total,
        paid_amount=total,
        refunded_amount=D(refunded),
        created_at=when,
        updated_at=when,
    )
    for product_id, qty, unit, line_total in lines:
        order.lines.append(
            OrderLine(
                tenant_id=tenant_id,
                product_id=product_id,
                sku=f"P{product_id}",
                name="x",
                quantity=D(qty),
                unit_price=D(unit),
                line_total=D(line_total),
            )
        )
    session.add(order)
    session.flush()
    return order


def _customer(session, tenant_id: int, name: str = "Walk-in online") -> int:
    customer = Customer(tenant_id=tenant_id, name=name)
    session.add(customer)
    session.flush()
    return customer.id


@pytest.fixture
def sales_world(world):
    """January 2026 online sales (plus December, a cancelled order and tenant B's noise).

    Products p0, p1, p2 sell at 10.00 and cost 6.00, 0.50, 2.00; p0 and p1 are 'Drinks';
    p0 comes from supplier S1. Branches b0 = MAIN, b1 = WEST.
      O1  b0 2026-01-05  p0 2 × 10 = 20, p1 1 × 10 = 9 (1.00 discount)       confirmed
      O2  b0 2026-01-06  p0 1 × 10 = 10, refunded 10 after return R1            delivered
      O3  b1 2026-01-12  p2 5 × 10 = 50                                         shipped
      O4  b0 2026-01-07  p0 100 × 10 = 1000                                     cancelled → ignored
      O5  b0 2025-12-20  p1 3 × 10 = 30          confirmed (the previous period)
      R1  b0 2026-01-08  p0 1 back from O2, received (−10.00)
      tenant B: 7 × 10 = 70 on 2026-01-05 (never visible to tenant A)
    """
    a, b = world.a, world.b
    p0, p1, p2 = a.product_ids
    with transaction(world.sessions()) as s:
        drinks = Category(tenant_id=a.id, name="Drinks")
        s1 = Supplier(tenant_id=a.id, name="S1")
        s.add_all([drinks, s1])
        s.flush()
        for pid, cost, cat, sup in (
            (p0, "6", drinks.id, s1.id),
            (p1, "0.5", drinks.id, None),
            (p2, "2", None, None),
        ):
            s.execute(
                update(Product)
                .where(Product.id == pid)
                .values(cost=D(cost), category_id=cat, supplier_id=sup)
            )
        cust = _customer(s, a.id)
        b0, b1 = a.branch_ids
        kw = {"tenant_id": a.id, "customer_id": cust}
        _order(
            s,
            **kw,
            branch_id=b0,
            number="O1",
            when=at("2026-01-05"),
            status="confirmed",
            lines=[(p0, "2", "10", "20"), (p1, "1", "10", "9")],
        )
        o2 = _order(
            s,
            **kw,
            branch_id=b0,
            number="O2",
            when=at("2026-01-06", 12),
            status="delivered",
            lines=[(p0, "1", "10", "10")],
            refunded="10",
        )
        _order(
            s,
            **kw,
            branch_id=b1,
            number="O3",
            when=at("2026-01-12", 9),
            status="shipped",
            lines=[(p2, "5", "10", "50")],
        )
        _order(
            s,
            **kw,
            branch_id=b0,
            number="O4",
            when=at("2026-01-07"),
            status="cancelled",
            lines=[(p0, "100", "10", "1000")],
        )
        _order(
            s,
            **kw,
            branch_id=b0,
            number="O5",
            when=at("2025-12-20"),
            status="confirmed",
            lines=[(p1, "3", "10", "30")],
        )
        ret = OrderReturn(
            tenant_id=a.id,
            order_id=o2.id,
            status="received",
            refund_amount=D("10"),
            created_at=at("2026-01-07"),
            received_at=at("2026-01-08"),
        )
        ret.lines.append(
            OrderReturnLine(
                tenant_id=a.id, order_line_id=o2.lines[0].id, product_id=p0, quantity=D(1)
            )
        )
        s.add(ret)
        _order(
            s,
            tenant_id=b.id,
            customer_id=_customer(s, b.id),
            branch_id=b.branch_ids[0],
            number="B1",
            when=at("2026-01-05"),
            status="confirmed",
            lines=[(b.product_ids[0], "7", "10", "70")],
        )
    return {"drinks": drinks.id, "s1": s1.id}


def test_sales_summary_by_day_week_branch_channel_and_tender(world, sales_world):
    api = world.api("viewer")
    # Day: 01-05 is O1: 3 units, 29.00, discount 1.00, cost 2×6 + 1×0.5 = 12.50,
    # margin 16.50 = 56.9 %. 01-06 is O2: 10.00, cost 6.00, margin 4.00 = 40.0 %.
    # 01-08 is only R1: no sale, one return of 1 unit for 10.00, net −10.00.
    # 01-12 is O3: 50.00, cost 5×2 = 10.00, margin 40.00 = 80.0 %. O4 (cancelled) is absent.
    days = rows(world.api("admin").get("reports/sales-summary", params={**JAN, "group_by": "day"}))
    by_day = {r["period"]: r for r in days}
    assert list(by_day) == ["2026-01-05", "2026-01-06", "2026-01-08", "2026-01-12"]
    d5 = by_day["2026-01-05"]
    assert (d5["sales"], d5["quantity"], d5["revenue"], d5["discounts"], d5["tax"]) == (
        1,
        "3",
        "29.00",
        "1.00",
        "0.00",
    )
    assert (d5["cost"], d5["gross_margin"], d5["margin_percent"]) == ("12.50", "16.50", "56.9")
    assert (by_day["2026-01-06"]["gross_margin"], by_day["2026-01-06"]["margin_percent"]) == (
        "4.00",
        "40",
    )
    d8 = by_day["2026-01-08"]
    assert (d8["sales"], d8["returns"], d8["returned_quantity"], d8["returned_amount"]) == (
        0,
        1,
        "1",
        "10.00",
    )
    assert (d8["revenue"], d8["net_revenue"]) == ("0.00", "-10.00")
    assert by_day["2026-01-12"]["margin_percent"] == "80"

    # Weeks start on Monday: 2026-01-05 holds O1, O2 and R1; 2026-01-12 holds O3.
    admin = world.api("admin")
    weeks = rows(admin.get("reports/sales-summary", params={**JAN, "group_by": "week"}))
    assert [
        (w["period"], w["sales"], w["revenue"], w["cost"], w["net_revenue"]) for w in weeks
    ] == [
        ("2026-01-05", 2, "39.00", "18.50", "29.00"),
        ("2026-01-12", 1, "50.00", "10.00", "50.00"),
    ]
    month = rows(admin.get("reports/sales-summary", params={**JAN, "group_by": "month"}))
    assert [(m["period"], m["sales"], m["quantity"], m["revenue"]) for m in month] == [
        ("2026-01-01", 3, "9", "89.00")
    ]
    # The viewer works in MAIN only: O1 and O2, 39.00.
    mine = rows(api.get("reports/sales-summary", params={**JAN, "group_by": "month"}))
    assert [(m["sales"], m["revenue"]) for m in mine] == [(2, "39.00")]
    # Branches: MAIN = O1 + O2 − R1, WEST = O3.
    branches = rows(admin.get("reports/sales-summary", params={**JAN, "group_by": "branch"}))
    assert [
        (r["branch"], r["sales"], r["revenue"], r["gross_margin"], r["net_revenue"])
        for r in branches
    ] == [
        ("Tenant A MAIN", 2, "39.00", "20.50", "29.00"),
        ("Tenant A WEST", 1, "50.00", "40.00", "50.00"),
    ]
    # Channel: everything is online: 89.00 revenue, cost 28.50, margin 60.50 (68.0 %).
    channel = rows(admin.get("reports/sales-summary", params={**JAN, "group_by": "channel"}))
    assert [
        (r["channel"], r["sales"], r["cost"], r["gross_margin"], r["margin_percent"])
        for r in channel
    ] == [("online", 3, "28.50", "60.50", "68")]
    # Tender: three paid orders, 29 + 10 + 50 = 89.00 by card, 10.00 refunded.
    tender = rows(admin.get("reports/sales-summary", params={**JAN, "group_by": "tender"}))
    assert tender == [
        {"tender": "card", "payments": 3, "amount": "89.00", "refunded": "10.00", "net": "79.00"}
    ]
    cashier = rows(admin.get("reports/sales-summary", params={**JAN, "group_by": "cashier"}))
    assert [(r["cashier"], r["sales"]) for r in cashier] == [("(online / none)", 3)]


def test_filters_narrow_by_branch_category_supplier_channel_and_role(world, sales_world):
    admin = world.api("admin")
    b0, b1 = world.a.branch_ids
    # Drinks (p0, p1) only: O1 and O2 → 2 sales, 4 units, 39.00.
    drinks = rows(
        admin.get(
            "reports/sales-summary",
            params={**JAN, "group_by": "channel", "category_id": sales_world["drinks"]},
        )
    )
    assert [(r["sales"], r["quantity"], r["revenue"]) for r in drinks] == [(2, "4", "39.00")]
    # Supplier S1 supplies p0 only: net 2 + 1 − 1 = 2 units, 20.00.
    s1 = rows(admin.get("reports/best-sellers", params={**JAN, "supplier_id": sales_world["s1"]}))
    assert [(r["sku"], r["quantity"], r["revenue"]) for r in s1] == [("ADMIN-0", "2", "20.00")]
    west = rows(
        admin.get("reports/sales-summary", params={**JAN, "group_by": "branch", "branch_id": b1})
    )
    assert [(r["branch_id"], r["revenue"]) for r in west] == [(b1, "50.00")]
    in_store = rows(admin.get("reports/sales-summary", params={**JAN, "channel": "in_store"}))
    assert in_store == []
    # The manager works in MAIN only: WEST's sales are not theirs to see.
    manager = world.api("manager")
    mine = rows(manager.get("reports/sales-summary", params={**JAN, "group_by": "branch"}))
    assert [r["branch_id"] for r in mine] == [b0]
    denied = manager.get("reports/sales-summary", params={**JAN, "branch_id": b1})
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    # Cashiers do not read reports; the viewer does; tenant B sees only its own 70.00.
    assert world.api("cashier").get("reports/sales-summary").status_code == 403
    other = rows(
        world.api("b_admin").get("reports/sales-summary", params={**JAN, "group_by": "month"})
    )
    assert [(r["sales"], r["revenue"]) for r in other] == [(1, "70.00")]
    bad = admin.get(
        "reports/sales-summary", params={"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )
    assert bad.status_code == 422
    assert bad.json()["type"].endswith("validation-error")


def _revenue_trend_sets_each_bucket_beside_the_previous_period(world):
    api = world.api("admin")
    # January's net revenue 29 + 10 − 10 + 50 = 79.00 against December's 30.00: +163.3 %.
    month = rows(api.get("reports/revenue-trend", params={**JAN, "grain": "month"}))
    assert month == [
        {
            "period": "2026-01-01",
            "sales": 3,
            "revenue": "79.00",
            "previous_period": "2025-12-01",
            "previous_revenue": "30.00",
            "change_percent": "163.3",
        }
    ]
    days = rows(api.get("reports/revenue-trend", params={**JAN, "grain": "day"}))
    assert len(days) == 31  # empty days are there, at zero
    by_day = {r["period"]: r for r in days}
    assert by_day["2026-01-08"]["revenue"] == "-10.00"
    # Day 20 of January faces day 20 of December (O5): 0 against 30.00 is −100 %.
    assert (
        by_day["2026-01-20"]["previous_period"],
        by_day["2026-01-20"]["previous_revenue"],
        by_day["2026-01-20"]["change_percent"],
    ) == ("2025-12-20", "30.00", "-100")
    assert by_day["2026-01-05"]["change_percent"] is None  # nothing to compare with


def _best_sellers_rank_by_quantity_revenue_and_margin(world):
    api = world.api("admin")

    def ranking(by: str) -> list[tuple]:
        got = rows(api.get("reports/best-sellers", params={**JAN, "by": by}))
        return [(r["rank"], r["sku"], r[by if by != "margin" else "margin"]) for r in got]

    # Net of returns: p2 5 units / 50.00; p0 2 + 1 − 1 = 2 / 20.00; p1 1 / 9.00.
    assert ranking("quantity") == [(1, "ADMIN-2", "5"), (2, "ADMIN-0", "2"), (3, "ADMIN-1", "1")]
    assert ranking("revenue") == [
        (1, "ADMIN-2", "50.00"),
        (2, "ADMIN-0", "20.00"),
        (3, "ADMIN-1", "9.00"),
    ]
    # Margin: p2 50 − 5×2 = 40; p1 9 − 0.5 = 8.50; p0 20 − 2×6 = 8.00.
    assert ranking("margin") == [
        (1, "ADMIN-2", "40.00"),
        (2, "ADMIN-1", "8.50"),
        (3, "ADMIN-0", "8.00"),
    ]
    top1 = rows(api.get("reports/best-sellers", params={**JAN, "by": "revenue", "limit": 1}))
    assert [r["sku"] for r in top1] == ["ADMIN-2"]


def _branch_comparison_sets_branches_side_by_side(world):
    b0, b1 = world.a.branch_ids
    p0 = world.a.product_ids[0]
    with transaction(world.sessions()) as s:
        # MAIN holds 10 of p0 at cost 6.00 → stock at cost 60.00.
        costing.receive(
            s,
            actor=world.principal("admin").actor,
            branch_id=b0,
            product_id=p0,
            quantity=D(10),
            unit_cost=D(6),
            reference_type="test",
            reference_id="1",
        )
    got = rows(world.api("admin").get("reports/branch-comparison", params=JAN))
    main, west = got
    # MAIN: 2 sales, 39.00 revenue → basket 19.50; margin 39 − 18.50 = 20.50 (52.6 %);
    # returns 10.00, net 29.00 = 29/79 = 36.7 % of the tenant; WEST: 50.00, 63.3 %.
    assert (main["branch_id"], main["sales"], main["revenue"], main["average_basket"]) == (
        b0,
        2,
        "39.00",
        "19.50",
    )
    assert (main["gross_margin"], main["margin_percent"], main["returned_amount"]) == (
        "20.50",
        "52.6",
        "10.00",
    )
    assert (main["net_revenue"], main["share_percent"], main["stock_value"]) == (
        "29.00",
        "36.7",
        "60.00",
    )
    assert (west["branch_id"], west["net_revenue"], west["share_percent"]) == (b1, "50.00", "63.3")
    assert west["stock_value"] == "0.00"


@pytest.fixture
def stock_world(world):
    """Today's stock in MAIN (b0) and WEST (b1), with recent online sales for cover.

    p0: threshold 5, reorder 12; MAIN receives 10, loses 7 → 3 available (low); WEST holds 50.
        Sold 14 in MAIN 3 days ago → 14 / 28 = 0.5 a day → 3 / 0.5 = 6.0 days of cover.
    p1: reorder 6; MAIN receives 4, loses 4 → 0 (out); sold 7 ten days ago.
    p2: WEST sells 2 it never had → −2 (negative); WEST's own setting: threshold 3, reorder 10.
    p3: MAIN holds 8, never sold (dead). p4: MAIN holds 20, sold 3 five days ago.
    p5: MAIN holds 5, last sold (2) forty days ago: outside the 28-day window, inside 60.
    """
    from sync_server.catalog import service as catalog
    from tests.factories import make_product

    a = world.a
    b0, b1 = a.branch_ids
    actor = world.principal("admin")
    today = datetime.now(UTC).date()
    with transaction(world.sessions()) as s:
        extra = [
            catalog.create_product(s, actor=actor, data=make_product(sku=f"X-{i}", name=f"X{i}")).id
            for i in (3, 4, 5)
        ]
    p0, p1, p2 = a.product_ids
    p3, p4, p5 = extra
    with transaction(world.sessions()) as s:
        s.execute(
            update(Product)
            .where(Product.id == p0)
            .values(low_stock_threshold=D(5), reorder_quantity=D(12))
        )
        s.execute(update(Product).where(Product.id == p1).values(reorder_quantity=D(6)))
        s.add(
            BranchProductSetting(
                tenant_id=a.id,
                branch_id=b1,
                product_id=p2,
                low_stock_threshold=D(3),
                reorder_quantity=D(10),
            )
        )
        who = actor.actor

        def receive(branch, product, qty):
            costing.receive(
                s,
                actor=who,
                branch_id=branch,
                product_id=product,
                quantity=D(qty),
                unit_cost=D(1),
                reference_type="test",
                reference_id="r",
            )

        def out(branch, product, qty):
            ledger.record_movement(
                s,
                actor=who,
                branch_id=branch,
                product_id=product,
                code=MovementCode.SALE,
                quantity=-D(qty),
                reference_type="test",
                reference_id="s",
                allow_negative=True,
            )

        # One transaction, so in the server's one lock order: branch, then product.
        receive(b0, p0, 10)
        out(b0, p0, 7)
        receive(b0, p1, 4)
        out(b0, p1, 4)
        receive(b0, p3, 8)
        receive(b0, p4, 20)
        receive(b0, p5, 5)
        receive(b1, p0, 50)
        out(b1, p2, 2)
        cust = _customer(s, a.id)
        now = datetime.now(UTC).replace(microsecond=0)
        for number, product, qty, days_ago in (
            ("S1", p0, 14, 3),
            ("S2", p1, 7, 10),
            ("S3", p4, 3, 5),
            ("S4", p5, 2, 40),
        ):
            _order(
                s,
                tenant_id=a.id,
                customer_id=cust,
                branch_id=b0,
                number=number,
                when=now - timedelta(days=days_ago),
                status="confirmed",
                lines=[(product, str(qty), "10", str(qty * 10))],
            )
    return {"today": today, "p3": p3, "p4": p4, "p5": p5}


def _stock_shortages_with_days_of_cover_and_reorder_suggestion(world):
    got = rows(world.api("viewer").get("reports/stock-shortages"))
    # The viewer works in MAIN only: p0 low (3 ≤ 5), p1 out (0).
    assert [(r["sku"], r["status"]) for r in got] == [("ADMIN-1", "out"), ("ADMIN-0", "low")]
    every = rows(world.api("admin").get("reports/stock-shortages"))
    by_sku = {(r["branch"], r["sku"]): r for r in every}
    assert set(by_sku) == {
        ("Tenant A MAIN", "ADMIN-0"),
        ("Tenant A MAIN", "ADMIN-1"),
        ("Tenant A WEST", "ADMIN-2"),
    }
    p0 = by_sku[("Tenant A MAIN", "ADMIN-0")]
    # 14 sold over 28 days = 0.5 a day; 3 / 0.5 = 6 days; order max(12, 5 − 3) = 12.
    assert (
        p0["available"],
        p0["sold_28d"],
        p0["daily_sales"],
        p0["days_of_cover"],
        p0["suggested_order"],
    ) == ("3", "14", "0.5", "6", "12")
    p1 = by_sku[("Tenant A MAIN", "ADMIN-1")]
    # Out, and 7 sold in 28 days → 0 days of cover; order max(6, 0 − 0) = 6.
    assert (p1["available"], p1["days_of_cover"], p1["suggested_order"]) == ("0", "0", "6")
    p2 = by_sku[("Tenant A WEST", "ADMIN-2")]
    # Negative: WEST's own threshold 3, reorder 10 → max(10, 3 − (−2) = 5) = 10; no sales.
    assert (p2["status"], p2["on_hand"], p2["days_of_cover"], p2["suggested_order"]) == (
        "negative",
        "-2",
        None,
        "10",
    )


def _movers_fast_normal_slow_and_dead(world):
    got = rows(
        world.api("admin").get("reports/movers", params={"window_days": 28, "dead_days": 60})
    )
    by_sku = {r["sku"]: r for r in got}
    # Sellers in the window, by quantity: p4 3, p1 7, p0 14 → percent_rank 0, 0.5, 1:
    # slow, normal, fast. p5 sold only 40 days ago: not dead (sold within 60), so slow.
    # p3 holds 8 and never sold: dead. p2 (negative, no sale) is left out.
    assert {sku: r["class"] for sku, r in by_sku.items()} == {
        "ADMIN-0": "fast",
        "ADMIN-1": "normal",
        "X-4": "slow",
        "X-5": "slow",
        "X-3": "dead",
    }
    # p0: 14 / 28 = 0.5 a day, last sold 3 days ago; MAIN 3 + WEST 50 on hand.
    assert (
        by_sku["ADMIN-0"]["velocity"],
        by_sku["ADMIN-0"]["days_since_sale"],
        by_sku["ADMIN-0"]["on_hand"],
    ) == ("0.5", 3, "53")
    assert by_sku["X-5"]["days_since_sale"] == 40
    dead = rows(world.api("admin").get("reports/movers", params={"class": "dead"}))
    assert [r["sku"] for r in dead] == ["X-3"]


def test_stock_valuation_now_and_as_of_past_dates(world):
    """Receipts back-dated in the ledger; today's value uses the product's average cost.

    p0 in MAIN: 10 @ 5.00 on 01-10, 10 @ 7.00 on 02-10, 4 sold on 02-15 → 16 on hand;
    the average cost is (50 + 70) / 20 = 6.00. p1 in WEST: 6 @ 2.00 on 01-20. Price 10.00.
    """
    a = world.a
    b0, b1 = a.branch_ids
    p0, p1, _p2 = a.product_ids
    who = world.principal("admin").actor
    with transaction(world.sessions()) as s:
        drinks = Category(tenant_id=a.id, name="Drinks")
        s.add(drinks)
        s.flush()
        s.execute(update(Product).where(Product.id == p0).values(cost=D(6), category_id=drinks.id))
        s.execute(update(Product).where(Product.id == p1).values(cost=D(2)))
        for branch, product, code, qty, cost, day in (
            (b0, p0, MovementCode.RECEIPT, 10, "5", "2026-01-10"),
            (b0, p0, MovementCode.RECEIPT, 10, "7", "2026-02-10"),
            (b0, p0, MovementCode.SALE, -4, None, "2026-02-15"),
            (b1, p1, MovementCode.RECEIPT, 6, "2", "2026-01-20"),
        ):
            ledger.record_movement(
                s,
                actor=who,
                branch_id=branch,
                product_id=product,
                code=code,
                quantity=D(qty),
                unit_cost=D(cost) if cost else None,
                reference_type="t",
                reference_id="v",
                occurred_at=at(day),
            )
    api = world.api("viewer")
    admin = world.api("admin")

    def figures(params=None):
        got = rows(admin.get("reports/stock-valuation", params=params or {}))
        return [
            (r["branch"], r["category"], r["quantity"], r["cost_value"], r["retail_value"])
            for r in got
        ]

    # Now: MAIN/Drinks 16 × 6 = 96.00 at cost, 160.00 retail; WEST/(none) 6 × 2 = 12, 60.
    assert figures() == [
        ("Tenant A MAIN", "Drinks", "16", "96.00", "160.00"),
        ("Tenant A WEST", "(none)", "6", "12.00", "60.00"),
    ]
    # 01-31: MAIN had only the first receipt: 10 at 5.00 = 50.00.
    assert figures({"as_of": "2026-01-31"}) == [
        ("Tenant A MAIN", "Drinks", "10", "50.00", "100.00"),
        ("Tenant A WEST", "(none)", "6", "12.00", "60.00"),
    ]
    # 02-20: 20 − 4 = 16 at (50 + 70) / 20 = 6.00 = 96.00, the same as now.
    assert figures({"as_of": "2026-02-20"})[0] == (
        "Tenant A MAIN",
        "Drinks",
        "16",
        "96.00",
        "160.00",
    )
    assert figures({"as_of": "2026-01-05"}) == []
    # The viewer sees MAIN only; a category filter keeps Drinks only.
    assert [r["branch_id"] for r in rows(api.get("reports/stock-valuation"))] == [b0]
    assert [
        r["category"]
        for r in rows(admin.get("reports/stock-valuation", params={"category_id": drinks.id}))
    ] == ["Drinks"]


def test_customer_credit_ageing_buckets(world):
    """As of 2026-03-31, each charge's age in days decides its bucket (boundaries included).

    C1: 100 open (10 d), 50 of 200 open (45 d), 300 open (100 d), 40 paid off (70 d),
        a payment with 20 not yet allocated → 100 | 50 | 0 | 300, due 450.
    C2: 20 (exactly 30 d → 0–30) and 30 (31 d → 31–60) → due 50.
    C3 owes nothing open; a charge made after as_of does not count.
    """
    from sync_server.credit.models import CreditEntry

    a = world.a
    as_of = date(2026, 3, 31)

    def ago(days: int) -> datetime:
        return datetime.combine(
            as_of - timedelta(days=days), datetime.min.time(), tzinfo=UTC
        ) + timedelta(hours=15)

    with transaction(world.sessions()) as s:
        c1, c2, c3 = (_customer(s, a.id, name) for name in ("C1", "C2", "C3"))
        entries = [
            (c1, "charge", "100", "100", 10),
            (c1, "charge", "200", "50", 45),
            (c1, "charge", "300", "300", 100),
            (c1, "charge", "40", "0", 70),
            (c1, "payment", "-150", "20", 5),
            (c2, "charge", "20", "20", 30),
            (c2, "charge", "30", "30", 31),
            (c3, "charge", "60", "0", 20),
            (c3, "charge", "99", "99", -1),
        ]
        for cid, kind, amount, open_amount, days in entries:
            s.add(
                CreditEntry(
                    tenant_id=a.id,
                    customer_id=cid,
                    kind=kind,
                    amount=D(amount),
                    open_amount=D(open_amount),
                    reference_type="test",
                    reference_id=f"{cid}-{days}",
                    created_at=ago(days),
                )
            )
    got = rows(
        world.api("viewer").get(
            "reports/customer-credit-ageing", params={"as_of": as_of.isoformat()}
        )
    )
    assert [
        (
            r["customer"],
            r["days_0_30"],
            r["days_31_60"],
            r["days_61_90"],
            r["days_90_plus"],
            r["total_due"],
            r["unallocated_payments"],
        )
        for r in got
    ] == [
        ("C1", "100.00", "50.00", "0.00", "300.00", "450.00", "20.00"),
        ("C2", "20.00", "30.00", "0.00", "0.00", "50.00", "0.00"),
    ]
    assert (
        rows(
            world.api("b_admin").get(
                "reports/customer-credit-ageing", params={"as_of": as_of.isoformat()}
            )
        )
        == []
    )


# One database per scenario, several reports over it: building the world is the slow part.


def test_trend_best_sellers_and_branch_comparison(world, sales_world):
    _revenue_trend_sets_each_bucket_beside_the_previous_period(world)
    _best_sellers_rank_by_quantity_revenue_and_margin(world)
    _branch_comparison_sets_branches_side_by_side(world)


def test_shortages_and_movers(world, stock_world):
    _stock_shortages_with_days_of_cover_and_reorder_suggestion(world)
    _movers_fast_normal_slow_and_dead(world)
