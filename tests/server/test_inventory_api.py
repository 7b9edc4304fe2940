"""The stock API: receipts, adjustments, levels, movements, thresholds, valuation, roles."""

from __future__ import annotations

from sqlalchemy import func, select

from sync_server.inventory.models import StockMovement


def _receive(api, branch_id, *lines, reference="INV-1"):
    response = api.post(
        "stock/receipts",
        json={
            "branch_id": branch_id,
            "reference": reference,
            "lines": [
                {"product_id": pid, "quantity": qty, "unit_cost": cost} for pid, qty, cost in lines
            ],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def _levels(api, **params):
    response = api.get("stock/levels", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_receipts_and_adjustments_show_in_levels_and_movements(shop):
    api = shop.api()
    main, west = shop.branch_ids
    p0, p1, p2 = shop.product_ids
    moved = _receive(api, main, (p0, "20", "4.50"), (p1, "2.5", "10"))
    assert [m["code"] for m in moved] == ["receipt", "receipt"]
    assert moved[1]["quantity"] == "2.5" and moved[0]["unit_cost"] == "4.50"
    _receive(api, west, (p2, "7", "1"), reference="INV-2")
    response = api.post(
        "stock/adjustments",
        json={"branch_id": main, "product_id": p0, "quantity": "-3", "reason": "damage"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["reason"] == "damage"

    page = _levels(api, branch_id=main)
    assert page["total"] == 2
    by_product = {row["product_id"]: row for row in page["items"]}
    assert by_product[p0]["on_hand"] == "17" and by_product[p0]["available"] == "17"
    assert by_product[p0]["status"] == "in_stock" and by_product[p0]["unit_cost"] == "4.50"
    assert _levels(api)["total"] == 3
    assert [r["product_id"] for r in _levels(api, q="item 2")["items"]] == [p2]
    assert _levels(api, limit=1, sort="-on_hand")["items"][0]["product_id"] == p0

    history = api.get("stock/movements", params={"product_id": p0}).json()
    assert [m["code"] for m in history["items"]] == ["adjustment", "receipt"]
    assert history["items"][0]["actor"].startswith("admin-")
    only_receipts = api.get("stock/movements", params={"code": "receipt"}).json()
    assert only_receipts["total"] == 3
    future = api.get("stock/movements", params={"date_from": "2999-01-01T00:00:00"}).json()
    assert future["total"] == 0
    by_reference = api.get(
        "stock/movements", params={"reference_type": "receipt", "reference_id": "INV-1"}
    ).json()
    assert by_reference["total"] == 2


def test_an_adjustment_below_zero_is_a_409_problem_and_changes_nothing(shop, engine):
    api = shop.api()
    main = shop.branch_ids[0]
    p0 = shop.product_ids[0]
    _receive(api, main, (p0, "2", "1"))
    response = api.post(
        "stock/adjustments",
        json={"branch_id": main, "product_id": p0, "quantity": "-5", "reason": "theft"},
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("insufficient-stock")
    assert body["lines"] == [{"product_id": p0, "requested": "5", "available": "2"}]
    assert _levels(api)["items"][0]["on_hand"] == "2"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(StockMovement)) == 1


def test_bad_input_is_refused_before_anything_moves(shop, engine):
    api = shop.api()
    main = shop.branch_ids[0]
    p0 = shop.product_ids[0]
    bad = [
        {"branch_id": main, "product_id": p0, "quantity": "-1"},  # no reason
        {"branch_id": main, "product_id": p0, "quantity": "-1", "reason": "bored"},
        {"branch_id": main, "product_id": p0, "quantity": "0", "reason": "damage"},
        {"branch_id": main, "product_id": p0, "quantity": "1.0001", "reason": "found"},
    ]
    for body in bad:
        assert api.post("stock/adjustments", json=body).status_code == 422, body
    stranger = shop.other_product_id
    response = api.post(
        "stock/adjustments",
        json={"branch_id": main, "product_id": stranger, "quantity": "1", "reason": "found"},
    )
    assert response.status_code == 404
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_roles_and_branches_limit_who_moves_stock(shop):
    main, west = shop.branch_ids
    p0 = shop.product_ids[0]
    body = {"branch_id": main, "product_id": p0, "quantity": "1", "reason": "found"}
    assert (
        shop.api("cashier", branches=[main]).post("stock/adjustments", json=body).status_code == 403
    )
    assert (
        shop.api("viewer", branches=[main]).post("stock/adjustments", json=body).status_code == 403
    )
    manager = shop.api("manager", branches=[main])
    assert manager.post("stock/adjustments", json=body).status_code == 201
    # The manager works in MAIN only: WEST is someone else's shop floor.
    response = manager.post("stock/adjustments", json={**body, "branch_id": west})
    assert response.status_code == 403
    assert manager.get("stock/levels", params={"branch_id": west}).status_code == 403
    assert shop.api("viewer", branches=[main]).get("stock/levels").status_code == 200
    assert (
        shop.api("admin", tenant_id=shop.other_tenant_id).get("stock/levels").json()["total"] == 0
    )


def test_thresholds_drive_status_filters_and_low_stock_alerts(shop):
    api = shop.api()
    main = shop.branch_ids[0]
    p0, p1, p2 = shop.product_ids
    _receive(api, main, (p0, "4", "2"), (p1, "50", "2"), (p2, "1", "2"))
    api.post(
        "stock/adjustments",
        json={"branch_id": main, "product_id": p2, "quantity": "-1", "reason": "expiry"},
    )
    response = api.put(
        f"stock/thresholds/{main}/{p0}",
        json={"low_stock_threshold": "5", "reorder_quantity": "24"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["effective_threshold"] == "5"
    statuses = {r["product_id"]: r["status"] for r in _levels(api)["items"]}
    assert statuses == {p0: "low", p1: "in_stock", p2: "out"}
    assert [r["product_id"] for r in _levels(api, status="low")["items"]] == [p0]
    assert [r["product_id"] for r in _levels(api, status="out")["items"]] == [p2]
    assert _levels(api, status="low")["items"][0]["reorder_quantity"] == "24"
    alerts = api.get("alerts", params={"status": "open"}).json()["items"]
    assert {(a["kind"], a["product_id"]) for a in alerts} == {
        ("low_stock", p0),
        ("out_of_stock", p2),
    }
    # Lowering the threshold again lifts the product out of "low": its alert clears.
    api.put(f"stock/thresholds/{main}/{p0}", json={"low_stock_threshold": "3"})
    open_kinds = [a["kind"] for a in api.get("alerts", params={"status": "open"}).json()["items"]]
    assert open_kinds == ["out_of_stock"]


def test_valuation_uses_the_moving_average_cost(shop):
    api = shop.api()
    main, west = shop.branch_ids
    p0 = shop.product_ids[0]
    _receive(api, main, (p0, "10", "3"))
    _receive(api, west, (p0, "10", "5"))
    whole = api.get("stock/valuation").json()
    assert whole["total_value"] == "80.00"
    assert whole["items"][0]["unit_cost"] == "4.00"
    assert api.get("stock/valuation", params={"branch_id": west}).json()["total_value"] == "40.00"
    # A manager bound to one branch may value that branch, not the whole business.
    manager = shop.api("manager", branches=[main])
    assert manager.get("stock/valuation").status_code == 403
    assert manager.get("stock/valuation", params={"branch_id": main}).status_code == 200
