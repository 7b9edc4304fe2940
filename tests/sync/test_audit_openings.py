"""Every document's life in the audit log starts with its opening entry."""

from __future__ import annotations

from decimal import Decimal

from common.ids import new_id
from common.sync.protocol import CountLine, ShiftClosed, ShiftOpened, StockCountEntered


def _life(admin, *, entity_type: str, entity_id) -> list[str]:
    """Return a document's audit actions, oldest first."""
    page = admin.get(
        "audit", params={"entity_type": entity_type, "entity_id": str(entity_id), "limit": 100}
    )
    assert page.status_code == 200, page.text
    return [entry["action"] for entry in reversed(page.json()["items"])]


def test_each_document_opens_its_audit_life(world, enrol, stock_in, wrap):
    admin, manager = world.api("admin"), world.api("manager")
    body, till = enrol()
    branch, other = world.a.branch_ids
    soap, rice = world.a.product_ids[0], world.a.product_ids[1]
    stock_in(product_id=soap, branch_id=branch, quantity="50")
    stock_in(product_id=rice, branch_id=branch, quantity="50")

    # A till's shift and its own stock count, through sync.
    shift_id, count_id = new_id(), new_id()
    events = [
        ShiftOpened(shift_id=shift_id, branch_id=branch, opening_float=Decimal("1500.00")),
        StockCountEntered(
            count_id=count_id, branch_id=branch, lines=[CountLine(product_id=soap, counted=48)]
        ),
        ShiftClosed(
            shift_id=shift_id,
            branch_id=branch,
            counted_cash=Decimal("1500.00"),
            expected_cash=Decimal("1500.00"),
            variance=Decimal("0"),
        ),
    ]
    pushed = till.post(
        "sync/push", json={"events": [wrap(e, device_id=body["device_id"]) for e in events]}
    )
    assert {r["status"] for r in pushed.json()["results"]} == {"applied"}, pushed.text
    assert _life(admin, entity_type="shift", entity_id=shift_id) == ["shift.opened", "shift.closed"]
    opened = admin.get("audit", params={"action": "shift.opened"}).json()["items"][0]
    assert Decimal(opened["after"]["opening_float"]) == Decimal("1500")
    assert _life(admin, entity_type="stock_count", entity_id=count_id) == ["count.entered"]

    # The documents people make over the API.
    supplier = admin.post("suppliers", json={"name": "Audit Supplies"}).json()
    po = manager.post(
        "purchase-orders",
        json={
            "supplier_id": supplier["id"],
            "branch_id": branch,
            "lines": [{"product_id": rice, "quantity": "5", "unit_cost": "8.00"}],
        },
    ).json()
    manager.post(f"purchase-orders/{po['id']}/submit", json={})
    customer = admin.post("customers", json={"name": "Audit Hotel", "phone": "555"}).json()
    request = world.api("sales_admin").post(
        "sales-requests",
        json={
            "customer_id": customer["id"],
            "branch_id": branch,
            "lines": [{"product_id": soap, "quantity": "2"}],
        },
    )
    assert request.status_code == 201, request.text
    transfer = admin.post(
        "transfers",
        json={
            "source_branch_id": branch,
            "destination_branch_id": other,
            "lines": [{"product_id": rice, "quantity": "3"}],
        },
    ).json()
    admin.post(f"transfers/{transfer['id']}/dispatch", json={})
    count = admin.post("counts", json={"branch_id": branch}).json()
    order = admin.post(
        "orders",
        json={
            "external_number": "WEB-AUDIT-1",
            "branch_id": branch,
            "customer": {"name": "Shopper", "email": "shopper@example.in"},
            "lines": [{"product_id": soap, "quantity": "1"}],
        },
        headers={"Idempotency-Key": "audit-openings-1"},
    ).json()

    lives = {
        "purchase_order": (po["id"], "purchase_order.created"),
        "sales_request": (request.json()["id"], "sales_request.created"),
        "transfer": (transfer["id"], "transfer.create"),
        "stock_count": (count["id"], "count.open"),
        "order": (order["id"], "order.created"),
    }
    for entity_type, (entity_id, opening) in lives.items():
        life = _life(admin, entity_type=entity_type, entity_id=entity_id)
        assert life and life[0] == opening, (entity_type, life)
    assert len(_life(admin, entity_type="purchase_order", entity_id=po["id"])) >= 2
    assert admin.get("audit/verify").json()["ok"] is True
