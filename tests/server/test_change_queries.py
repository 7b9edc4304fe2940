"""updated_since on the product list, the store catalog and the order list: what changed since."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.server.test_orders import order_body, post, stock, store


def _instant() -> str:
    """Return a boundary between what was done before and what comes after."""
    time.sleep(0.01)
    now = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    return now


def _problem(response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == field for e in response.json()["errors"]), response.json()


def test_products_changed_since_an_instant(world):
    admin = world.api("admin")
    changed_id = world.a.product_ids[1]
    everything = admin.get("products", params={"updated_since": "2000-01-01T00:00:00Z"})
    assert everything.json()["total"] == 3
    since = _instant()
    assert admin.get("products", params={"updated_since": since}).json()["total"] == 0
    assert admin.patch(f"products/{changed_id}", json={"price": "12.00"}).status_code == 200
    changed = admin.get("products", params={"updated_since": since, "sort": "updated_at"}).json()
    assert [p["id"] for p in changed["items"]] == [changed_id]
    assert changed["items"][0]["price"] == "12.00"
    # Another tenant's changes never show; a time without an offset is ambiguous: refused.
    assert (
        world.api("b_admin").get("products", params={"updated_since": since}).json()["total"] == 0
    )
    _problem(
        admin.get("products", params={"updated_since": "2026-01-01T00:00:00"}), 422, "updated_since"
    )
    _problem(admin.get("products", params={"updated_since": "yesterday"}), 422, "updated_since")


def test_store_catalog_changes_include_restocks_and_archived_products(world):
    shop = store(world)
    stock(world, product=0, quantity="5")
    since = _instant()
    assert shop.get("catalog", params={"updated_since": since}).json()["items"] == []
    stock(world, product=1, quantity="4")  # availability changed at MAIN
    archived = world.a.product_ids[2]
    assert (
        world.api("admin").patch(f"products/{archived}", json={"active": False}).status_code == 200
    )
    changed = shop.get("catalog", params={"updated_since": since, "sort": "sku"})
    assert changed.status_code == 200, changed.text
    items = {item["product_id"]: item for item in changed.json()["items"]}
    assert set(items) == {world.a.product_ids[1], archived}
    main = [a for a in items[world.a.product_ids[1]]["availability"] if a["branch_code"] == "MAIN"]
    assert main[0]["available"] == "4" and items[world.a.product_ids[1]]["active"] is True
    assert items[archived]["active"] is False
    # Without updated_since the catalog stays what a shop can sell: archived products stay out.
    full = shop.get("catalog").json()["items"]
    assert archived not in {item["product_id"] for item in full}
    assert all(item["active"] for item in full)


def test_orders_changed_since_an_instant(world):
    stock(world, quantity="10")
    shop = store(world, scopes=("orders:write",))
    first = post(shop, order_body("CH-1")).json()
    second = post(shop, order_body("CH-2")).json()
    since = _instant()
    assert shop.get("orders", params={"updated_since": since}).json()["total"] == 0
    paid = shop.post(f"orders/{first['id']}/payment", json={"amount": "20.00"})
    assert paid.status_code == 200, paid.text
    third = post(shop, order_body("CH-3")).json()
    changed = shop.get("orders", params={"updated_since": since, "sort": "updated_at"}).json()
    assert [o["id"] for o in changed["items"]] == [first["id"], third["id"]]
    assert changed["items"][0]["status"] == "confirmed"
    assert second["id"] not in {o["id"] for o in changed["items"]}
    _problem(shop.get("orders", params={"updated_since": "not-a-time"}), 422, "updated_since")
