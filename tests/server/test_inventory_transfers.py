"""Transfers between branches and physical stock counts, through the API."""

from __future__ import annotations

from sqlalchemy import select

from sync_server.audit.models import AuditEntry
from sync_server.inventory.models import StockMovement


def _stock_in(api, branch_id, product_id, quantity, cost="2"):
    response = api.post(
        "stock/receipts",
        json={
            "branch_id": branch_id,
            "lines": [{"product_id": product_id, "quantity": quantity, "unit_cost": cost}],
        },
    )
    assert response.status_code == 201, response.text


def _on_hand(api, branch_id, product_id):
    items = api.get(
        "stock/levels", params={"branch_id": branch_id, "product_id": product_id}
    ).json()["items"]
    return items[0]["on_hand"] if items else "0"


def test_a_transfer_moves_stock_out_on_dispatch_and_in_on_receipt(shop, engine):
    api = shop.api()
    main, west = shop.branch_ids
    p0, p1, _ = shop.product_ids
    _stock_in(api, main, p0, "10")
    _stock_in(api, main, p1, "3")
    created = api.post(
        "transfers",
        json={
            "source_branch_id": main,
            "destination_branch_id": west,
            "lines": [{"product_id": p0, "quantity": "6"}, {"product_id": p1, "quantity": "5"}],
        },
    )
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    assert created.json()["status"] == "created"
    assert _on_hand(api, main, p0) == "10"  # planning moves nothing

    # p1 is short: nothing is dispatched, and the problem names the short line.
    short = api.post(f"transfers/{tid}/dispatch")
    assert short.status_code == 409
    assert short.json()["lines"] == [{"product_id": p1, "requested": "5", "available": "3"}]
    assert _on_hand(api, main, p0) == "10"
    _stock_in(api, main, p1, "2")

    dispatched = api.post(f"transfers/{tid}/dispatch")
    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["status"] == "dispatched"
    assert (_on_hand(api, main, p0), _on_hand(api, main, p1)) == ("4", "0")
    assert api.post(f"transfers/{tid}/dispatch").status_code == 409

    part = api.post(
        f"transfers/{tid}/receive", json={"lines": [{"product_id": p0, "quantity": "6"}]}
    )
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "partially_received"
    assert _on_hand(api, west, p0) == "6"
    too_many = api.post(
        f"transfers/{tid}/receive", json={"lines": [{"product_id": p1, "quantity": "6"}]}
    )
    assert too_many.status_code == 409
    # Four of five arrive; closing records the missing one as a discrepancy.
    closed = api.post(
        f"transfers/{tid}/receive",
        json={"lines": [{"product_id": p1, "quantity": "4"}], "close": True},
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["closed_at"]
    lines = {line["product_id"]: line for line in body["lines"]}
    assert lines[p1]["received_quantity"] == "4" and lines[p1]["discrepancy"] == "1"
    assert lines[p0]["discrepancy"] == "0"
    assert _on_hand(api, west, p1) == "4"
    assert api.post(f"transfers/{tid}/receive", json={"close": True}).status_code == 409

    listed = api.get("transfers", params={"branch_id": west}).json()
    assert [t["id"] for t in listed["items"]] == [tid]
    with engine.connect() as conn:
        codes = conn.execute(
            select(StockMovement.code, StockMovement.branch_id).where(
                StockMovement.reference_type == "transfer"
            )
        ).all()
        actions = conn.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "transfer")
        ).all()
    assert sorted(codes) == sorted([("transfer_out", main)] * 2 + [("transfer_in", west)] * 2)
    assert actions == ["transfer.create", "transfer.dispatch", "transfer.receive", "transfer.close"]


def test_transfers_check_branches_roles_and_tenants(shop):
    main, west = shop.branch_ids
    p0 = shop.product_ids[0]
    body = {
        "source_branch_id": west,
        "destination_branch_id": main,
        "lines": [{"product_id": p0, "quantity": "1"}],
    }
    manager = shop.api("manager", branches=[main])
    assert manager.post("transfers", json=body).status_code == 403
    assert shop.api("cashier", branches=[main]).post("transfers", json=body).status_code == 403
    same = {**body, "destination_branch_id": west}
    assert shop.api().post("transfers", json=same).status_code == 422
    created = shop.api().post("transfers", json=body).json()
    # The manager of the destination may see and receive it, but not dispatch it.
    assert manager.get(f"transfers/{created['id']}").status_code == 200
    assert manager.post(f"transfers/{created['id']}/dispatch").status_code == 403
    stranger = shop.api("admin", tenant_id=shop.other_tenant_id)
    assert stranger.get(f"transfers/{created['id']}").status_code == 404


