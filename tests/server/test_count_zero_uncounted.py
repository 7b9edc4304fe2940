"""A count may set what was not counted in its scope to zero: reviewed, ledgered, audited."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from sync_server.audit.models import AuditEntry
from sync_server.db import transaction
from sync_server.integrity.ledger import verify_ledgers
from sync_server.inventory.models import StockMovement
from tests.server.test_inventory_transfers import _on_hand, _stock_in
from tests.sync.test_lots import _lots, _receive


def test_zero_uncounted_sets_the_rest_of_the_scope_to_zero_with_count_movements(shop, engine):
    api = shop.api()
    main, west = shop.branch_ids
    p0, p1, p2 = shop.product_ids
    for product_id, quantity in ((p0, "10"), (p1, "4"), (p2, "6")):
        _stock_in(api, main, product_id, quantity, cost="2.50")
    _stock_in(api, west, p1, "9")  # another branch: out of scope
    cid = api.post("counts", json={"branch_id": main}).json()["id"]
    api.post(f"counts/{cid}/lines", json={"product_id": p0, "quantity": "8"})

    preview = api.get(f"counts/{cid}/uncounted")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["scope"].endswith("all categories")
    assert {(x["product_id"], x["counted"], x["difference"]) for x in body["lines"]} == {
        (p1, "0", "-4"),
        (p2, "0", "-6"),
    }
    values = [Decimal(x["value"]) for x in body["lines"]]
    assert Decimal(body["difference_value"]) == sum(values) < 0
    assert _on_hand(api, main, p1) == "4"  # a preview moves nothing

    posted = api.post(f"counts/{cid}/post", json={"zero_uncounted": True})
    assert posted.status_code == 200, posted.text
    lines = {x["product_id"]: (x["counted"], x["expected"]) for x in posted.json()["lines"]}
    assert lines == {p0: ("8", "10"), p1: ("0", "4"), p2: ("0", "6")}
    assert [_on_hand(api, main, p) for p in (p0, p1, p2)] == ["8", "0", "0"]
    assert _on_hand(api, west, p1) == "9"
    with engine.connect() as conn:
        moves = conn.execute(
            select(StockMovement.product_id, StockMovement.quantity, StockMovement.reason).where(
                StockMovement.code == "count", StockMovement.reference_id == str(cid)
            )
        ).all()
        audit = conn.execute(
            select(AuditEntry.after).where(
                AuditEntry.action == "count.post", AuditEntry.entity_id == str(cid)
            )
        ).scalar_one()
    assert sorted((pid, str(q.normalize()), r) for pid, q, r in moves) == [
        (p0, "-2", None),
        (p1, "-4", "not counted: set to zero"),
        (p2, "-6", "not counted: set to zero"),
    ]
    assert audit["zeroed_uncounted"] == {str(p1): "-4", str(p2): "-6"}


def test_zero_uncounted_in_a_category_count_leaves_other_categories_alone(shop):
    api = shop.api()
    main = shop.branch_ids[0]
    p0, p1, p2 = shop.product_ids
    dairy = api.post("categories", json={"name": "Dairy"}).json()["id"]
    for product_id in (p0, p1):
        api.patch(f"products/{product_id}", json={"category_id": dairy})
    for product_id in (p0, p1, p2):
        _stock_in(api, main, product_id, "5")
    cid = api.post("counts", json={"branch_id": main, "category_id": dairy}).json()["id"]
    api.post(f"counts/{cid}/lines", json={"product_id": p0, "quantity": "5"})
    preview = api.get(f"counts/{cid}/uncounted").json()
    assert "category Dairy" in preview["scope"]
    assert [x["product_id"] for x in preview["lines"]] == [p1]
    assert api.post(f"counts/{cid}/post", json={"zero_uncounted": True}).status_code == 200
    assert [_on_hand(api, main, p) for p in (p0, p1, p2)] == ["5", "0", "5"]


def test_zero_uncounted_is_refused_in_words_when_the_scope_is_unclear(shop):
    api = shop.api()
    main = shop.branch_ids[0]
    p0, p1, _ = shop.product_ids
    _stock_in(api, main, p0, "5")
    _stock_in(api, main, p1, "5")
    empty = api.post("counts", json={"branch_id": main}).json()["id"]
    refused = api.post(f"counts/{empty}/post", json={"zero_uncounted": True})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "Nothing was counted" in refused.json()["detail"]

    # Someone else is counting the same branch: their products may be on their sheet.
    other = api.post("counts", json={"branch_id": main}).json()["id"]
    api.post(f"counts/{other}/lines", json={"product_id": p1, "quantity": "5"})
    mine = api.post("counts", json={"branch_id": main}).json()["id"]
    api.post(f"counts/{mine}/lines", json={"product_id": p0, "quantity": "4"})
    for response in (
        api.get(f"counts/{mine}/uncounted"),
        api.post(f"counts/{mine}/post", json={"zero_uncounted": True}),
    ):
        assert response.status_code == 409, response.text
        assert f"count {other}" in response.json()["detail"]
        assert "without zeroing" in response.json()["detail"]
    assert [_on_hand(api, main, p) for p in (p0, p1)] == ["5", "5"]  # nothing changed
    assert api.get(f"counts/{mine}").json()["status"] == "open"
    # Without the option the count posts as before.
    assert api.post(f"counts/{mine}/post", json={}).status_code == 200
    assert [_on_hand(api, main, p) for p in (p0, p1)] == ["4", "5"]


def test_zeroing_a_product_kept_by_lot_empties_its_lots_and_the_books_still_balance(world):
    admin = world.api("admin")
    branch = world.a.branch_ids[0]
    counted, by_lot = world.a.product_ids[:2]
    _receive(admin, branch, counted, "4")
    soon, later = str(date.today() + timedelta(5)), str(date.today() + timedelta(40))
    _receive(admin, branch, by_lot, "3", lot_number="L1", expiry=soon)
    _receive(admin, branch, by_lot, "6", lot_number="L2", expiry=later)
    cid = admin.post("counts", json={"branch_id": branch}).json()["id"]
    admin.post(f"counts/{cid}/lines", json={"product_id": counted, "quantity": "4"})
    posted = admin.post(f"counts/{cid}/post", json={"zero_uncounted": True})
    assert posted.status_code == 200, posted.text
    assert _on_hand(admin, branch, by_lot) == "0"
    assert all(quantity == 0 for quantity in _lots(admin, by_lot, branch).values())
    with transaction(world.sessions(), readonly=True) as session:
        assert verify_ledgers(session, tenant_id=world.a.id) == []
