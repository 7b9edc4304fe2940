"""Sync server: enrolment, devices, exactly-once push, dead letters, paged pull."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from common.ids import new_id
from common.sync.protocol import CustomerCreated, Event
from sync_server.db import transaction
from sync_server.inventory import ledger
from sync_server.partners.models import Customer
from sync_server.sales.models import Sale
from tests.factories import Api
from tests.sync.sync_helpers import sale_payload


def _count_sales(world) -> int:
    with transaction(world.sessions(), readonly=True) as session:
        return session.scalar(select(func.count()).select_from(Sale))


def _on_hand(world, *, branch_id: int, product_id: int) -> Decimal:
    with transaction(world.sessions(), readonly=True) as session:
        return ledger.level(
            session, tenant_id=world.a.id, branch_id=branch_id, product_id=product_id
        ).on_hand


def test_enrolment_code_is_one_time_and_device_can_be_renamed_and_revoked(world, enrol):
    body, till = enrol(name="Front till")
    assert body["token"].startswith("spd_")
    assert body["receipt_prefix"].endswith("-T01")
    assert till.get("sync/pull", params={"limit": 5}).status_code == 200

    admin = world.api("admin")
    code = admin.post("devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]})
    first = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": "Second"}
    )
    assert first.status_code == 201
    assert first.json()["receipt_prefix"] != body["receipt_prefix"]
    again = Api(world.client, None).post(
        "devices/enrol", json={"code": code.json()["code"], "name": "Third"}
    )
    assert again.status_code == 401
    assert again.headers["content-type"].startswith("application/problem+json")

    listed = admin.get("devices").json()
    assert {d["name"] for d in listed["items"]} == {"Front till", "Second"}
    renamed = admin.patch(f"devices/{body['device_id']}", json={"name": "Till A"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Till A"

    assert admin.post(f"devices/{body['device_id']}/revoke").status_code == 200
    refused = till.get("sync/pull")
    assert refused.status_code == 401
    assert "device revoked" in refused.json()["detail"]
    assert till.post("sync/push", json={"events": []}).status_code == 401


def test_other_tenant_cannot_see_or_revoke_devices(world, enrol):
    body, _ = enrol()
    stranger = world.api("b_admin")
    assert stranger.post(f"devices/{body['device_id']}/revoke").status_code == 404
    assert stranger.get("devices").json()["total"] == 0
    # A code for another tenant's branch is refused as unknown.
    response = stranger.post("devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]})
    assert response.status_code == 404


def test_users_cannot_push_as_a_till(world):
    response = world.api("cashier").post("sync/push", json={"events": []})
    assert response.status_code == 403


def test_push_is_exactly_once_and_keeps_the_price_charged(world, enrol, stock_in, wrap):
    body, till = enrol()
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    stock_in(product_id=product, branch_id=branch, quantity="5")
    sale = sale_payload(
        branch_id=branch, product_id=product, receipt="R-1", quantity="2", price="7.25"
    )
    event = wrap(sale, device_id=body["device_id"])
    first = till.post("sync/push", json={"events": [event]})
    assert first.status_code == 200, first.text
    assert first.json()["results"][0]["status"] == "applied"
    second = till.post("sync/push", json={"events": [event]})
    assert second.json()["results"][0]["status"] == "duplicate"
    assert _count_sales(world) == 1
    assert _on_hand(world, branch_id=branch, product_id=product) == Decimal("3")
    with transaction(world.sessions(), readonly=True) as session:
        row = session.scalars(select(Sale)).one()
        assert row.lines[0].unit_price == Decimal("7.25")  # catalog says 10.00
        assert row.channel == "in_store"


def test_rejected_event_becomes_a_dead_letter_and_does_not_block(world, enrol, wrap):
    body, till = enrol()
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    bad = sale_payload(branch_id=branch, product_id=world.b.product_ids[0], receipt="R-1")
    good = sale_payload(branch_id=branch, product_id=product, receipt="R-2")
    clash = sale_payload(branch_id=branch, product_id=product, receipt="R-2")
    events = [wrap(p, device_id=body["device_id"]) for p in (bad, good, clash)]
    results = till.post("sync/push", json={"events": events}).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "applied", "rejected"]
    assert "receipt number" in results[2]["reason"]
    assert _count_sales(world) == 1
    # Sending a rejected event again gives the same answer, not a second dead letter.
    again = till.post("sync/push", json={"events": [events[0]]}).json()["results"][0]
    assert again["status"] == "rejected"

    manager = world.api("manager")
    letters = manager.get("sync/dead-letters", params={"resolved": False}).json()
    assert letters["total"] == 2
    assert world.api("cashier").get("sync/dead-letters").status_code == 403
    letter = next(x for x in letters["items"] if x["event_id"] == events[0]["id"])
    # Retrying cannot apply it (the product is another tenant's): 409, nothing changes.
    retry = manager.post(f"sync/dead-letters/{letter['id']}/resolve", json={"retry": True})
    assert retry.status_code == 409
    closed = manager.post(
        f"sync/dead-letters/{letter['id']}/resolve", json={"note": "wrong product"}
    )
    assert closed.status_code == 200 and closed.json()["resolved"] is True
    assert manager.get("sync/dead-letters", params={"resolved": False}).json()["total"] == 1


def test_offline_customer_is_created_before_its_sale_on_account(world, enrol, wrap):
    body, till = enrol()
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    device = body["device_id"]
    local_id = new_id()
    customer = CustomerCreated(local_id=local_id, name="Meena", phone="98100 11111")
    sale = sale_payload(
        branch_id=branch,
        product_id=product,
        receipt="R-1",
        price="40.00",
        method="account",
        customer_local_id=local_id,
    )
    # Even listed after the sale, the customer is applied first.
    events = [wrap(sale, device_id=device), wrap(customer, device_id=device)]
    results = till.post("sync/push", json={"events": events}).json()["results"]
    assert [r["status"] for r in results] == ["applied", "applied"], results
    assert results[1]["merged"] is False
    with transaction(world.sessions(), readonly=True) as session:
        row = session.get(Customer, results[1]["customer_id"])
        # Credit limit 0: the charge is booked anyway and flagged, not refused.
        assert row.balance == Decimal("40.00")
        assert session.scalars(select(Sale)).one().customer_id == row.id

    # A second till meets the same person: matched by phone, reported as a merge.
    body2, till2 = enrol(name="Till 2")
    twin = CustomerCreated(local_id=new_id(), name="Meena K", phone="98100 11111")
    answer = till2.post(
        "sync/push", json={"events": [wrap(twin, device_id=body2["device_id"])]}
    ).json()["results"][0]
    assert answer["status"] == "applied" and answer["merged"] is True
    assert answer["customer_id"] == results[1]["customer_id"]


def test_event_from_another_device_id_is_rejected(world, enrol, wrap):
    _, till = enrol()
    sale = sale_payload(
        branch_id=world.a.branch_ids[0], product_id=world.a.product_ids[0], receipt="R-1"
    )
    result = till.post("sync/push", json={"events": [wrap(sale, device_id=new_id())]})
    assert result.json()["results"][0]["status"] == "rejected"


def test_bad_push_body_is_a_problem_and_changes_nothing(world, enrol):
    _, till = enrol()
    response = till.post("sync/push", json={"events": [{"id": "nope"}]})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _count_sales(world) == 0


def test_pull_snapshot_in_pages_then_feed(world, enrol, stock_in):
    body, till = enrol()
    branch, other_branch = world.a.branch_ids
    stock_in(product_id=world.a.product_ids[0], branch_id=branch, quantity="4")
    stock_in(product_id=world.a.product_ids[1], branch_id=other_branch, quantity="9")
    seen: dict[tuple[str, str], dict | None] = {}
    cursor, pages = "0", 0
    while True:
        page = till.get("sync/pull", params={"cursor": cursor, "limit": 2}).json()
        assert page["reset"] == (pages == 0)
        for change in page["changes"]:
            seen[(change["entity"], change["key"])] = change["data"]
        cursor, pages = page["cursor"], pages + 1
        if not page["has_more"]:
            break
    assert pages > 3
    products = {k for (e, k) in seen if e == "product"}
    assert products == {str(p) for p in world.a.product_ids}  # never tenant B's
    stock = {k: v for (e, k), v in seen.items() if e == "stock"}
    assert stock == {str(world.a.product_ids[0]): stock[str(world.a.product_ids[0])]}
    assert Decimal(stock[str(world.a.product_ids[0])]["on_hand"]) == Decimal("4")
    staff = {v["username"] for (e, _), v in seen.items() if e == "staff" and v}
    assert {"admin", "cashier", "manager"} <= staff and "b_admin" not in staff
    assert ("setting", "currency") in seen

    # A price change reaches the feed after the snapshot's cursor.
    product = world.a.product_ids[2]
    assert (
        world.api("admin").patch(f"products/{product}", json={"price": "12.50"}).status_code == 200
    )
    page = till.get("sync/pull", params={"cursor": cursor}).json()
    changed = [c for c in page["changes"] if c["entity"] == "product" and c["key"] == str(product)]
    assert changed and Decimal(changed[-1]["data"]["price"]) == Decimal("12.50")
    assert int(page["cursor"]) > int(cursor)
    # Stock of the other branch never reaches this till; its cursor moves past that change
    # to the feed's head, where the next pull is the empty page.
    stock_in(product_id=world.a.product_ids[0], branch_id=other_branch, quantity="1")
    after = till.get("sync/pull", params={"cursor": page["cursor"]}).json()
    assert after["changes"] == [] and int(after["cursor"]) > int(page["cursor"])
    assert not after["has_more"]
    again = till.get("sync/pull", params={"cursor": after["cursor"]}).json()
    assert again["changes"] == [] and again["cursor"] == after["cursor"]


def test_bad_cursor_is_a_problem(world, enrol):
    _, till = enrol()
    response = till.get("sync/pull", params={"cursor": "s1:99:0"})
    assert response.status_code == 422


def test_sale_event_envelope_roundtrip():
    payload = sale_payload(branch_id=1, product_id=2, receipt="R-1", quantity="0.250")
    event = Event.wrap(payload, device_id="dev")
    again = Event.model_validate_json(event.model_dump_json())
    assert again.parsed() == payload


def test_dead_letter_retry_applies_the_event_once_its_cause_is_fixed(world, enrol, wrap):
    body, till = enrol()
    device, branch = body["device_id"], world.a.branch_ids[0]
    local_id = new_id()
    sale = sale_payload(
        branch_id=branch,
        product_id=world.a.product_ids[0],
        receipt="R-1",
        method="account",
        customer_local_id=local_id,
    )
    # The customer's own event went missing: the sale cannot know who bought on account.
    event = wrap(sale, device_id=device)
    rejected = till.post("sync/push", json={"events": [event]}).json()
    assert rejected["results"][0]["status"] == "rejected"
    assert "has not reached the server" in rejected["results"][0]["reason"]
    customer = CustomerCreated(local_id=local_id, name="Late Lata", email="lata@example.com")
    till.post("sync/push", json={"events": [wrap(customer, device_id=device)]})

    manager = world.api("manager")
    letter = manager.get("sync/dead-letters").json()["items"][0]
    retried = manager.post(
        f"sync/dead-letters/{letter['id']}/resolve", json={"retry": True, "note": "customer came"}
    )
    assert retried.status_code == 200 and retried.json()["resolved"] is True
    assert _count_sales(world) == 1
    # Resolved letters cannot be resolved twice, and the till now hears "duplicate".
    again = manager.post(f"sync/dead-letters/{letter['id']}/resolve", json={})
    assert again.status_code == 409
    answer = till.post("sync/push", json={"events": [event]})
    assert answer.json()["results"][0]["status"] == "duplicate"
    # The same sale in a new envelope is refused by the constraints, not booked twice.
    copy = till.post("sync/push", json={"events": [wrap(sale, device_id=device)]})
    assert copy.json()["results"][0]["status"] == "rejected"
    assert _count_sales(world) == 1


def test_malformed_payload_is_rejected_alone(world, enrol, wrap):
    body, till = enrol()
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    bad = wrap(
        sale_payload(branch_id=branch, product_id=product, receipt="R-1"),
        device_id=body["device_id"],
    )
    bad["payload"]["completed_at"] = "2026-01-01T10:00:00"  # no time zone: refused
    bad["payload"]["lines"][0]["quantity"] = "1.23456"  # more places than a quantity has
    good = wrap(
        sale_payload(branch_id=branch, product_id=product, receipt="R-2"),
        device_id=body["device_id"],
    )
    results = till.post("sync/push", json={"events": [bad, good]}).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert "invalid payload" in results[0]["reason"]
    assert _count_sales(world) == 1


def test_retrying_a_dead_letter_whose_payload_is_invalid_is_a_422_that_changes_nothing(
    world, enrol, wrap
):
    body, till = enrol()
    branch, product = world.a.branch_ids[0], world.a.product_ids[0]
    bad = wrap(
        sale_payload(branch_id=branch, product_id=product, receipt="R-1"),
        device_id=body["device_id"],
    )
    bad["payload"]["lines"][0]["quantity"] = "1.23456"  # more places than a quantity has
    assert till.post("sync/push", json={"events": [bad]}).json()["results"][0]["status"] == (
        "rejected"
    )
    manager = world.api("manager")
    letter = manager.get("sync/dead-letters").json()["items"][0]
    stock_before = _on_hand(world, branch_id=branch, product_id=product)

    retry = manager.post(f"sync/dead-letters/{letter['id']}/resolve", json={"retry": True})

    assert retry.status_code == 422, retry.text
    assert retry.headers["content-type"].startswith("application/problem+json")
    problem = retry.json()
    assert "payload is not valid" in problem["detail"] and "dismiss" in problem["detail"]
    assert any("quantity" in e["field"] for e in problem["errors"])
    # Nothing changed: the letter is still open, no sale, no stock moved.
    again = manager.get("sync/dead-letters", params={"resolved": False}).json()
    assert [x["id"] for x in again["items"]] == [letter["id"]]
    assert _count_sales(world) == 0
    assert _on_hand(world, branch_id=branch, product_id=product) == stock_before
    # Dismissing it still works.
    closed = manager.post(f"sync/dead-letters/{letter['id']}/resolve", json={"note": "bad data"})
    assert closed.status_code == 200 and closed.json()["resolved"] is True


def test_a_cursor_beyond_the_feed_gets_a_snapshot_and_a_reset(world, enrol, stock_in):
    """A server restored from an older backup never leaves a till waiting past its head."""
    _, till = enrol()
    stock_in(product_id=world.a.product_ids[0], branch_id=world.a.branch_ids[0], quantity="2")
    first = till.get("sync/pull", params={"cursor": "0", "limit": 5000}).json()
    head = int(first["cursor"])
    page = till.get("sync/pull", params={"cursor": str(head + 500), "limit": 5000}).json()
    assert page["reset"] is True and page["snapshot"] is True
    assert int(page["cursor"]) == head
    assert {c["entity"] for c in page["changes"]} >= {"product", "stock"}
    # A cursor at the head is an ordinary, empty feed page.
    same = till.get("sync/pull", params={"cursor": str(head)}).json()
    assert same["reset"] is False and same["changes"] == []


def test_series_says_the_highest_receipt_number_of_the_till(world, enrol, wrap):
    body, till = enrol()
    assert till.get("sync/series").json() == {
        "receipt_prefix": body["receipt_prefix"],
        "last_receipt_seq": 0,
    }
    prefix = body["receipt_prefix"]
    for number in (7, 3):
        payload = sale_payload(
            branch_id=world.a.branch_ids[0],
            product_id=world.a.product_ids[0],
            receipt=f"{prefix}-{number:06d}",
        )
        pushed = till.post(
            "sync/push", json={"events": [wrap(payload, device_id=body["device_id"])]}
        )
        assert pushed.json()["results"][0]["status"] == "applied"
    assert till.get("sync/series").json()["last_receipt_seq"] == 7
    # People are not tills.
    assert world.api("admin").get("sync/series").status_code == 403