def test_a_count_by_barcode_shows_differences_and_posts_them(shop, engine):
    api = shop.api()
    main = shop.branch_ids[0]
    p0, p1, p2 = shop.product_ids
    _stock_in(api, main, p0, "10", cost="2.50")
    _stock_in(api, main, p1, "4", cost="1")
    opened = api.post("counts", json={"branch_id": main})
    assert opened.status_code == 201, opened.text
    cid = opened.json()["id"]
    for _ in range(3):  # three scans of the same code: three found
        scanned = api.post(f"counts/{cid}/lines", json={"barcode": shop.barcodes[0]})
        assert scanned.status_code == 200, scanned.text
    api.post(f"counts/{cid}/lines", json={"barcode": shop.barcodes[0], "quantity": "4"})
    api.post(f"counts/{cid}/lines", json={"product_id": p1, "quantity": "9"})
    api.post(f"counts/{cid}/lines", json={"product_id": p1, "quantity": "6", "replace": True})
    api.post(f"counts/{cid}/lines", json={"product_id": p2, "quantity": "0"})
    assert api.post(f"counts/{cid}/lines", json={"barcode": "5901234123457"}).status_code == 404
    assert api.post(f"counts/{cid}/lines", json={"quantity": "1"}).status_code == 422

    review = api.get(f"counts/{cid}").json()
    lines = {line["product_id"]: line for line in review["lines"]}
    assert (lines[p0]["counted"], lines[p0]["expected"], lines[p0]["difference"]) == (
        "7",
        "10",
        "-3",
    )
    assert lines[p0]["value"] == "-7.50"
    assert (lines[p1]["counted"], lines[p1]["difference"], lines[p1]["value"]) == ("6", "2", "2.00")
    assert lines[p2]["difference"] == "0"
    assert review["difference_value"] == "-5.50"
    assert _on_hand(api, main, p0) == "10"  # nothing moves before posting

    posted = api.post(f"counts/{cid}/post")
    assert posted.status_code == 200, posted.text
    assert posted.json()["status"] == "posted"
    assert (_on_hand(api, main, p0), _on_hand(api, main, p1)) == ("7", "6")
    assert api.post(f"counts/{cid}/post").status_code == 409
    assert api.post(f"counts/{cid}/lines", json={"product_id": p0}).status_code == 409
    with engine.connect() as conn:
        moves = conn.execute(
            select(StockMovement.product_id, StockMovement.quantity).where(
                StockMovement.code == "count"
            )
        ).all()
    assert sorted((pid, str(q.normalize())) for pid, q in moves) == sorted([(p0, "-3"), (p1, "2")])


def test_a_category_count_takes_only_that_category(shop):
    api = shop.api()
    main = shop.branch_ids[0]
    category = api.post("categories", json={"name": "Dairy"}).json()
    p0 = shop.product_ids[0]
    assert api.patch(f"products/{p0}", json={"category_id": category["id"]}).status_code == 200
    cid = api.post("counts", json={"branch_id": main, "category_id": category["id"]}).json()["id"]
    assert api.post(f"counts/{cid}/lines", json={"product_id": p0}).status_code == 200
    outside = api.post(f"counts/{cid}/lines", json={"product_id": shop.product_ids[1]})
    assert outside.status_code == 422
    viewer = shop.api("viewer", branches=[main])
    assert viewer.get(f"counts/{cid}").status_code == 200
    assert viewer.post(f"counts/{cid}/post").status_code == 403


def test_a_count_line_can_be_taken_off_and_then_moves_nothing(shop):
    """Undo: a product taken off an open count is left alone when the count posts."""
    api = shop.api()
    main = shop.branch_ids[0]
    p0, p1, _ = shop.product_ids
    _stock_in(api, main, p0, "10")
    _stock_in(api, main, p1, "5")
    cid = api.post("counts", json={"branch_id": main}).json()["id"]
    api.post(f"counts/{cid}/lines", json={"product_id": p0, "quantity": "8"})
    api.post(f"counts/{cid}/lines", json={"product_id": p1, "quantity": "0"})
    removed = api.delete(f"counts/{cid}/lines/{p1}")
    assert removed.status_code == 200, removed.text
    assert [line["product_id"] for line in removed.json()["lines"]] == [p0]
    missing = api.delete(f"counts/{cid}/lines/{p1}")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    viewer = shop.api("viewer", branches=[main])
    assert viewer.delete(f"counts/{cid}/lines/{p0}").status_code == 403
    assert api.post(f"counts/{cid}/post").status_code == 200
    assert (_on_hand(api, main, p0), _on_hand(api, main, p1)) == ("8", "5")
    assert api.delete(f"counts/{cid}/lines/{p0}").status_code == 409
