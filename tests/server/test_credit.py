"""Customer credit: charges within the limit, payments allocated, account, statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from common.errors import CreditLimitExceeded
from sync_server.alerts.models import Alert
from sync_server.audit.models import AuditEntry
from sync_server.credit import service as credit
from sync_server.credit.models import CreditEntry
from sync_server.db import transaction
from sync_server.foundation.models import Change
from tests.ledgers import check_customer_ledgers


def _customer(world, *, limit: str = "1000.00", name: str = "Wholesale Mart") -> int:
    response = world.api("sales_admin").post(
        "customers", json={"name": name, "credit_limit": limit}
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _charge(world, customer_id: int, amount: str, ref: str, *, allow: bool = False, at=None):
    with transaction(world.sessions()) as session:
        return credit.charge(
            session,
            actor=world.principal("sales_admin").actor,
            customer_id=customer_id,
            amount=Decimal(amount),
            reference_type="invoice",
            reference_id=ref,
            allow_over_limit=allow,
            occurred_at=at,
        )


def _balance(world, customer_id: int) -> Decimal:
    return Decimal(world.api("admin").get(f"customers/{customer_id}").json()["balance"])


def _count(world, model, *conditions) -> int:
    with transaction(world.sessions(), readonly=True) as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


def test_charges_within_the_limit_reach_tills_and_over_it_are_refused(world):
    """Charge within the limit (tills see the balance); over it is refused and changes nothing."""
    # --- charge within limit raises balance and reaches tills
    cid = _customer(world)
    _charge(world, cid, "400.00", "INV-1")
    account = world.api("viewer").get(f"customers/{cid}/account").json()
    assert Decimal(account["balance_due"]) == Decimal("400.0000")
    assert Decimal(account["available_credit"]) == Decimal("600.0000")
    assert Decimal(account["total_purchases"]) == Decimal("400.0000")
    with transaction(world.sessions(), readonly=True) as session:
        last = session.scalars(
            select(Change)
            .where(Change.entity == "customer", Change.entity_key == str(cid))
            # Numbers come after commit on PostgreSQL; ids follow this one client's writes.
            .order_by(Change.id.desc())
        ).first()
    assert Decimal(last.data["balance"]) == Decimal("400")
    check_customer_ledgers(world.engine, tenant_id=world.a.id)

    # --- charge over limit is refused and changes nothing
    cid = _customer(world, limit="500.00")
    _charge(world, cid, "400.00", "INV-1")
    with pytest.raises(CreditLimitExceeded) as refused:
        _charge(world, cid, "100.01", "INV-2")
    assert Decimal(refused.value.extra["credit_limit"]) == Decimal("500.0000")
    assert _count(world, CreditEntry, CreditEntry.customer_id == cid) == 1
    assert _balance(world, cid) == Decimal("400.0000")
    # Exactly up to the limit is still allowed.
    _charge(world, cid, "100.00", "INV-2")
    check_customer_ledgers(world.engine, tenant_id=world.a.id)


def test_offline_sale_over_limit_is_booked_and_flagged(world):
    cid = _customer(world, limit="100.00")
    _charge(world, cid, "250.00", "SALE-1", allow=True)
    assert _balance(world, cid) == Decimal("250.0000")
    assert (
        _count(
            world,
            AuditEntry,
            AuditEntry.action == "credit.over_limit",
            AuditEntry.entity_id == str(cid),
        )
        == 1
    )
    with transaction(world.sessions(), readonly=True) as session:
        alert = session.scalars(select(Alert).where(Alert.kind == "credit_over_limit")).one()
    assert alert.status == "open" and alert.details["customer_id"] == cid
    assert Decimal(alert.details["balance"]) == Decimal("250")
    # A sale made offline two days ago is the oldest debt, so a payment settles it first.
    _charge(world, cid, "5.00", "SALE-0", allow=True, at=datetime.now(UTC) - timedelta(days=2))
    paid = world.api("sales_admin").post(f"customers/{cid}/payments", json={"amount": "5"})
    assert [a["reference_id"] for a in paid.json()["allocations"]] == ["SALE-0"]
    check_customer_ledgers(world.engine, tenant_id=world.a.id)


def test_payments_settle_oldest_first_or_a_chosen_invoice(world):
    """Payments settle the oldest invoices first or a chosen one; overpaying settles the next."""
    # --- payment settles oldest invoices first
    cid = _customer(world)
    for ref, amount in (("INV-1", "100.00"), ("INV-2", "200.00"), ("INV-3", "50.00")):
        _charge(world, cid, amount, ref)
    response = world.api("sales_admin").post(
        f"customers/{cid}/payments",
        json={"amount": "250.00", "method": "bank", "reference": "UTR 99"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert Decimal(body["amount"]) == Decimal("-250.0000")
    assert [(a["reference_id"], Decimal(a["amount"])) for a in body["allocations"]] == [
        ("INV-1", Decimal("100")),
        ("INV-2", Decimal("150")),
    ]
    account = world.api("sales_admin").get(f"customers/{cid}/account").json()
    assert Decimal(account["balance_due"]) == Decimal("100.0000")
    assert Decimal(account["amount_paid"]) == Decimal("250.0000")
    assert account["last_payment_at"] is not None
    assert (
        _count(
            world,
            AuditEntry,
            AuditEntry.action == "credit.payment_recorded",
            AuditEntry.entity_id == str(cid),
        )
        == 1
    )
    check_customer_ledgers(world.engine, tenant_id=world.a.id)

    # --- payment to a chosen invoice and overpayment settles the next charge
    cid = _customer(world)
    _charge(world, cid, "100.00", "INV-1")
    _charge(world, cid, "80.00", "INV-2")
    api = world.api("sales_admin")
    paid = api.post(
        f"customers/{cid}/payments", json={"amount": "200.00", "allocate_to": "INV-2"}
    ).json()
    assert [a["reference_id"] for a in paid["allocations"]] == ["INV-2", "INV-1"]
    # Paid more than owed: a credit remains.
    assert Decimal(paid["open_amount"]) == Decimal("20.0000")
    assert Decimal(api.get(f"customers/{cid}/account").json()["balance_due"]) == Decimal("-20.0000")
    # The next charge eats the credit first.
    entry = _charge(world, cid, "50.00", "INV-3")
    assert entry.open_amount == Decimal("30")
    again = api.post(f"customers/{cid}/payments", json={"amount": "5", "allocate_to": "INV-1"})
    assert again.status_code == 409 and "already paid" in again.json()["detail"]
    unknown = api.post(f"customers/{cid}/payments", json={"amount": "5", "allocate_to": "NOPE"})
    assert unknown.status_code == 404
    check_customer_ledgers(world.engine, tenant_id=world.a.id)


def test_bad_payments_change_nothing_history_and_statement(world):
    """Bad payments change nothing; history, adjustments and the statement add up."""
    # --- bad payments change nothing
    cid = _customer(world)
    _charge(world, cid, "100.00", "INV-1")
    api = world.api("sales_admin")
    for body in (
        {"amount": "0"},
        {"amount": "-5"},
        {"amount": "abc"},
        {"amount": "1", "x": 1},
        {"amount": "99999999999"},
    ):
        response = api.post(f"customers/{cid}/payments", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (
        world.api("viewer").post(f"customers/{cid}/payments", json={"amount": "1"}).status_code
        == 403
    )
    assert (
        world.api("b_admin").post(f"customers/{cid}/payments", json={"amount": "1"}).status_code
        == 404
    )
    assert world.api("b_admin").get(f"customers/{cid}/account").status_code == 404
    assert _count(world, CreditEntry, CreditEntry.customer_id == cid) == 1
    check_customer_ledgers(world.engine, tenant_id=world.a.id)

    # --- history adjustments and statement
    cid = _customer(world)
    _charge(world, cid, "300.00", "INV-1")
    api = world.api("sales_admin")
    api.post(f"customers/{cid}/payments", json={"amount": "120.00", "method": "cash"})
    adj = api.post(
        f"customers/{cid}/credit-adjustments",
        json={"amount": "-30.00", "note": "damaged carton goodwill"},
    )
    assert adj.status_code == 201, adj.text
    history = api.get(f"customers/{cid}/credit-history").json()
    assert history["total"] == 3
    assert [row["kind"] for row in history["items"]] == ["adjustment", "payment", "charge"]
    today = datetime.now(UTC).date().isoformat()
    statement = api.get(f"customers/{cid}/statement", params={"from": today, "to": today}).json()
    assert Decimal(statement["opening_balance"]) == Decimal("0.0000")
    assert Decimal(statement["closing_balance"]) == Decimal("150.0000")
    assert [Decimal(x["balance"]) for x in statement["lines"]] == [300, 180, 150]
    earlier = api.get(
        f"customers/{cid}/statement", params={"from": "2020-01-01", "to": "2020-01-31"}
    ).json()
    assert earlier["lines"] == [] and Decimal(earlier["closing_balance"]) == Decimal("0.0000")
    pdf = api.get(
        f"customers/{cid}/statement", params={"from": today, "to": today, "format": "pdf"}
    )
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
    backwards = api.get(f"customers/{cid}/statement", params={"from": today, "to": "2020-01-01"})
    assert backwards.status_code == 422
    assert check_customer_ledgers(world.engine, tenant_id=world.a.id)[cid] == Decimal("150")
