"""Wholesale sales requests: pricing, approval takes stock and credit, invoices without gaps."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from common.errors import DomainError
from sync_server.audit.models import AuditEntry
from sync_server.db import transaction
from sync_server.inventory import costing, ledger
from sync_server.notifications.models import Notification
from sync_server.wholesale import service as wholesale
from sync_server.wholesale.schemas import SalesRequestCreate
from tests.ledgers import check_customer_ledgers


def _stock(world, product_id: int, qty: str) -> None:
    with transaction(world.sessions()) as session:
        costing.receive(
            session,
            actor=world.principal("admin").actor,
            branch_id=world.a.branch_ids[0],
            product_id=product_id,
            quantity=Decimal(qty),
            unit_cost=Decimal("4"),
            reference_type="test",
            reference_id="opening",
        )


def _on_hand(world, product_id: int) -> Decimal:
    with transaction(world.sessions(), readonly=True) as session:
        return ledger.level(
            session, tenant_id=world.a.id, branch_id=world.a.branch_ids[0], product_id=product_id
        ).on_hand


def _customer(world, limit: str = "10000") -> int:
    r = world.api("sales_admin").post(
        "customers", json={"name": "Hotel Grand", "credit_limit": limit, "address": "1 MG Road"}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _request(
    world,
    customer_id: int,
    *,
    terms: str = "account",
    q0: str = "10",
    q1: str = "5",
    by: str = "sales_admin",
) -> dict:
    p = world.a.product_ids
    r = world.api(by).post(
        "sales-requests",
        json={
            "customer_id": customer_id,
            "branch_id": world.a.branch_ids[0],
            "payment_terms": terms,
            "order_discount_percent": "5",
            "lines": [
                {"product_id": p[0], "quantity": q0, "discount_percent": "10"},
                {"product_id": p[1], "quantity": q1, "unit_price": "20.00"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def _audits(world, action: str) -> int:
    with transaction(world.sessions(), readonly=True) as session:
        return session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )


def test_pricing_and_forbidden_transitions(world):
    """Line and order discounts with tax; disallowed transitions are 409 and change nothing."""
    # --- pricing with line and order discounts and tax
    p = world.a.product_ids
    assert world.api("admin").patch(f"products/{p[0]}", json={"tax_rate": "5"}).status_code == 200
    req = _request(world, _customer(world))
    first, second = req["lines"]
    # 10 x 10.00 = 100 less 10% = 90; 5 x 20.00 = 100. Order discount 5% of 190 = 9.50,
    # spread 90:100 -> 4.50 and 5.00. Tax 5% on 85.50 = 4.275 -> 4.28 (half-up).
    assert Decimal(first["gross"]) == 100 and Decimal(first["net"]) == Decimal("85.50")
    assert Decimal(first["tax"]) == Decimal("4.28") and Decimal(second["net"]) == 95
    assert Decimal(req["gross_total"]) == 200
    assert Decimal(req["discount_total"]) == Decimal("19.50")
    assert Decimal(req["total"]) == Decimal("184.78")
    assert req["status"] == "pending_approval" and req["invoice_number"] is None

    # --- forbidden transitions are 409
    p = world.a.product_ids
    _stock(world, p[0], "50")
    _stock(world, p[1], "50")
    cid = _customer(world)
    manager = world.api("manager")
    assert world.api("cashier").post("sales-requests", json={}).status_code in (403, 422)
    assert world.api("purchase_admin").get("sales-requests").status_code == 403

    def refused(response):
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("/invalid-state")

    done = _request(world, cid)
    refused(manager.get(f"sales-requests/{done['id']}/invoice"))
    assert manager.post(f"sales-requests/{done['id']}/approve").status_code == 200
    refused(manager.post(f"sales-requests/{done['id']}/approve"))  # double approve
    refused(manager.post(f"sales-requests/{done['id']}/reject", json={"comment": "late"}))
    refused(world.api("sales_admin").post(f"sales-requests/{done['id']}/cancel"))

    gone = _request(world, cid)
    assert world.api("sales_admin").post(f"sales-requests/{gone['id']}/cancel").status_code == 200
    refused(manager.post(f"sales-requests/{gone['id']}/approve"))  # approve after cancel

    no = _request(world, cid)
    assert manager.post(f"sales-requests/{no['id']}/reject", json={}).status_code == 422
    assert (
        manager.post(
            f"sales-requests/{no['id']}/reject", json={"comment": "no credit this month"}
        ).json()["status"]
        == "rejected"
    )
    refused(manager.post(f"sales-requests/{no['id']}/approve"))
    assert _audits(world, "sales_request.approved") == 1
    assert _audits(world, "sales_request.rejected") == 1
    assert _on_hand(world, p[0]) == 40
    assert world.api("b_admin").get(f"sales-requests/{done['id']}").status_code == 404
    check_customer_ledgers(world.engine, tenant_id=world.a.id)


def test_approval_takes_stock_charges_account_and_invoices(world):
    p = world.a.product_ids
    _stock(world, p[0], "12")
    _stock(world, p[1], "5")
    cid = _customer(world)
    req = _request(world, cid)
    own = world.api("sales_admin").post(f"sales-requests/{req['id']}/approve")
    assert own.status_code == 403
    approved = world.api("manager").post(
        f"sales-requests/{req['id']}/approve", json={"comment": "regular client"}
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved"
    assert body["invoice_number"] == "INV-MAIN-000001"
    assert _on_hand(world, p[0]) == 2 and _on_hand(world, p[1]) == 0
    account = world.api("sales_admin").get(f"customers/{cid}/account").json()
    assert Decimal(account["balance_due"]) == Decimal(body["total"]) == Decimal("180.50")
    history = world.api("sales_admin").get(f"customers/{cid}/credit-history").json()
    assert history["items"][0]["reference_id"] == "INV-MAIN-000001"
    assert _audits(world, "sales_request.approved") == 1
    with transaction(world.sessions(), readonly=True) as session:
        sent = set(session.execute(select(Notification.event, Notification.role)))
    assert {
        ("sales_request.approval_requested", r) for r in ("admin", "manager", "sales_admin")
    } <= sent
    assert ("sales_request.approved", "sales_admin") in sent  # back to the creator

    invoice = world.api("viewer").get(f"sales-requests/{req['id']}/invoice").json()
    assert invoice["invoice_number"] == "INV-MAIN-000001"
    assert invoice["customer"]["name"] == "Hotel Grand" and len(invoice["lines"]) == 2
    assert Decimal(invoice["total"]) == Decimal("180.50")
    pdf = world.api("viewer").get(f"sales-requests/{req['id']}/invoice", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:4] == b"%PDF"

    pay = world.api("sales_admin").post(
        f"customers/{cid}/payments", json={"amount": "80.50", "allocate_to": "INV-MAIN-000001"}
    )
    assert pay.status_code == 201
    check_customer_ledgers(world.engine, tenant_id=world.a.id)
    assert check_customer_ledgers(world.engine, tenant_id=world.a.id)[cid] == 100


def test_shortage_and_credit_limit_refuse_approval_atomically(world):
    """A shortage or the credit limit refuses approval and leaves stock, balance and numbers."""
    # --- shortage refuses with every short line and changes nothing
    p = world.a.product_ids
    _stock(world, p[0], "3")
    cid = _customer(world)
    req = _request(world, cid)
    refused = world.api("manager").post(f"sales-requests/{req['id']}/approve")
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("/insufficient-stock")
    assert {
        (x["product_id"], Decimal(x["requested"]), Decimal(x["available"]))
        for x in problem["lines"]
    } == {(p[0], 10, 3), (p[1], 5, 0)}
    again = world.api("viewer").get(f"sales-requests/{req['id']}").json()
    assert again["status"] == "pending_approval" and again["invoice_number"] is None
    assert _on_hand(world, p[0]) == 3
    assert Decimal(world.api("admin").get(f"customers/{cid}").json()["balance"]) == 0
    # The refused approval used no invoice number: the next one is still 000001.
    _stock(world, p[0], "7")
    _stock(world, p[1], "5")
    ok = world.api("manager").post(f"sales-requests/{req['id']}/approve")
    assert ok.json()["invoice_number"] == "INV-MAIN-000001"
    check_customer_ledgers(world.engine, tenant_id=world.a.id)

    # --- over the credit limit is refused online
    _stock(world, p[0], "20")
    _stock(world, p[1], "20")
    cid = _customer(world, limit="100.00")
    req = _request(world, cid)
    refused = world.api("manager").post(f"sales-requests/{req['id']}/approve")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/credit-limit-exceeded")
    assert _on_hand(world, p[0]) == 20  # stock taken in the same transaction was put back
    assert world.api("viewer").get(f"sales-requests/{req['id']}").json()["status"] == (
        "pending_approval"
    )
    cash = _request(world, cid, terms="cash")
    ok = world.api("manager").post(f"sales-requests/{cash['id']}/approve")
    assert ok.status_code == 200 and ok.json()["invoice_number"] == "INV-MAIN-000002"
    assert Decimal(world.api("admin").get(f"customers/{cid}").json()["balance"]) == 0
    check_customer_ledgers(world.engine, tenant_id=world.a.id)


def test_racing_approvals_one_effect_and_invoice_numbers_without_gaps(world):
    p = world.a.product_ids
    _stock(world, p[0], "100")
    _stock(world, p[1], "100")
    cid = _customer(world)
    contested = _request(world, cid)
    others = [_request(world, cid, q0="1", q1="1") for _ in range(3)]
    jobs = [("manager", contested["id"]), ("admin", contested["id"])]
    jobs += [("manager" if i % 2 else "admin", r["id"]) for i, r in enumerate(others)]
    barrier = threading.Barrier(len(jobs))
    outcomes: dict[int, list[str]] = {}
    lock = threading.Lock()

    def approve(who: str, request_id: int) -> None:
        barrier.wait()
        try:
            with transaction(world.sessions()) as session:
                wholesale.approve(
                    session, actor=world.principal(who), request_id=request_id, comment=""
                )
            result = "approved"
        except DomainError as exc:
            result = type(exc).__name__
        with lock:
            outcomes.setdefault(request_id, []).append(result)

    threads = [threading.Thread(target=approve, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes[contested["id"]]) == ["InvalidState", "approved"]
    assert all(outcomes[r["id"]] == ["approved"] for r in others)
    # Stock left once per request: 10 + 3 x 1 of product 0.
    assert _on_hand(world, p[0]) == 100 - 10 - 3
    numbers = sorted(
        world.api("viewer").get(f"sales-requests/{rid}").json()["invoice_number"]
        for rid in [contested["id"], *[r["id"] for r in others]]
    )
    assert numbers == [f"INV-MAIN-{n:06d}" for n in range(1, 5)]
    # Each branch has its own series.
    west = world.a.branch_ids[1]
    with transaction(world.sessions()) as session:
        costing.receive(
            session,
            actor=world.principal("admin").actor,
            branch_id=west,
            product_id=p[2],
            quantity=Decimal("1"),
            unit_cost=Decimal("1"),
            reference_type="test",
            reference_id="west",
        )
        request = wholesale.create(
            session,
            actor=world.principal("sales_admin"),
            data=SalesRequestCreate(
                customer_id=cid, branch_id=west, lines=[{"product_id": p[2], "quantity": "1"}]
            ),
        )
    with transaction(world.sessions()) as session:
        approved = wholesale.approve(
            session, actor=world.principal("manager"), request_id=request.id, comment=""
        )
    assert approved.invoice_number == "INV-WEST-000001"
    assert _audits(world, "sales_request.approved") == 4 + 1  # the race, then WEST
    check_customer_ledgers(world.engine, tenant_id=world.a.id)
