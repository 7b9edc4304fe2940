"""Demand-based reordering: Holt-Winters on the sales ledger, measured lead times, reasoning."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from sync_server.db import transaction
from sync_server.inventory import costing, ledger
from sync_server.purchasing import forecast
from sync_server.purchasing.models import PurchaseOrder

# Sales per weekday, Monday first: quiet early week, busy weekend.
PATTERN = (6, 5, 5, 6, 9, 14, 16)


def weekly_series(weeks: int, *, growth: float = 0.0) -> list[float]:
    """Daily sales following PATTERN, growing by `growth` units per day, with fixed wobble."""
    wobble = (2.0, -1.5, 0.5, -1.0, 1.5, -2.0, 1.0, 0.0, -0.5)
    return [PATTERN[t % 7] + growth * t + wobble[t % len(wobble)] for t in range(weeks * 7)]


def test_model_learns_the_weekly_shape_and_the_trend():
    flat = forecast.fit(weekly_series(8))
    ahead = flat.forecast(7)  # the series ends on a Sunday, so this starts on Monday
    assert max(range(7), key=ahead.__getitem__) == 6
    assert min(range(7), key=ahead.__getitem__) in (1, 2)
    assert abs(sum(ahead) - sum(PATTERN)) < 3
    rising = forecast.fit(weekly_series(8, growth=0.2))
    assert rising.trend > 0.1
    assert sum(rising.forecast(7)) > sum(PATTERN) + 8 * 7 * 0.2 * 0.8


def test_plan_grows_with_service_level_and_lead_time_and_explains_itself():
    series = weekly_series(8)
    base = forecast.plan(series, lead_days=6, review_days=7, service_level=0.9)
    safer = forecast.plan(series, lead_days=6, review_days=7, service_level=0.99)
    longer = forecast.plan(series, lead_days=12, review_days=7, service_level=0.9)
    assert safer.safety_stock > base.safety_stock
    assert longer.reorder_point > base.reorder_point + 40
    assert base.order_up_to > base.reorder_point
    # Six days of this pattern from a Monday are 45 units, plus the safety stock.
    assert 47 <= base.reorder_point <= 56
    assert re.fullmatch(
        r"sells ~6[012]/week \(flat\), lead time 6 days \(measured\), safety stock \d+ "
        r"for 90% service: reorder at \d+, order up to \d+",
        base.reasoning,
    ), base.reasoning
    unknown = forecast.plan(
        [3.0] * 5, lead_days=7, review_days=7, service_level=0.95, lead_measured=False
    )
    assert "lead time 7 days (assumed)" in unknown.reasoning
    assert unknown.reorder_point == 21  # no spread in the history: no safety stock


def test_forecast_suggestions_use_ledger_sales_measured_lead_time_and_stock_on_order(world):
    p = world.a.product_ids
    branch = world.a.branch_ids[0]
    buyer = world.api("purchase_admin")
    supplier = buyer.post("suppliers", json={"name": "Acme"}).json()["id"]
    r = world.api("admin").patch(f"products/{p[0]}", json={"supplier_id": supplier})
    assert r.status_code == 200, r.text
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    series = weekly_series(8)
    with transaction(world.sessions()) as session:
        actor = world.principal("admin").actor
        costing.receive(
            session,
            actor=actor,
            branch_id=branch,
            product_id=p[0],
            quantity=Decimal("550"),
            unit_cost=Decimal("3"),
            reference_type="test",
            reference_id="opening",
        )
        for age, sold in enumerate(reversed(series)):
            ledger.record_movement(
                session,
                actor=actor,
                branch_id=branch,
                product_id=p[0],
                code="sale",
                quantity=-Decimal(round(sold)),
                reference_type="test",
                reference_id=f"day-{age}",
                occurred_at=today - timedelta(days=age),
            )
    # A PO approved six days before its goods came: the supplier's measured lead time.
    po = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": supplier,
            "branch_id": branch,
            "lines": [{"product_id": p[0], "quantity": "30", "unit_cost": "3"}],
        },
    ).json()
    assert buyer.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    assert world.api("manager").post(f"purchase-orders/{po['id']}/approve").status_code == 200
    with transaction(world.sessions()) as session:
        session.execute(
            update(PurchaseOrder)
            .where(PurchaseOrder.id == po["id"])
            .values(decided_at=datetime.now(UTC) - timedelta(days=6))
        )
    received = buyer.post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": po["lines"][0]["id"], "quantity": "10"}]},
    )
    assert received.status_code == 201, received.text
    # 550 + 10 received - 489 sold = 71 on hand, 20 still on order.
    params = {"branch_id": branch, "method": "forecast", "cover_days": 7}
    got = buyer.get("reorder-suggestions", params=params).json()
    assert got["method"] == "forecast"
    lines = {line["product_id"]: line for g in got["suppliers"] for line in g["lines"]}
    assert p[0] not in lines  # 71 + 20 is above the ~48 reorder point

    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=branch,
            product_id=p[0],
            code="sale",
            quantity=Decimal("-50"),
            reference_type="test",
            reference_id="rush",
            occurred_at=today - timedelta(days=3),
        )
    got = buyer.get("reorder-suggestions", params=params).json()
    line = {line["product_id"]: line for g in got["suppliers"] for line in g["lines"]}[p[0]]
    assert "lead time 6 days (measured)" in line["reasoning"], line["reasoning"]
    assert line["on_order"] == "20"
    assert Decimal(line["on_hand"]) == 21
    position = Decimal(line["on_hand"]) + Decimal(line["on_order"])
    assert position <= Decimal(line["reorder_point"])
    assert Decimal(line["quantity"]) == Decimal(line["order_up_to"]) - position
    # The threshold method is unchanged and gives no reasoning.
    plain = buyer.get("reorder-suggestions", params={"branch_id": branch}).json()
    assert all(x["reasoning"] is None for g in plain["suppliers"] for x in g["lines"])
    made = world.api("manager").post(
        "reorder-suggestions/purchase-orders",
        json={"branch_id": branch, "method": "forecast", "cover_days": 7},
    )
    assert made.status_code == 201, made.text
    [draft] = made.json()
    assert [(x["product_id"], x["quantity"]) for x in draft["lines"]] == [(p[0], line["quantity"])]
