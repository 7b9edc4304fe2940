"""Purchase orders on the supplier's side: sent as PDF, confirmed, shipped, received;
incoming stock per branch, and the confirmed date in the supplier's on-time rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sync_server.audit.models import AuditEntry
from sync_server.db import transaction
from sync_server.notifications.models import Notification


@pytest.fixture
def settings(settings):
    """A server that names a mail server: without one, sending a PO is refused."""
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 9})


def _approved_po(world, *, email: str | None = "orders@acme.test", wanted: str) -> dict:
    buyer = world.api("purchase_admin")
    body = {"name": f"Acme {wanted} {email}"}
    if email:
        body["email"] = email
    supplier = buyer.post("suppliers", json=body)
    assert supplier.status_code == 201, supplier.text
    p = world.a.product_ids
    po = buyer.post(
        "purchase-orders",
        json={
            "supplier_id": supplier.json()["id"],
            "branch_id": world.a.branch_ids[0],
            "expected_date": wanted,
            "lines": [
                {"product_id": p[0], "quantity": "10", "unit_cost": "4.00"},
                {"product_id": p[1], "quantity": "5", "unit_cost": "2.00"},
            ],
        },
    ).json()
    assert buyer.post(f"purchase-orders/{po['id']}/submit").status_code == 200
    approved = world.api("manager").post(f"purchase-orders/{po['id']}/approve")
    assert approved.status_code == 200, approved.text
    return approved.json()


def test_send_confirm_ship_receive_with_incoming_stock_and_on_time_rate(world):
    today = datetime.now(UTC).date()
    yesterday, soon, later = (today + timedelta(days=d) for d in (-1, 3, 5))
    buyer = world.api("purchase_admin")
    po = _approved_po(world, wanted=yesterday.isoformat())
    url = f"purchase-orders/{po['id']}"
    lines = {line["product_id"]: line["id"] for line in po["lines"]}
    p = world.a.product_ids

    admin = world.api("admin")
    for pid in (p[0], p[2]):
        r = admin.patch(f"products/{pid}", json={"low_stock_threshold": "5"})
        assert r.status_code == 200, r.text
    branch = {"branch_id": world.a.branch_ids[0]}
    due = {
        line["product_id"]
        for g in buyer.get("reorder-suggestions", params=branch).json()["suppliers"]
        for line in g["lines"]
    }
    # Both are out of stock, but ten of p0 are already ordered: only p2 is due.
    assert p[2] in due and p[0] not in due

    early = buyer.post(
        f"{url}/ship",
        json={"carrier": "DTDC", "tracking_number": "X1", "expected_arrival": later.isoformat()},
    )
    assert early.status_code == 409  # not sent yet
    sent = buyer.post(f"{url}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent" and sent.json()["sent_at"]
    with transaction(world.sessions(), readonly=True) as session:
        mail = session.scalar(
            select(Notification).where(Notification.event == "purchase_order.sent")
        )
        assert (mail.channel, mail.recipient) == ("email", "orders@acme.test")
        assert f"/api/v1/purchase-orders/{po['id']}/pdf" in mail.body
    pdf = buyer.get(f"{url}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert buyer.post(f"{url}/send").status_code == 409

    bad = buyer.post(
        f"{url}/confirm",
        json={"delivery_date": soon.isoformat(), "lines": [{"line_id": 999999, "quantity": "1"}]},
    )
    assert bad.status_code == 422
    assert buyer.get(url).json()["status"] == "sent"
    confirmed = buyer.post(
        f"{url}/confirm",
        json={
            "delivery_date": soon.isoformat(),
            "lines": [{"line_id": lines[p[0]], "quantity": "8"}],
        },
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["status"], body["confirmed_date"]) == ("confirmed", soon.isoformat())
    assert {ln["product_id"]: ln["confirmed_quantity"] for ln in body["lines"]} == {
        p[0]: "8",
        p[1]: "5",
    }
    incoming = {
        r["product_id"]: r
        for r in buyer.get("stock/incoming", params={"branch_id": world.a.branch_ids[0]}).json()
    }
    assert (incoming[p[0]]["on_order"], incoming[p[0]]["first_due"]) == ("10", soon.isoformat())

    shipped = buyer.post(
        f"{url}/ship",
        json={"carrier": "DTDC", "tracking_number": "X1", "expected_arrival": later.isoformat()},
    )
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["tracking_number"]) == ("shipped", "X1")
    assert buyer.post(f"{url}/cancel").status_code == 409  # goods are on the road
    incoming = {r["product_id"]: r for r in buyer.get("stock/incoming").json()}
    assert incoming[p[0]]["first_due"] == later.isoformat()
    # The cashier's branch-bound manager sees the same; another tenant sees nothing.
    assert world.api("b_admin").get("stock/incoming").json() == []

    received = world.api("manager").post(
        f"{url}/receipts",
        json={
            "lines": [
                {"line_id": lines[p[0]], "quantity": "8"},
                {"line_id": lines[p[1]], "quantity": "5"},
            ]
        },
    )
    assert received.status_code == 201, received.text
    incoming = {r["product_id"]: r for r in buyer.get("stock/incoming").json()}
    assert incoming[p[0]]["on_order"] == "2" and p[1] not in incoming
    suggestions = buyer.get(
        "reorder-suggestions",
        params={"branch_id": world.a.branch_ids[0], "method": "forecast"},
    )
    assert suggestions.status_code == 200, suggestions.text

    with transaction(world.sessions(), readonly=True) as session:
        actions = set(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.entity_id == str(po["id"]))
            ).all()
        )
    assert {"purchase_order.sent", "purchase_order.confirmed", "purchase_order.shipped"} <= actions

    # Asked for yesterday, confirmed for in three days, all here today: on time by the
    # supplier's own confirmed date.
    rest = world.api("manager").post(
        f"{url}/receipts", json={"lines": [{"line_id": lines[p[0]], "quantity": "2"}]}
    )
    assert rest.status_code == 201, rest.text
    assert buyer.get(url).json()["status"] == "received"
    window = {"date_from": (today - timedelta(days=2)).isoformat(), "date_to": later.isoformat()}
    perf = world.api("viewer").get("reports/supplier-performance", params=window)
    assert perf.status_code == 200, perf.text
    [row] = [r for r in perf.json()["rows"] if r["supplier"].startswith("Acme")]
    assert row["on_time_rate"] == "100"


def test_sending_needs_the_suppliers_email_and_changes_nothing_without_it(world):
    po = _approved_po(world, email=None, wanted="2030-01-01")
    buyer = world.api("purchase_admin")
    refused = buyer.post(f"purchase-orders/{po['id']}/send")
    assert refused.status_code == 422
    assert "e-mail" in refused.json()["detail"]
    assert buyer.get(f"purchase-orders/{po['id']}").json()["status"] == "approved"
    assert world.api("viewer").post(f"purchase-orders/{po['id']}/send").status_code == 403
