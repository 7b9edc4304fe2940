"""Click-and-collect, on both engines: an online order reserved at its branch, marked for
pickup and ready (the customer is e-mailed), found and collected at a till, paid there."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from common.roles import Role
from pos_client.services import pickups, shifts
from pos_client.services.login import Cashier
from pos_client.services.sync_engine import SyncEngine, SyncFailed
from pos_client.store import documents
from pos_client.store.db import LocalStore
from sync_server.db import transaction
from sync_server.notifications.models import Notification
from tests.server.test_orders import level, order_body, post, stock, store

D = Decimal


@pytest.fixture
def till(world, live_server, tmp_path):
    store_ = LocalStore(tmp_path / "till.db")
    engine = SyncEngine(store_, timeout=30, backoff_base=0.05)
    code = world.api("admin").post(
        "devices/enrolment-codes", json={"branch_id": world.a.branch_ids[0]}
    )
    engine.enrol(server_url=live_server.url, code=code.json()["code"], name="Till")
    assert engine.sync_once().online
    yield engine
    engine.stop()
    store_.close()


def test_an_order_is_reserved_marked_ready_and_collected_at_the_till(
    world, live_server, till
) -> None:
    stock(world, quantity="5")
    shop = store(world)
    placed = post(shop, order_body("W-77", ("ADMIN-0", "2")))
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    assert level(world) == (D("5"), D("2"))  # reserved at MAIN

    # Not for pickup yet: the till is told so.
    with pytest.raises(SyncFailed, match="shipped, not collected"):
        pickups.find(till, number="W-77")
    marked = shop.post(f"orders/{order_id}/pickup")
    assert marked.status_code == 200, marked.text
    assert marked.json()["pickup_status"] == "awaiting" and marked.json()["due"] == "20.00"
    early = pickups.find(till, number="W-77")
    assert early.pickup_status == "awaiting"

    cashier = Cashier(
        user_id=world.a.users["cashier"], username="cashier", full_name="C", role=Role.CASHIER
    )
    with till.store.transaction() as session:
        shift_id = shifts.open_shift(session, cashier=cashier, opening_float=D("0")).shift_id
    with pytest.raises(SyncFailed, match="not ready"):
        pickups.collect(
            till,
            number="W-77",
            amount=D("20"),
            method="cash",
            reference="",
            cashier=cashier,
            shift_id=shift_id,
        )

    ready = world.api("manager").post(f"orders/{order_id}/ready-for-pickup")
    assert ready.status_code == 200 and ready.json()["pickup_status"] == "ready"
    with transaction(world.sessions(), readonly=True) as session:
        mails = session.scalars(
            select(Notification).where(
                Notification.event == "order.ready_for_pickup", Notification.channel == "email"
            )
        ).all()
        assert [(m.recipient, m.subject) for m in mails] == [
            ("asha@example.com", "Your order W-77 is ready for pickup")
        ]

    found = pickups.find(till, number=" W-77 ")
    assert (found.customer, found.due, [ln.sku for ln in found.lines]) == (
        "Asha Rao",
        D("20.00"),
        ["ADMIN-0"],
    )
    with pytest.raises(SyncFailed, match="to pay"):
        pickups.collect(
            till,
            number="W-77",
            amount=D("10"),
            method="cash",
            reference="",
            cashier=cashier,
            shift_id=shift_id,
        )
    done = pickups.collect(
        till,
        number="W-77",
        amount=D("20"),
        method="cash",
        reference="",
        cashier=cashier,
        shift_id=shift_id,
    )
    assert (done.status, done.pickup_status, done.due) == ("delivered", "collected", D("0"))
    assert level(world) == (D("3"), D("0"))  # the reservation became a sale
    with till.store.transaction() as session:
        assert documents.shift_totals(session, shift_id=shift_id)["cash_in"] == D("20")
    with pytest.raises(SyncFailed, match="already collected"):
        pickups.collect(
            till,
            number="W-77",
            amount=D("0"),
            method="cash",
            reference="",
            cashier=cashier,
            shift_id=shift_id,
        )
    # The order is online and collected in the order list and its own record.
    listed = world.api("manager").get(f"orders/{order_id}").json()
    assert listed["status"] == "delivered" and listed["channel"] == "online"
    assert pickups.find(till, number="W-77").pickup_status == "collected"
    # The sales report counts it as an online sale, on the day it was placed.
    today = {"date_from": date.today().isoformat(), "date_to": date.today().isoformat()}
    report = world.api("manager").get(
        "reports/sales-summary", params={**today, "group_by": "channel"}
    )
    assert report.status_code == 200, report.text
    assert [(r["channel"], r["sales"], r["revenue"]) for r in report.json()["rows"]] == [
        ("online", 1, "20.00")
    ]
    # Unknown numbers and other branches' tills get a clear 404.
    with pytest.raises(SyncFailed, match="no order W-404"):
        pickups.find(till, number="W-404")
