"""Purchase orders: approval rules, receiving, forbidden transitions, races, vendor ledger."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from common.errors import DomainError, InvalidState
from sync_server.audit.models import AuditEntry
from sync_server.db import transaction
from sync_server.inventory import costing, ledger
from sync_server.notifications.models import Notification
from sync_server.org import service as org
from sync_server.purchasing import service as purchasing
from sync_server.purchasing.models import PurchaseOrder
from tests.ledgers import check_vendor_ledgers


def _supplier(world, name: str = "Acme Foods") -> int:
    response = world.api("purchase_admin").post("suppliers", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _po(
    world,
    supplier_id: int,
    *,
    by: str = "purchase_admin",
    cost: str = "10.00",
    lines: list[dict] | None = None,
) -> dict:
    p = world.a.product_ids
    body = {
        "supplier_id": supplier_id,
        "branch_id": world.a.branch_ids[0],
        "expected_date": "2026-12-01",
        "lines": lines
        or [
            {"product_id": p[0], "quantity": "10", "unit_cost": cost, "tax_rate": "5"},
            {"product_id": p[1], "quantity": "4", "unit_cost": "2.50"},
        ],
    }
    response = world.api(by).post("purchase-orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _submitted(world, supplier_id: int, **kwargs) -> dict:
    po = _po(world, supplier_id, **kwargs)
    response = world.api(kwargs.get("by", "purchase_admin")).post(
        f"purchase-orders/{po['id']}/submit"
    )
    assert response.status_code == 200, response.text
    return response.json()


def _on_hand(world, product_id: int, branch: int = 0) -> Decimal:
    with transaction(world.sessions(), readonly=True) as session:
        level = ledger.level(
            session,
            tenant_id=world.a.id,
            branch_id=world.a.branch_ids[branch],
            product_id=product_id,
        )
        return level.on_hand


def _setting(world, key: str, value) -> None:
    with transaction(world.sessions()) as session:
        org.put_setting(session, actor=world.principal("admin"), key=key, value=value)


def _notified(world, event: str) -> set[str]:
    """Return the in-app roles an event was sent to."""
    with transaction(world.sessions(), readonly=True) as session:
        return set(
            session.scalars(
                select(Notification.role).where(
                    Notification.tenant_id == world.a.id, Notification.event == event
                )
            )
        )


def _audits(world, action: str, entity_id) -> int:
    with transaction(world.sessions(), readonly=True) as session:
        return session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.entity_id == str(entity_id))
        )


def test_totals_edits_numbers_and_vendor_statement(world):
    """Totals include tax, numbers follow each other, drafts can be edited; vendor statement."""
    # --- totals include tax and numbers are sequential
    sid = _supplier(world)
    first = _po(world, sid)
    second = _po(world, sid)
    # 10 x 10.00 = 100.00 + 5% = 105.00; 4 x 2.50 = 10.00, no tax.
    assert Decimal(first["subtotal"]) == Decimal("110.00")
    assert Decimal(first["tax_total"]) == Decimal("5.00")
    assert Decimal(first["total"]) == Decimal("115.00")
    assert first["status"] == "draft"
    assert int(second["number"][3:]) == int(first["number"][3:]) + 1
    edited = world.api("purchase_admin").patch(
        f"purchase-orders/{first['id']}",
        json={
            "notes": "call before delivery",
            "lines": [
                {"product_id": world.a.product_ids[2], "quantity": "3", "unit_cost": "1.005"}
            ],
        },
    )
    assert edited.status_code == 200, edited.text
    assert [x["product_id"] for x in edited.json()["lines"]] == [world.a.product_ids[2]]
    assert Decimal(edited.json()["total"]) == Decimal("3.02")  # 3.015 rounds half-up
    assert _audits(world, "purchase_order.updated", first["id"]) == 1
    bad = world.api("purchase_admin").patch(
        f"purchase-orders/{first['id']}",
        json={"lines": [{"product_id": 999999, "quantity": "1", "unit_cost": "1"}]},
    )
    assert bad.status_code == 404
    assert world.api("viewer").get(f"purchase-orders/{first['id']}").json() == edited.json()

    # --- vendor statement json and pdf
    sid = _supplier(world)
    po = _submitted(world, sid)
    world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    world.api("purchase_admin").post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": x["id"], "quantity": x["quantity"]} for x in po["lines"]]},
    )
    api = world.api("purchase_admin")
    api.post(f"suppliers/{sid}/payments", json={"amount": "15.00", "method": "cash"})
    today = datetime.now(UTC).date().isoformat()
    statement = api.get(f"suppliers/{sid}/statement", params={"from": today, "to": today}).json()
    assert [Decimal(x["balance"]) for x in statement["lines"]] == [Decimal("115"), Decimal("100")]
    assert Decimal(statement["closing_balance"]) == Decimal("100")
    pdf = api.get(
        f"suppliers/{sid}/statement", params={"from": today, "to": today, "format": "pdf"}
    )
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    payments = api.get(f"suppliers/{sid}/payments").json()
    assert payments["total"] == 1 and Decimal(payments["items"][0]["amount"]) == -15
    assert (
        world.api("sales_admin").post(f"suppliers/{sid}/payments", json={"amount": "1"}).status_code
        == 403
    )
    check_vendor_ledgers(world.engine, tenant_id=world.a.id)


def test_full_cycle_approve_receive_in_parts_pay_and_close(world):
    sid = _supplier(world)
    pid = world.a.product_ids
    po = _submitted(world, sid)
    assert po["status"] == "pending_approval"
    own = world.api("purchase_admin").post(f"purchase-orders/{po['id']}/approve")
    assert own.status_code == 403 and "someone else" in own.json()["detail"]
    approved = world.api("manager").post(
        f"purchase-orders/{po['id']}/approve", json={"comment": "ok, needed for Diwali"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decision_comment"] == "ok, needed for Diwali"
    assert _audits(world, "purchase_order.approved", po["id"]) == 1
    assert _notified(world, "purchase_order.approval_requested") == {
        "admin",
        "manager",
        "purchase_admin",
    }
    assert _notified(world, "purchase_order.approved") == {"purchase_admin"}  # the creator

    lines = {line["product_id"]: line["id"] for line in po["lines"]}
    part = world.api("manager").post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": lines[pid[0]], "quantity": "6", "unit_cost": "11.00"}]},
    )
    assert part.status_code == 201, part.text
    # 6 x 11.00 = 66.00 + 5% tax = 69.30
    assert Decimal(part.json()["value"]) == Decimal("69.30")
    state = world.api("viewer").get(f"purchase-orders/{po['id']}").json()
    assert state["status"] == "partially_received"
    assert _on_hand(world, pid[0]) == Decimal("6")
    assert _notified(world, "purchase_order.goods_received") == {"manager", "purchase_admin"}

    rest = world.api("purchase_admin").post(
        f"purchase-orders/{po['id']}/receipts",
        json={
            "lines": [
                {"line_id": lines[pid[0]], "quantity": "4"},
                {"line_id": lines[pid[1]], "quantity": "4"},
            ]
        },
    )
    assert rest.status_code == 201, rest.text
    state = world.api("viewer").get(f"purchase-orders/{po['id']}").json()
    assert state["status"] == "received" and state["received_at"] is not None
    assert _on_hand(world, pid[0]) == Decimal("10") and _on_hand(world, pid[1]) == Decimal("4")
    assert Decimal(state["received_value"]) == Decimal("69.30") + Decimal("42.00") + Decimal("10")

    api = world.api("purchase_admin")
    paid = api.post(
        f"suppliers/{sid}/payments",
        json={
            "amount": "100.00",
            "method": "bank",
            "reference": "NEFT 1",
            "paid_on": "2026-11-20",
            "purchase_order_id": po["id"],
        },
    )
    assert paid.status_code == 201, paid.text
    too_much = api.post(
        f"suppliers/{sid}/payments", json={"amount": "50.00", "purchase_order_id": po["id"]}
    )
    assert too_much.status_code == 409
    account = api.get(f"suppliers/{sid}/account").json()
    assert Decimal(account["total_supplied"]) == Decimal("121.30")
    assert Decimal(account["total_paid"]) == Decimal("100.00")
    assert Decimal(account["balance_due"]) == Decimal("21.30")
    assert account["last_payment_at"].startswith("2026-11-20")
    assert _audits(world, "vendor.payment_recorded", sid) == 1

    closed = api.post(f"purchase-orders/{po['id']}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    history = api.get(f"suppliers/{sid}/history").json()
    row = history["purchase_orders"][0]
    assert Decimal(row["fill_rate"]) == 1 and row["lead_time_days"] is not None
    assert [
        (c["product_id"], Decimal(c["old_cost"]), Decimal(c["new_cost"]))
        for c in history["price_changes"]
    ] == [(pid[0], Decimal("11"), Decimal("10"))]
    assert check_vendor_ledgers(world.engine, tenant_id=world.a.id)[sid] == Decimal("21.30")


def test_forbidden_transitions_are_409_and_change_nothing(world):
    sid = _supplier(world)
    draft = _po(world, sid)
    manager = world.api("manager")
    pa = world.api("purchase_admin")
    line = draft["lines"][0]["id"]

    def refused(response, status="draft"):
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("/invalid-state")
        assert response.headers["content-type"].startswith("application/problem+json")

    refused(manager.post(f"purchase-orders/{draft['id']}/approve"))
    refused(
        pa.post(
            f"purchase-orders/{draft['id']}/receipts",
            json={"lines": [{"line_id": line, "quantity": "1"}]},
        )
    )
    refused(pa.post(f"purchase-orders/{draft['id']}/close"))
    assert pa.post(f"purchase-orders/{draft['id']}/submit").status_code == 200
    refused(pa.post(f"purchase-orders/{draft['id']}/submit"))
    refused(pa.patch(f"purchase-orders/{draft['id']}", json={"notes": "late edit"}))
    assert manager.post(f"purchase-orders/{draft['id']}/approve").status_code == 200
    refused(manager.post(f"purchase-orders/{draft['id']}/approve"))  # double approve
    refused(manager.post(f"purchase-orders/{draft['id']}/reject", json={"comment": "no"}))
    assert _audits(world, "purchase_order.approved", draft["id"]) == 1

    cancelled = _submitted(world, sid)
    assert (
        pa.post(
            f"purchase-orders/{cancelled['id']}/cancel", json={"reason": "duplicate"}
        ).status_code
        == 200
    )
    before = pa.get(f"purchase-orders/{cancelled['id']}").json()
    refused(manager.post(f"purchase-orders/{cancelled['id']}/approve"))  # approve after cancel
    refused(pa.post(f"purchase-orders/{cancelled['id']}/cancel"))
    assert pa.get(f"purchase-orders/{cancelled['id']}").json() == before
    assert _audits(world, "purchase_order.approved", cancelled["id"]) == 0

    received = pa.post(
        f"purchase-orders/{draft['id']}/receipts",
        json={"lines": [{"line_id": line, "quantity": "1"}]},
    )
    assert received.status_code == 201
    refused(pa.post(f"purchase-orders/{draft['id']}/cancel"))  # goods already in
    check_vendor_ledgers(world.engine, tenant_id=world.a.id)


def test_who_may_decide(world):
    """Roles, a reason to reject, and above the threshold only an admin approves."""
    # --- rejection needs a reason and roles are enforced
    sid = _supplier(world)
    p = world.a.product_ids
    for cost, qty in (("99999999999", "1"), ("999999999", "1000000")):
        huge = world.api("purchase_admin").post(
            "purchase-orders",
            json={
                "supplier_id": sid,
                "branch_id": world.a.branch_ids[0],
                "lines": [{"product_id": p[0], "quantity": qty, "unit_cost": cost}],
            },
        )
        assert huge.status_code == 422, huge.text  # refused, never a database overflow
    po = _submitted(world, sid)
    assert world.api("viewer").post("purchase-orders", json={}).status_code in (403, 422)
    assert world.api("cashier").get("purchase-orders").status_code == 403
    assert world.api("sales_admin").post(f"purchase-orders/{po['id']}/approve").status_code == 403
    assert (
        world.api("manager").post(f"purchase-orders/{po['id']}/reject", json={}).status_code == 422
    )
    rejected = world.api("manager").post(
        f"purchase-orders/{po['id']}/reject", json={"comment": "prices too high"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert _audits(world, "purchase_order.rejected", po["id"]) == 1
    assert world.api("b_admin").get(f"purchase-orders/{po['id']}").status_code == 404

    # A branch manager neither sees nor decides on another branch's orders.
    west = (
        world.api("admin")
        .post(
            "purchase-orders",
            json={
                "supplier_id": sid,
                "branch_id": world.a.branch_ids[1],
                "lines": [{"product_id": p[0], "quantity": "1", "unit_cost": "1"}],
            },
        )
        .json()
    )
    world.api("admin").post(f"purchase-orders/{west['id']}/submit")
    listed = world.api("manager").get("purchase-orders").json()["items"]
    assert west["id"] not in {x["id"] for x in listed} and listed
    assert world.api("manager").get(f"purchase-orders/{west['id']}").status_code == 403
    assert world.api("manager").post(f"purchase-orders/{west['id']}/approve").status_code == 403
    assert world.api("purchase_admin").get(f"purchase-orders/{west['id']}").status_code == 403

    # --- above threshold only an admin approves
    _setting(world, "po_admin_approval_threshold", "100.00")
    sid = _supplier(world)
    po = _submitted(world, sid)  # total 115.00
    refused = world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    assert refused.status_code == 403 and "only an admin" in refused.json()["detail"]
    assert world.api("viewer").get(f"purchase-orders/{po['id']}").json()["status"] == (
        "pending_approval"
    )
    assert world.api("admin").post(f"purchase-orders/{po['id']}/approve").status_code == 200


def test_over_receipt_and_stock_in_on_approval_settings(world):
    """Over-receipt is refused unless allowed; stock_in_on_approval receives at approval."""
    # --- over receipt is refused unless allowed
    sid = _supplier(world)
    po = _submitted(world, sid)
    world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    line = po["lines"][0]["id"]
    pa = world.api("purchase_admin")
    over = pa.post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": line, "quantity": "11"}]},
    )
    assert over.status_code == 409
    assert Decimal(over.json()["lines"][0]["ordered"]) == 10
    assert _on_hand(world, world.a.product_ids[0]) == 0
    _setting(world, "allow_over_receipt", True)
    ok = pa.post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": line, "quantity": "11"}]},
    )
    assert ok.status_code == 201, ok.text
    assert _on_hand(world, world.a.product_ids[0]) == 11
    check_vendor_ledgers(world.engine, tenant_id=world.a.id)

    # --- stock in on approval receives everything at once
    _setting(world, "stock_in_on_approval", True)
    sid = _supplier(world)
    po = _submitted(world, sid)
    approved = world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    assert approved.json()["status"] == "received"
    assert _on_hand(world, world.a.product_ids[0]) == 11 + 10
    assert _on_hand(world, world.a.product_ids[1]) == 4
    account = world.api("purchase_admin").get(f"suppliers/{sid}/account").json()
    assert Decimal(account["balance_due"]) == Decimal("115.00")
    check_vendor_ledgers(world.engine, tenant_id=world.a.id)


def test_racing_approvers_leave_exactly_one_effect(world):
    _setting(world, "stock_in_on_approval", True)
    sid = _supplier(world)
    po = _submitted(world, sid)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(who: str) -> None:
        barrier.wait()
        try:
            with transaction(world.sessions()) as session:
                purchasing.approve(session, actor=world.principal(who), po_id=po["id"], comment=who)
            outcomes.append("approved")
        except InvalidState:
            outcomes.append("409")
        except DomainError as exc:  # pragma: no cover - shows what went wrong
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("manager", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["409", "approved"]
    assert _audits(world, "purchase_order.approved", po["id"]) == 1
    # The stock came in once, not twice.
    assert _on_hand(world, world.a.product_ids[0]) == 10
    with transaction(world.sessions(), readonly=True) as session:
        assert session.get(PurchaseOrder, po["id"]).status == "received"
    check_vendor_ledgers(world.engine, tenant_id=world.a.id)


def test_reorder_suggestions_become_draft_pos_per_supplier(world):
    acme, other = _supplier(world, "Acme"), _supplier(world, "Bolt")
    p = world.a.product_ids
    admin = world.api("admin")
    for pid, supplier, threshold, reorder in (
        (p[0], acme, "5", "20"),
        (p[1], other, "2", "0"),
        (p[2], acme, "0", "0"),
    ):
        r = admin.patch(
            f"products/{pid}",
            json={
                "supplier_id": supplier,
                "low_stock_threshold": threshold,
                "reorder_quantity": reorder,
            },
        )
        assert r.status_code == 200, r.text
    branch = world.a.branch_ids[0]
    with transaction(world.sessions()) as session:
        actor = world.principal("admin").actor
        for pid, qty in ((p[0], "8"), (p[1], "30"), (p[2], "100")):
            costing.receive(
                session,
                actor=actor,
                branch_id=branch,
                product_id=pid,
                quantity=Decimal(qty),
                unit_cost=Decimal("3"),
                reference_type="test",
                reference_id="opening",
            )
        # 30 sold of product 1 over the last 30 days: 1 a day.
        ledger.record_movement(
            session,
            actor=actor,
            branch_id=branch,
            product_id=p[1],
            code="sale",
            quantity=Decimal("-28"),
            reference_type="test",
            reference_id="s1",
            occurred_at=datetime.now(UTC),
        )
    got = (
        world.api("purchase_admin").get("reorder-suggestions", params={"branch_id": branch}).json()
    )
    by_supplier = {g["supplier_id"]: g["lines"] for g in got["suppliers"]}
    # p0: 8 on hand, threshold 5, no sales: not yet due.  p1: 2 left, selling 28/30 a day.
    assert acme not in by_supplier
    [line] = by_supplier[other]
    assert line["product_id"] == p[1]
    # threshold 2 + 14 days x 0.933 - 2 on hand = 13.07 -> 14
    assert Decimal(line["quantity"]) == 14
    with transaction(world.sessions()) as session:
        ledger.record_movement(
            session,
            actor=world.principal("admin").actor,
            branch_id=branch,
            product_id=p[0],
            code="sale",
            quantity=Decimal("-4"),
            reference_type="test",
            reference_id="s2",
        )
    made = world.api("manager").post(
        "reorder-suggestions/purchase-orders", json={"branch_id": branch}
    )
    assert made.status_code == 201, made.text
    drafts = {d["supplier_id"]: d for d in made.json()}
    assert set(drafts) == {acme, other}
    assert all(d["status"] == "draft" for d in drafts.values())
    # p0: 4 left <= 5, reorder quantity 20 beats the 5 - 4 + 14 x 4/30 shortfall.
    assert [(x["product_id"], Decimal(x["quantity"])) for x in drafts[acme]["lines"]] == [
        (p[0], Decimal("20"))
    ]


def test_a_zero_or_blank_cost_is_refused_unless_the_line_is_free(world):
    """A forgotten cost is 422 and changes nothing; a line marked free may cost 0."""
    sid = _supplier(world)
    p = world.a.product_ids
    api = world.api("purchase_admin")
    before = api.get("purchase-orders").json()["total"]
    base = {"supplier_id": sid, "branch_id": world.a.branch_ids[0]}
    good = {"product_id": p[1], "quantity": "4", "unit_cost": "2.50"}
    for bad in (
        {"product_id": p[0], "quantity": "20", "unit_cost": "0"},
        {"product_id": p[0], "quantity": "20", "unit_cost": "0.00", "free": False},
        {"product_id": p[0], "quantity": "20", "unit_cost": ""},
        {"product_id": p[0], "quantity": "20"},
    ):
        response = api.post("purchase-orders", json={**base, "lines": [good, bad]})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"]
    assert api.get("purchase-orders").json()["total"] == before
    zero = api.post(
        "purchase-orders",
        json={**base, "lines": [good, {"product_id": p[0], "quantity": "20", "unit_cost": "0"}]},
    )
    assert "mark the line free" in zero.json()["detail"]
    # An edit may not sneak a zero cost onto a draft either.
    draft = _po(world, sid)
    edited = api.patch(
        f"purchase-orders/{draft['id']}",
        json={"lines": [{"product_id": p[2], "quantity": "3", "unit_cost": "0"}]},
    )
    assert edited.status_code == 422, edited.text
    unchanged = api.get(f"purchase-orders/{draft['id']}").json()
    assert [x["product_id"] for x in unchanged["lines"]] == [p[0], p[1]]
    # Marked free, a zero cost is what the supplier meant.
    free = api.post(
        "purchase-orders",
        json={
            **base,
            "lines": [good, {"product_id": p[0], "quantity": "2", "unit_cost": "0", "free": True}],
        },
    )
    assert free.status_code == 201, free.text
    assert Decimal(free.json()["total"]) == Decimal("10.00")


def test_a_zero_actual_cost_at_receipt_is_refused_on_a_priced_line(world):
    """Receiving at cost 0 a line ordered at a price is 422 and moves no stock."""
    sid = _supplier(world)
    po = _submitted(world, sid)
    approved = world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    assert approved.status_code == 200, approved.text
    before = _on_hand(world, world.a.product_ids[0])
    line_id = po["lines"][0]["id"]
    refused = world.api("purchase_admin").post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": line_id, "quantity": "8", "unit_cost": "0"}]},
    )
    assert refused.status_code == 422, refused.text
    assert "actual cost" in refused.json()["detail"]
    assert _on_hand(world, world.a.product_ids[0]) == before
    taken = world.api("purchase_admin").post(
        f"purchase-orders/{po['id']}/receipts",
        json={"lines": [{"line_id": line_id, "quantity": "8"}]},
    )
    assert taken.status_code == 201, taken.text
    assert _on_hand(world, world.a.product_ids[0]) == before + 8
